"""The microgpt demo: the batched path against the scalar path, padding, bad token ids, the model against PyTorch,
the data and its split, the bigram baseline, the checkpoint, and a short run of the whole demo.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import nn
from demos import microgpt
from demos.microgpt import BOS, MicroGPT

PNG = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[1]
# Names of every length the block holds: 2 letters (the shortest in names.txt), typical, and 15 letters (the
# longest: 16 positions, no padding at all).
NAMES = ["bo", "emma", "christopher", "muhammadibrahim"]


@pytest.fixture(scope="module")
def model() -> MicroGPT:
    """A model whose parameters are not the initial ones, so that no gradient is special (the initial weights
    are all small)."""
    trained = MicroGPT(seed=3)
    rng = np.random.default_rng(4)
    for p in trained.parameters():
        p.data += float(rng.normal(0.0, 0.3))
    return trained


def scalar_gradients(model: MicroGPT, name: str) -> tuple[float, np.ndarray]:
    """The scalar path's loss of one name and every parameter's gradient, in the order of model.parameters()."""
    model.zero_grad()
    loss = microgpt.scalar_loss(model, name)
    loss.backward()
    gradients = np.array([p.grad for p in model.parameters()])
    model.zero_grad()
    return loss.data, gradients


def batched_gradients(model: MicroGPT, batch: microgpt.Batch) -> tuple[float, np.ndarray]:
    """The batched path's mean loss over `batch` and every parameter's gradient of it."""
    model.zero_grad()
    loss = microgpt.batched_loss(model).backward(batch.tokens, batch.targets, batch.weights)
    gradients = np.array([p.grad for p in model.parameters()])
    model.zero_grad()
    return loss, gradients


# --- the two paths ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_a_batch_of_one_name_is_the_scalar_path_to_1e_12(model: MicroGPT, name: str) -> None:
    expected_loss, expected = scalar_gradients(model, name)
    loss, gradients = batched_gradients(model, microgpt.padded_batch([name]))
    assert abs(loss - expected_loss) <= 1e-12
    assert np.max(np.abs(gradients - expected)) <= 1e-12
    assert np.count_nonzero(expected) > len(expected) // 2  # a path that dropped gradients could not pass


def test_a_batch_is_the_mean_of_its_names_on_the_scalar_path(model: MicroGPT) -> None:
    per_name = [scalar_gradients(model, name) for name in NAMES]
    loss, gradients = batched_gradients(model, microgpt.padded_batch(NAMES))
    assert loss == pytest.approx(np.mean([loss for loss, _ in per_name]), abs=1e-12)
    np.testing.assert_allclose(gradients, np.mean([g for _, g in per_name], axis=0), rtol=0, atol=1e-12)


def test_what_the_padding_holds_changes_nothing(model: MicroGPT) -> None:
    batch = microgpt.padded_batch(NAMES)
    padding = batch.weights == 0
    rng = np.random.default_rng(0)
    noisy = microgpt.Batch(
        np.where(padding, rng.integers(0, microgpt.VOCABULARY_SIZE, batch.tokens.shape), batch.tokens),
        np.where(padding, rng.integers(0, microgpt.VOCABULARY_SIZE, batch.targets.shape), batch.targets),
        batch.weights,
    )
    assert (noisy.tokens != batch.tokens).any()
    loss = microgpt.batched_loss(model)
    np.testing.assert_array_equal(loss(*vars(noisy).values()), loss(*vars(batch).values()))
    assert batched_gradients(model, noisy)[1].tolist() == batched_gradients(model, batch)[1].tolist()


def test_padding_a_name_longer_changes_nothing(model: MicroGPT) -> None:
    short = microgpt.padded_batch(["emma"], block_size=8)  # 5 real positions, 3 padded
    long = microgpt.padded_batch(["emma"], block_size=model.block_size)  # 11 padded
    loss_short, gradients_short = batched_gradients(model, short)
    loss_long, gradients_long = batched_gradients(model, long)
    assert abs(loss_long - loss_short) <= 1e-12
    assert np.max(np.abs(gradients_long - gradients_short)) <= 1e-12


def test_a_token_id_out_of_range_fails_naming_the_sample(model: MicroGPT) -> None:
    batch = microgpt.padded_batch(NAMES)
    loss = microgpt.batched_loss(model)
    loss(batch.tokens, batch.targets, batch.weights)  # recorded from good names
    before = [p.grad for p in model.parameters()]
    tokens = batch.tokens.copy()
    tokens[2, 3] = microgpt.VOCABULARY_SIZE  # one past the last row of the token embedding
    with pytest.raises(ValueError, match=r"out of range for 27 entries.*sample 2 of 4"):
        loss.backward(tokens, batch.targets, batch.weights)
    targets = batch.targets.copy()
    targets[1, 0] = -1
    with pytest.raises(ValueError, match=r"out of range for 27 entries.*sample 1 of 4"):
        loss(batch.tokens, targets, batch.weights)
    assert [p.grad for p in model.parameters()] == before  # a failed call changes nothing


def test_document_loss_refuses_lists_that_do_not_match(model: MicroGPT) -> None:
    with pytest.raises(ValueError, match=r"3 tokens, 2 targets and 3 weights; expected one of each per position"):
        model.document_loss([BOS, 0, 1], [0, 1], [1 / 3] * 3)
    with pytest.raises(ValueError, match=r"17 tokens, 17 targets and 17 weights.*at most 16 positions"):
        model.document_loss([0] * 17, [0] * 17, [1 / 17] * 17)


# --- the model against an independent implementation ------------------------------------------------------------


def torch_loss(torch: ModuleType, state: dict[str, np.ndarray], name: str, heads: int) -> tuple[float, dict]:
    """The same transformer in PyTorch tensors (matrix products, a causal mask), float64: loss and gradients."""
    F = torch.nn.functional
    w = {key: torch.tensor(array, dtype=torch.float64, requires_grad=True) for key, array in state.items()}
    ids = microgpt.encode(name)
    tokens, targets = torch.tensor(ids[:-1]), torch.tensor(ids[1:])
    n, dim = len(tokens), w["query.weight"].shape[0]

    def rms(x: object) -> object:
        return x * ((x * x).mean(dim=-1, keepdim=True) + 1e-5) ** -0.5

    x = rms(w["token_embedding.weight"][tokens] + w["position_embedding.weight"][:n])
    h = rms(x)
    q, k, v = (
        (h @ w[f"{part}.weight"].T).reshape(n, heads, dim // heads).transpose(0, 1)
        for part in ("query", "key", "value")
    )
    scores = q @ k.transpose(1, 2) / math.sqrt(dim // heads)
    scores = scores.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1), -math.inf)
    mixed = (torch.softmax(scores, dim=-1) @ v).transpose(0, 1).reshape(n, dim)
    x = x + mixed @ w["attention_output.weight"].T
    x = x + torch.relu(rms(x) @ w["mlp_hidden.weight"].T) @ w["mlp_output.weight"].T
    loss = F.cross_entropy(x @ w["lm_head.weight"].T, targets)
    loss.backward()
    return loss.item(), {key: t.grad.numpy() for key, t in w.items()}


@pytest.mark.parametrize("name", ["emma", "muhammadibrahim"])
def test_the_model_is_the_transformer_pytorch_computes(torch: ModuleType, model: MicroGPT, name: str) -> None:
    expected_loss, expected = torch_loss(torch, model.state_dict(), name, model.heads)
    model.zero_grad()
    loss = microgpt.scalar_loss(model, name)
    loss.backward()
    assert loss.data == pytest.approx(expected_loss, rel=1e-12)
    for key, array in model.parameter_arrays().items():
        gradient = np.array([[p.grad for p in row] for row in array])
        np.testing.assert_allclose(gradient, expected[key], rtol=1e-9, atol=1e-13, err_msg=key)
    model.zero_grad()


def test_the_model_has_microgpts_shape_and_initial_weights() -> None:
    model = MicroGPT(seed=0)
    shapes = {key: array.shape for key, array in model.state_dict().items()}
    assert shapes == {
        "token_embedding.weight": (27, 16),
        "position_embedding.weight": (16, 16),
        "query.weight": (16, 16),
        "key.weight": (16, 16),
        "value.weight": (16, 16),
        "attention_output.weight": (16, 16),
        "mlp_hidden.weight": (64, 16),
        "mlp_output.weight": (16, 64),
        "lm_head.weight": (27, 16),
    }
    weights = np.concatenate([array.ravel() for array in model.state_dict().values()])
    assert len(weights) == len(model.parameters()) == 4192
    assert abs(weights.mean()) < 0.005 and weights.std() == pytest.approx(0.08, rel=0.03)


def test_the_learning_rate_decays_linearly_to_zero() -> None:
    rates = [microgpt.learning_rate(step, 1000) for step in range(1000)]
    assert rates[0] == 0.01 and rates[500] == pytest.approx(0.005) and rates[-1] == pytest.approx(1e-5)
    assert np.allclose(np.diff(rates), -1e-5)


# --- data, split, baseline ---------------------------------------------------------------------------------------


def test_names_txt_is_makemores_with_its_source_and_licence() -> None:
    first = microgpt.NAMES_FILE.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("#") and "karpathy/makemore" in first and "988aa59" in first and "MIT" in first
    assert "Andrej Karpathy" in first
    assert "MIT License" in (microgpt.NAMES_FILE.parent / "names.LICENSE").read_text(encoding="utf-8")
    names = microgpt.load_names()
    assert len(names) == 32033 and names[:3] == ["emma", "olivia", "ava"] and names[-1] == "zzyzx"
    assert max(map(len, names)) + 1 == microgpt.BLOCK_SIZE  # the longest name fills the block


def test_load_names_refuses_a_line_that_is_not_a_name(tmp_path: Path) -> None:
    path = tmp_path / "names.txt"
    path.write_text("# source\nemma\nJo\n")
    with pytest.raises(ValueError, match=r"line 3: 'Jo' is not a name"):
        microgpt.load_names(path)


def test_the_split_is_fixed_and_keeps_each_name_on_one_side() -> None:
    names = microgpt.load_names()
    train, held_out = microgpt.split_names(names)
    assert (train, held_out) == microgpt.split_names(names)
    assert not set(train) & set(held_out) and len(train) + len(held_out) == len(names)
    assert len(set(held_out)) == round(0.1 * len(set(names)))


SPLIT_DIGEST = """
import hashlib, json
from demos import microgpt
print(hashlib.sha256(json.dumps(microgpt.split_names(microgpt.load_names())).encode()).hexdigest())
"""


def test_the_split_is_the_same_in_every_process_whatever_the_hash_seed() -> None:
    """Python salts the hashes of strings per process (PYTHONHASHSEED), so a set of names iterates in another order
    in each: a split that depended on it would hold out other names in every run and still agree with itself
    within one. Processes with different seeds must give this process's split."""
    names = microgpt.load_names()
    here = hashlib.sha256(json.dumps(microgpt.split_names(names)).encode()).hexdigest()
    for seed in ("0", "1", "2"):
        result = subprocess.run(
            [sys.executable, "-c", SPLIT_DIGEST],
            cwd=REPO,
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == here, f"PYTHONHASHSEED={seed} splits the names otherwise"


def test_padded_batch_shifts_targets_and_weighs_real_positions() -> None:
    batch = microgpt.padded_batch(["ab", "c"], block_size=4)
    assert batch.tokens.tolist() == [[BOS, 0, 1, BOS], [BOS, 2, BOS, BOS]]
    assert batch.targets.tolist() == [[0, 1, BOS, BOS], [2, BOS, BOS, BOS]]
    assert batch.weights.tolist() == [[1 / 3, 1 / 3, 1 / 3, 0], [0.5, 0.5, 0, 0]]
    assert batch.real_tokens == 5


def test_the_bigram_loss_is_the_mean_of_each_names_mean_surprise() -> None:
    names = ["ab", "b"]
    p = microgpt.bigram_probabilities(names, smoothing=1.0)
    counts = np.ones((27, 27))
    for a, b in [(BOS, 0), (0, 1), (1, BOS), (BOS, 1), (1, BOS)]:
        counts[a, b] += 1
    np.testing.assert_allclose(p, counts / counts.sum(axis=1, keepdims=True), rtol=1e-15)
    first = -(math.log(p[BOS, 0]) + math.log(p[0, 1]) + math.log(p[1, BOS])) / 3
    second = -(math.log(p[BOS, 1]) + math.log(p[1, BOS])) / 2
    assert microgpt.bigram_loss(p, names) == pytest.approx((first + second) / 2, rel=1e-14)


# --- checkpoint, sampling, the whole demo ------------------------------------------------------------------------


def test_the_model_saves_and_loads_with_the_checkpoint_format(model: MicroGPT, tmp_path: Path) -> None:
    loaded = nn.load(model.save(tmp_path / "microgpt.npz"), MicroGPT)
    assert isinstance(loaded, MicroGPT) and loaded.config() == model.config()
    for key, array in model.state_dict().items():
        np.testing.assert_array_equal(loaded.state_dict()[key], array)
    assert microgpt.scalar_loss(loaded, "emma").data == microgpt.scalar_loss(model, "emma").data


def test_sampled_names_are_letters_and_repeatable(model: MicroGPT) -> None:
    names = microgpt.sample_names(model, count=5, seed=1)
    assert names == microgpt.sample_names(model, count=5, seed=1)
    assert all(set(name) <= set(microgpt.LETTERS) and len(name) <= model.block_size for name in names)
    assert all(p.grad == 0.0 for p in model.parameters())  # sampling records nothing


def test_a_short_run_of_the_demo_writes_its_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    paths = microgpt.run(tmp_path, steps=3)
    assert [p.name for p in paths] == ["microgpt_training_curve.png", "microgpt_names.txt", "microgpt.npz"]
    assert paths[0].read_bytes().startswith(PNG)
    text = paths[1].read_text()
    assert text.startswith("trained 3 steps of 32 names in ")  # the timing of the two paths is a benchmark's
    assert "held-out loss" in text and "bigram" in text
    assert len(text.split("names sampled")[1].splitlines()) == microgpt.SAMPLES + 1
    assert isinstance(nn.load(paths[2], MicroGPT), MicroGPT)
    assert "trained 3 steps" in capsys.readouterr().out


# --- trained in PyTorch through the export (python -m demos.microgpt --torch) -------------------------------------


def test_training_in_torch_follows_training_on_valuegrad() -> None:
    """The same batches, Adam and schedule in torch.optim, loaded back: the same losses and weights (Adam's
    arithmetic differs from nn.Adam's in rounding only)."""
    pytest.importorskip("torch")
    names = microgpt.split_names(microgpt.load_names())[0]
    on_valuegrad, in_torch = MicroGPT(seed=5), MicroGPT(seed=5)
    losses = microgpt.train(on_valuegrad, names, steps=4, log=lambda _: None)
    torch_losses = microgpt.train_torch(in_torch, names, steps=4, log=lambda _: None)
    np.testing.assert_allclose(torch_losses, losses, rtol=1e-10)
    trained = np.array([p.data for p in on_valuegrad.parameters()])
    np.testing.assert_allclose([p.data for p in in_torch.parameters()], trained, rtol=0, atol=1e-9)
    assert np.abs(trained - [p.data for p in MicroGPT(seed=5).parameters()]).max() > 1e-3


def test_a_short_run_in_torch_writes_the_same_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    paths = microgpt.run(tmp_path, steps=3, in_torch=True)
    assert [p.name for p in paths] == ["microgpt_training_curve.png", "microgpt_names.txt", "microgpt.npz"]
    assert "in PyTorch, loaded back with load_torch" in paths[1].read_text()
    assert "trained 3 steps" in capsys.readouterr().out


def test_torch_option_without_torch_names_the_pinned_version() -> None:
    hidden = (
        "import runpy, sys; sys.modules['torch'] = None; sys.argv = ['microgpt', '--torch', '--steps', '1']; "
        "runpy.run_module('demos.microgpt', run_name='__main__')"
    )
    root = Path(microgpt.__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", hidden], capture_output=True, text=True, timeout=120, cwd=root)
    assert done.returncode == 1
    assert "needs PyTorch" in done.stderr and "torch==2.13.0" in done.stderr and "make setup" in done.stderr
    assert "Traceback" not in done.stderr
