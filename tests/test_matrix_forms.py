"""The matrix forms of engine/batch/matrix_forms.py against the rows of the table they restate, node by node.

engine.vectorize runs a group of scalar nodes through a matrix form of their row: `linear_layer` (a layer's
neurons), `linear_pairs` (linear nodes with weights of their own, every pair of a block's vectors; and
`linear_pairs_exact`, each pair from its own terms only), `logsumexp_stacked` (inputs stacked on an axis),
`take_rows` (one gather per sample). Each is checked here against the row's own float forward and rule,
evaluated one node and one sample at a time: a form that disagreed with its row would make vectorize differ
from the scalar path.
"""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.batch.matrix_forms import (
    Pairs,
    linear_layer,
    linear_layer_rule,
    linear_pairs,
    linear_pairs_exact,
    linear_pairs_exact_rule,
    linear_pairs_rule,
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


@pytest.mark.parametrize("widths", [(4, 4, 4), (1, 4, 4), (4, 1, 1), (1, 1, 1), (1, 1, 4)])
def test_linear_pairs_is_the_linear_rows_forward_and_rule_pair_by_pair_and_sample_by_sample(
    widths: tuple[int, int, int],
) -> None:
    rng = np.random.default_rng(sum(widths))
    C, A, B, L = 2, 3, 2, 4
    weights, inputs, bias = (rng.normal(size=(C, A, L, widths[0])), rng.normal(size=(C, B, L, widths[1])),
                             rng.normal(size=(C * A * B, widths[2])))  # fmt: skip
    out = linear_pairs(weights, inputs, bias)
    buffer = np.full((C * A * B, max(widths[:2])), np.nan)  # an array to write into gives the same
    np.testing.assert_array_equal(linear_pairs(weights, inputs, bias, buffer), out)
    N = out.shape[1]
    g = rng.normal(size=(C * A * B, N))
    d_weights, d_inputs, d_bias = linear_pairs_rule(g, out, weights, inputs, bias)
    expected_weights, expected_inputs = np.zeros((C, A, L, N)), np.zeros((C, B, L, N))
    for c in range(C):
        for a in range(A):
            for b in range(B):
                row = (c * A + a) * B + b
                for s in range(N):
                    args = [*weights[c, a, :, s % widths[0]], *inputs[c, b, :, s % widths[1]], bias[row, s % widths[2]]]
                    args = [float(x) for x in args]
                    assert out[row, s] == pytest.approx(engine.linear(*args), rel=1e-14)
                    local = engine.linear.rule(float(g[row, s]), float(out[row, s]), *args)
                    expected_weights[c, a, :, s] += local[:L]
                    expected_inputs[c, b, :, s] += local[L : 2 * L]
                    assert np.broadcast_to(d_bias, g.shape)[row, s] == local[-1]
    np.testing.assert_allclose(np.broadcast_to(d_weights, expected_weights.shape), expected_weights, rtol=1e-13)
    np.testing.assert_allclose(np.broadcast_to(d_inputs, expected_inputs.shape), expected_inputs, rtol=1e-13)


def test_linear_pairs_exact_computes_each_pair_from_its_own_terms_only() -> None:
    """Pairs of fewer terms than the vectors hold: beyond a pair's terms one vector holds a padding 0 and the
    other anything, an inf or a nan too; the exact forms never multiply them, as the row never sees them."""
    rng = np.random.default_rng(11)
    C, A, B, L, N = 2, 3, 2, 4, 5
    weights, inputs, bias = (
        rng.normal(size=(C, A, L, N)),
        rng.normal(size=(C, B, L, N)),
        rng.normal(size=(C * A * B, 1)),
    )
    pairs = Pairs(*(np.array(column) for column in zip(
        # row, block, weight vector, input vector, terms: the other rows are no node
        (0, 0, 0, 0, 2), (3, 0, 1, 1, 4), (5, 0, 2, 1, 3), (6, 1, 0, 0, 1), (8, 1, 1, 0, 2), (11, 1, 2, 1, 4),
    )))  # fmt: skip
    for _, c, a, _, n in zip(*pairs):
        weights[c, a, n:] = 0.0  # a weight vector shorter than L, padded (each is one pair's here)
    inputs[0, 0, 2:, 0] = np.inf  # what a longer input vector holds beyond the terms of every pair that reads it
    inputs[1, 0, 2:, 1] = np.nan
    out = linear_pairs_exact(weights, inputs, bias, pairs)
    g = rng.normal(size=out.shape)
    d_weights, d_inputs, d_bias = linear_pairs_exact_rule(g, out, weights, inputs, bias, pairs)
    expected_weights, expected_inputs = np.zeros_like(weights), np.zeros_like(inputs)
    for row, c, a, b, n in zip(*pairs):
        for s in range(N):
            args = [float(x) for x in (*weights[c, a, :n, s], *inputs[c, b, :n, s], bias[row, 0])]
            assert out[row, s] == pytest.approx(engine.linear(*args), rel=1e-14)
            local = engine.linear.rule(float(g[row, s]), float(out[row, s]), *args)
            expected_weights[c, a, :n, s] += local[:n]
            expected_inputs[c, b, :n, s] += local[n : 2 * n]
    assert np.isfinite(out[pairs.rows]).all()
    np.testing.assert_allclose(d_weights, expected_weights, rtol=1e-13)
    np.testing.assert_allclose(d_inputs, expected_inputs, rtol=1e-13)
    np.testing.assert_array_equal(d_bias, g)
    finite = inputs.copy()
    finite[~np.isfinite(finite)] = 7.0
    dense = linear_pairs(weights, finite, bias)  # with every value finite, padding adds 0: the dense form agrees
    np.testing.assert_allclose(
        dense[pairs.rows], linear_pairs_exact(weights, finite, bias, pairs)[pairs.rows], rtol=1e-14
    )


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
    out, softmax = logsumexp_stacked(xs)
    g = rng.normal(size=(M, width))
    d_xs = logsumexp_stacked_rule(g, out, xs, softmax)
    np.testing.assert_allclose(logsumexp_stacked_rule(g, out, xs), d_xs, rtol=1e-13)  # the rule computing it itself
    for m in range(M):
        for s in range(width):
            inputs = [float(x) for x in xs[:, m, s]]
            assert out[m, s] == pytest.approx(engine.logsumexp(*inputs), rel=1e-14)
            local = engine.logsumexp.rule(float(g[m, s]), float(out[m, s]), *inputs)
            np.testing.assert_allclose(d_xs[:, m, s], local, rtol=1e-13)
