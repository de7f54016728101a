"""Module: what every model is built on. It finds its parameters in its attributes, names them, lists them
and zeroes their gradients, reads and writes them as arrays, and saves itself.

A Module's parameters are plain Values. It lists them (`parameters`, `named_parameters`) and
arranges them as named arrays (`parameter_arrays`: a Value, a list of Values, a list of such lists
..., nn/arrays.py), and from those alone it reads and writes them as numpy arrays (`state_dict`,
`load_state_dict`) and saves itself to one file with the constructor arguments that rebuild it
(`config`, `save`; `nn.load` in nn/checkpoint.py reads it back). A class of one's own gets all of
this by keeping its parameters in attributes: see `Module`. The MLP and its parts are built on it in
nn/neurons.py and nn/mlp.py, the layers of a small GPT in nn/layers.py.
"""

from __future__ import annotations

import inspect
import json
import os
from collections.abc import Mapping
from pathlib import Path
from types import FunctionType
from typing import Any, Union

import numpy as np

from engine import Value
from engine.core.value import zero_grads
from nn import checkpoint_format
from nn.arrays import ValueArray, entry_name, flatten, holds_a_value
from nn.state_dicts import Shapes, checked_state
from nn.stray_values import stray_value


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
    or a list, tuple or dict of any of these (a dict's keys are strings that name its entries).
    `Line().state_dict()` is then {"a": array(0.), "b": array(0.)}, and `Line().save(path)` and
    `nn.load(path, Line)` work. Override `parameter_arrays()` to arrange or name them otherwise, as
    MLP does.

    An attribute may not take a method's name (`self.state_dict = {...}` would hide `state_dict()`,
    which `save` calls): setting one raises AttributeError naming the method. (A function may replace
    a method on one model, as a test's mock does.)
    """

    def __setattr__(self, name: str, value: Any) -> None:
        """Set the attribute, unless it would hide a method: calling that method would then fail."""
        owner = _method_owner(type(self), name)
        if owner is not None and (not callable(value) or isinstance(value, Module)):
            raise AttributeError(
                f"{type(self).__name__}: the attribute {name!r} would hide the method {owner.__name__}.{name}(): "
                f"model.{name}(), and whatever calls it, would fail with '{type(value).__name__}' object is not "
                "callable. Give the attribute another name"
            )
        object.__setattr__(self, name, value)

    def parameter_arrays(self) -> dict[str, ValueArray]:
        """Names to this module's parameters arranged as arrays, as `state_dict` gives them.

        The default finds them in the attributes (see the class's docstring): `weight` for an
        attribute holding a matrix of Values, `a` for a single Value, `block.weight` for the
        `weight` of a Module held in `block`, `blocks.0.weight` for one in a list `blocks`,
        `weights.wte` for the matrix under the key "wte" of a dict `weights`.
        """
        arrays: dict[str, ValueArray] = {}
        for name, part in parameter_parts(self):
            if isinstance(part, Module):
                arrays.update({f"{name}.{key}": array for key, array in part.parameter_arrays().items()})
            else:
                arrays[name] = part
        return arrays

    def named_parameters(self) -> list[tuple[str, Value]]:
        """(name, parameter) pairs, in the same order as `parameters()`.

        The default names each entry of `parameter_arrays()` by its position, 0-based: `a`,
        `weight[2,0]`, `block.bias[1]`, `weights.wte[3,7]` (a Module held in an attribute names its
        own parameters).
        """
        named: list[tuple[str, Value]] = []
        for name, part in parameter_parts(self):
            if isinstance(part, Module):
                named += [(f"{name}.{key}", p) for key, p in part.named_parameters()]
            else:
                shape, values = flatten(part, name)
                named += [(entry_name(name, index), v) for index, v in zip(np.ndindex(*shape), values)]
        return named

    def parameters(self) -> list[Value]:
        """The parameters, in the order of `named_parameters()`: found the same way, without building names."""
        if type(self).named_parameters is not Module.named_parameters:  # a class naming them its own way lists them so
            return [p for _, p in self.named_parameters()]
        parameters: list[Value] = []
        for name, part in parameter_parts(self):
            parameters += part.parameters() if isinstance(part, Module) else flatten(part, name)[1]
        return parameters

    def zero_grad(self) -> None:
        """Set to 0 the gradient of every parameter, and of every constant the module's nodes read (the 0 that a
        Linear without bias adds), to which backward() adds as to any leaf; constants are no parameters."""
        zero_grads(self.parameters())
        zero_grads(self._constants_within())

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
        `config()` that is not JSON, or that the constructor does not accept, is a TypeError, and so
        is a model without parameters whose attributes hold Values where nn does not look for them
        (in a set, say): it would save an empty file. A model without parameters by design saves.
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
        stray = stray_value(self, Module) if not state else None
        if stray is not None:
            where, kind = stray
            raise TypeError(
                f"{who}: {cls.__name__} has no parameters that nn finds, but its attribute {where!r} holds Values in "
                f"a {kind}, where nn does not look for them, so the file would hold none of them. Keep parameters in "
                "a Value, a list (of lists) of Values, a Module, or a list, tuple or dict of these"
            )
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
                "a Module, or a list, tuple or dict of these, or override parameter_arrays() to list it"
            )
        return flat

    def _constants(self) -> list[Value]:
        """The leaves other than parameters that this module's nodes read at every call: none, by default."""
        return []

    def _constants_within(self) -> list[Value]:
        """The constants of this module and of every Module held in its attributes."""
        constants = list(self._constants())
        for _, part in parameter_parts(self):
            if isinstance(part, Module):
                constants += part._constants_within()
        return constants

    def _name_parameters(self) -> None:
        """Write each parameter's dotted name into its label (called once built)."""
        for name, p in self.named_parameters():
            p.label = name


def _method_owner(cls: type, name: str) -> type | None:
    """The class that defines `name` as a method for instances of `cls` (None for a data attribute or a property,
    whose own rules decide, and for private names); a method of one's own class counts as much as Module's."""
    if name.startswith("_"):
        return None
    for owner in cls.__mro__[:-1]:  # `object` last: its methods are all private
        if name in vars(owner):
            return owner if isinstance(vars(owner)[name], (FunctionType, classmethod, staticmethod)) else None
    return None


# What the search for parameters looks at: anything else (a number, a string, a set ...) holds none for it.
SEARCHED = (Value, Module, list, tuple, dict)
Part = Union[Value, list[Any], tuple[Any, ...], Module]


def parameter_parts(module: Module) -> list[tuple[str, Part]]:
    """(dotted name, part) for every array of parameters and every Module in the module's attributes, in the order
    the attributes were set (names starting with `_` skipped), each dict in its order, each list by position."""
    parts: list[tuple[str, Part]] = []
    for name, attribute in vars(module).items():
        if not name.startswith("_"):
            _find_parts(attribute, name, parts)
    return parts


def _find_parts(item: object, name: str, parts: list[tuple[str, Part]]) -> None:
    """Add to `parts` what `item` holds, named from `name`: a Value or a Module is a part; a list (or tuple) holding
    Values, within lists only, is an array; other lists and dicts are searched entry by entry (`name.0`, `name.key`)."""
    if isinstance(item, (Value, Module)):
        parts.append((name, item))
    elif isinstance(item, (list, tuple)):
        if holds_a_value(item):
            parts.append((name, item))
        else:
            for i, entry in enumerate(item):
                if isinstance(entry, SEARCHED):
                    _find_parts(entry, f"{name}.{i}", parts)
    elif isinstance(item, dict):
        for key, entry in item.items():
            if not isinstance(entry, SEARCHED):
                continue
            if not isinstance(key, str):
                found: list[tuple[str, Part]] = []
                _find_parts(entry, name, found)
                if found:
                    raise TypeError(
                        f"{name}: a dict holding parameters names them by its keys ({name}.key), so its keys must be "
                        f"strings, as in PyTorch's ModuleDict; got the key {key!r} ({type(key).__name__})"
                    )
                continue
            _find_parts(entry, f"{name}.{key}", parts)


def constructor_arguments(cls: type, config: Mapping[str, Any]) -> dict[str, Any]:
    """Every argument of `cls(**config)` by name, defaults filled in; TypeError if the constructor refuses them."""
    bound = inspect.signature(cls).bind(**config)
    bound.apply_defaults()
    return dict(bound.arguments)
