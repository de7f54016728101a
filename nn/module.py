"""Neural-network building blocks on top of `engine.Value`: Module, Neuron, Layer, MLP.

Parameters are plain Values whose `label` is their dotted name
(`layer1.neuron3.w2`), so diagrams and error messages can say which is which.
An MLP also reads and writes its parameters as one array per layer (`state_dict`),
saves itself to a file (nn/checkpoint.py) and converts to and from a PyTorch
`Sequential` (nn/torch_bridge.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Self, Union

import numpy as np

from engine import Value, linear
from nn import checkpoint, torch_bridge
from nn.activations import ACTIVATIONS, check_activation, init_limit

Input = Union[Value, int, float]


class Module:
    """Anything with parameters: lists them, names them and zeroes their gradients."""

    def named_parameters(self) -> list[tuple[str, Value]]:
        """(name, parameter) pairs, in the same order as `parameters()`."""
        return []

    def parameters(self) -> list[Value]:
        """The parameters, in the order of `named_parameters()` (modules list them without building names)."""
        return [p for _, p in self.named_parameters()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = 0.0

    def _name_parameters(self) -> None:
        """Write each parameter's dotted name into its label (called once built)."""
        for name, p in self.named_parameters():
            p.label = name


def _check_size(n: object, who: str, what: str) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{who} needs a positive whole number of {what}, got {n!r}")


def _check_inputs(x: Sequence[Input], nin: int, who: str) -> None:
    try:
        n = len(x)
    except TypeError:
        raise TypeError(f"{who} expects a list of {nin} numbers or Values, got {type(x).__name__}") from None
    if n != nin:
        raise ValueError(f"{who} expects {nin} inputs, got {n}")


def _as_values(x: Sequence[Input]) -> list[Value]:
    return [xi if isinstance(xi, Value) else Value(xi) for xi in x]


class Neuron(Module):
    """g(w . x + b): one unit with `nin` weights and a bias.

    `fused=True` (the default) records w . x + b as one `linear` node with one
    derivative rule; `fused=False` records it as n multiplications and n
    additions, the form to draw when teaching. Both give the same gradients.
    Weights are drawn uniformly with the variance `init_limit` describes
    (He for relu, LeCun otherwise); the bias starts at 0.
    """

    def __init__(
        self,
        nin: int,
        activation: str = "tanh",
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        fused: bool = True,
    ) -> None:
        _check_size(nin, "Neuron", "inputs")
        self.activation = check_activation(activation)
        rng = rng if rng is not None else np.random.default_rng(seed)
        limit = init_limit(activation, nin)
        self.w = [Value(float(v)) for v in rng.uniform(-limit, limit, nin)]
        self.b = Value(0.0)
        self.fused = fused
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

    def __call__(self, x: Sequence[Input]) -> Value:
        _check_inputs(x, len(self.w), "Neuron")
        return self._apply(_as_values(x))

    def _apply(self, x: list[Value]) -> Value:
        """The neuron on `nin` Values (checked by the caller, once for a whole layer); its nodes get its scope."""
        scope = self.scope
        if self.fused:
            z = linear.record_values(*self.w, *x, self.b)
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
        out = g.record1(z)
        out.scope = scope
        return out

    def __repr__(self) -> str:
        kind = "" if self.activation == "linear" else self.activation.capitalize()
        return f"{kind}Neuron({len(self.w)})"


class Layer(Module):
    """`nout` neurons that all read the same `nin` inputs."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "tanh",
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        fused: bool = True,
    ) -> None:
        _check_size(nout, "Layer", "outputs")
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.neurons = [Neuron(nin, activation, rng=rng, fused=fused) for _ in range(nout)]
        self._set_scope("")

    def _set_scope(self, scope: str) -> None:
        self.scope = scope
        prefix = f"{scope}." if scope else ""
        for j, neuron in enumerate(self.neurons, start=1):
            neuron.scope = f"{prefix}neuron{j}"
        self._name_parameters()

    def parameters(self) -> list[Value]:
        return [p for n in self.neurons for p in n.parameters()]

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [pair for n in self.neurons for pair in n.named_parameters()]

    def __call__(self, x: Sequence[Input]) -> list[Value]:
        _check_inputs(x, self.neurons[0].nin, "Layer")
        return self._apply(_as_values(x))

    def _apply(self, x: list[Value]) -> list[Value]:
        return [n._apply(x) for n in self.neurons]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"


@checkpoint.storable
class MLP(Module):
    """A multi-layer perceptron: `nin` inputs, then one layer per entry of `nouts`.

    `activation` ("relu", "tanh", "sigmoid" or "linear") applies to every hidden
    layer; the last layer is linear. `seed` makes the initial weights
    reproducible. Calling the model on a list of `nin` numbers or Values gives a
    Value when the last layer has one output, else a list of Values.
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "tanh",
        *,
        seed: int | None = None,
        fused: bool = True,
    ) -> None:
        check_activation(activation)
        _check_size(nin, "MLP", "inputs")
        if not isinstance(nouts, (list, tuple)):
            raise TypeError(f"MLP expects nouts as a list of layer sizes, e.g. [16, 16, 1], got {nouts!r}")
        if len(nouts) == 0:
            raise ValueError("MLP needs at least one layer size in nouts")
        for n in nouts:
            _check_size(n, "MLP", "outputs in each layer of nouts")
        rng = np.random.default_rng(seed)
        sizes = [nin, *nouts]
        self.nin = nin
        self.activation = activation
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                activation if i < len(nouts) - 1 else "linear",
                rng=rng,
                fused=fused,
            )
            for i in range(len(nouts))
        ]
        for i, layer in enumerate(self.layers, start=1):
            layer._set_scope(f"layer{i}")

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [pair for layer in self.layers for pair in layer.named_parameters()]

    def __call__(self, x: Sequence[Input]) -> Value | list[Value]:
        _check_inputs(x, self.nin, "MLP")
        # Numbers become input Values once here, not once per neuron: x1, x2, ... in diagrams.
        out = [xi if isinstance(xi, Value) else Value(xi, label=f"x{i}") for i, xi in enumerate(x, start=1)]
        for layer in self.layers:
            out = layer._apply(out)
        return out[0] if len(out) == 1 else out

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"

    # Parameters as arrays, files and PyTorch: the work is done in nn/checkpoint.py and nn/torch_bridge.py.

    def state_dict(self) -> dict[str, np.ndarray]:
        """Names to new float64 arrays: `layer1.weight` (shape nout x nin), `layer1.bias` (nout,), ... per layer."""
        return checkpoint.state_dict(self)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set every parameter from arrays named as in `state_dict()`.

        Every name, shape and value is checked before anything changes: a missing or unexpected
        name, a wrong shape (the message gives the expected and the given shape), a non-numeric
        dtype or a non-finite value raises ValueError and leaves the model as it was.
        """
        checkpoint.load_state_dict(self, state)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the architecture and every parameter to one `.npz` file, atomically (see `nn.load`)."""
        return checkpoint.save(self, path)

    def to_torch(self) -> Any:
        """A float64 `torch.nn.Sequential` of Linear layers and activation modules computing the same function.

        Raises ImportError, saying how to install it, when PyTorch is not installed.
        """
        return torch_bridge.to_torch(self)

    @classmethod
    def from_torch(cls, sequential: Any) -> Self:
        """The MLP computing what a `torch.nn.Sequential` of Linear and ReLU/Tanh/Sigmoid modules computes.

        The Sequential must alternate Linear layers with one kind of activation (or none) and end
        with a Linear layer, as an MLP does; any other module or order raises ValueError naming it.
        """
        return torch_bridge.from_torch(cls, sequential)

    @classmethod
    def _state_names(cls, n_layers: int) -> list[tuple[str, str]]:
        """The state dict's (weight, bias) names, layer by layer."""
        return [(f"layer{i}.weight", f"layer{i}.bias") for i in range(1, n_layers + 1)]

    @classmethod
    def _check_sizes(cls, sizes: Sequence[int], where: str) -> None:
        """ValueError unless this kind of model can have these sizes (inputs, then each layer's outputs)."""

    @classmethod
    def _from_sizes(cls, sizes: Sequence[int], activation: str, *, fused: bool = True) -> Self:
        """A new model with these sizes (inputs, then each layer's outputs) and hidden activation."""
        return cls(sizes[0], list(sizes[1:]), activation, fused=fused)
