"""The matrix forms of engine/batch/matrix_forms.py against the rows of the table they restate, node by node.

engine.vectorize runs a group of scalar nodes through a matrix form of their row: `linear_layer` (a layer's
neurons), `linear_stacked` (linear nodes with weights of their own), `logsumexp_stacked` (inputs stacked on an
axis), `take_rows` (one gather per sample). Each is checked here against the row's own float forward and rule,
evaluated one node and one sample at a time: a form that disagreed with its row would make vectorize differ
from the scalar path.
"""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.batch.matrix_forms import (
    linear_layer,
    linear_layer_rule,
    linear_stacked,
    linear_stacked_rule,
    logsumexp_stacked,
    logsumexp_stacked_rule,
    take_rows,
    take_rows_rule,
)
from engine.core.ops import take_op


@pytest.mark.parametrize("bias_width", [1, 6])
def test_the_linear_layer_form_is_the_linear_rows_rule_summed_over_samples_and_neurons(bias_width: int) -> None:
    rng = np.random.default_rng(5)
    weights, inputs, bias = rng.normal(size=(4, 3)), rng.normal(size=(3, 6)), rng.normal(size=(4, bias_width))
    g = rng.normal(size=(4, 6))
    out = linear_layer(weights, inputs, bias)
    d_weights, d_inputs, d_bias = np.zeros((4, 3)), np.zeros((3, 6)), np.zeros((4, bias_width))
    for j in range(4):
        for s in range(6):
            args = [*weights[j], *inputs[:, s], bias[j, s % bias_width]]
            assert out[j, s] == pytest.approx(engine.linear(*args), rel=1e-14)
            local = engine.linear.rule(g[j, s], out[j, s], *args)
            d_weights[j] += local[:3]
            d_inputs[:, s] += local[3:6]
            d_bias[j, s % bias_width] += local[6]
    for actual, expected in zip(linear_layer_rule(g, out, weights, inputs, bias), (d_weights, d_inputs, d_bias)):
        np.testing.assert_allclose(actual, expected, rtol=1e-13)
    into = (np.full((4, 3), np.nan), np.full((3, 6), np.nan))  # arrays to write into give the same results
    written = linear_layer_rule(g, out, weights, inputs, bias, into=into)
    assert written[0] is into[0] and written[1] is into[1]
    np.testing.assert_allclose(into[0], d_weights, rtol=1e-13)
    np.testing.assert_allclose(into[1], d_inputs, rtol=1e-13)
    buffer = np.full((4, 6), np.nan)
    assert linear_layer(weights, inputs, bias, buffer) is buffer
    np.testing.assert_array_equal(buffer, out)


@pytest.mark.parametrize(("source_width", "index_width"), [(1, 5), (5, 5), (5, 1), (1, 1)])
def test_take_rows_is_the_take_rows_forward_and_rule_node_by_node_and_sample_by_sample(
    source_width: int, index_width: int
) -> None:
    rng = np.random.default_rng(source_width * 10 + index_width)
    source = rng.normal(size=(6, source_width))
    rows = np.array([[0, 3, 3], [5, 1, 2], [2, 2, 4], [1, 0, 5]])  # rows repeat, within and across nodes
    index = rng.integers(0, 3, size=(4, index_width)).astype(float)
    out = take_rows(source, rows, index)
    width = max(source_width, index_width)
    g = rng.normal(size=(4, width))
    d_source, d_index = np.zeros_like(source), np.zeros((4, width))
    for m in range(4):
        for s in range(width):
            entries = [float(source[r, s % source_width]) for r in rows[m]]
            k = float(index[m, s % index_width])
            assert out[m, s] == take_op(k, *entries)
            local = take_op.rule(float(g[m, s]), float(out[m, s]), k, *entries)
            d_index[m, s] += local[0]
            for r, d in zip(rows[m], local[1:]):
                d_source[r, s % source_width] += d
    actual_source, actual_index = take_rows_rule(g, out, source, rows, index)
    np.testing.assert_allclose(actual_source, d_source, rtol=1e-14)
    np.testing.assert_array_equal(np.broadcast_to(actual_index, d_index.shape), d_index)


@pytest.mark.parametrize("bad", [3.0, -1.0, 0.5, np.nan, np.inf])
def test_take_rows_refuses_an_index_as_the_row_does(bad: float) -> None:
    index = np.array([[0.0, 1.0, bad]])
    with pytest.raises(ValueError) as caught:
        take_rows(np.ones((3, 1)), np.array([[0, 1, 2]]), index)
    with pytest.raises(ValueError) as expected:
        take_op.forward(bad, 1.0, 1.0, 1.0)
    assert str(caught.value) == str(expected.value)


@pytest.mark.parametrize("widths", [(4, 4, 4), (1, 4, 4), (4, 1, 1), (1, 1, 1)])
def test_linear_stacked_is_the_linear_rows_forward_and_rule_node_by_node_and_sample_by_sample(
    widths: tuple[int, int, int],
) -> None:
    rng = np.random.default_rng(sum(widths))
    M, n = 3, 5
    weights, inputs, bias = (rng.normal(size=(M, n, widths[0])), rng.normal(size=(M, n, widths[1])),
                             rng.normal(size=(M, widths[2])))  # fmt: skip
    out = linear_stacked(weights, inputs, bias)
    N = out.shape[1]
    g = rng.normal(size=(M, N))
    d_weights, d_inputs, d_bias = linear_stacked_rule(g, out, weights, inputs, bias)
    for m in range(M):
        for s in range(N):
            args = [*weights[m, :, s % widths[0]], *inputs[m, :, s % widths[1]], bias[m, s % widths[2]]]
            args = [float(a) for a in args]
            assert out[m, s] == pytest.approx(engine.linear(*args), rel=1e-14)
            local = engine.linear.rule(float(g[m, s]), float(out[m, s]), *args)
            np.testing.assert_allclose(np.broadcast_to(d_weights, (M, n, N))[m, :, s], local[:n], rtol=1e-14)
            np.testing.assert_allclose(np.broadcast_to(d_inputs, (M, n, N))[m, :, s], local[n : 2 * n], rtol=1e-14)
            assert np.broadcast_to(d_bias, (M, N))[m, s] == local[-1]


def test_the_layers_rule_without_the_inputs_gradient_gives_the_same_other_gradients() -> None:
    rng = np.random.default_rng(7)
    weights, inputs, bias, g = (
        rng.normal(size=(4, 3)),
        rng.normal(size=(3, 6)),
        rng.normal(size=(4, 1)),
        rng.normal(size=(4, 6)),
    )
    out = linear_layer(weights, inputs, bias)
    every = linear_layer_rule(g, out, weights, inputs, bias)
    some = linear_layer_rule(g, out, weights, inputs, bias, inputs_wanted=False)
    assert some[1] is None
    np.testing.assert_array_equal(some[0], every[0])
    np.testing.assert_array_equal(some[2], every[2])


@pytest.mark.parametrize("width", [1, 5])
def test_logsumexp_stacked_is_the_logsumexp_rows_forward_and_rule_node_by_node_and_sample_by_sample(width: int) -> None:
    rng = np.random.default_rng(width)
    k, M = 4, 3
    xs = rng.normal(size=(k, M, width)) * 3
    xs[:, 0] += 800.0  # a node whose inputs would overflow e^x without the shift
    xs[1, 1] = -np.inf  # an input that adds nothing
    out = logsumexp_stacked(xs)
    g = rng.normal(size=(M, width))
    d_xs = logsumexp_stacked_rule(g, out, xs)
    for m in range(M):
        for s in range(width):
            inputs = [float(x) for x in xs[:, m, s]]
            assert out[m, s] == pytest.approx(engine.logsumexp(*inputs), rel=1e-14)
            local = engine.logsumexp.rule(float(g[m, s]), float(out[m, s]), *inputs)
            np.testing.assert_allclose(d_xs[:, m, s], local, rtol=1e-13)
