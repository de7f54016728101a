"""The benchmarks' yardstick computes what it is compared with: hand-written numpy against the scalar path.

benchmarks/hand_numpy.py derives every gradient by hand; if it computed less (a missing layer's
gradient) or something else, `make bench`'s ratios against it would mean nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

import nn
from engine import Value

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import hand_numpy  # noqa: E402


def scalar_path(model: nn.MLP, terms: list[Value]) -> tuple[float, list[float]]:
    model.zero_grad()
    loss = sum(terms[1:], terms[0]) / len(terms)
    loss.backward()
    return loss.data, [p.grad for p in model.parameters()]


def flat(grads: hand_numpy.Layers) -> list[float]:
    """The hand-written gradients in the order of model.parameters(): per neuron, its weights then its bias."""
    return [x for W, b in grads for row, bias in zip(W, b) for x in (*row, bias)]


def test_squared_error_step_matches_the_scalar_path() -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 2)), rng.normal(size=12)
    model = nn.MLP(2, [5, 4, 1], activation="relu", seed=1)
    loss, grads = hand_numpy.relu_squared_error_step(hand_numpy.layers_of(model), X, y)
    expected_loss, expected = scalar_path(model, [(model(list(x)) - t) ** 2 for x, t in zip(X.tolist(), y)])
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(flat(grads), expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("targets", ["one-hot", "labels"])
def test_cross_entropy_steps_match_the_scalar_path(targets: str) -> None:
    rng = np.random.default_rng(2)
    X, labels = rng.uniform(0, 1, size=(11, 6)), rng.integers(0, 4, 11)
    labels[:3] = 2  # a class chosen several times
    model = nn.MLP(6, [5, 4], activation="relu", seed=3)
    layers = hand_numpy.layers_of(model)
    if targets == "one-hot":
        loss, grads = hand_numpy.relu_cross_entropy_step(layers, X, np.eye(4)[labels])
    else:
        loss, grads = hand_numpy.relu_cross_entropy_labels_step(layers, X, labels)
    terms = [nn.cross_entropy(model(list(x)), int(label)) for x, label in zip(X.tolist(), labels)]
    expected_loss, expected = scalar_path(model, terms)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    np.testing.assert_allclose(flat(grads), expected, rtol=1e-10, atol=1e-14)


def test_the_synthetic_attention_model_vectorized_matches_the_scalar_path() -> None:
    from attention import BLOCK, document_loss, documents, parameters

    import engine

    weights = parameters(seed=1)
    leaves = [v for matrix in weights.values() for row in matrix for v in row]
    loss = document_loss(weights)
    tokens, targets, mask = documents(3, seed=2)
    terms = [loss(*[[Value(float(x)) for x in a[i]] for a in (tokens, targets, mask)]) for i in range(3)]
    for v in leaves:
        v.grad = 0.0
    mean = sum(terms[1:], terms[0]) / 3
    mean.backward()
    expected = [v.grad for v in leaves]
    for v in leaves:
        v.grad = 0.0
    per_sample = engine.vectorize(loss)
    assert per_sample.backward(tokens, targets, mask) == pytest.approx(mean.data, rel=1e-12)
    np.testing.assert_allclose([v.grad for v in leaves], expected, rtol=1e-9, atol=1e-14)
    program = per_sample.program
    assert program is not None
    scalar_nodes = len(engine.topological_order(terms[0]))
    assert scalar_nodes > 10_000 and len(program.computed) < 150  # positions and heads grouped, not unrolled
    assert sum(node.kind == "linear layer" for node in program.computed) <= 6
    assert mask[:, 0].all() and tokens.shape == (3, BLOCK)
    elementary = document_loss(weights, elementary=True)  # dot products as sums of products, as microgpt.py
    first = [[Value(float(x)) for x in a[0]] for a in (tokens, targets, mask)]
    assert elementary(*first).data == pytest.approx(terms[0].data, rel=1e-12)
