"""The microgpt benchmark's yardstick computes the demo's model: the scalar path written as microgpt.py computes
(elementary `*` and `+`) gives the fused scalar path's loss and gradients, so `make bench`'s ratio compares like
with like.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from demos import microgpt
from engine import Value, topological_order

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import microgpt_bench  # noqa: E402


def loss_and_gradients(model: microgpt.MicroGPT, loss: Value) -> tuple[float, np.ndarray]:
    model.zero_grad()
    loss.backward()
    gradients = np.array([p.grad for p in model.parameters()])
    model.zero_grad()
    return loss.data, gradients


@pytest.mark.parametrize("name", ["al", "muhammadibrahim"])
def test_the_elementary_path_is_the_demos_model(name: str) -> None:
    model = microgpt.MicroGPT(seed=5)
    elementary = microgpt_bench.elementary_name_loss(model, name)
    fused = microgpt.scalar_loss(model, name)
    elementary_loss, elementary_gradients = loss_and_gradients(model, elementary)
    fused_loss, fused_gradients = loss_and_gradients(model, fused)
    assert elementary_loss == pytest.approx(fused_loss, rel=1e-12)
    np.testing.assert_allclose(elementary_gradients, fused_gradients, rtol=1e-9, atol=1e-14)
    operations = {v.op.name for v in topological_order(elementary) if v.op is not None}
    assert "linear" not in operations and {"*", "+"} <= operations  # elementary: no fused node anywhere


def test_the_benchmark_batch_is_fixed_and_each_step_runs() -> None:
    names = microgpt_bench.bench_names()
    assert names == microgpt_bench.bench_names() and len(names) == microgpt.BATCH_SIZE == len(set(names))
    assert len(microgpt_bench.bench_names(256)) == 256
    for way in ("vectorize", "hand-numpy", "scalar-fused"):  # the elementary ways take seconds; torch is optional
        step, info = microgpt_bench.step(way)
        step()
        assert info["real_tokens"] == microgpt.padded_batch(names).real_tokens
    with pytest.raises(ValueError, match="unknown way 'numpy' to compute microgpt: expected one of vectorize, "):
        microgpt_bench.step("numpy")


def test_every_way_gives_the_same_losses(torch: ModuleType) -> None:
    """What gpt_speed.py checks before it times: each batched way's per-name losses on the benchmark's names."""
    losses = microgpt_bench.per_name_losses(8)
    assert set(losses) == {way for way in microgpt_bench.WAYS if not way.startswith("scalar")}
    reference = losses["vectorize"]
    names = microgpt_bench.bench_names(8)
    assert reference == pytest.approx([microgpt.scalar_loss(microgpt.MicroGPT(), n).data for n in names], rel=1e-12)
    for way, tolerance in [("vectorize-elementary", 1e-12), ("hand-numpy", 1e-12), ("torch-float64", 1e-10),
                           ("torch-float32", 1e-5)]:  # fmt: skip
        np.testing.assert_allclose(losses[way], reference, rtol=tolerance, atol=0, err_msg=way)
