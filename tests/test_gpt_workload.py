"""benchmarks/gpt_workload.py and benchmarks/tuple_value.py: the GPT-shaped workload of `make bench` and its peer.

The peer's gradients are checked against central finite differences of its own forward pass, and the
workload on engine.Value against the peer, node kind by node kind: the two engines share no code, so a
disagreement names a wrong rule in one of them (or a workload that is not a function of its parameters).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import gpt_workload  # noqa: E402
from tuple_value import TupleValue  # noqa: E402

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
