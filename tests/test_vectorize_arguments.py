"""engine.vectorize's arguments: matrices (N, k) give fn a list of k Values, columns (N,) one Value, numbers the
same Value for every sample; they mix freely. The oracle is the scalar path, sample by sample; every bad call
is an error naming fn's parameter and what was expected, and changes nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import engine
import nn
from engine import Value

RTOL = 1e-12


def assert_close(actual: Any, expected: Any) -> None:
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * scale)


def model_outputs(model: nn.MLP, X: np.ndarray) -> np.ndarray:
    rows = []
    for x in X.tolist():
        out = model(x)
        rows.append([v.data for v in out] if isinstance(out, list) else out.data)
    return np.array(rows)


def test_a_model_vectorized_takes_a_matrix_and_returns_a_row_per_sample() -> None:
    X = np.random.default_rng(0).normal(size=(13, 5))
    model = nn.MLP(5, [7, 3], activation="relu", seed=1)
    out = engine.vectorize(model)(X)
    assert out.shape == (13, 3)
    assert_close(out, model_outputs(model, X))
    single = nn.MLP(5, [4, 1], activation="tanh", seed=2)
    scores = engine.vectorize(single)(X)
    assert scores.shape == (13,)  # an MLP with one output returns a Value, not a list: one number per sample
    assert_close(scores, model_outputs(single, X))


def test_matrices_columns_and_numbers_mix_and_backward_matches_the_scalar_path() -> None:
    rng = np.random.default_rng(1)
    model = nn.MLP(3, [6, 2], activation="tanh", seed=3)
    X, y, weight = rng.normal(size=(11, 3)), rng.normal(size=11), 0.75

    def fn(x: list[Value], target: Value, w: Value) -> Value:
        a, b = model(x)
        return w * (a - target) ** 2 + b * b

    per_sample = engine.vectorize(fn)
    expected = [fn([Value(v) for v in X[i]], Value(y[i]), Value(weight)) for i in range(11)]
    assert_close(per_sample(X, y, weight), [e.data for e in expected])
    model.zero_grad()
    mean = sum(expected[1:], expected[0]) / 11
    mean.backward()
    scalar = [p.grad for p in model.parameters()]
    model.zero_grad()
    total = per_sample.backward(X, y, weight)
    assert total == pytest.approx(mean.data, rel=RTOL)
    assert_close([p.grad for p in model.parameters()], scalar)
    assert_close(per_sample(X.tolist(), y.tolist(), weight), [e.data for e in expected])  # nested lists too


def test_a_matrix_argument_feeds_a_layer_directly() -> None:
    model = nn.MLP(784, [16, 10], activation="relu", seed=0)
    per_sample = engine.vectorize(model)
    per_sample(np.zeros((2, 784)))
    program = per_sample.program
    assert program is not None
    first = next(node for node in program.computed if node.kind == "linear layer")
    assert program.arguments[0] in first.parents  # the 784 columns are read as they are, not gathered
    assert first.op.inputs.parts[0].rows is None and not first.op.inputs_wanted  # no copy, no gradient for X


def test_integer_arguments_stay_exact() -> None:
    big = 2**53 - 1
    identity = engine.vectorize(lambda i: i * 1)
    assert identity(np.array([big, -big, 3])).tolist() == [big, -big, 3]
    with pytest.raises(ValueError, match=r"argument i holds integers beyond 2\*\*53 \(9007199254740993\)"):
        identity(np.array([2**53 + 1, 0]))


def test_a_number_is_one_sample_when_every_argument_is_a_number() -> None:
    per_sample = engine.vectorize(lambda x, y: [x * y, x + y])
    np.testing.assert_array_equal(per_sample(2.0, 3.0), [[6.0, 5.0]])
    np.testing.assert_array_equal(per_sample(np.array([1.0, 2.0]), 3.0), [[3.0, 4.0], [6.0, 5.0]])


def recorded() -> tuple[engine.Vectorized, list[Value]]:
    model = nn.MLP(3, [2, 1], seed=0)
    per_sample = engine.vectorize(lambda x, label, scale: (model(x) - label) ** 2 * scale)
    per_sample.backward(np.ones((4, 3)), np.arange(4), 2.0)
    for p in model.parameters():
        p.grad = 0.125
    return per_sample, model.parameters()


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ((np.ones((4, 3)), np.arange(5), 1.0), ValueError,
         r"same number of samples, got x: 4 \(rows of \(4, 3\)\), label: 5"),
        ((np.ones((4, 2)), np.arange(4), 1.0), ValueError,
         r"argument x was recorded as a list of 3 Values \(an array \(N, 3\)\); got an array of shape \(4, 2\)"),
        ((np.ones(4), np.arange(4), 1.0), ValueError,
         r"argument x was recorded as a list of 3 Values.*got an array of shape \(4,\)"),
        ((1.0, np.arange(4), 1.0), ValueError, r"argument x was recorded as a list of 3 Values.*got a number"),
        ((np.ones((4, 3)), np.ones((4, 1)), 1.0), ValueError,
         r"argument label was recorded as one Value \(an array \(N,\) or a number\); got an array of shape \(4, 1\)"),
        (([[1.0, 2.0, 3.0], [1.0, 2.0]], np.arange(2), 1.0), ValueError, r"argument x is a ragged list"),
        ((np.ones((4, 3, 1)), np.arange(4), 1.0), ValueError,
         r"argument x must be a number, an array \(N,\).*got shape \(4, 3, 1\)"),
        ((np.ones((4, 3)), np.arange(4)), TypeError, r"recorded with 3 argument\(s\) \(x, label, scale\); got 2"),
        ((np.ones((0, 3)), np.arange(0), 1.0), ValueError, r"argument x is empty"),
        ((np.ones((4, 3)), np.array(["a"] * 4), 1.0), TypeError, r"argument label must hold real numbers"),
    ],
)  # fmt: skip
def test_bad_arguments_name_the_parameter_and_what_was_expected_and_change_nothing(
    arguments: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    per_sample, parameters = recorded()
    data = [p.data for p in parameters]
    for call in (per_sample, per_sample.backward):
        with pytest.raises(error, match=message):
            call(*arguments)
    assert all(p.grad == 0.125 for p in parameters) and [p.data for p in parameters] == data


def test_a_first_call_with_the_wrong_number_of_arguments_names_fns_parameters() -> None:
    model = nn.MLP(2, [1], seed=0)
    per_sample = engine.vectorize(lambda x, label: model(x) - label)
    with pytest.raises(TypeError, match=r"fn takes 2 positional argument\(s\) \(x, label\), got 1"):
        per_sample(np.ones((3, 2)))
    with pytest.raises(TypeError, match=r"fn takes 2 positional argument\(s\) \(x, label\), got 3"):
        per_sample.backward(np.ones((3, 2)), np.ones(3), np.ones(3))
    assert per_sample.program is None  # nothing was recorded
    assert engine.vectorize(lambda *xs: xs[0] * xs[-1])(np.ones(2), np.ones(2), 3.0).tolist() == [3.0, 3.0]
    with pytest.raises(TypeError, match=r"engine.vectorize\(MLP\)"):  # a model is named by its class
        engine.vectorize(model)(np.ones((3, 2)), np.ones(3))


def test_a_matrix_argument_and_separate_columns_compute_the_same() -> None:
    model = nn.MLP(4, [3, 2], activation="sigmoid", seed=5)
    X = np.random.default_rng(2).normal(size=(6, 4))
    from_matrix = engine.vectorize(lambda x: model(x))(X)
    from_columns = engine.vectorize(lambda a, b, c, d: model([a, b, c, d]))(*X.T)
    assert_close(from_matrix, from_columns)
    assert_close(from_matrix, model_outputs(model, X))


def test_arguments_that_fns_rest_parameter_receives_are_named_after_it_and_their_lengths_compared() -> None:
    def fn(arg2: Value, *rest: Value) -> Value:  # a parameter named as a made-up name would be
        return arg2 * rest[0]

    per_sample = engine.vectorize(fn)
    for call in (per_sample, per_sample.backward):
        with pytest.raises(ValueError, match=r"same number of samples, got arg2: 3, rest\[0\]: 5$"):
            call(np.ones(3), np.ones(5))
    assert per_sample.program is None  # nothing was recorded
    assert per_sample(np.arange(3.0), np.full(3, 2.0)).tolist() == [0.0, 2.0, 4.0]
    with pytest.raises(ValueError, match=r"got arg2: 3, rest\[0\]: 2"):
        per_sample(np.ones(3), np.ones(2))
    recording = per_sample.recording
    assert recording is not None
    assert [leaf.label for leaf, _, _ in recording.argument_leaves()] == ["arg2", "rest[0]"]
