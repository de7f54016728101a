"""Neural-network building blocks on top of `engine.Value`: Module, Neuron, Layer, MLP.

A Module's parameters are plain Values. It lists them (`parameters`, `named_parameters`) and
arranges them as named arrays (`parameter_arrays`: a Value, a list of Values, a list of such lists
...), and from those alone it reads and writes them as numpy arrays (`state_dict`,
`load_state_dict`) and saves itself to one file with the constructor arguments that rebuild it
(`config`, `save`; `nn.load` in nn/checkpoint.py reads it back). A class of one's own gets all of
this by keeping its parameters in attributes: see `Module`.

Built-in modules write each parameter's dotted name into its `label` (`layer1.neuron3.w2`), so
diagrams and error messages can say which is which. An MLP also converts to and from a PyTorch
`Sequential` (nn/torch_bridge.py).
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Mapping, Sequence
from itertools import repeat
from pathlib import Path
from typing import Any, Self, Union

import numpy as np

from engine import Value, linear
from engine.core.value import record1, record_values, zero_grads
from nn import checkpoint_format, torch_bridge
from nn.activations import ACTIVATIONS, check_activation, check_std, draw_weights, refuse_nonlin
from nn.state_dicts import Shapes, checked_state

Input = Union[Value, int, float]
# Parameters arranged as an array: a Value (0-d), a list of Values (1-d), a list of such lists (2-d), ...
ValueArray = Union[Value, Sequence["ValueArray"]]


class Module:
    """Anything with parameters: lists and names them, zeroes their gradients, reads and writes them as arrays.

    A class of one's own needs no more than its parameters in attributes, and, if its constructor
    takes arguments that decide the parameters' shapes, a `config()` returning them:

        class Line(nn.Module):
            def __init__(self):
                self.a = Value(0.0)
                self.b = Value(0.0)

            def __call__(self, x):
                return self.a * x + self.b

    The parameters are found in the attributes (in the order they were set; names starting with `_`
    are skipped) that hold a Value, a list of Values (a list of lists for a matrix, ...), a Module,
    or a list of Modules. `Line().state_dict()` is then {"a": array(0.), "b": array(0.)}, and
    `Line().save(path)` and `nn.load(path, Line)` work. Override `parameter_arrays()` to arrange or
    name them otherwise, as MLP does.
    """

    def parameter_arrays(self) -> dict[str, ValueArray]:
        """Names to this module's parameters arranged as arrays, as `state_dict` gives them.

        The default finds them in the attributes (see the class's docstring): `weight` for an
        attribute holding a matrix of Values, `a` for a single Value, `block.weight` for the
        `weight` of a Module held in `block`, `blocks.0.weight` for one in a list `blocks`.
        """
        arrays: dict[str, ValueArray] = {}
        for name, part in _parameter_attributes(self):
            if isinstance(part, Module):
                arrays.update({f"{name}.{key}": array for key, array in part.parameter_arrays().items()})
            else:
                arrays[name] = part
        return arrays

    def named_parameters(self) -> list[tuple[str, Value]]:
        """(name, parameter) pairs, in the same order as `parameters()`.

        The default names each entry of `parameter_arrays()` by its position, 0-based: `a`,
        `weight[2,0]`, `block.bias[1]` (a Module held in an attribute names its own parameters).
        """
        named: list[tuple[str, Value]] = []
        for name, part in _parameter_attributes(self):
            if isinstance(part, Module):
                named += [(f"{name}.{key}", p) for key, p in part.named_parameters()]
            else:
                shape, values = flatten(part, name)
                named += [(_entry_name(name, index), v) for index, v in zip(np.ndindex(*shape), values)]
        return named

    def parameters(self) -> list[Value]:
        """The parameters, in the order of `named_parameters()` (modules list them without building names)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        zero_grads(self.parameters())

    def config(self) -> dict[str, Any]:
        """The constructor's arguments that rebuild this module's shape, as JSON values: `type(self)(**config())`.

        `save` writes it into the file and `nn.load` calls the class with it, then sets the
        parameters; arguments that only decide the initial values (a seed) are left out. The
        default, {}, is right for a class whose constructor needs no arguments.
        """
        return {}

    @classmethod
    def state_shapes(cls, arguments: Mapping[str, Any]) -> Shapes | None:
        """The state dict's names and shapes of `cls(**arguments)`, without building it; None when unknown.

        `arguments` are every constructor argument (defaults filled in). The built-in models
        compute them, so that `nn.load` refuses a file whose declared sizes disagree with its arrays
        (even huge ones) before building anything; for other classes `nn.load` builds one and looks.
        """
        return None

    def state_dict(self) -> dict[str, np.ndarray]:
        """Names to new float64 arrays, one per entry of `parameter_arrays()`, in its shape."""
        return {
            name: np.array([v.data for v in values], dtype=np.float64).reshape(shape)
            for name, (shape, values) in self._flat_arrays().items()
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set every parameter from arrays named and shaped as in `state_dict()`.

        Every name, shape and value is checked before anything changes: a missing or unexpected
        name, a wrong shape (the message gives the expected and the given shape), a non-numeric
        dtype or a non-finite value raises ValueError and leaves the model as it was.
        """
        flat = self._flat_arrays()
        arrays = checked_state(state, {name: shape for name, (shape, _) in flat.items()}, "load_state_dict")
        for name, (_, values) in flat.items():
            for v, x in zip(values, arrays[name].ravel().tolist()):
                v.data = x

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the class name, `config()` and every parameter to one `.npz` file, atomically; returns the path.

        `nn.load(path)` reads it back (`nn.load(path, MyModel)` for a class of one's own). A model
        with a non-finite parameter is refused (ValueError), as `load` would refuse its file; a
        `config()` that is not JSON, or that the constructor does not accept, is a TypeError.
        """
        who = f"save({str(path)!r})"
        cls = type(self)
        config = self.config()
        try:
            json.dumps(config, allow_nan=False)
            if not isinstance(config, dict):
                raise TypeError(f"expected a dict, got {type(config).__name__}")
            constructor_arguments(cls, config)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{who}: {cls.__name__}.config() returned {config!r}, which cannot rebuild the model: {error}. "
                f"It must return the JSON arguments (numbers, strings, lists, dicts) with which "
                f"{cls.__name__}(**config) builds a model of the same shape"
            ) from error
        state = self.state_dict()
        arrays = checked_state(state, {name: array.shape for name, array in state.items()}, who)
        return checkpoint_format.write(path, cls.__name__, config, arrays)

    def _flat_arrays(self) -> dict[str, tuple[tuple[int, ...], list[Value]]]:
        """Each parameter array's shape and Values in row-major order; TypeError if they miss a parameter."""
        flat = {name: flatten(array, name) for name, array in self.parameter_arrays().items()}
        left_out = set(self.parameters()).difference(*(values for _, values in flat.values()))  # Values hash by id
        if left_out:
            example = min((p.label or repr(p) for p in left_out), key=str)
            raise TypeError(
                f"{type(self).__name__}: {len(left_out)} of its parameters (e.g. {example}) are in none of its "
                "parameter arrays. Keep each parameter in an attribute holding a Value, a list of Values, "
                "a Module or a list of Modules, or override parameter_arrays() to list it"
            )
        return flat

    def _name_parameters(self) -> None:
        """Write each parameter's dotted name into its label (called once built)."""
        for name, p in self.named_parameters():
            p.label = name


def _parameter_attributes(module: Module) -> list[tuple[str, Value | Module | list[Any] | tuple[Any, ...]]]:
    """(name, part) for each attribute that holds parameters, in the order they were set; lists of Modules expanded."""
    parts: list[tuple[str, Value | Module | list[Any] | tuple[Any, ...]]] = []
    for name, attribute in vars(module).items():
        if name.startswith("_"):
            continue
        if isinstance(attribute, (Value, Module)):
            parts.append((name, attribute))
        elif isinstance(attribute, (list, tuple)) and attribute:
            if all(isinstance(item, Module) for item in attribute):
                parts += [(f"{name}.{i}", item) for i, item in enumerate(attribute)]
            elif _holds_a_value(attribute):
                parts.append((name, attribute))
    return parts


def _holds_a_value(items: list[Any] | tuple[Any, ...]) -> bool:
    return any(isinstance(x, Value) or (isinstance(x, (list, tuple)) and _holds_a_value(x)) for x in items)


def flatten(array: ValueArray, name: str) -> tuple[tuple[int, ...], list[Value]]:
    """The shape of a (nested) list of Values and its Values in row-major order; TypeError naming `name` if it is
    not a rectangular array of Values."""
    if isinstance(array, Value):
        return (), [array]
    if not isinstance(array, (list, tuple)):
        raise TypeError(f"parameter array {name!r} holds a {type(array).__name__}; expected only Values")
    if all(map(isinstance, array, repeat(Value))):  # the common case, a row, without a call per entry
        return (len(array),), list(array)
    rows = [flatten(row, name) for row in array]
    shapes = {shape for shape, _ in rows}
    if len(shapes) != 1:
        raise TypeError(
            f"parameter array {name!r} is ragged: its entries have shapes {sorted(shapes)}; expected a rectangle"
        )
    return (len(array), *rows[0][0]), [v for _, values in rows for v in values]


def _entry_name(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{','.join(map(str, index))}]" if index else name


def constructor_arguments(cls: type, config: Mapping[str, Any]) -> dict[str, Any]:
    """Every argument of `cls(**config)` by name, defaults filled in; TypeError if the constructor refuses them."""
    bound = inspect.signature(cls).bind(**config)
    bound.apply_defaults()
    return dict(bound.arguments)


# --- the MLP and its parts --------------------------------------------------------------------------------------


def check_size(n: object, who: str, what: str) -> int:
    """`n` if it is a positive whole number, else ValueError naming `who` and `what`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{who} needs a positive whole number of {what}, got {n!r}")
    return int(n)


def check_inputs(x: Sequence[Input], nin: int | None, who: str) -> None:
    """Nothing if `x` is one sample's list of inputs (`nin` of them; at least one when None); else TypeError for
    something that is not a list, ValueError for a wrong length or a batch (a matrix, a list of rows), with a
    message saying how to run a batch: engine.vectorize, or a loop.
    """
    expected = f"{nin} inputs" if nin is not None else "inputs"
    try:
        n = len(x)
    except TypeError:
        raise TypeError(f"{who} expects a list of {expected} (numbers or Values), got {type(x).__name__}") from None
    shape = getattr(x, "shape", None)
    first = next(iter(x), None)
    if (shape is not None and len(shape) >= 2) or isinstance(first, (list, tuple, np.ndarray)):
        given = f"an array of shape {shape}" if shape is not None else f"a list of {n} rows"
        raise ValueError(
            f"{who} expects {expected}, one sample, and got {given}: a batch of {n} samples? A batch goes through "
            "engine.vectorize, which takes the whole matrix: engine.vectorize(model)(X); or call the model on one "
            "row at a time: [model(list(row)) for row in X]"
        )
    if nin is None:
        if n == 0:
            raise ValueError(f"{who} expects at least one input, got none")
    elif n != nin:
        raise ValueError(f"{who} expects {nin} inputs, got {n}")


def as_values(x: Sequence[Input]) -> list[Value]:
    return [xi if isinstance(xi, Value) else Value(xi) for xi in x]


def check_flag(flag: object, who: str, what: str) -> bool:
    """`flag` if it is True or False, else TypeError naming `who` and `what`."""
    if not isinstance(flag, (bool, np.bool_)):
        raise TypeError(f"{who}: {what} must be True or False, got {flag!r}")
    return bool(flag)


class Neuron(Module):
    """g(w . x + b): one unit with `nin` weights and a bias.

    `fused=True` (the default) records w . x + b as one `linear` node with one
    derivative rule; `fused=False` records it as n multiplications and n
    additions, the form to draw when teaching. Both give the same gradients.
    Weights are drawn uniformly with the variance `init_limit` describes
    (He for relu, LeCun otherwise), or from a Gaussian with standard deviation
    `std` when it is given; the bias starts at 0.
    """

    def __init__(
        self,
        nin: int,
        activation: str = "tanh",
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        std: float | None = None,
        fused: bool = True,
        nonlin: object = None,
    ) -> None:
        refuse_nonlin(nonlin, "Neuron")
        check_size(nin, "Neuron", "inputs")
        self.activation = check_activation(activation)
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.w = [Value(float(v)) for v in draw_weights(rng, nin, nin, activation, check_std(std, "Neuron"))]
        self.b = Value(0.0)
        self.fused = check_flag(fused, "Neuron", "fused")
        self.scope = ""
        self._name_parameters()

    @property
    def nin(self) -> int:
        return len(self.w)

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def named_parameters(self) -> list[tuple[str, Value]]:
        prefix = f"{self.scope}." if self.scope else ""
        named = [(f"{prefix}w{i}", w) for i, w in enumerate(self.w, start=1)]
        return [*named, (f"{prefix}b", self.b)]

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "activation": self.activation, "fused": self.fused}

    @classmethod
    def state_shapes(cls, arguments: Mapping[str, Any]) -> Shapes:
        return {"w": (check_size(arguments["nin"], "Neuron", "inputs"),), "b": ()}

    def __call__(self, x: Sequence[Input]) -> Value:
        check_inputs(x, len(self.w), "Neuron")
        return self._apply(as_values(x))

    def _apply(self, x: list[Value]) -> Value:
        """The neuron on `nin` Values (checked by the caller, once for a whole layer); its nodes get its scope."""
        scope = self.scope
        if self.fused:
            z = record_values(linear, *self.w, *x, self.b)
            z.scope = scope
        else:
            z = self.b
            for w, xi in zip(self.w, x):
                product = w * xi
                z = z + product
                product.scope = z.scope = scope
        g = ACTIVATIONS[self.activation]
        if g is None:
            return z
        out = record1(g, z)
        out.scope = scope
        return out

    def __repr__(self) -> str:
        kind = "" if self.activation == "linear" else self.activation.capitalize()
        return f"{kind}Neuron({len(self.w)})"


class Layer(Module):
    """`nout` neurons that all read the same `nin` inputs; as arrays, `weight` (nout x nin) and `bias` (nout,)."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "tanh",
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        std: float | None = None,
        fused: bool = True,
        nonlin: object = None,
    ) -> None:
        refuse_nonlin(nonlin, "Layer")
        check_size(nout, "Layer", "outputs")
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.neurons = [Neuron(nin, activation, rng=rng, std=std, fused=fused) for _ in range(nout)]
        self._set_scope("")

    def _set_scope(self, scope: str) -> None:
        self.scope = scope
        prefix = f"{scope}." if scope else ""
        for j, neuron in enumerate(self.neurons, start=1):
            neuron.scope = f"{prefix}neuron{j}"
        self._name_parameters()

    def parameters(self) -> list[Value]:
        parameters: list[Value] = []
        for neuron in self.neurons:  # whole lists at a time: a model's parameters are listed at every step
            parameters += neuron.w
            parameters.append(neuron.b)
        return parameters

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [pair for n in self.neurons for pair in n.named_parameters()]

    def parameter_arrays(self) -> dict[str, ValueArray]:
        return {"weight": [n.w for n in self.neurons], "bias": [n.b for n in self.neurons]}

    def config(self) -> dict[str, Any]:
        first = self.neurons[0]
        return {"nin": first.nin, "nout": len(self.neurons), "activation": first.activation, "fused": first.fused}

    @classmethod
    def state_shapes(cls, arguments: Mapping[str, Any]) -> Shapes:
        nin = check_size(arguments["nin"], "Layer", "inputs")
        nout = check_size(arguments["nout"], "Layer", "outputs")
        return {"weight": (nout, nin), "bias": (nout,)}

    def __call__(self, x: Sequence[Input]) -> list[Value]:
        check_inputs(x, self.neurons[0].nin, "Layer")
        return self._apply(as_values(x))

    def _apply(self, x: list[Value]) -> list[Value]:
        return [n._apply(x) for n in self.neurons]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


def mlp_sizes(nin: object, nouts: object) -> list[int]:
    """[nin, *nouts] if they are an MLP's sizes (positive whole numbers, at least one layer), else an error."""
    inputs = check_size(nin, "MLP", "inputs")
    if not isinstance(nouts, (list, tuple)):
        raise TypeError(f"MLP expects nouts as a list of layer sizes, e.g. [16, 16, 1], got {nouts!r}")
    if len(nouts) == 0:
        raise ValueError("MLP needs at least one layer size in nouts")
    return [inputs, *(check_size(n, "MLP", "outputs in each layer of nouts") for n in nouts)]


class MLP(Module):
    """A multi-layer perceptron: `nin` inputs, then one layer per entry of `nouts`.

    `activation` ("relu", "tanh", "sigmoid" or "linear") applies to every hidden
    layer; the last layer is linear. `seed` makes the initial weights
    reproducible; `std` draws them from a Gaussian instead (see Neuron). Calling
    the model on a list of `nin` numbers or Values gives a Value when the last
    layer has one output, else a list of Values. Its state dict has one weight
    matrix (nout x nin) and one bias vector per layer: `layer1.weight`, `layer1.bias`, ...
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "tanh",
        *,
        seed: int | None = None,
        std: float | None = None,
        fused: bool = True,
        nonlin: object = None,
    ) -> None:
        refuse_nonlin(nonlin, "MLP")
        check_activation(activation)
        sizes = mlp_sizes(nin, nouts)
        rng = np.random.default_rng(seed)
        self.nin = sizes[0]
        self.activation = activation
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                activation if i < len(sizes) - 2 else "linear",
                rng=rng,
                std=std,
                fused=fused,
            )
            for i in range(len(sizes) - 1)
        ]
        for i, layer in enumerate(self.layers, start=1):
            layer._set_scope(f"layer{i}")

    def parameters(self) -> list[Value]:
        parameters: list[Value] = []
        for layer in self.layers:
            parameters += layer.parameters()
        return parameters

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [pair for layer in self.layers for pair in layer.named_parameters()]

    def parameter_arrays(self) -> dict[str, ValueArray]:
        arrays: dict[str, ValueArray] = {}
        for (weight, bias), layer in zip(self._state_names(len(self.layers)), self.layers):
            arrays[weight] = [n.w for n in layer.neurons]
            arrays[bias] = [n.b for n in layer.neurons]
        return arrays

    def config(self) -> dict[str, Any]:
        return self._config_for_sizes(
            [self.nin, *(len(layer.neurons) for layer in self.layers)],
            self.activation,
            all(n.fused for layer in self.layers for n in layer.neurons),
            type(self).__name__,
        )

    @classmethod
    def state_shapes(cls, arguments: Mapping[str, Any]) -> Shapes:
        sizes = cls._sizes(arguments)
        shapes: Shapes = {}
        for (weight, bias), nin, nout in zip(cls._state_names(len(sizes) - 1), sizes[:-1], sizes[1:]):
            shapes[weight] = (nout, nin)
            shapes[bias] = (nout,)
        return shapes

    def __call__(self, x: Sequence[Input]) -> Value | list[Value]:
        check_inputs(x, self.nin, "MLP")
        # Numbers become input Values once here, not once per neuron: x1, x2, ... in diagrams.
        out = [xi if isinstance(xi, Value) else Value(xi, label=f"x{i}") for i, xi in enumerate(x, start=1)]
        for layer in self.layers:
            out = layer._apply(out)
        return out[0] if len(out) == 1 else out

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"

    # PyTorch: the work is done on plain arrays in nn/torch_bridge.py.

    def to_torch(self) -> Any:
        """A float64 `torch.nn.Sequential` of Linear layers and activation modules computing the same function.

        Raises ImportError, saying how to install it, when PyTorch is not installed.
        """
        state = self.state_dict()
        layers = [(state[weight], state[bias]) for weight, bias in self._state_names(len(self.layers))]
        return torch_bridge.to_torch(layers, self.activation)

    @classmethod
    def from_torch(cls, sequential: Any) -> Self:
        """The MLP computing what a `torch.nn.Sequential` of Linear and ReLU/Tanh/Sigmoid modules computes.

        The Sequential must alternate Linear layers with one kind of activation (or none) and end
        with a Linear layer, as an MLP does; any other module or order raises ValueError naming it.
        """
        layers, activation = torch_bridge.from_torch(sequential)
        sizes = [layers[0][0].shape[1], *(weight.shape[0] for weight, _ in layers)]
        model = cls(**cls._config_for_sizes(sizes, activation, True, "from_torch"))
        names = cls._state_names(len(layers))
        model.load_state_dict({name: array for pair, arrays in zip(names, layers) for name, array in zip(pair, arrays)})
        return model

    # What SeedNetwork, a kind of MLP, changes: its state dict's names and how its sizes come from its arguments.

    @classmethod
    def _state_names(cls, n_layers: int) -> list[tuple[str, str]]:
        """The state dict's (weight, bias) names, layer by layer."""
        return [(f"layer{i}.weight", f"layer{i}.bias") for i in range(1, n_layers + 1)]

    @classmethod
    def _sizes(cls, arguments: Mapping[str, Any]) -> list[int]:
        """The sizes (inputs, then each layer's outputs) of a model built with these constructor arguments."""
        return mlp_sizes(arguments["nin"], arguments["nouts"])

    @classmethod
    def _config_for_sizes(cls, sizes: Sequence[int], activation: str, fused: bool, where: str) -> dict[str, Any]:
        """The constructor arguments of a model with these sizes, hidden activation and fused flag."""
        return {"nin": int(sizes[0]), "nouts": [int(n) for n in sizes[1:]], "activation": activation, "fused": fused}
