"""The checkpoint file: one uncompressed numpy `.npz` archive of named float64 arrays and an `architecture` entry.

Version 2, written by `Module.save`: `architecture` holds JSON text such as

    {"format": "valuegrad.nn", "version": 2, "class": "MLP",
     "config": {"nin": 64, "nouts": [32, 10], "activation": "relu", "fused": true}}

where `class` is the model's class name and `config` the constructor arguments that rebuild it
(`Module.config()`); every other entry is one array of the model's state dict, under its name
(`layer1.weight`, ...). A file names a class but never code to import: `nn.load` matches the name
against the classes it knows and is given.

Version 1, read and no longer written, held only MLP-shaped models:
{"format": "valuegrad.nn", "version": 1, "kind": "MLP" or "SeedNetwork", "sizes": [64, 32, 10],
"activation": "relu", "fused": true}, with the same arrays.

This module knows no model class. `write` writes a temporary file in the target's folder, flushes it
to disk and moves it over the target with `os.replace`, so a crash mid-write leaves the old file
whole. `read` checks everything that can be checked without a model (the file is a zip archive of
.npy arrays, nothing pickled, the architecture's fields and their types); anything wrong is a
ValueError naming the file and the problem.
"""

from __future__ import annotations

import json
import os
import secrets
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from nn.state_dicts import difference

FORMAT = "valuegrad.nn"
VERSION = 2  # the version `write` writes; `read` reads VERSIONS
ARCHITECTURE = "architecture"  # the archive entry that holds the architecture's JSON text
# Each version's architecture fields, in the order they are written.
FIELDS = {
    1: ("format", "version", "kind", "sizes", "activation", "fused"),
    2: ("format", "version", "class", "config"),
}
VERSIONS = tuple(FIELDS)

# The first bytes of a zip archive (a member's local header, or the end record of an empty archive) and of a .npy file.
ZIP_STARTS = (b"PK\x03\x04", b"PK\x05\x06")
NPY_START = b"\x93NUMPY"

# np.savez(file, **arrays); typed loosely because its stubs read an array named like a keyword as that keyword.
_savez: Callable[..., None] = np.savez


@dataclass(frozen=True)
class Contents:
    """A checkpoint as read: its format version, the class name and configuration it declares, and its arrays.

    For a version-1 file, `class_name` is its `kind` and `config` holds its `sizes`, `activation`
    and `fused` as they were written (nn.load turns them into constructor arguments).
    """

    version: int
    class_name: str
    config: dict[str, Any]
    arrays: dict[str, np.ndarray]


# --- writing --------------------------------------------------------------------------------------------------


def write(path: str | os.PathLike[str], class_name: str, config: Mapping[str, Any], arrays: Mapping[str, Any]) -> Path:
    """Write a version-2 checkpoint to exactly `path`, atomically; returns the path.

    The archive is written to a hidden temporary file in the same folder, flushed to disk (fsync)
    and moved over `path` with `os.replace`: readers see the old file or the new one, never half of
    one. A missing folder is a FileNotFoundError naming it; any other failure of the file system is
    an OSError of its usual kind naming `path` and the step that failed (never the temporary file).
    """
    path = Path(path)
    who = f"save({str(path)!r})"
    if ARCHITECTURE in arrays:
        raise ValueError(f"{who}: {ARCHITECTURE!r} is the name of the checkpoint's own entry; rename that parameter")
    text = json.dumps({"format": FORMAT, "version": VERSION, "class": class_name, "config": config}, allow_nan=False)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"{who}: the folder {str(path.parent)!r} does not exist")
    temporary = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    step = f"creating a temporary file in the folder {str(path.parent)!r}"
    try:
        # O_EXCL: never reuse an existing file; mode 0o666 less the umask, as for any new file (mkstemp gives 0o600).
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as error:
        raise _naming(error, who, step) from error
    try:
        step = "writing the archive"
        with os.fdopen(descriptor, "wb") as file:
            _savez(file, **{ARCHITECTURE: np.array(text)}, **arrays)
            file.flush()
            step = "flushing it to disk"
            os.fsync(file.fileno())
        step = f"moving it into place as {str(path)!r}"
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _naming(error, who, step) from error
        raise
    _sync_folder(path.parent)
    return path


def _naming(error: OSError, who: str, step: str) -> OSError:
    """`error` told from the user's side: which save, and which step failed, in place of the temporary file's name."""
    message = f"{who}: {step} failed: {error.strerror or error}"
    # OSError(errno, text) becomes the subclass for that errno (PermissionError for EACCES, ...).
    return OSError(error.errno, message) if error.errno is not None else type(error)(message)


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


# --- reading --------------------------------------------------------------------------------------------------


def read(path: str | os.PathLike[str]) -> Contents:
    """The checkpoint at `path`: its architecture checked field by field, and its arrays (not yet checked by name).

    A missing file raises FileNotFoundError (a folder IsADirectoryError, and so on, as `open` does);
    anything that is not a whole valuegrad checkpoint raises ValueError naming the file and the
    problem. Arrays are read with `allow_pickle=False`: a file can never run code.
    """
    path = Path(path)
    where = f"checkpoint {str(path)!r}"
    with open(path, "rb") as file:
        arrays = _read_arrays(file, where)
    if ARCHITECTURE not in arrays:
        raise ValueError(f"{where} has no {ARCHITECTURE!r} entry: it is not a valuegrad checkpoint")
    text = arrays.pop(ARCHITECTURE)
    if text.dtype.kind != "U" or text.shape != ():
        raise ValueError(f"{where}: {ARCHITECTURE!r} must be JSON text, got an array of {text.dtype} {text.shape}")
    try:
        spec = json.loads(str(text))
    except (ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError; deep nesting a RecursionError
        raise ValueError(f"{where}: {ARCHITECTURE!r} is not valid JSON: {error}") from error
    version, class_name, config = _checked_architecture(spec, f"{where}: {ARCHITECTURE}")
    return Contents(version, class_name, config, arrays)


def _read_arrays(file: BinaryIO, where: str) -> dict[str, np.ndarray]:
    """Every member of the archive in `file` as an array, by its name without `.npy`."""
    start = file.read(len(NPY_START))
    if start.startswith(NPY_START):
        raise ValueError(f"{where} holds a single .npy array, not an .npz archive: it is not a valuegrad checkpoint")
    if start[: len(ZIP_STARTS[0])] not in ZIP_STARTS:
        raise ValueError(
            f"{where} is not a valuegrad checkpoint: it does not start as an .npz (zip) archive does, "
            "and a checkpoint is one, written by model.save"
        )
    file.seek(0)
    try:
        archive = zipfile.ZipFile(file)
    except Exception as error:  # a truncated or corrupted archive fails in many ways inside zipfile
        raise ValueError(f"{where} cannot be read as an .npz archive: {error}") from error
    with archive:
        names = archive.namelist()
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"{where}: the archive holds {', '.join(map(repr, repeated))} more than once")
        arrays = {}
        for name in names:
            if not name.endswith(".npy"):
                raise ValueError(f"{where}: member {name!r} is not a .npy array; a checkpoint holds only .npy arrays")
            try:
                with archive.open(name) as member:
                    array = np.lib.format.read_array(member, allow_pickle=False)
                    left = len(member.read())  # reading to the end also checks the member's CRC
            except Exception as error:  # bad CRC, truncated data, a damaged .npy header, a pickled object array ...
                raise ValueError(f"{where}: member {name!r} cannot be read as an array: {error}") from error
            if left:
                raise ValueError(f"{where}: member {name!r} has {left} byte(s) after its array; expected none")
            arrays[name.removesuffix(".npy")] = array
    return arrays


def _checked_architecture(spec: object, where: str) -> tuple[int, str, dict[str, Any]]:
    """(version, class name, config) of an architecture that a reader of this version understands, else ValueError."""
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a JSON object, got {type(spec).__name__}")
    if spec.get("format") != FORMAT:
        raise ValueError(f"{where}: format {spec.get('format')!r} is not a valuegrad checkpoint's ({FORMAT!r})")
    version = spec.get("version")
    if type(version) is not int or version not in VERSIONS:  # not True (== 1) nor 2.0 (== 2): JSON's integers only
        readable = " and ".join(map(str, VERSIONS))
        raise ValueError(f"{where}: version {version!r} is not supported; this valuegrad reads versions {readable}")
    fields = FIELDS[version]
    missing = [f for f in fields if f not in spec]
    extra = sorted(set(spec) - set(fields))
    if missing or extra:
        raise ValueError(f"{where}: {difference(missing, extra, 'field')}; version {version} has {', '.join(fields)}")
    if version == 1:
        return version, _text(spec, "kind", where), _version_1_description(spec, where)
    if not isinstance(spec["config"], dict):
        raise ValueError(f"{where}: config must be a JSON object of constructor arguments, got {spec['config']!r}")
    return version, _text(spec, "class", where), spec["config"]


def _text(spec: dict[str, Any], field: str, where: str) -> str:
    if not isinstance(spec[field], str) or not spec[field]:
        raise ValueError(f"{where}: {field} must be a class name, got {spec[field]!r}")
    return spec[field]


def _version_1_description(spec: dict[str, Any], where: str) -> dict[str, Any]:
    """A version-1 model's sizes, activation and fused, their types checked."""
    sizes = spec["sizes"]
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes)
    ):
        raise ValueError(f"{where}: sizes must be a list of at least two positive whole numbers, got {sizes!r}")
    if not isinstance(spec["activation"], str):
        raise ValueError(f"{where}: activation must be a name such as 'relu', got {spec['activation']!r}")
    if not isinstance(spec["fused"], bool):
        raise ValueError(f"{where}: fused must be true or false, got {spec['fused']!r}")
    return {"sizes": sizes, "activation": spec["activation"], "fused": spec["fused"]}
