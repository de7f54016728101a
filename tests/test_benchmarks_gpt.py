"""Issue 24's yardsticks compute the demo's model: PyTorch (benchmarks/gpt_torch.py) and hand-written numpy
(benchmarks/hand_numpy_gpt.py) give `engine.vectorize(model.document_loss)`'s per-name losses and gradients.

Each is written independently of the engine (PyTorch's autograd; gradients derived by hand), so a
disagreement names a wrong yardstick or a wrong replay; either way the speed ratios of gpt_speed.py and
bench.py would compare different computations.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import engine
from demos import microgpt
from demos.microgpt import MicroGPT

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import hand_numpy_gpt  # noqa: E402

# Names of every length the block holds: 2 letters, typical, and 15 letters (16 positions, no padding), in a
# batch padded to the block, as the benchmark's batches are.
NAMES = ["bo", "emma", "christopher", "muhammadibrahim", "ava"]


def demo_model(perturbed: bool) -> MicroGPT:
    """The demo's initial weights (what the benchmarks time), or weights moved far from them, so that no
    gradient is special (the initial weights are all small)."""
    model = MicroGPT(seed=3)
    if perturbed:
        rng = np.random.default_rng(4)
        for p in model.parameters():
            p.data += float(rng.normal(0.0, 0.3))
    return model


def vectorized(model: MicroGPT, batch: microgpt.Batch) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The demo's batched path: every name's loss, and each parameter's gradient of their mean, by state_dict name."""
    loss = engine.vectorize(model.document_loss)
    arrays = (batch.tokens, batch.targets, batch.weights)
    losses = loss(*arrays)
    model.zero_grad()
    loss.backward(*arrays)
    gradients = {name: np.array([[p.grad for p in row] for row in array])
                 for name, array in model.parameter_arrays().items()}  # fmt: skip
    model.zero_grad()
    return losses, gradients


def assert_same(
    losses: np.ndarray, gradients: dict[str, np.ndarray], expected: tuple[np.ndarray, dict], tolerance: float
) -> None:
    expected_losses, expected_gradients = expected
    assert gradients.keys() == expected_gradients.keys()
    np.testing.assert_allclose(losses, expected_losses, rtol=tolerance, atol=0)
    for name, gradient in expected_gradients.items():
        assert gradients[name].shape == gradient.shape, name
        assert np.max(np.abs(gradients[name] - gradient)) <= tolerance, name
    every = np.concatenate([g.ravel() for g in expected_gradients.values()])
    assert np.count_nonzero(every) > len(every) // 2  # a yardstick that dropped gradients could not pass


@pytest.mark.parametrize("perturbed", [False, True], ids=["initial", "perturbed"])
def test_the_pytorch_model_in_float64_is_the_demos_model_to_1e_10(torch: ModuleType, perturbed: bool) -> None:
    import gpt_torch

    model = demo_model(perturbed)
    batch = microgpt.padded_batch(NAMES, model.block_size)
    module = gpt_torch.TorchGPT(model.state_dict(), model.heads, torch.float64)
    tensors = gpt_torch.batch_tensors(batch.tokens, batch.targets, batch.weights, torch.float64)
    losses = module(*tensors).detach().numpy()
    mean = gpt_torch.step(module, *tensors)
    expected = vectorized(model, batch)
    assert_same(losses, gpt_torch.gradients(module), expected, 1e-10)
    assert mean == pytest.approx(float(np.mean(expected[0])), rel=1e-12)
    gpt_torch.step(module, *tensors)  # gradients are set to None at each step, not accumulated
    assert_same(losses, gpt_torch.gradients(module), expected, 1e-10)


def test_the_pytorch_model_runs_in_float32_on_the_same_weights(torch: ModuleType) -> None:
    import gpt_torch

    model = demo_model(perturbed=True)
    batch = microgpt.padded_batch(NAMES, model.block_size)
    module = gpt_torch.TorchGPT(model.state_dict(), model.heads, torch.float32)
    assert all(p.dtype == torch.float32 for p in module.parameters())
    losses = module(*gpt_torch.batch_tensors(batch.tokens, batch.targets, batch.weights, torch.float32))
    assert losses.dtype == torch.float32
    np.testing.assert_allclose(losses.detach().numpy(), vectorized(model, batch)[0], rtol=1e-5)


@pytest.mark.parametrize("perturbed", [False, True], ids=["initial", "perturbed"])
def test_the_hand_written_numpy_step_is_the_demos_model_to_1e_12(perturbed: bool) -> None:
    model = demo_model(perturbed)
    batch = microgpt.padded_batch(NAMES, model.block_size)
    losses, gradients = hand_numpy_gpt.step(
        hand_numpy_gpt.weights_of(model), batch.tokens, batch.targets, batch.weights, model.heads
    )
    assert_same(losses, gradients, vectorized(model, batch), 1e-12)


def test_the_hand_written_numpy_step_takes_shorter_blocks() -> None:
    """Names padded to fewer positions than the block: the position embedding's later rows get no gradient."""
    model = demo_model(perturbed=True)
    batch = microgpt.padded_batch(["emma", "bo"], block_size=6)
    losses, gradients = hand_numpy_gpt.step(
        hand_numpy_gpt.weights_of(model), batch.tokens, batch.targets, batch.weights, model.heads
    )
    expected_losses, expected = vectorized(model, batch)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-12, atol=0)
    assert np.max(np.abs(gradients["position_embedding.weight"] - expected["position_embedding.weight"])) <= 1e-12
    assert not gradients["position_embedding.weight"][6:].any()
