"""benchmarks/gpt_workload.py and benchmarks/tuple_value.py: the GPT-shaped workload of `make bench` and its peer.

The peer's gradients are checked against central finite differences of its own forward pass, and the
workload on engine.Value against the peer, node kind by node kind: the two engines share no code, so a
disagreement names a wrong rule in one of them (or a workload that is not a function of its parameters).

The elementary GPT (the workload on demos.microgpt's padded batches, through engine.vectorize) is checked
against its own scalar path and against the demo's fused model, so issue 24's throughput ratio between the
two compares the same losses.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import gpt_workload  # noqa: E402
from tuple_value import TupleValue  # noqa: E402

import engine  # noqa: E402
from demos.microgpt import Batch, MicroGPT, padded_batch  # noqa: E402
from engine import Value  # noqa: E402

NAME_IDS = [26, 4, 12, 12, 0, 26]  # BOS e m m a BOS: 5 positions


def flat(weights: dict[str, list[list]]) -> list:
    return [p for matrix in weights.values() for row in matrix for p in row]


@pytest.mark.parametrize("leaf", [TupleValue, Value], ids=["tuple-value", "valuegrad"])
def test_the_loss_starts_near_log_vocabulary_size(leaf: type) -> None:
    """Small random weights give nearly uniform predictions: the loss is about log 27 (a closed form)."""
    loss = gpt_workload.document_loss(gpt_workload.parameters(leaf, seed=0), NAME_IDS)
    assert loss.data == pytest.approx(3.2958, abs=0.1)


def test_the_peer_engine_matches_finite_differences() -> None:
    weights = gpt_workload.parameters(TupleValue, seed=1)
    parameters = flat(weights)
    gpt_workload.document_loss(weights, NAME_IDS).backward()
    h = 1e-6
    for index in (0, 4 * 16 + 3, 27 * 16 + 5, len(parameters) - 1, 3000):  # token, position, query..., lm_head
        p = parameters[index]
        saved = p.data
        p.data = saved + h
        up = gpt_workload.document_loss(weights, NAME_IDS).data
        p.data = saved - h
        down = gpt_workload.document_loss(weights, NAME_IDS).data
        p.data = saved
        assert p.grad == pytest.approx((up - down) / (2 * h), rel=1e-5, abs=1e-9), index


def test_valuegrad_gives_the_peers_loss_and_gradients() -> None:
    ours, theirs = gpt_workload.parameters(Value, seed=2), gpt_workload.parameters(TupleValue, seed=2)
    loss_ours = gpt_workload.document_loss(ours, NAME_IDS)
    loss_theirs = gpt_workload.document_loss(theirs, NAME_IDS)
    loss_ours.backward()
    loss_theirs.backward()
    assert loss_ours.data == pytest.approx(loss_theirs.data, rel=1e-12)
    for a, b in zip(flat(ours), flat(theirs)):
        assert a.grad == pytest.approx(b.grad, rel=1e-9, abs=1e-15)


# --- the elementary GPT batched: gpt_workload.padded_document_loss through engine.vectorize ------------------------


def elementary_gpt(seed: int) -> tuple[MicroGPT, Callable[..., Value]]:
    """demos.microgpt's model (weights moved from the initial ones, so no gradient is special) and the same model
    written as microgpt.py writes it, on the same Values."""
    import microgpt_bench

    model = MicroGPT(seed=seed)
    rng = np.random.default_rng(seed)
    for p in model.parameters():
        p.data += float(rng.normal(0.0, 0.2))
    return model, microgpt_bench.elementary_document_loss(model)


def scalar_path(model: MicroGPT, fn: Callable[..., Value], batch: Batch) -> tuple[list[float], np.ndarray]:
    """fn on each padded row as plain ints and floats (no vectorize): each name's loss, the gradients of their mean."""
    model.zero_grad()
    rows = [
        fn(*(a[i].tolist() for a in (batch.tokens, batch.targets, batch.weights))) for i in range(len(batch.tokens))
    ]
    mean = sum(rows[1:], rows[0]) / len(rows)
    mean.backward()
    gradients = np.array([p.grad for p in model.parameters()])
    model.zero_grad()
    return [row.data for row in rows], gradients


def batched(model: MicroGPT, fn: Callable[..., Value], batch: Batch) -> tuple[np.ndarray, np.ndarray]:
    model.zero_grad()
    loss = engine.vectorize(fn)
    arrays = (batch.tokens, batch.targets, batch.weights)
    losses = loss(*arrays)
    loss.backward(*arrays)
    gradients = np.array([p.grad for p in model.parameters()])
    model.zero_grad()
    return losses, gradients


@pytest.mark.parametrize("names", [["muhammadibrahim"], ["emma", "bo", "christopher"]], ids=["one name", "padded"])
def test_the_elementary_gpt_batched_is_its_own_scalar_path(names: list[str]) -> None:
    model, fn = elementary_gpt(seed=6)
    batch = padded_batch(names, model.block_size)
    expected_losses, expected = scalar_path(model, fn, batch)
    losses, gradients = batched(model, fn, batch)
    np.testing.assert_allclose(losses, expected_losses, rtol=1e-12, atol=0)
    assert np.max(np.abs(gradients - expected)) <= 1e-12
    assert np.count_nonzero(expected) > len(expected) // 2


def test_the_elementary_gpt_is_the_demos_fused_model() -> None:
    """Per-name losses within 1e-12 relative of demos.microgpt's (every dot product one `linear` there), on the
    same weights; and the elementary graph holds no fused node: its dot products are sums of products."""
    model, fn = elementary_gpt(seed=7)
    batch = padded_batch(["ava", "muhammadibrahim", "li", "zoe"], model.block_size)
    arrays = (batch.tokens, batch.targets, batch.weights)
    np.testing.assert_allclose(engine.vectorize(fn)(*arrays), engine.vectorize(model.document_loss)(*arrays),
                               rtol=1e-12, atol=0)  # fmt: skip
    graph = fn(*([Value(float(x)) for x in a[0]] for a in arrays))  # Value token ids, as a vectorize recording has
    operations = {v.op.name for v in engine.topological_order(graph) if v.op is not None}
    assert {"*", "+", "exp", "take"} <= operations and not {"linear", "logsumexp"} & operations
