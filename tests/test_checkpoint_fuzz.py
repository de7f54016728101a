"""Corrupted checkpoints, a few hundred of them: `nn.load` raises ValueError or gives a whole model, nothing else.

Each example takes one valid checkpoint and breaks it one way: bytes flipped, the file cut short, members
removed, added, swapped or renamed, arrays given other dtypes or shapes, the architecture's JSON edited.
The oracle for a file that still loads is numpy reading the same file: the model's every array equals the
file's array of that name, so no model comes back half set. Hypothesis runs derandomized: the same examples
every run.
"""

from __future__ import annotations

import io
import json
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import as_if_trained
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nn

MODELS: dict[str, Callable[[], nn.Module]] = {
    "mlp": lambda: nn.MLP(3, [4, 2], activation="relu", seed=0),
    "seed network": lambda: nn.SeedNetwork("tanh", widths=(2, 2), seed=1),
    "linear": lambda: nn.Linear(3, 2, bias=False, seed=2),
    "embedding": lambda: nn.Embedding(4, 3, seed=3),
}

Members = dict[str, bytes]  # an archive's members in order: name to raw bytes


def good_file(name: str) -> bytes:
    model = as_if_trained(MODELS[name]())
    buffer = io.BytesIO()
    state = model.state_dict()
    spec = {"format": "valuegrad.nn", "version": 2, "class": type(model).__name__, "config": model.config()}
    np.savez(buffer, architecture=np.array(json.dumps(spec)), **state)
    return buffer.getvalue()


GOOD = {name: good_file(name) for name in MODELS}


def members_of(data: bytes) -> Members:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def archive_of(members: Members | list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive, warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": a name twice is one of the corruptions
        for name, content in members.items() if isinstance(members, dict) else members:
            archive.writestr(name, content)
    return buffer.getvalue()


def npy(array: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)  # object arrays get pickled: load must refuse them
    return buffer.getvalue()


def array_in(content: bytes) -> np.ndarray:
    return np.load(io.BytesIO(content), allow_pickle=False)


# --- the corruptions: each takes the good file's bytes and draws how to break them ---------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.floats() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
arrays = st.sampled_from(
    [
        np.zeros(0),
        np.zeros((4, 3)),
        np.zeros((3, 4)),
        np.ones(4),
        np.ones((2, 4)),
        np.full(2, np.nan),
        np.array(1.5),
        np.array(["a", "b"]),
        np.array([1 + 2j]),
        np.array([True]),
        np.array([None], dtype=object),
        np.arange(6, dtype=np.uint8).reshape(2, 3),
    ]
)


def flip_bytes(data: bytes, draw: Any) -> bytes:
    changed = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        changed[draw(st.integers(0, len(data) - 1))] ^= draw(st.integers(1, 255))
    return bytes(changed)


def truncate(data: bytes, draw: Any) -> bytes:
    return data[: draw(st.integers(0, len(data) - 1))]


def remove_member(data: bytes, draw: Any) -> bytes:
    members = members_of(data)
    del members[draw(st.sampled_from(sorted(members)))]
    return archive_of(members)


def add_member(data: bytes, draw: Any) -> bytes:
    members = members_of(data)
    name = draw(st.sampled_from([*members, "extra.npy", "architecture", "weight", "a/b.npy", "layer9.bias.npy"]))
    content = draw(st.one_of(arrays.map(npy), st.binary(max_size=40)))
    return archive_of([*members.items(), (name, content)])  # an existing name is then in the archive twice


def swap_members(data: bytes, draw: Any) -> bytes:
    members = members_of(data)
    names = sorted(members)
    a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
    members[a], members[b] = members[b], members[a]
    return archive_of(members)


def rename_member(data: bytes, draw: Any) -> bytes:
    members = members_of(data)
    old = draw(st.sampled_from(sorted(members)))
    new = draw(st.sampled_from([old.removesuffix(".npy"), old.upper(), old + ".npy", "x.npy", "x", "dir/"]))
    return archive_of([(new if name == old else name, content) for name, content in members.items()])


def change_dtype(data: bytes, draw: Any) -> bytes:
    members = members_of(data)
    name = draw(st.sampled_from(sorted(members)))
    array = array_in(members[name])
    if array.dtype.kind == "U":  # the architecture's text: as bytes, cut short, or as an object
        dtypes = ["S", "U3", "object"]
    else:
        dtypes = ["float32", "float16", "int64", "int8", "uint8", "bool", "complex128", "U3", "S3", "object"]
    members[name] = npy(array.astype(draw(st.sampled_from(dtypes))))
    return archive_of(members)


def change_shape(data: bytes, draw: Any) -> bytes:
    members = members_of(data)
    name = draw(st.sampled_from(sorted(members)))
    array = array_in(members[name])
    reshape = draw(st.sampled_from(["flat", "transpose", "new axis", "drop one", "scalar", "replace"]))
    if reshape == "flat":
        array = array.reshape(-1)
    elif reshape == "transpose":
        array = array.T
    elif reshape == "new axis":
        array = array[None]
    elif reshape == "drop one":
        array = array.reshape(-1)[1:]
    elif reshape == "scalar":
        array = np.array(array.reshape(-1)[0] if array.size else 0.0)
    else:
        array = draw(arrays)
    members[name] = npy(array)
    return archive_of(members)


def edit_architecture(data: bytes, draw: Any) -> bytes:
    members = members_of(data)
    spec = json.loads(str(array_in(members["architecture.npy"])))
    edit = draw(st.sampled_from(["config value", "config key", "field value", "drop field", "class", "text"]))
    if edit == "config value" and spec["config"]:
        spec["config"][draw(st.sampled_from(sorted(spec["config"])))] = draw(json_values)
    elif edit == "config key":
        spec["config"][draw(st.sampled_from(["seed", "std", "eps", "bias", "widths", "nout", "dim", "zzz"]))] = draw(
            json_values
        )
    elif edit == "field value":
        spec[draw(st.sampled_from(sorted(spec)))] = draw(json_values)
    elif edit == "drop field":
        del spec[draw(st.sampled_from(sorted(spec)))]
    elif edit == "class":
        spec["class"] = draw(st.sampled_from([*nn.checkpoint.BUILT_IN, "Module", "Optimizer", "os.system"]))
    text = json.dumps(spec)
    if edit == "text":
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(st.text(max_size=4)) + text[cut + 1 :]
    members["architecture.npy"] = npy(np.array(text))
    return archive_of(members)


CORRUPTIONS = [
    flip_bytes,
    truncate,
    remove_member,
    add_member,
    swap_members,
    rename_member,
    change_dtype,
    change_shape,
    edit_architecture,
]


@settings(
    max_examples=400, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(st.data())
def test_corrupted_checkpoints_raise_value_error_or_load_whole(
    tmp_path_factory: pytest.TempPathFactory, data: Any
) -> None:
    model_name = data.draw(st.sampled_from(sorted(MODELS)), label="model")
    corruption = data.draw(st.sampled_from(CORRUPTIONS), label="corruption")
    corrupted = corruption(GOOD[model_name], data.draw)
    path = tmp_path_factory.getbasetemp() / "fuzzed.npz"
    path.write_bytes(corrupted)
    try:
        model = nn.load(path)
    except ValueError:
        return
    # It loaded: then the file was a whole checkpoint, and the model holds exactly its arrays.
    with np.load(path, allow_pickle=False) as archive:
        stored = {name: archive[name] for name in archive.files if name != "architecture"}
    state = model.state_dict()
    assert sorted(state) == sorted(stored)
    for name, array in state.items():
        np.testing.assert_array_equal(array, np.asarray(stored[name], dtype=np.float64))
    assert all(np.isfinite(array).all() for array in state.values())


def test_the_uncorrupted_files_load(tmp_path: Path) -> None:
    # Every corruption starts from these files: they load, so a ValueError above is the corruption's doing.
    for name, data in GOOD.items():
        path = tmp_path / f"{name}.npz"
        path.write_bytes(data)
        expected = MODELS[name]()
        assert type(nn.load(path)) is type(expected)
        path.write_bytes(archive_of(members_of(data)))  # rewritten by zipfile, as the corruptions are
        assert type(nn.load(path)) is type(expected)
