"""Checkpoints: state_dict / load_state_dict, model.save / nn.load round trips, atomic writes and every bad file.

The oracles are the model's own parameters read one by one (`named_parameters`), numpy's reading of the
archive, and the model's outputs before saving.
"""

from __future__ import annotations

import io
import json
import pickle
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import nn
from engine import Value
from nn import checkpoint

REPO = Path(__file__).resolve().parent.parent

MODELS: dict[str, Callable[[], nn.MLP]] = {
    "mlp relu": lambda: nn.MLP(4, [5, 3], activation="relu", seed=1),
    "mlp tanh, one output": lambda: nn.MLP(3, [6, 4, 1], activation="tanh", seed=2),
    "mlp sigmoid, elementary": lambda: nn.MLP(2, [3, 2], activation="sigmoid", seed=3, fused=False),
    "mlp linear, one layer": lambda: nn.MLP(3, [2], activation="linear", seed=4),
    "seed network": lambda: nn.SeedNetwork("sigmoid", seed=5),
    "wide seed network": lambda: nn.SeedNetwork("tanh", widths=(3, 2), nin=2, seed=6),
}


def parameters_of(model: nn.MLP) -> list[tuple[str, float]]:
    return [(p.label, p.data) for p in model.parameters()]


def outputs_of(model: nn.MLP, n: int = 5) -> list[float]:
    rng = np.random.default_rng(0)
    outputs = []
    for x in rng.normal(size=(n, model.nin)):
        y = model(list(x))
        outputs += [v.data for v in (y if isinstance(y, list) else [y])]
    return outputs


def perturb(model: nn.MLP, seed: int = 9) -> nn.MLP:
    """Give every parameter (biases too) a distinct value, as after training."""
    for p, value in zip(model.parameters(), np.random.default_rng(seed).normal(size=len(model.parameters()))):
        p.data = float(value)
    return model


# --- state dicts ----------------------------------------------------------------------------------------------


def test_state_dict_has_one_weight_matrix_and_one_bias_vector_per_layer() -> None:
    model = perturb(nn.MLP(3, [4, 2], seed=0))
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
    net = perturb(nn.SeedNetwork("tanh", seed=0))
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
    source, target = perturb(MODELS[name]()), MODELS[name]()
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
    state = perturb(nn.MLP(3, [4, 2], seed=1)).state_dict()  # every other entry is good and differs from the model's
    breaks(state)
    with pytest.raises(ValueError, match=f"load_state_dict: .*{message}"):
        model.load_state_dict(state)
    assert parameters_of(model) == before


def test_load_state_dict_refuses_a_non_mapping() -> None:
    with pytest.raises(TypeError, match="mapping of names to arrays, got list"):
        nn.MLP(2, [1]).load_state_dict([np.zeros((1, 2)), np.zeros(1)])  # type: ignore[arg-type]


# --- save and load --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_save_then_load_gives_the_same_model(tmp_path: Path, name: str) -> None:
    model = perturb(MODELS[name]())
    path = tmp_path / "model.npz"
    assert model.save(path) == path
    loaded = nn.load(path)
    assert type(loaded) is type(model)
    assert parameters_of(loaded) == parameters_of(model)  # names (labels) and values, bit for bit
    assert loaded.activation == model.activation
    assert [n.fused for layer in loaded.layers for n in layer.neurons] == [
        n.fused for layer in model.layers for n in layer.neurons
    ]
    assert outputs_of(loaded) == outputs_of(model)


def test_the_file_is_a_plain_npz_with_the_architecture_as_json(tmp_path: Path) -> None:
    model = perturb(nn.MLP(3, [4, 2], activation="relu", seed=0))
    model.save(str(tmp_path / "m.npz"))  # a str path works too
    with np.load(tmp_path / "m.npz", allow_pickle=False) as archive:
        assert sorted(archive.files) == ["architecture", "layer1.bias", "layer1.weight", "layer2.bias", "layer2.weight"]
        spec = json.loads(str(archive["architecture"]))
        for key, array in model.state_dict().items():
            np.testing.assert_array_equal(archive[key], array)
    assert spec == {
        "format": "valuegrad.nn",
        "version": 1,
        "kind": "MLP",
        "sizes": [3, 4, 2],
        "activation": "relu",
        "fused": True,
    }
    assert not [p for p in tmp_path.iterdir() if p.name != "m.npz"]  # no temporary file left behind


def test_save_replaces_an_existing_file_with_the_usual_permissions(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    nn.MLP(2, [1], seed=0).save(path)
    newer = perturb(nn.MLP(2, [3, 1], seed=0))
    newer.save(path)
    assert parameters_of(nn.load(path)) == parameters_of(newer)
    ordinary = tmp_path / "ordinary"
    ordinary.write_bytes(b"")  # what open() gives under the current umask
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(ordinary.stat().st_mode)


def test_a_failure_mid_write_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "m.npz"
    old = perturb(nn.MLP(2, [3, 1], seed=0))
    old.save(path)
    before = path.read_bytes()

    def half_written(file: Any, **arrays: Any) -> None:
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint, "_savez", half_written)
    with pytest.raises(OSError, match="disk full"):
        perturb(nn.MLP(2, [3, 1], seed=1), seed=1).save(path)
    assert path.read_bytes() == before
    assert parameters_of(nn.load(path)) == parameters_of(old)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # the temporary file was removed


def test_a_process_killed_before_the_rename_leaves_the_old_file_whole(tmp_path: Path) -> None:
    # A real crash: the new archive is fully written to the temporary file, then the process dies without cleanup.
    path = tmp_path / "m.npz"
    old = perturb(nn.MLP(2, [3, 1], seed=0))
    old.save(path)
    before = path.read_bytes()
    script = (
        "import os, nn\n"
        "from nn import checkpoint\n"
        "checkpoint.os.replace = lambda *args: os._exit(3)\n"
        f"nn.MLP(2, [3, 1], seed=1).save({str(path)!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    assert path.read_bytes() == before
    assert parameters_of(nn.load(path)) == parameters_of(old)
    leftovers = [p for p in tmp_path.iterdir() if p != path]
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".m.npz.")  # the new archive, never renamed


def test_save_into_a_missing_folder_names_the_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"the folder '.*nowhere' does not exist"):
        nn.MLP(2, [1]).save(tmp_path / "nowhere" / "m.npz")
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_non_finite_parameters_and_other_kinds_of_model(tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    model = nn.MLP(2, [2, 1], seed=0)
    model.save(path)
    before = path.read_bytes()
    model.layers[1].neurons[0].w[1].data = float("nan")
    with pytest.raises(ValueError, match=r"'layer2.weight' has 1 non-finite value\(s\), e.g. nan at \(0, 1\)"):
        model.save(path)

    class Wider(nn.MLP):
        pass

    with pytest.raises(TypeError, match="MLP or SeedNetwork models, got Wider"):
        Wider(2, [1]).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


# --- bad files ------------------------------------------------------------------------------------------------


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """A good checkpoint of MLP(3, [4, 2])."""
    path = tmp_path / "good.npz"
    perturb(nn.MLP(3, [4, 2], activation="relu", seed=0)).save(path)
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


def test_a_missing_file_raises_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        nn.load(tmp_path / "nothing.npz")


@pytest.mark.parametrize("keep", [0, 1, 10, 100, 0.5, -22, -1])
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
    with pytest.raises(ValueError, match="Bad CRC-32 for file 'layer1.weight.npy'"):
        nn.load(saved)


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"", "cannot be read as an .npz archive", id="empty"),
        pytest.param(b"weights: 1 2 3\n", "cannot be read as an .npz archive", id="text"),
        pytest.param(npy_bytes(np.zeros((4, 3))), "it holds a single .npy array, not an .npz archive", id="npy"),
    ],
)
def test_files_that_are_not_archives_raise_value_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        nn.load(path)


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
    with pytest.raises(ValueError, match="cannot be read"):
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
    pytest.param(put("architecture", np.array("{sizes: [3, 4, 2]")), r"not valid JSON", id="architecture not json"),
    pytest.param(put("architecture", np.array("[3, 4, 2]")), r"expected a JSON object, got list", id="not an object"),
]


@pytest.mark.parametrize(("change", "message"), BAD_ARRAYS)
def test_bad_contents_raise_value_error_naming_the_problem(
    saved: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(ValueError, match=f"checkpoint '.*bad.npz'.*{message}"):
        nn.load(rewrite(saved, change))


def set_field(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda spec: spec.__setitem__(key, value)


POSITIVE_SIZES = r"sizes must be a list of at least two positive whole numbers"
BAD_ARCHITECTURES = [
    pytest.param(
        set_field("kind", "Transformer"),
        r"unknown kind of model 'Transformer'; expected one of 'MLP', 'SeedNetwork'",
        id="unknown kind",
    ),
    pytest.param(set_field("kind", ["MLP"]), r"unknown kind of model \['MLP'\]", id="kind not a string"),
    pytest.param(set_field("activation", "gelu"), r"unknown activation 'gelu'", id="unknown activation"),
    pytest.param(set_field("activation", {"relu": 1}), r"unknown activation \{'relu': 1\}", id="activation object"),
    pytest.param(set_field("format", "keras"), r"format 'keras' is not a valuegrad checkpoint's", id="other format"),
    pytest.param(
        set_field("version", 2), r"version 2 is not supported; this valuegrad reads version 1", id="newer version"
    ),
    pytest.param(set_field("sizes", "3, 4, 2"), POSITIVE_SIZES, id="sizes not a list"),
    pytest.param(set_field("sizes", [3, 0, 2]), POSITIVE_SIZES + r", got \[3, 0, 2\]", id="zero size"),
    pytest.param(set_field("sizes", [3, 4.0, 2]), POSITIVE_SIZES, id="float size"),
    pytest.param(set_field("sizes", [3]), POSITIVE_SIZES, id="one size"),
    pytest.param(set_field("fused", 1), r"fused must be true or false", id="fused not a bool"),
    pytest.param(lambda spec: spec.pop("activation"), r"missing field\(s\) 'activation'", id="missing field"),
    pytest.param(set_field("dropout", 0.5), r"unexpected field\(s\) 'dropout'", id="extra field"),
    pytest.param(
        set_field("sizes", [3, 5, 2]),
        r"'layer1.weight' has shape \(4, 3\); expected \(5, 3\)",
        id="sizes disagree with arrays",
    ),
    pytest.param(
        set_field("kind", "SeedNetwork"), r"network 1.1 has sizes \[nin, width1, width2, 1\]", id="seed network sizes"
    ),
]


@pytest.mark.parametrize(("change", "message"), BAD_ARCHITECTURES)
def test_bad_architectures_raise_value_error_naming_the_problem(
    saved: Path, change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(ValueError, match=f"checkpoint '.*bad.npz'.*{message}"):
        nn.load(with_architecture(saved, change))


def test_huge_declared_sizes_are_refused_before_any_model_is_built(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[Any] = []
    monkeypatch.setattr(checkpoint, "build", lambda spec: built.append(spec))
    with pytest.raises(ValueError, match=r"'layer1.weight' has shape \(4, 3\); expected \(100000, 100000\)"):
        nn.load(with_architecture(saved, set_field("sizes", [100000, 100000, 2])))
    assert built == []


def test_the_good_file_still_loads(saved: Path) -> None:
    # The bad files above are all made from this one: it loads, so each failure is the change's doing.
    model = nn.load(rewrite(saved, lambda arrays: None))
    assert parameters_of(model) == parameters_of(nn.load(saved))
    assert isinstance(model([1.0, 2.0, 3.0])[0], Value)  # type: ignore[index]
