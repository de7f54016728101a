"""Checkpoints: a model's parameters as named arrays (`state_dict`), and one `.npz` file per model (`save`, `load`).

A checkpoint is an uncompressed numpy `.npz` archive holding

- `architecture`: JSON text saying how to rebuild the model, e.g.
  {"format": "valuegrad.nn", "version": 1, "kind": "MLP", "sizes": [64, 32, 10], "activation": "relu",
  "fused": true}: `sizes` is the number of inputs then each layer's outputs, `activation` the hidden
  layers' activation (the last layer is linear), `kind` "MLP" or "SeedNetwork";
- the state dict: one float64 array per layer's weight matrix (shape nout x nin) and one per bias
  vector, named `layer1.weight`, `layer1.bias`, ... (`w1`, `b1`, ... for a SeedNetwork, in the seed's
  notation).

`save` writes a temporary file in the same folder and moves it over the target with `os.replace`, so
a crash mid-write leaves the old checkpoint whole. `load` reads with `allow_pickle=False` (a file can
never run code) and checks everything (architecture, names, shapes, dtypes, finiteness) before it
builds a model; anything wrong is a ValueError naming the problem.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from nn.activations import ACTIVATIONS

if TYPE_CHECKING:
    from nn.module import MLP

FORMAT = "valuegrad.nn"
VERSION = 1
ARCHITECTURE = "architecture"  # the archive entry that holds the architecture's JSON text
ARCHITECTURE_FIELDS = ("format", "version", "kind", "sizes", "activation", "fused")

Shapes = dict[str, tuple[int, ...]]
Model = TypeVar("Model", bound="MLP")

# np.savez(file, **arrays); typed loosely because its stubs read an array named like a keyword as that keyword.
_savez: Callable[..., None] = np.savez


# The models a checkpoint can hold, by the name stored as its `kind`: filled by the classes themselves
# (nn/module.py and nn/seed_network.py), which sit above this file.
MODEL_KINDS: dict[str, type[MLP]] = {}


def storable(cls: type[Model]) -> type[Model]:
    """Class decorator: models of this class can be saved and loaded, under the class's name."""
    MODEL_KINDS[cls.__name__] = cls
    return cls


# --- architecture ---------------------------------------------------------------------------------------------


def architecture(model: MLP) -> dict[str, Any]:
    """What it takes to rebuild `model` (without its parameters), as stored in a checkpoint."""
    kind = type(model).__name__
    if MODEL_KINDS.get(kind) is not type(model):
        raise TypeError(f"checkpoints hold MLP or SeedNetwork models, got {kind}")
    return {
        "format": FORMAT,
        "version": VERSION,
        "kind": kind,
        "sizes": [model.nin, *(len(layer.neurons) for layer in model.layers)],
        "activation": model.activation,
        "fused": all(n.fused for layer in model.layers for n in layer.neurons),
    }


def check_architecture(spec: object, where: str = "architecture") -> dict[str, Any]:
    """`spec` if it describes a model this version can build, else ValueError naming what is wrong."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(spec).__name__}")
    missing = [f for f in ARCHITECTURE_FIELDS if f not in spec]
    extra = sorted(set(spec) - set(ARCHITECTURE_FIELDS))
    if missing or extra:
        raise ValueError(f"{where}: {_difference(missing, extra, 'field')}; expected {', '.join(ARCHITECTURE_FIELDS)}")
    if spec["format"] != FORMAT:
        raise ValueError(f"{where}: format {spec['format']!r} is not a valuegrad checkpoint's ({FORMAT!r})")
    if spec["version"] != VERSION or isinstance(spec["version"], bool):
        raise ValueError(
            f"{where}: version {spec['version']!r} is not supported; this valuegrad reads version {VERSION}"
        )
    kinds = MODEL_KINDS
    if not isinstance(spec["kind"], str) or spec["kind"] not in kinds:
        raise ValueError(
            f"{where}: unknown kind of model {spec['kind']!r}; expected one of {', '.join(map(repr, kinds))}"
        )
    sizes = spec["sizes"]
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes)
    ):
        raise ValueError(f"{where}: sizes must be a list of at least two positive whole numbers, got {sizes!r}")
    if not isinstance(spec["activation"], str) or spec["activation"] not in ACTIVATIONS:
        raise ValueError(
            f"{where}: unknown activation {spec['activation']!r}; expected one of {', '.join(map(repr, ACTIVATIONS))}"
        )
    if not isinstance(spec["fused"], bool):
        raise ValueError(f"{where}: fused must be true or false, got {spec['fused']!r}")
    kinds[spec["kind"]]._check_sizes(sizes, where)
    return spec


def build(spec: dict[str, Any]) -> MLP:
    """A new model of the kind and sizes that a checked architecture describes (parameters freshly drawn)."""
    cls = MODEL_KINDS[spec["kind"]]
    return cls._from_sizes(spec["sizes"], spec["activation"], fused=spec["fused"])


def state_shapes(kind: type[MLP], sizes: list[int]) -> Shapes:
    """The state dict's names and shapes for a model of this kind and these sizes, in parameter order."""
    shapes: Shapes = {}
    for (weight, bias), nin, nout in zip(kind._state_names(len(sizes) - 1), sizes[:-1], sizes[1:]):
        shapes[weight] = (nout, nin)
        shapes[bias] = (nout,)
    return shapes


# --- state dicts ----------------------------------------------------------------------------------------------


def state_dict(model: MLP) -> dict[str, np.ndarray]:
    """Names to new float64 arrays: each layer's weight matrix (nout x nin) and bias vector."""
    state: dict[str, np.ndarray] = {}
    for (weight, bias), layer in zip(model._state_names(len(model.layers)), model.layers):
        state[weight] = np.array([[w.data for w in n.w] for n in layer.neurons], dtype=np.float64)
        state[bias] = np.array([n.b.data for n in layer.neurons], dtype=np.float64)
    return state


def load_state_dict(model: MLP, state: Mapping[str, Any], where: str = "load_state_dict") -> None:
    """Set every parameter of `model` from `state`, all checked first (`checked_state`): a failure changes nothing."""
    sizes = [model.nin, *(len(layer.neurons) for layer in model.layers)]
    arrays = checked_state(state, state_shapes(type(model), sizes), where)
    for (weight, bias), layer in zip(model._state_names(len(model.layers)), model.layers):
        for neuron, row, b in zip(layer.neurons, arrays[weight], arrays[bias]):
            for w, value in zip(neuron.w, row):
                w.data = float(value)
            neuron.b.data = float(b)


def checked_state(state: Mapping[str, Any], shapes: Shapes, where: str) -> dict[str, np.ndarray]:
    """`state` as float64 arrays, if it has exactly the names of `shapes`, with those shapes and finite real values."""
    if not isinstance(state, Mapping):
        raise TypeError(f"{where}: expected a mapping of names to arrays, got {type(state).__name__}")
    missing = [name for name in shapes if name not in state]
    extra = sorted(str(name) for name in state if name not in shapes)
    if missing or extra:
        raise ValueError(f"{where}: {_difference(missing, extra, 'array')}; expected {', '.join(shapes)}")
    arrays = {}
    for name, expected in shapes.items():
        try:
            array = np.asarray(state[name])
        except Exception as error:  # e.g. a torch tensor that requires grad
            raise TypeError(f"{where}: {name!r} cannot be read as an array: {error}") from error
        if array.dtype.kind not in "fiu":
            raise ValueError(f"{where}: {name!r} has dtype {array.dtype}; expected real numbers (float or int)")
        if array.shape != expected:
            raise ValueError(f"{where}: {name!r} has shape {array.shape}; expected {expected}")
        array = array.astype(np.float64)
        bad = np.argwhere(~np.isfinite(array))
        if len(bad):
            index = tuple(int(i) for i in bad[0])
            raise ValueError(
                f"{where}: {name!r} has {len(bad)} non-finite value(s), e.g. {float(array[index])!r} at {index}; "
                "expected finite numbers"
            )
        arrays[name] = array
    return arrays


def _difference(missing: list[str], extra: list[str], what: str) -> str:
    parts = []
    if missing:
        parts.append(f"missing {what}(s) {', '.join(map(repr, missing))}")
    if extra:
        parts.append(f"unexpected {what}(s) {', '.join(map(repr, extra))}")
    return " and ".join(parts)


# --- files ----------------------------------------------------------------------------------------------------


def save(model: MLP, path: str | os.PathLike[str]) -> Path:
    """Write `model` to one `.npz` file at `path` (exactly that name), atomically; returns the path.

    The archive is written to a temporary file in the same folder, flushed to disk and moved over
    `path` with `os.replace`: readers see the old file or the new one, never half of one. A model
    with a non-finite parameter is refused (ValueError), as `load` would refuse its file.
    """
    path = Path(path)
    spec = architecture(model)
    state = checked_state(state_dict(model), state_shapes(type(model), spec["sizes"]), f"save({str(path)!r})")
    if not path.parent.is_dir():
        raise FileNotFoundError(f"save({str(path)!r}): the folder {str(path.parent)!r} does not exist")
    temporary = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    # O_EXCL: never reuse an existing file; mode 0o666 less the umask, as for any new file (mkstemp would give 0o600).
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(descriptor, "wb") as file:
            _savez(file, **{ARCHITECTURE: np.array(json.dumps(spec))}, **state)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(path.parent)
    return path


def _sync_folder(folder: Path) -> None:
    """Flush the folder's entry for the renamed file to disk, where the system allows it (not on Windows)."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def load(path: str | os.PathLike[str]) -> MLP:
    """The model saved at `path`, of the same kind (MLP or SeedNetwork), with identical parameters and names.

    A missing file raises FileNotFoundError; a file that is not a whole valuegrad checkpoint (not an
    archive, truncated or corrupted, arrays missing or extra, wrong shapes or dtypes, non-finite
    weights, an unknown architecture) raises ValueError naming the problem. Nothing is pickled:
    the archive is read with `allow_pickle=False`.
    """
    path = Path(path)
    where = f"checkpoint {str(path)!r}"
    with open(path, "rb") as file:  # FileNotFoundError, IsADirectoryError, PermissionError as usual
        try:
            archive = np.load(file, allow_pickle=False)
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single .npy array, not an .npz archive")
            with archive:
                arrays = {name: archive[name] for name in archive.files}
        except Exception as error:  # a truncated or corrupted archive fails in many ways inside numpy and zipfile
            raise ValueError(f"{where} cannot be read as an .npz archive: {error}") from error
    if ARCHITECTURE not in arrays:
        raise ValueError(f"{where} has no {ARCHITECTURE!r} entry: it is not a valuegrad checkpoint")
    text = arrays.pop(ARCHITECTURE)
    if text.dtype.kind != "U" or text.shape != ():
        raise ValueError(f"{where}: {ARCHITECTURE!r} must be JSON text, got an array of {text.dtype} {text.shape}")
    try:
        spec = json.loads(str(text))
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: {ARCHITECTURE!r} is not valid JSON: {error}") from error
    spec = check_architecture(spec, f"{where}: {ARCHITECTURE}")
    kind = MODEL_KINDS[spec["kind"]]
    checked = checked_state(arrays, state_shapes(kind, spec["sizes"]), where)  # before any model is built
    model = build(spec)
    load_state_dict(model, checked, where)
    return model
