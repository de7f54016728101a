"""The table's rows `linear`, `logsumexp` and `take` in matrix form: how engine.vectorize runs a group of them.

engine.vectorize groups alike scalar nodes of one sample's graph and runs each group as one numpy call over
the batch (engine/batch/batched_ops.py). For most operations that call is the row's own numpy forward and
rule, element by element. For these three, a group reads its operands as matrices, and each function below
restates its row (engine/core/ops.py) for that shape: a layer of neurons is one matrix product, the inputs of
many logsumexps are stacked on one axis, the lookups of many takes are one gather. They are speed, not
mathematics: tests/test_matrix_forms.py holds each one to its row's forward and rule, node by node and sample
by sample, so a derivative stated here twice cannot drift from the table.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from engine.core.ops import checked_index


# `logsumexp` for M nodes of k inputs each (a softmax's normaliser, a cross-entropy's): each node's k inputs
# stacked on an axis, one numpy call per step instead of k.
def logsumexp_stacked(xs: Any, into: Any = None) -> tuple[Any, Any]:
    """`_logsumexp` along the second axis: xs (M, k, N) -> (M, N), the largest input subtracted before
    exponentiating; and, on the way, the softmax e^(x_i - out) (like xs; written into `into` if given) that the
    rule multiplies."""
    top = xs.max(axis=1)
    shift = np.where(np.isfinite(top), top, 0.0)
    e = np.subtract(xs, shift[:, None], out=into)
    np.exp(e, out=e)  # in place: one array of the stacked inputs' size, not two
    total = e.sum(axis=1)
    e /= total[:, None]
    return shift + np.log(total), e


def logsumexp_stacked_rule(g: Any, out: Any, xs: Any, softmax: Any = None, into: Any = None) -> Any:
    """The row's rule for `logsumexp_stacked`: input i gets g e^(x_i - out), the softmax, for every i at once (the
    one `logsumexp_stacked` gave, or computed here). `into`: an array like xs to write the gradients into."""
    if softmax is None:
        softmax = xs - out[:, None]
        np.exp(softmax, out=softmax)
    return np.multiply(softmax, g[:, None], out=into)


# `take` for M take nodes whose entries are rows of one array (an embedding's lookups, a class's logit): one gather
# per sample and a scatter-add back.
def _chosen_rows(rows: Any, index: Any) -> Any:
    """rows[m, index[m, s]] for every node m and sample s; a bad index: `checked_index`'s ValueError."""
    count = rows.shape[1]
    valid = (index >= 0) & (index < count) & (index == np.floor(index))
    if not valid.all():
        checked_index(float(index[~valid][0]), count)  # raises, naming the index
    return np.take_along_axis(rows, index.astype(np.intp), axis=1)


def take_rows(source: Any, rows: Any, index: Any) -> tuple[Any, Any]:
    """`_take` for M nodes: node m's entry k is row rows[m, k] of `source` (R, N), or (R, 1) for entries the same
    at every sample, and `index` (M, N), or (M, 1), chooses per sample: out[m, s] = source[rows[m, index[m, s]], s].
    Returns out and the rows chosen, rows[m, index[m, s]], for the rule."""
    chosen = _chosen_rows(rows, index)
    columns = np.arange(source.shape[1]) if source.shape[1] > 1 else 0
    return source[chosen, columns], chosen


def take_rows_rule(
    g: Any, out: Any, source: Any, rows: Any, index: Any, chosen: Any = None, index_wanted: bool = True
) -> tuple[Any, Any]:
    """`_take_rule` for `take_rows`: each sample's g goes to the row it chose, added up where rows are chosen
    more than once (and over the samples for a source of one column); the index gets none (g * 0, or None with
    `index_wanted=False`). `chosen`: the rows `take_rows` chose (found again when not given)."""
    g = np.broadcast_to(g, out.shape)
    chosen = np.broadcast_to(_chosen_rows(rows, index) if chosen is None else chosen, out.shape)
    width = source.shape[1]
    flat = chosen if width == 1 else chosen * width + np.arange(width)
    d_source = np.bincount(flat.ravel(), weights=g.ravel(), minlength=source.size).reshape(source.shape)
    return d_source, g * 0 if index_wanted else None


# `linear` for a layer over a batch (one sample's neurons that read the same inputs, at one or more tuples of
# inputs), its rule summed over the samples, the tuples and the neurons.
def linear_layer(weights: Any, inputs: Any, bias: Any, out: Any = None) -> Any:
    """`_linear` for G neurons that read the same n inputs: weights (G, n), inputs (n, N), bias (G, 1) -> (G, N);
    inputs (T, n, N) for T tuples of inputs, bias (T, G, 1) -> (T, G, N). A bias of width N gives each sample a
    bias of its own. `out`: an array of the result's shape to write it into."""
    product = np.matmul(weights, inputs, out=out)
    product += bias
    return product


def linear_layer_rule(
    g: Any, out: Any, weights: Any, inputs: Any, bias: Any, inputs_wanted: bool = True, into: Any = (None, None)
) -> tuple[Any, Any, Any]:
    """`_linear_rule` for a layer: w_i gets g x_i summed over the samples and tuples, x_i gets g w_i summed over
    the neurons that read it, b gets g summed over the samples (g itself for a bias of each sample's own).
    `inputs_wanted=False` leaves out x_i's (None): a product as large as the forward one, which nobody
    reads when the inputs are vectorize's arguments. `into`: arrays to write the weights' and the inputs'
    gradients into (or None)."""
    d_bias = g.sum(axis=-1, keepdims=True) if bias.shape[-1] == 1 else g
    if inputs.ndim == 2:
        d_weights = np.matmul(g, inputs.T, out=into[0])
    else:
        d_weights = np.matmul(g, inputs.swapaxes(-1, -2)).sum(axis=0, out=into[0])
    return d_weights, np.matmul(weights.T, g, out=into[1]) if inputs_wanted else None, d_bias


# `linear` for nodes that each read a vector of weights and a vector of inputs (attention's q.k, a softmax's weights
# times values): C blocks of A weight vectors and B input vectors, the dot product of every pair of a block, per
# sample. Vectors shorter than L are padded with zeros. A last axis of size 1 stands for the same number at every
# sample.
class Pairs(NamedTuple):
    """The pairs that are nodes, when not every pair of every block is one with L terms: pair m is row rows[m] of
    the result, weight vector (blocks[m], firsts[m]), input vector (blocks[m], seconds[m]), its first terms[m] terms."""

    rows: np.ndarray
    blocks: np.ndarray
    firsts: np.ndarray
    seconds: np.ndarray
    terms: np.ndarray

    def mask(self, length: int) -> np.ndarray:
        """(pairs, length, 1): whether term i is one of pair m's."""
        return (np.arange(length) < self.terms[:, None])[:, :, None]


def linear_pairs(weights: Any, inputs: Any, bias: Any, out: Any = None) -> Any:
    """`_linear` for every pair of a block: weights (C, A, L, N), inputs (C, B, L, N), bias (C A B, N) -> (C A B, N),
    row (c A + a) B + b = sum_i weights[c, a, i] inputs[c, b, i] + its bias. `out`: an array (C A B, the width of
    weights and inputs) to write it into."""
    blocks, firsts, seconds = weights.shape[0], weights.shape[1], inputs.shape[1]
    width = max(weights.shape[-1], inputs.shape[-1])
    product = out.reshape(blocks, firsts, seconds, width) if out is not None else None
    product = np.einsum("cain,cbin->cabn", weights, inputs, out=product).reshape(-1, width)
    if bias.shape[-1] > width:  # a bias of each sample's own, on products the same at every sample
        return product + bias
    product += bias
    return product


def linear_pairs_rule(
    g: Any, out: Any, weights: Any, inputs: Any, bias: Any, into: Any = (None, None)
) -> tuple[Any, Any, Any]:
    """`_linear_rule` for `linear_pairs`: weight i of a vector gets g x_i summed over the pairs that read it, input
    i gets g w_i likewise, a bias gets g. `into`: arrays to write the weights' and the inputs' gradients into."""
    blocks, count, _, width = weights.shape[0], weights.shape[1], inputs.shape[1], g.shape[-1]
    g_pairs = g.reshape(blocks, count, inputs.shape[1], width)
    d_weights = np.einsum("cabn,cbin->cain", g_pairs, inputs, out=into[0])
    return d_weights, np.einsum("cabn,cain->cbin", g_pairs, weights, out=into[1]), g


def linear_pairs_exact(weights: Any, inputs: Any, bias: Any, pairs: Pairs) -> Any:
    """`linear_pairs` for the pairs that are nodes, each from its own terms only: a padding 0 never meets an
    inf or nan. Other rows are 0."""
    mask = pairs.mask(weights.shape[2])
    w = np.where(mask, weights[pairs.blocks, pairs.firsts], 0.0)
    x = np.where(mask, inputs[pairs.blocks, pairs.seconds], 0.0)
    out = np.zeros((weights.shape[0] * weights.shape[1] * inputs.shape[1], max(w.shape[-1], x.shape[-1])))
    out[pairs.rows] = np.einsum("min,min->mn", w, x)
    return out + bias


def linear_pairs_exact_rule(
    g: Any, out: Any, weights: Any, inputs: Any, bias: Any, pairs: Pairs
) -> tuple[Any, Any, Any]:
    """`linear_pairs_rule` from each pair's own terms only (see `linear_pairs_exact`)."""
    length, width = weights.shape[2], g.shape[-1]
    mask = np.broadcast_to(pairs.mask(length), (len(pairs.rows), length, width))
    g_pairs = g[pairs.rows][:, None, :]
    d_weights = np.zeros((*weights.shape[:3], width))
    d_inputs = np.zeros((*inputs.shape[:3], width))
    for d, own, other in ((d_weights, pairs.firsts, inputs[pairs.blocks, pairs.seconds]),
                          (d_inputs, pairs.seconds, weights[pairs.blocks, pairs.firsts])):  # fmt: skip
        np.add.at(d, (pairs.blocks, own), np.multiply(g_pairs, other, out=np.zeros(mask.shape), where=mask))
    return d_weights, d_inputs, g
