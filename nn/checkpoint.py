"""`nn.load`: a model back from its checkpoint file, built only from the classes built in here or given to it.

A checkpoint (written by `model.save`, format in nn/checkpoint_format.py) names its model's class and
the constructor arguments that rebuild it; it never names code to import. `load(path)` knows the
built-in classes of `BUILT_IN`; a model of a class of one's own is loaded by passing the class,
`nn.load("line.npz", Line)`, so loading never runs anything but those classes.

Everything is checked before a model is returned: the file (nn/checkpoint_format.py), the class,
the constructor arguments, then every array's name, shape, dtype and finiteness against the model's
state dict. For the built-in classes the shapes come from the arguments alone, so a file declaring
sizes its arrays do not have is refused before anything is built. A failure is a ValueError naming
the file and the problem (FileNotFoundError for a missing file), and no model comes out of it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from nn import checkpoint_format
from nn.layers import Embedding, Linear, RMSNorm
from nn.mlp import MLP
from nn.module import Module, constructor_arguments
from nn.neurons import Layer, Neuron
from nn.seed_network import SeedNetwork
from nn.state_dicts import checked_state

# The classes `load` finds by the name a file gives, without being passed them.
BUILT_IN: dict[str, type[Module]] = {
    "MLP": MLP,
    "SeedNetwork": SeedNetwork,
    "Neuron": Neuron,
    "Layer": Layer,
    "Linear": Linear,
    "Embedding": Embedding,
    "RMSNorm": RMSNorm,
}

# The kinds of model a version-1 file can hold; it describes them by sizes, activation and fused.
VERSION_1_KINDS: dict[str, type[MLP]] = {"MLP": MLP, "SeedNetwork": SeedNetwork}


def load(path: str | os.PathLike[str], *classes: type[Module]) -> Module:
    """The model saved at `path`, of the same class, with identical parameters and names.

    The file's class is found among `classes` (the Module subclasses of one's own that the file
    may hold), then among the built-in ones (MLP, SeedNetwork, Neuron, Layer, Linear, Embedding,
    RMSNorm). A missing file raises FileNotFoundError; a file that is not a whole valuegrad
    checkpoint, a class that is neither given nor built in, constructor arguments the class refuses,
    or arrays that are not the model's (names, shapes, dtypes, non-finite values) raise ValueError
    naming the problem. Nothing is pickled: the archive is read with `allow_pickle=False`.
    """
    known = {**BUILT_IN, **_by_name(classes)}
    contents = checkpoint_format.read(path)
    where = f"checkpoint {str(path)!r}"
    if contents.version == 1:
        if contents.class_name not in VERSION_1_KINDS:
            raise ValueError(
                f"{where}: unknown kind of model {contents.class_name!r}; "
                f"expected one of {', '.join(map(repr, VERSION_1_KINDS))}"
            )
        kind = VERSION_1_KINDS[contents.class_name]
        described = contents.config  # sizes, activation and fused: what version 1 wrote
        cls: type[Module] = kind
        config = kind._config_for_sizes(described["sizes"], described["activation"], described["fused"], where)
    else:
        if contents.class_name not in known:
            given = f"; the classes given are {', '.join(c.__name__ for c in classes)}" if classes else ""
            raise ValueError(
                f"{where} holds a model of class {contents.class_name!r}, which is not built in "
                f"({', '.join(BUILT_IN)}){given}. Pass the class to load: nn.load(path, {contents.class_name})"
            )
        cls, config = known[contents.class_name], contents.config
    return _rebuilt(cls, config, contents.arrays, where)


def _by_name(classes: tuple[type[Module], ...]) -> dict[str, type[Module]]:
    """The classes given to `load` by name; TypeError unless each is a Module subclass, ValueError for a name twice."""
    named: dict[str, type[Module]] = {}
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, Module)):
            raise TypeError(f"load: expected nn.Module subclasses after the path, got {cls!r}")
        if named.get(cls.__name__, cls) is not cls:
            raise ValueError(f"load: two classes named {cls.__name__!r} were given; a file names its class by name")
        named[cls.__name__] = cls
    return named


def _rebuilt(cls: type[Module], config: dict[str, Any], arrays: Mapping[str, np.ndarray], where: str) -> Module:
    """`cls(**config)` with its parameters set from `arrays`, everything checked first; ValueError naming the fault."""
    try:
        shapes = _stated_shapes(cls, config)
    except (TypeError, ValueError, KeyError) as error:
        raise _unbuildable(cls, config, where, error) from error
    model = None
    if shapes is None:  # a class that cannot say its shapes without being built
        model = _built(cls, config, where)
        shapes = {name: array.shape for name, array in model.state_dict().items()}
    state = checked_state(arrays, shapes, where)
    if model is None:
        model = _built(cls, config, where)
    model.load_state_dict(state)
    return model


def _stated_shapes(cls: type[Module], config: dict[str, Any]) -> dict[str, tuple[int, ...]] | None:
    """`cls.state_shapes` of the constructor's arguments, when the class that reads them (its `state_shapes`, or
    MLP's hook `_sizes`) also has `cls`'s constructor; None otherwise (a subclass of MLP with a constructor of its
    own is built to see its shapes)."""
    stating = next(c for c in cls.__mro__ if {"state_shapes", "_sizes"} & set(vars(c)))
    if stating.__init__ is not cls.__init__:  # type: ignore[misc]
        return None
    return cls.state_shapes(constructor_arguments(cls, config))


def _built(cls: type[Module], config: dict[str, Any], where: str) -> Module:
    try:
        return cls(**config)
    except (TypeError, ValueError) as error:
        raise _unbuildable(cls, config, where, error) from error


def _unbuildable(cls: type[Module], config: dict[str, Any], where: str, error: Exception) -> ValueError:
    return ValueError(f"{where}: {cls.__name__}(**config) cannot be built from config {json.dumps(config)}: {error}")
