"""Checkpoints: state_dict / load_state_dict, model.save / nn.load round trips for every built-in model and for
classes of one's own, version-1 files, atomic writes, and every bad file and failure of the file system.

The oracles are the model's own parameters read one by one (`named_parameters`), numpy's and zipfile's reading
of the archive, files written by hand with `np.savez`, and the model's outputs before saving.
"""

from __future__ import annotations

import errno
import io
import json
import os
import pickle
import re
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import as_if_trained

import nn
from engine import Value
from nn import checkpoint_format

REPO = Path(__file__).resolve().parent.parent


class Line(nn.Module):
    """A learner's own model: two Values in attributes, nothing else (no config: its constructor takes none)."""

    def __init__(self) -> None:
        self.a = Value(0.5)
        self.b = Value(-1.0)

    def __call__(self, x: Any) -> Value:
        return self.a * x + self.b


class Polynomial(nn.Module):
    """A model of one's own whose shape depends on a constructor argument, given back by config()."""

    def __init__(self, degree: int, seed: int | None = None) -> None:
        self.coefficients = [Value(c) for c in np.random.default_rng(seed).normal(size=degree + 1)]

    def config(self) -> dict[str, Any]:
        return {"degree": len(self.coefficients) - 1}

    def __call__(self, x: Any) -> Value:
        return sum((c * x**k for k, c in enumerate(self.coefficients)), Value(0.0))


class TinyLanguageModel(nn.Module):
    """Built-in blocks nested in a model of one's own, as a small GPT holds them: embeddings, a norm, an MLP, a head."""

    def __init__(self, vocabulary: int, dim: int) -> None:
        rng = np.random.default_rng(0)
        self.token = nn.Embedding(vocabulary, dim, std=0.08, rng=rng)
        self.position = nn.Embedding(4, dim, std=0.08, rng=rng)
        self.norm = nn.RMSNorm()
        self.blocks = [nn.MLP(dim, [2 * dim, dim], activation="relu", seed=1)]
        self.head = nn.Linear(dim, vocabulary, bias=False, std=0.08, rng=rng)
        self.temperature = Value(1.0)

    def config(self) -> dict[str, Any]:
        return {"vocabulary": self.token.num_embeddings, "dim": self.token.dim}

    def __call__(self, x: Any) -> list[Value]:
        token, position = int(abs(x) * 7) % self.token.num_embeddings, int(abs(x) * 3) % 4
        h = [t + p for t, p in zip(self.token(token), self.position(position))]
        h = self.norm(h)
        out = self.blocks[0](h)
        h = [a + b for a, b in zip(h, out if isinstance(out, list) else [out])]
        return [logit * self.temperature for logit in self.head(h)]


# Every kind of model that saves and loads: the built-in ones and three of one's own.
MODELS: dict[str, Callable[[], nn.Module]] = {
    "mlp relu": lambda: nn.MLP(4, [5, 3], activation="relu", seed=1),
    "mlp tanh, one output": lambda: nn.MLP(3, [6, 4, 1], activation="tanh", seed=2),
    "mlp sigmoid, elementary": lambda: nn.MLP(2, [3, 2], activation="sigmoid", seed=3, fused=False),
    "mlp linear, one layer": lambda: nn.MLP(3, [2], activation="linear", seed=4),
    "seed network": lambda: nn.SeedNetwork("sigmoid", seed=5),
    "wide seed network": lambda: nn.SeedNetwork("tanh", widths=(3, 2), nin=2, seed=6),
    "neuron": lambda: nn.Neuron(3, "relu", seed=7),
    "layer": lambda: nn.Layer(3, 2, "sigmoid", seed=8, fused=False),
    "linear": lambda: nn.Linear(3, 4, seed=9),
    "linear without bias": lambda: nn.Linear(4, 2, bias=False, std=0.08, seed=10),
    "embedding": lambda: nn.Embedding(5, 3, seed=11),
    "rmsnorm": lambda: nn.RMSNorm(eps=1e-3),
    "line (own class)": Line,
    "polynomial (own class with config)": lambda: Polynomial(3, seed=12),
    "nested (own class holding built-in blocks)": lambda: TinyLanguageModel(6, 4),
}
OWN_CLASSES = (Line, Polynomial, TinyLanguageModel)


def parameters_of(model: nn.Module) -> list[tuple[str, float]]:
    return [(p.label, p.data) for p in model.parameters()]


def outputs_of(model: Any, n: int = 5) -> list[float]:
    """The model's outputs on n inputs of the kind it reads."""
    rng = np.random.default_rng(0)
    outputs = []
    for k in range(n):
        if isinstance(model, nn.Embedding):
            y = model(k % model.num_embeddings)
        elif isinstance(model, (Line, Polynomial, TinyLanguageModel)):
            y = model(float(rng.normal()))
        elif isinstance(model, nn.RMSNorm):
            y = model(list(rng.normal(size=3)))
        else:
            nin = model.nin if not isinstance(model, nn.Layer) else model.neurons[0].nin
            y = model(list(rng.normal(size=nin)))
        outputs += [v.data for v in (y if isinstance(y, list) else [y])]
    return outputs


# --- state dicts ----------------------------------------------------------------------------------------------


def test_state_dict_has_one_weight_matrix_and_one_bias_vector_per_layer() -> None:
    model = as_if_trained(nn.MLP(3, [4, 2], seed=0))
    state = model.state_dict()
    assert list(state) == ["layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias"]
    assert {k: v.shape for k, v in state.items()} == {
        "layer1.weight": (4, 3),
        "layer1.bias": (4,),
        "layer2.weight": (2, 4),
        "layer2.bias": (2,),
    }
    assert all(v.dtype == np.float64 for v in state.values())
    values = dict(parameters_of(model))  # layerI.neuronJ.wK and layerI.neuronJ.b, 1-based
    for i in (1, 2):
        weight, bias = state[f"layer{i}.weight"], state[f"layer{i}.bias"]
        for j in range(weight.shape[0]):
            assert bias[j] == values[f"layer{i}.neuron{j + 1}.b"]
            for k in range(weight.shape[1]):
                assert weight[j, k] == values[f"layer{i}.neuron{j + 1}.w{k + 1}"]


def test_seed_network_state_dict_uses_the_seeds_names() -> None:
    net = as_if_trained(nn.SeedNetwork("tanh", seed=0))
    state = net.state_dict()
    assert list(state) == ["w1", "b1", "w2", "b2", "w3", "b3"]
    assert {name: state[name].item() for name in state} == dict(parameters_of(net))
    wide = nn.SeedNetwork("tanh", widths=(3, 2), nin=2, seed=0).state_dict()
    assert {k: v.shape for k, v in wide.items()} == {
        "w1": (3, 2),
        "b1": (3,),
        "w2": (2, 3),
        "b2": (2,),
        "w3": (1, 2),
        "b3": (1,),
    }


def test_state_dict_arrays_are_copies() -> None:
    model = nn.MLP(2, [2, 1], seed=0)
    before = parameters_of(model)
    state = model.state_dict()
    state["layer1.weight"][:] = 7.0
    assert parameters_of(model) == before


@pytest.mark.parametrize("name", list(MODELS))
def test_load_state_dict_copies_every_parameter(name: str) -> None:
    source, target = as_if_trained(MODELS[name]()), MODELS[name]()
    target.load_state_dict(source.state_dict())
    assert parameters_of(target) == parameters_of(source)
    assert outputs_of(target) == outputs_of(source)


def test_load_state_dict_takes_lists_and_integers() -> None:
    model = nn.MLP(2, [1], seed=0)
    model.load_state_dict({"layer1.weight": [[1, 2]], "layer1.bias": np.array([3], dtype=np.int32)})
    assert parameters_of(model) == [("layer1.neuron1.w1", 1.0), ("layer1.neuron1.w2", 2.0), ("layer1.neuron1.b", 3.0)]


def bad_states() -> list[tuple[str, Callable[[dict[str, Any]], None], str]]:
    """(what, how to break a state dict of MLP(3, [4, 2]), the message expected)."""

    def set_(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
        return lambda state: state.__setitem__(key, value)

    return [
        ("missing", lambda s: s.pop("layer2.bias"), r"missing array\(s\) 'layer2.bias'"),
        ("extra", set_("layer3.weight", np.zeros((1, 2))), r"unexpected array\(s\) 'layer3.weight'"),
        (
            "transposed",
            set_("layer2.weight", np.zeros((4, 2))),
            r"'layer2.weight' has shape \(4, 2\); expected \(2, 4\)",
        ),
        ("bias as matrix", set_("layer2.bias", np.zeros((2, 1))), r"'layer2.bias' has shape \(2, 1\); expected \(2,\)"),
        (
            "nan",
            set_("layer2.bias", np.array([0.0, np.nan])),
            r"'layer2.bias' has 1 non-finite value\(s\), e.g. nan at \(1,\)",
        ),
        ("inf", set_("layer2.weight", np.full((2, 4), np.inf)), r"'layer2.weight' has 8 non-finite value\(s\)"),
        ("strings", set_("layer2.bias", np.array(["a", "b"])), r"'layer2.bias' has dtype <U1; expected real numbers"),
        ("complex", set_("layer2.bias", np.zeros(2, dtype=complex)), r"'layer2.bias' has dtype complex128"),
        ("bools", set_("layer2.bias", np.array([True, False])), r"'layer2.bias' has dtype bool"),
    ]


@pytest.mark.parametrize(("what", "breaks", "message"), bad_states(), ids=[b[0] for b in bad_states()])
def test_load_state_dict_checks_everything_before_changing_anything(
    what: str, breaks: Callable[[dict[str, Any]], None], message: str
) -> None:
    model = nn.MLP(3, [4, 2], seed=0)
    before = parameters_of(model)
    state = as_if_trained(
        nn.MLP(3, [4, 2], seed=1)
    ).state_dict()  # every other entry is good and differs from the model's
    breaks(state)
    with pytest.raises(ValueError, match=f"load_state_dict: .*{message}"):
        model.load_state_dict(state)
    assert parameters_of(model) == before


def test_load_state_dict_refuses_a_non_mapping() -> None:
    with pytest.raises(TypeError, match="mapping of names to arrays, got list"):
        nn.MLP(2, [1]).load_state_dict([np.zeros((1, 2)), np.zeros(1)])  # type: ignore[arg-type]


# --- parameters as named arrays, for any Module ----------------------------------------------------------------


def test_a_module_of_ones_own_finds_its_parameters_in_its_attributes() -> None:
    line = Line()
    assert line.named_parameters() == [("a", line.a), ("b", line.b)]
    assert line.parameters() == [line.a, line.b]
    state = line.state_dict()
    assert list(state) == ["a", "b"] and state["a"].shape == () and float(state["a"]) == 0.5
    line.load_state_dict({"a": 2.0, "b": np.array(3)})
    assert (line.a.data, line.b.data) == (2.0, 3.0)
    with pytest.raises(ValueError, match=r"'a' has shape \(1,\); expected \(\)"):
        line.load_state_dict({"a": [1.0], "b": 0.0})
    assert (line.a.data, line.b.data) == (2.0, 3.0)


def test_nested_modules_name_their_arrays_and_parameters_by_the_path_to_them() -> None:
    model = TinyLanguageModel(6, 4)
    shapes = {name: array.shape for name, array in model.state_dict().items()}
    assert shapes == {
        "token.weight": (6, 4),
        "position.weight": (4, 4),
        "blocks.0.layer1.weight": (8, 4),
        "blocks.0.layer1.bias": (8,),
        "blocks.0.layer2.weight": (4, 8),
        "blocks.0.layer2.bias": (4,),
        "head.weight": (6, 4),
        "temperature": (),
    }
    names = [name for name, _ in model.named_parameters()]
    assert names[:2] == ["token.weight[0,0]", "token.weight[0,1]"]
    assert "blocks.0.layer1.neuron8.w4" in names and "head.weight[5,3]" in names and names[-1] == "temperature"
    assert len(names) == len(set(names)) == sum(int(np.prod(shape)) for shape in shapes.values())
    assert [p for _, p in model.named_parameters()] == model.parameters()
    # every entry of every array is the parameter of that name, and they are set back where they came from
    state = as_if_trained(TinyLanguageModel(6, 4), seed=3).state_dict()
    model.load_state_dict(state)
    assert model.head.weight[5][3].data == state["head.weight"][5, 3]
    assert model.blocks[0].layers[1].neurons[2].b.data == state["blocks.0.layer2.bias"][2]
    assert model.temperature.data == state["temperature"]


def test_attributes_without_parameters_and_private_ones_are_not_parameters() -> None:
    class Mixed(nn.Module):
        def __init__(self) -> None:
            self.size = 3
            self.name = "mixed"
            self.numbers = [1.0, 2.0]
            self.empty: list[Value] = []
            self._cache = Value(7.0)
            self.table = [[Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)]]

    model = Mixed()
    assert [name for name, _ in model.named_parameters()] == ["table[0,0]", "table[0,1]", "table[1,0]", "table[1,1]"]
    np.testing.assert_array_equal(model.state_dict()["table"], [[1.0, 2.0], [3.0, 4.0]])


def test_arrays_that_are_not_rectangles_of_values_are_type_errors() -> None:
    class Ragged(nn.Module):
        def __init__(self) -> None:
            self.rows = [[Value(1.0), Value(2.0)], [Value(3.0)]]

    class WithANumber(nn.Module):
        def __init__(self) -> None:
            self.w = [Value(1.0), 2.0]

    with pytest.raises(
        TypeError, match=r"parameter array 'rows' is ragged: its entries have shapes \[\(1,\), \(2,\)\]"
    ):
        Ragged().state_dict()
    with pytest.raises(TypeError, match="parameter array 'w' holds a float; expected only Values"):
        WithANumber().parameters()


def test_a_parameter_that_no_array_holds_is_a_type_error() -> None:
    class Hidden(nn.Module):
        def __init__(self) -> None:
            self.w = Value(1.0)
            self.by_name = {"v": Value(2.0, label="v")}  # a dict: not searched

        def parameters(self) -> list[Value]:
            return [self.w, self.by_name["v"]]

    with pytest.raises(TypeError, match=r"Hidden: 1 of its parameters \(e.g. v\) are in none of its parameter arrays"):
        Hidden().state_dict()
    with pytest.raises(TypeError, match="in none of its parameter arrays"):
        Hidden().load_state_dict({"w": 1.0})


@pytest.mark.parametrize("name", [name for name, make in MODELS.items() if type(make()) not in OWN_CLASSES])
def test_built_in_models_know_their_shapes_from_their_config_alone(name: str) -> None:
    model = MODELS[name]()
    arguments = nn.module.constructor_arguments(type(model), model.config())
    expected = {key: array.shape for key, array in model.state_dict().items()}
    assert type(model) in nn.checkpoint.BUILT_IN.values()
    assert list((type(model).state_shapes(arguments) or {}).items()) == list(expected.items())  # in the same order


# --- save and load


@pytest.mark.parametrize("name", list(MODELS))
def test_save_then_load_gives_the_same_model(tmp_path: Path, name: str) -> None:
    model = as_if_trained(MODELS[name]())
    path = tmp_path / "model.npz"
    assert model.save(path) == path
    loaded = nn.load(path, *OWN_CLASSES)
    assert type(loaded) is type(model)
    assert parameters_of(loaded) == parameters_of(model)  # names (labels) and values, bit for bit
    assert loaded.config() == model.config()
    np.testing.assert_equal(loaded.state_dict(), model.state_dict())
    assert outputs_of(loaded) == outputs_of(model)


def test_save_and_load_keep_the_activation_and_the_fused_flag(tmp_path: Path) -> None:
    for model in (nn.MLP(2, [3, 2], activation="sigmoid", fused=False), nn.SeedNetwork("relu", widths=(2, 2))):
        loaded = nn.load(model.save(tmp_path / "m.npz"))
        assert isinstance(loaded, nn.MLP)
        assert loaded.activation == model.activation
        assert [n.fused for layer in loaded.layers for n in layer.neurons] == [
            n.fused for layer in model.layers for n in layer.neurons
        ]


def test_the_file_is_a_plain_npz_with_the_architecture_as_json(tmp_path: Path) -> None:
    model = as_if_trained(nn.MLP(3, [4, 2], activation="relu", seed=0))
    model.save(str(tmp_path / "m.npz"))  # a str path works too
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["architecture", "layer1.bias", "layer1.weight", "layer2.bias", "layer2.weight"]
        spec = json.loads(str(archive["architecture"]))
        for key, array in model.state_dict().items():
            np.testing.assert_array_equal(archive[key], array)
    assert spec == {
        "format": "valuegrad.nn",
        "version": 2,
        "class": "MLP",
        "config": {"nin": 3, "nouts": [4, 2], "activation": "relu", "fused": True},
    }
    assert not [p for p in tmp_path.iterdir() if p.name != "m.npz"]  # no temporary file left behind


def test_a_class_of_ones_own_is_stored_by_name_and_rebuilt_only_when_given(tmp_path: Path) -> None:
    path = as_if_trained(Polynomial(2)).save(tmp_path / "p.npz")
    with np.load(path, allow_pickle=False) as archive:
        spec = json.loads(str(archive["architecture"]))
        assert sorted(archive.files) == ["architecture", "coefficients"]
    assert (spec["class"], spec["config"]) == ("Polynomial", {"degree": 2})
    with pytest.raises(
        ValueError, match=r"class 'Polynomial', which is not built in \(MLP, .*nn.load\(path, Polynomial\)"
    ):
        nn.load(path)
    with pytest.raises(ValueError, match=r"the classes given are Line"):
        nn.load(path, Line)
    assert type(nn.load(path, Line, Polynomial)) is Polynomial


def test_a_given_class_wins_over_a_built_in_one_of_the_same_name(tmp_path: Path) -> None:
    class MLP(nn.Module):  # a learner's own MLP, saved under the built-in's name
        def __init__(self) -> None:
            self.w = Value(2.0)

    path = MLP().save(tmp_path / "m.npz")
    assert type(nn.load(path, MLP)) is MLP
    with pytest.raises(ValueError, match=r"MLP\(\*\*config\) cannot be built from config \{\}"):
        nn.load(path)  # the built-in MLP cannot take its config: refused, nothing half built


def test_load_refuses_classes_that_are_not_modules_and_two_of_one_name() -> None:
    with pytest.raises(TypeError, match="expected nn.Module subclasses after the path, got <class 'int'>"):
        nn.load("anything.npz", int)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="got 'Line'"):
        nn.load("anything.npz", "Line")  # type: ignore[arg-type]

    class Twin(nn.Module):
        pass

    first = Twin

    class Twin(nn.Module):  # type: ignore[no-redef]
        pass

    with pytest.raises(ValueError, match="two classes named 'Twin'"):
        nn.load("anything.npz", first, Twin)


def test_save_refuses_a_config_that_cannot_rebuild_the_model(tmp_path: Path) -> None:
    class Sized(nn.Module):
        def __init__(self, n: int) -> None:
            self.w = [Value(0.0) for _ in range(n)]

    class NotJson(Sized):
        def config(self) -> dict[str, Any]:
            return {"n": np.zeros(3)}

    class Misspelled(Sized):
        def config(self) -> dict[str, Any]:
            return {"n": 3, "size": 3}

    class NotADict(Sized):
        def config(self) -> Any:
            return [3]

    cases = [
        (Sized(3), r"Sized.config\(\) returned \{\}, which cannot rebuild the model: missing a required argument: 'n'"),
        (NotJson(3), r"NotJson.config\(\) returned .*Object of type ndarray is not JSON serializable"),
        (Misspelled(3), r"Misspelled.config\(\) returned \{'n': 3, 'size': 3\}.*unexpected keyword argument 'size'"),
        (NotADict(3), r"NotADict.config\(\) returned \[3\].*expected a dict, got list"),
    ]
    for model, message in cases:
        with pytest.raises(TypeError, match=f"save\\('.*m.npz'\\): {message}"):
            model.save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_parameter_named_like_the_architecture_entry(tmp_path: Path) -> None:
    class Named(nn.Module):
        def __init__(self) -> None:
            self.architecture = Value(1.0)

    with pytest.raises(ValueError, match="'architecture' is the name of the checkpoint's own entry"):
        Named().save(tmp_path / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_replaces_an_existing_file_with_the_usual_permissions(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    nn.MLP(2, [1], seed=0).save(path)
    newer = as_if_trained(nn.MLP(2, [3, 1], seed=0))
    newer.save(path)
    assert parameters_of(nn.load(path)) == parameters_of(newer)
    ordinary = tmp_path / "ordinary"
    ordinary.write_bytes(b"")  # what open() gives under the current umask
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(ordinary.stat().st_mode)


def test_a_failure_mid_write_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.npz"
    old = as_if_trained(nn.MLP(2, [3, 1], seed=0))
    old.save(path)
    before = path.read_bytes()

    def half_written(file: Any, **arrays: Any) -> None:
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_format, "_savez", half_written)
    with pytest.raises(OSError, match=r"save\('.*m.npz'\): writing the archive failed: disk full"):
        as_if_trained(nn.MLP(2, [3, 1], seed=1), seed=1).save(path)
    assert path.read_bytes() == before
    assert parameters_of(nn.load(path)) == parameters_of(old)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # the temporary file was removed


def test_a_process_killed_before_the_rename_leaves_the_old_file_whole(tmp_path: Path) -> None:
    # A real crash: the new archive is fully written to the temporary file, then the process dies without cleanup.
    path = tmp_path / "m.npz"
    old = as_if_trained(nn.MLP(2, [3, 1], seed=0))
    old.save(path)
    before = path.read_bytes()
    script = (
        "import os, nn\n"
        "from nn import checkpoint_format\n"
        "checkpoint_format.os.replace = lambda *args: os._exit(3)\n"
        f"nn.MLP(2, [3, 1], seed=1).save({str(path)!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    assert path.read_bytes() == before
    assert parameters_of(nn.load(path)) == parameters_of(old)
    leftovers = [p for p in tmp_path.iterdir() if p != path]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".m.npz.")  # the new archive, never renamed


def test_the_data_is_flushed_to_disk_before_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # What reaches the disk cannot be observed from here; the order of the system calls can: the temporary file's
    # descriptor is fsynced, then that file is renamed over the target.
    events: list[tuple[str, tuple[int, int]]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        info = os.fstat(descriptor)
        events.append(("fsync", (info.st_dev, info.st_ino)))
        real_fsync(descriptor)

    def replace(source: Any, target: Any) -> None:
        info = os.stat(source)
        events.append(("replace", (info.st_dev, info.st_ino)))
        real_replace(source, target)

    monkeypatch.setattr(checkpoint_format.os, "fsync", fsync)
    monkeypatch.setattr(checkpoint_format.os, "replace", replace)
    path = nn.MLP(2, [3, 1], seed=0).save(tmp_path / "m.npz")
    renamed = [file for kind, file in events if kind == "replace"]
    assert len(renamed) == 1
    position = events.index(("replace", renamed[0]))
    assert ("fsync", renamed[0]) in events[:position]  # the very file renamed was flushed before the rename
    assert (os.stat(path).st_dev, os.stat(path).st_ino) == renamed[0]


@pytest.mark.parametrize(
    ("failing", "step"),
    [
        ("open", r"creating a temporary file in the folder '.*' failed: Permission denied"),
        ("fsync", r"flushing it to disk failed: Input/output error"),
        ("replace", r"moving it into place as '.*m.npz' failed: Read-only file system"),
    ],
)
def test_a_folder_that_cannot_be_written_is_named_by_the_users_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str, step: str
) -> None:
    # Tests run as root, which writes anywhere: the system's refusal is injected where the save makes that call.
    errors = {"open": errno.EACCES, "fsync": errno.EIO, "replace": errno.EROFS}
    real = getattr(os, failing)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        if failing == "open" and not args[1] & os.O_CREAT:
            return real(*args, **kwargs)  # the folder's own fsync after a rename opens it read-only
        raise OSError(errors[failing], os.strerror(errors[failing]), str(args[0]))

    monkeypatch.setattr(checkpoint_format.os, failing, refuse)
    target = tmp_path / "m.npz"
    with pytest.raises(OSError) as raised:
        nn.MLP(2, [1]).save(target)
    message = str(raised.value)
    assert re.search(rf"save\('{re.escape(str(target))}'\): {step}", message), message
    assert ".tmp" not in message and raised.value.errno == errors[failing]
    if failing == "open":
        assert isinstance(raised.value, PermissionError)  # the kind of error is kept
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind


def test_save_into_a_missing_folder_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"the folder '.*nowhere' does not exist"):
        nn.MLP(2, [1]).save(tmp_path / "nowhere" / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_non_finite_parameters(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    model = nn.MLP(2, [2, 1], seed=0)
    model.save(path)
    before = path.read_bytes()
    model.layers[1].neurons[0].w[1].data = float("nan")
    with pytest.raises(ValueError, match=r"'layer2.weight' has 1 non-finite value\(s\), e.g. nan at \(0, 1\)"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_a_subclass_of_a_built_in_model_is_saved_as_itself(tmp_path: Path) -> None:
    class Wider(nn.MLP):
        pass

    model = as_if_trained(Wider(2, [3, 1], seed=0))
    path = model.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="class 'Wider', which is not built in"):
        nn.load(path)
    loaded = nn.load(path, Wider)
    assert type(loaded) is Wider and parameters_of(loaded) == parameters_of(model)


def test_a_subclass_of_a_built_in_model_with_a_constructor_of_its_own_loads(tmp_path: Path) -> None:
    """Its shapes follow from its own constructor, not from the built-in class's arguments."""

    class Wide(nn.MLP):
        def __init__(self, width: int = 8) -> None:
            super().__init__(2, [width, 1], "relu", seed=0)
            self.width = width

        def config(self) -> dict[str, Any]:
            return {"width": self.width}

    class Table(nn.Embedding):
        def __init__(self, rows: int = 5) -> None:
            super().__init__(rows, 3, seed=0)
            self.rows = rows

        def config(self) -> dict[str, Any]:
            return {"rows": self.rows}

    for model in (as_if_trained(Wide(6)), as_if_trained(Table(4))):
        path = model.save(tmp_path / f"{type(model).__name__}.npz")
        loaded = nn.load(path, type(model))
        assert type(loaded) is type(model) and parameters_of(loaded) == parameters_of(model)
    with pytest.raises(ValueError, match=r"has shape \(4, 2\); expected \(6, 2\)"):
        _load_as(tmp_path, Wide, Wide(4))


def _load_as(folder: Path, cls: type, wrong: Any) -> Any:
    """A Wide of 4 saved, then its file read with a config saying 6: the arrays' shapes are checked."""
    path = wrong.save(folder / "wrong.npz")
    contents = dict(np.load(path))
    architecture = json.loads(str(contents["architecture"]))
    architecture["config"] = {"width": 6}
    contents["architecture"] = np.array(json.dumps(architecture))
    np.savez(path, **contents)
    return nn.load(path, cls)


# --- version 1 files ------------------------------------------------------------------------------------------


def version_1_file(path: Path, model: nn.MLP, kind: str, changes: dict[str, Any] | None = None) -> Path:
    """`model` written as the version-1 format wrote it, by hand: its sizes, activation and fused, and its arrays."""
    spec = {
        "format": "valuegrad.nn",
        "version": 1,
        "kind": kind,
        "sizes": [model.nin, *(len(layer.neurons) for layer in model.layers)],
        "activation": model.activation,
        "fused": all(n.fused for layer in model.layers for n in layer.neurons),
        **(changes or {}),
    }
    arrays: dict[str, Any] = {}
    for i, layer in enumerate(model.layers, start=1):
        weight, bias = (f"layer{i}.weight", f"layer{i}.bias") if kind == "MLP" else (f"w{i}", f"b{i}")
        arrays[weight] = np.array([[w.data for w in n.w] for n in layer.neurons])
        arrays[bias] = np.array([n.b.data for n in layer.neurons])
    with open(path, "wb") as file:
        np.savez(file, architecture=np.array(json.dumps(spec)), **arrays)
    return path


@pytest.mark.parametrize(
    ("model", "kind"),
    [
        (lambda: nn.MLP(3, [4, 2], activation="relu", seed=0), "MLP"),
        (lambda: nn.MLP(2, [3, 1], activation="sigmoid", seed=1, fused=False), "MLP"),
        (lambda: nn.SeedNetwork("tanh", seed=2), "SeedNetwork"),
        (lambda: nn.SeedNetwork("relu", widths=(3, 2), nin=2, seed=3), "SeedNetwork"),
    ],
)
def test_version_1_files_still_load_as_the_same_model(tmp_path: Path, model: Callable[[], nn.MLP], kind: str) -> None:
    original = as_if_trained(model())
    loaded = nn.load(version_1_file(tmp_path / "v1.npz", original, kind))
    assert type(loaded) is type(original)
    assert parameters_of(loaded) == parameters_of(original)
    assert loaded.config() == original.config()
    assert outputs_of(loaded) == outputs_of(original)


POSITIVE_SIZES = r"sizes must be a list of at least two positive whole numbers"
BAD_VERSION_1 = [
    pytest.param({"kind": "Transformer"}, r"unknown kind of model 'Transformer'; expected one of 'MLP', 'SeedNetwork'"),
    pytest.param({"kind": "Linear"}, r"unknown kind of model 'Linear'", id="a version-2 class"),
    pytest.param({"kind": ["MLP"]}, r"kind must be a class name, got \['MLP'\]"),
    pytest.param({"activation": "gelu"}, r"unknown activation 'gelu'"),
    pytest.param({"activation": {"relu": 1}}, r"activation must be a name such as 'relu', got \{'relu': 1\}"),
    pytest.param({"sizes": "3, 4, 2"}, POSITIVE_SIZES),
    pytest.param({"sizes": [3, 0, 2]}, POSITIVE_SIZES + r", got \[3, 0, 2\]"),
    pytest.param({"sizes": [3, 4.0, 2]}, POSITIVE_SIZES),
    pytest.param({"sizes": [3]}, POSITIVE_SIZES),
    pytest.param({"fused": 1}, r"fused must be true or false"),
    pytest.param({"dropout": 0.5}, r"unexpected field\(s\) 'dropout'; version 1 has format, version, kind"),
    pytest.param({"class": "MLP"}, r"unexpected field\(s\) 'class'"),
    pytest.param({"sizes": [3, 5, 2]}, r"'layer1.weight' has shape \(4, 3\); expected \(5, 3\)"),
    pytest.param({"kind": "SeedNetwork"}, r"network 1.1 has sizes \[nin, width1, width2, 1\]"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_VERSION_1)
def test_bad_version_1_architectures_raise_value_error(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    path = version_1_file(tmp_path / "bad.npz", nn.MLP(3, [4, 2], activation="relu", seed=0), "MLP", changes)
    with pytest.raises(ValueError, match=f"checkpoint '.*bad.npz'.*{message}"):
        nn.load(path)


# --- bad files ------------------------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A good checkpoint of MLP(3, [4, 2])."""
    path = tmp_path / "good.npz"
    as_if_trained(nn.MLP(3, [4, 2], activation="relu", seed=0)).save(path)
    return path


def contents(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as archive:
        return {name: archive[name] for name in archive.files}


def rewrite(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    """The checkpoint at `path` with its arrays changed by `change`, written plainly with numpy."""
    arrays: dict[str, Any] = contents(path)
    change(arrays)
    bad = path.with_name("bad.npz")
    with open(bad, "wb") as file:
        np.savez(file, **arrays)
    return bad


def with_architecture(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    def edit(arrays: dict[str, Any]) -> None:
        spec = json.loads(str(arrays["architecture"]))
        change(spec)
        arrays["architecture"] = np.array(json.dumps(spec))

    return rewrite(path, edit)


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    """A zip archive of these members (name to raw bytes), written with zipfile: anything numpy would not write."""
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        nn.load(tmp_path / "nothing.npz")


@pytest.mark.parametrize("keep", [10, 100, 0.5, -22, -1])
def test_a_truncated_file_raises_value_error(saved: Path, keep: float) -> None:
    data = saved.read_bytes()
    end = int(len(data) * keep) if isinstance(keep, float) else keep
    saved.write_bytes(data[:end])
    with pytest.raises(ValueError, match=r"checkpoint '.*good.npz' cannot be read as an .npz archive"):
        nn.load(saved)


def test_corrupted_array_bytes_raise_value_error(saved: Path) -> None:
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as archive:
        info = archive.getinfo("layer1.weight.npy")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)  # the member's data in the file
    data[start + info.file_size - 3] ^= 0x01  # one bit of the last weight
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="member 'layer1.weight.npy' cannot be read as an array: Bad CRC-32"):
        nn.load(saved)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


NOT_A_CHECKPOINT = r"is not a valuegrad checkpoint: it does not start as an .npz \(zip\) archive does"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", NOT_A_CHECKPOINT, id="empty"),
        pytest.param(b"PK", NOT_A_CHECKPOINT, id="two bytes"),
        pytest.param(b"weights: 1 2 3\n", NOT_A_CHECKPOINT, id="text"),
        pytest.param(
            bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)), NOT_A_CHECKPOINT, id="random"
        ),
        pytest.param(npy_bytes(np.zeros((4, 3))), "holds a single .npy array, not an .npz archive", id="npy"),
    ],
)
def test_files_that_are_not_archives_say_they_are_not_checkpoints(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message) as raised:
        nn.load(path)
    assert "allow_pickle" not in str(raised.value)  # numpy's advice to unpickle is never passed on


@pytest.mark.parametrize(
    ("members", "message"),
    [
        pytest.param({"architecture": b"not an array"}, r"member 'architecture' is not a .npy array", id="raw bytes"),
        pytest.param(
            {"architecture.npy": b'{"format": "valuegrad.nn"}'},
            r"member 'architecture.npy' cannot be read as an array",
            id="raw bytes named .npy",
        ),
        pytest.param(
            {"architecture.npy": npy_bytes(np.array("{}")) + b"tail"},
            r"member 'architecture.npy' has 4 byte\(s\) after its array",
            id="bytes after the array",
        ),
        pytest.param(
            {"layer1.weight.npy": npy_bytes(np.zeros(2)), "layer1.weight.npy ": npy_bytes(np.zeros(2))},
            r"member 'layer1.weight.npy ' is not a .npy array",
            id="odd name",
        ),
        pytest.param({}, r"has no 'architecture' entry: it is not a valuegrad checkpoint", id="empty archive"),
    ],
)
def test_archives_with_members_that_are_not_arrays_raise_value_error(
    tmp_path: Path, members: dict[str, bytes], message: str
) -> None:
    with pytest.raises(ValueError, match=f"checkpoint '.*z.npz'.*{message}"):
        nn.load(zip_of(tmp_path / "z.npz", members))


def test_a_member_stored_twice_raises_value_error(saved: Path) -> None:
    with zipfile.ZipFile(saved, "a") as archive, pytest.warns(UserWarning, match="Duplicate name"):
        archive.writestr("layer1.bias.npy", npy_bytes(np.zeros(4)))
    with pytest.raises(ValueError, match=r"the archive holds 'layer1.bias.npy' more than once"):
        nn.load(saved)


class Payload:
    """Unpickling this would create the file `marker`: the test shows that never happens."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


def test_pickled_data_is_never_loaded(saved: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payload = np.empty(1, dtype=object)
    payload[0] = Payload(marker)
    pickle.loads(pickle.dumps(payload))  # the payload works when unpickled ...
    assert marker.exists()
    marker.unlink()
    bad = rewrite(saved, lambda a: a.__setitem__("layer1.bias", payload))
    with pytest.raises(ValueError, match="Object arrays cannot be loaded when allow_pickle=False"):
        nn.load(bad)
    assert not marker.exists()  # ... and nn.load never unpickled it
    bad.write_bytes(pickle.dumps(payload))  # a bare pickle instead of an archive
    with pytest.raises(ValueError, match="is not a valuegrad checkpoint"):
        nn.load(bad)
    assert not marker.exists()


def put(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda arrays: arrays.__setitem__(key, value)


def put_entry(key: str, index: tuple[int, ...], value: float) -> Callable[[dict[str, Any]], None]:
    return lambda arrays: arrays[key].__setitem__(index, value)


BAD_ARRAYS = [
    pytest.param(lambda a: a.pop("layer2.weight"), r"missing array\(s\) 'layer2.weight'", id="missing array"),
    pytest.param(put("layer0.weight", np.zeros(2)), r"unexpected array\(s\) 'layer0.weight'", id="extra array"),
    pytest.param(
        put("layer1.weight", np.zeros((4, 2))), r"'layer1.weight' has shape \(4, 2\); expected \(4, 3\)", id="shape"
    ),
    pytest.param(
        put_entry("layer1.weight", (2, 1), np.nan),
        r"'layer1.weight' has 1 non-finite value\(s\), e.g. nan at \(2, 1\)",
        id="nan weight",
    ),
    pytest.param(
        put_entry("layer2.bias", (0,), -np.inf),
        r"'layer2.bias' has 1 non-finite value\(s\), e.g. -inf at \(0,\)",
        id="inf bias",
    ),
    pytest.param(put("layer2.bias", np.array(["0", "1"])), r"'layer2.bias' has dtype <U1", id="text weights"),
    pytest.param(
        lambda a: a.pop("architecture"),
        r"no 'architecture' entry: it is not a valuegrad checkpoint",
        id="no architecture",
    ),
    pytest.param(put("architecture", np.zeros(3)), r"'architecture' must be JSON text", id="architecture not text"),
    pytest.param(put("architecture", np.array(b"{}")), r"'architecture' must be JSON text", id="architecture bytes"),
    pytest.param(put("architecture", np.array("{class: MLP")), r"not valid JSON", id="architecture not json"),
    pytest.param(put("architecture", np.array("[3, 4, 2]")), r"expected a JSON object, got list", id="not an object"),
    pytest.param(put("architecture", np.array("[" * 100_000)), r"not valid JSON", id="deeply nested"),
]


@pytest.mark.parametrize(("change", "message"), BAD_ARRAYS)
def test_bad_contents_raise_value_error_naming_the_problem(
    saved: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(ValueError, match=f"checkpoint '.*bad.npz'.*{message}"):
        nn.load(rewrite(saved, change))


def set_field(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.__setitem__(key, value)


def set_config(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec["config"].__setitem__(key, value)


BUILT_FROM = r"MLP\(\*\*config\) cannot be built from config"
BAD_ARCHITECTURES = [
    pytest.param(set_field("class", "Transformer"), r"class 'Transformer', which is not built in", id="unknown class"),
    pytest.param(set_field("class", ["MLP"]), r"class must be a class name, got \['MLP'\]", id="class not a string"),
    pytest.param(set_field("class", ""), r"class must be a class name, got ''", id="empty class"),
    pytest.param(set_field("class", "Module"), r"class 'Module', which is not built in", id="the base class"),
    pytest.param(set_field("format", "keras"), r"format 'keras' is not a valuegrad checkpoint's", id="other format"),
    pytest.param(
        set_field("version", 3),
        r"version 3 is not supported; this valuegrad reads versions 1 and 2",
        id="newer version",
    ),
    pytest.param(set_field("version", True), r"version True is not supported", id="version true"),
    pytest.param(set_field("version", 1), r"missing field\(s\) 'kind', 'sizes'", id="version 1 fields missing"),
    pytest.param(lambda spec: spec.pop("config"), r"missing field\(s\) 'config'", id="missing config"),
    pytest.param(set_field("dropout", 0.5), r"unexpected field\(s\) 'dropout'", id="extra field"),
    pytest.param(set_field("config", [3, [4, 2]]), r"config must be a JSON object", id="config a list"),
    pytest.param(set_config("activation", "gelu"), BUILT_FROM + r".*unknown activation 'gelu'", id="activation"),
    pytest.param(set_config("nouts", "4, 2"), BUILT_FROM + r".*nouts as a list of layer sizes", id="nouts text"),
    pytest.param(set_config("nouts", []), BUILT_FROM + r".*at least one layer size", id="no layers"),
    pytest.param(set_config("nin", 3.0), BUILT_FROM + r".*positive whole number of inputs, got 3.0", id="float nin"),
    pytest.param(set_config("nin", True), BUILT_FROM + r".*positive whole number of inputs, got True", id="bool nin"),
    pytest.param(set_config("fused", 1), BUILT_FROM + r".*fused must be True or False, got 1", id="fused 1"),
    pytest.param(set_config("dropout", 0.5), BUILT_FROM + r".*unexpected keyword argument 'dropout'", id="extra arg"),
    pytest.param(
        lambda spec: spec["config"].pop("nin"), BUILT_FROM + r".*missing a required argument: 'nin'", id="missing nin"
    ),
    pytest.param(
        set_config("nouts", [5, 2]), r"'layer1.weight' has shape \(4, 3\); expected \(5, 3\)", id="sizes disagree"
    ),
    pytest.param(
        set_field("class", "SeedNetwork"),
        r"SeedNetwork\(\*\*config\) cannot be built .*unexpected keyword argument 'nouts'",
        id="another built-in class",
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD_ARCHITECTURES)
def test_bad_architectures_raise_value_error_naming_the_problem(
    saved: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(ValueError, match=f"checkpoint '.*bad.npz'.*{message}"):
        nn.load(with_architecture(saved, change))


HUGE = [
    pytest.param(nn.MLP(3, [4, 2], seed=0), {"nin": 100_000, "nouts": [100_000, 2]}, "layer1.weight", id="MLP"),
    pytest.param(nn.SeedNetwork(seed=0), {"widths": [100_000, 100_000]}, "w1", id="SeedNetwork"),
    pytest.param(nn.Layer(3, 2, seed=0), {"nin": 10**9}, "weight", id="Layer"),
    pytest.param(nn.Neuron(3, seed=0), {"nin": 10**9}, "w", id="Neuron"),
    pytest.param(nn.Linear(3, 2, seed=0), {"nout": 10**9}, "weight", id="Linear"),
    pytest.param(nn.Embedding(4, 2, seed=0), {"num_embeddings": 10**9}, "weight", id="Embedding"),
]


@pytest.mark.parametrize(("model", "declared", "array"), HUGE)
def test_huge_declared_sizes_are_refused_before_any_model_is_built(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model: nn.Module, declared: dict[str, Any], array: str
) -> None:
    path = model.save(tmp_path / "m.npz")
    bad = with_architecture(path, lambda spec: spec["config"].update(declared))

    def no_value_may_be_made(self: Value, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("a parameter was made before the file was checked")  # fails fast, never builds 10^10

    monkeypatch.setattr(Value, "__init__", no_value_may_be_made)
    with pytest.raises(ValueError, match=rf"'{re.escape(array)}' has shape .*; expected \(.*[0-9]{{6}}"):
        nn.load(bad)


def test_the_good_file_still_loads(saved: Path) -> None:
    # The bad files above are all made from this one: it loads, so each failure is the change's doing.
    model = nn.load(rewrite(saved, lambda arrays: None))
    assert parameters_of(model) == parameters_of(nn.load(saved))
    assert isinstance(model([1.0, 2.0, 3.0])[0], Value)  # type: ignore[operator]


def test_a_class_of_ones_own_whose_arrays_disagree_is_refused(tmp_path: Path) -> None:
    path = as_if_trained(Polynomial(3)).save(tmp_path / "p.npz")
    bad = with_architecture(path, set_config("degree", 4))
    with pytest.raises(ValueError, match=r"'coefficients' has shape \(4,\); expected \(5,\)"):
        nn.load(bad, Polynomial)
    bad = with_architecture(path, set_config("degree", "three"))
    with pytest.raises(ValueError, match=r"Polynomial\(\*\*config\) cannot be built from config"):
        nn.load(bad, Polynomial)


def test_the_docs_example_of_a_module_of_ones_own_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = (REPO / "docs" / "checkpoints-and-pytorch.md").read_text(encoding="utf-8")
    section = page[page.index("## Saving and loading your own Module") :]
    section = section.split("\n## ")[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    scope: dict[str, Any] = {}
    exec(blocks[0], scope)  # defines Line, saves it and loads it back
    assert type(scope["same"]) is scope["Line"] and scope["same"].parameters()[1].data == 0.0
    exec(blocks[1], scope)  # defines Polynomial, with config()
    polynomial = as_if_trained(scope["Polynomial"](3))
    loaded = nn.load(polynomial.save(tmp_path / "p.npz"), scope["Polynomial"])
    assert [p.data for p in loaded.parameters()] == [p.data for p in polynomial.parameters()]
