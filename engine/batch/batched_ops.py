"""The nodes of the batched graph and what each computes on arrays, forward and backward.

A node stands for a group of scalar nodes of fn's graph. Its array has a row per member and a column per
sample, or a single column when it depends on no argument (the same for every sample). An operation
reads its operands from rows of its parents (`Rows`), runs the table's forward function or the matrix
form of its row (engine/batch/matrix_forms.py) and, backward, runs the matching rule and hands each parent the
gradient of the rows it read (a scatter-add). Nothing of any operation's mathematics is restated here.

The sources, nodes without an operation, are fn's arguments (one node each, a row per Value fn received)
and blocks of the shared leaves (parameters and constants), which the replay fills before the walk.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable, Sequence
from typing import Any, NamedTuple

import numpy as np

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
from engine.core.backprop import check_count
from engine.core.op import Op

# Where a part of an operand comes from: all of the parent's rows in order (None), a run of them (a slice:
# read as a view) or any rows (an index array: read as a copy).
Selection = slice | np.ndarray | None


class Node:
    """A node of the batched graph: `op` computes its array from its parents' arrays (None for a source).

    `size` is its number of rows (members); `batched` says whether it has a column per sample. This is what
    `backward_pass` walks, as it walks Values.
    """

    __slots__ = ("op", "parents", "size", "batched", "kind")

    def __init__(self, op: Any, parents: Sequence[Node], size: int, batched: bool, kind: str = "") -> None:
        self.op = op
        self.parents = tuple(parents)
        self.size = size
        self.batched = batched
        self.kind = kind or op.name  # for sources: "argument" or "shared"

    def __repr__(self) -> str:
        return f"<{self.kind} of {self.size}>"


class Part(NamedTuple):
    """Some rows of an operand, read from one parent."""

    parent: int  # the parent's position among the node's parents
    rows: Selection  # the parent's rows it reads
    destination: np.ndarray | None  # the operand's rows they fill, in order; None: all of them
    repeats: Repeats | None  # how `rows` repeat, when a row is read more than once


class Rows:
    """An operand: `count` rows gathered from the parents, in parts; rows no part fills hold `fill` (padding).

    A part reading all of a parent's rows in order is the parent's array itself, a run of them a view;
    other rows are copied. Backward, `scatter` adds a gradient of the operand's shape to the rows it came from
    (padding rows come from nowhere: their gradient goes nowhere).
    """

    __slots__ = ("count", "parts", "fill", "single")

    def __init__(self, count: int, parts: list[Part], fill: float | None = None) -> None:
        self.count = count
        self.parts = parts
        self.fill = fill
        self.single = len(parts) == 1 and fill is None

    def read(self, parents: Sequence[np.ndarray], buffers: Buffers | None = None) -> np.ndarray:
        """The operand's array; gathered from several parts into an array of `buffers`, when given."""
        if self.single:
            part = self.parts[0]
            source = parents[part.parent]
            return source if part.rows is None else source[part.rows]
        shape = (self.count, max(parents[part.parent].shape[1] for part in self.parts))
        out = buffers.get(self, shape) if buffers is not None else np.empty(shape)
        if self.fill is not None:
            out.fill(self.fill)
        for part in self.parts:
            source = parents[part.parent]
            out[part.destination] = source if part.rows is None else source[part.rows]
        return out

    def scatter(self, contribution: Any, parents: Sequence[np.ndarray], totals: Totals) -> None:
        """Add `contribution`, the gradient of this operand, to the gradients of the rows it was read from."""
        if not self.single:  # a rule may give one number for all rows: spread it before picking rows
            contribution = np.asarray(contribution, dtype=float)
            if contribution.ndim < 2 or contribution.shape[0] != self.count:
                contribution = np.broadcast_to(
                    contribution, (self.count, contribution.shape[-1] if contribution.ndim else 1)
                )
        summed = None  # the contribution summed over the samples, for parents of one column (shared leaves)
        for part in self.parts:
            if not totals.wanted[part.parent]:
                continue
            width = parents[part.parent].shape[1]
            whole = contribution
            if width == 1 and not self.single and contribution.shape[-1] > 1:
                whole = summed = contribution.sum(axis=1, keepdims=True) if summed is None else summed
            if part.destination is None:
                gradient = fit(whole, (self.count, width))
            else:
                gradient = fit(whole[part.destination], (len(part.destination), width))
            if part.rows is None:
                totals.add(part.parent, gradient)
            else:
                totals.add_rows(part.parent, part.rows, gradient, part.repeats)


class Repeats:
    """Rows read more than once (a weight every position reads): their gradients are summed row by row before
    being added, a sort done once at grouping and one `np.add.reduceat` per call (what `np.add.at` does, faster)."""

    __slots__ = ("order", "starts", "distinct")

    def __init__(self, rows: np.ndarray) -> None:
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        self.order = None if np.array_equal(order, np.arange(len(rows))) else order  # None: rows ascend already
        self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        self.distinct = ordered[self.starts]

    def add_into(self, total: np.ndarray, part: np.ndarray) -> None:
        ordered = part if self.order is None else part[self.order]
        total[self.distinct] += np.add.reduceat(ordered, self.starts, axis=0)


class Totals:
    """The gradient a rule hands each parent, summed over the operands that read it (`backward_pass` adds
    those of different nodes). Whole-array parts are summed as they come (in place only into an array this
    class made); parts of some rows are kept as they are, in a `RowGradients`."""

    __slots__ = ("wanted", "shapes", "arrays", "owned", "rows")

    def __init__(self, wanted: Sequence[bool], parents: Sequence[np.ndarray]) -> None:
        self.wanted = wanted
        self.shapes = [p.shape for p in parents]
        self.arrays: list[Any] = [None] * len(parents)
        self.owned = [False] * len(parents)
        self.rows: list[list[RowPart]] = [[] for _ in parents]

    def add(self, position: int, part: np.ndarray) -> None:
        current = self.arrays[position]
        if current is None:
            self.arrays[position] = part
        elif self.owned[position]:
            current += part
        else:
            self.arrays[position] = current + part
            self.owned[position] = True

    def add_rows(self, position: int, rows: Selection, part: np.ndarray, repeats: Repeats | None) -> None:
        self.rows[position].append((rows, part, repeats))

    def result(self) -> list[Any]:
        """One gradient per parent; 0.0 for the parents that want none (fn's arguments)."""
        results: list[Any] = []
        for shape, whole, rows in zip(self.shapes, self.arrays, self.rows):
            gradient: Any = whole if whole is not None else 0.0
            if rows:
                gradient = RowGradients(shape, rows) if whole is None else RowGradients(shape, rows) + whole
            results.append(gradient)
        return results


RowPart = tuple[Selection, np.ndarray, "Repeats | None"]  # (rows, their gradients, how rows repeat, if they do)


class RowGradients:
    """The gradient of a node of which its readers each gave some rows (the rest zero).

    `backward_pass` adds up what every reader of a node gives it. A reader of a few rows of a large node (one
    link of a chain of sums reading a product node) would otherwise give a whole array of zeros but for its
    rows, and adding those would cost (readers x size of the node). Kept as parts, sums of them are lists of
    parts, and the array is made once, when the node's own rule reads its gradient (`np.asarray`).
    """

    __slots__ = ("shape", "parts", "_array")
    __array_ufunc__ = None  # an array + RowGradients comes to __radd__

    def __init__(self, shape: tuple[int, ...], parts: list[RowPart]) -> None:
        self.shape = shape
        self.parts = parts
        self._array: np.ndarray | None = None

    def __add__(self, other: Any) -> Any:
        if isinstance(other, RowGradients):
            return RowGradients(self.shape, self.parts + other.parts)
        total = np.array(np.broadcast_to(other, self.shape), dtype=float)  # a new array: `other` stays as it was
        self._add_into(total, self.parts)
        return total

    __radd__ = __add__

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        if self._array is None:
            self._array = self.into(np.empty(self.shape))
        array = self._array if dtype is None else self._array.astype(dtype, copy=False)
        return array.copy() if copy else array

    def into(self, total: np.ndarray) -> np.ndarray:
        """The gradient written into `total` (of this shape; what it held is overwritten), which is returned."""
        rows, part, repeats = self.parts[0]
        if repeats is not None:
            total.fill(0.0)
            self._add_into(total, self.parts)
            return total
        if not _covers(rows, self.shape[0]):
            total.fill(0.0)
        total[rows] = part  # rows read once each: the first part is written, not added
        self._add_into(total, self.parts[1:])
        return total

    @staticmethod
    def _add_into(total: np.ndarray, parts: list[RowPart]) -> None:
        for rows, part, repeats in parts:
            if repeats is None:
                total[rows] += part
            else:
                repeats.add_into(total, part)


def _covers(rows: Selection, count: int) -> bool:
    """Whether `rows` (read once each) are all `count` rows."""
    if isinstance(rows, slice):
        return rows.indices(count)[:2] == (0, count) and rows.step in (None, 1)
    return rows is None or len(rows) == count


class Buffers(threading.local):
    """What an operation keeps from its forward pass to its rule and from call to call, one set per thread.

    `operands`: what the forward pass read (gathered rows), for the rule to use instead of gathering again.
    `softmax`, `chosen`, `exact`: what a logsumexp's forward pass computed of its derivative, the rows a take's
    forward pass chose, whether a contraction's forward pass met a value that is not finite, for the rule.
    `arrays`: arrays the operation writes its results into, the same at every call. A call's arrays are dead
    when the next call on the thread starts: the API hands out copies.
    """

    def __init__(self) -> None:
        self.operands: Any = None
        self.softmax: Any = None
        self.chosen: Any = None
        self.exact: bool | None = None
        self.arrays: dict[Hashable, np.ndarray] = {}

    def get(self, name: Hashable, shape: tuple[int, ...]) -> np.ndarray:
        """The array `name` of this shape: the last call's, when it had this shape."""
        # Speed: a reused array keeps its pages; a new large one is faulted in again (benchmarks/README.md).
        array = self.arrays.get(name)
        if array is None or array.shape != shape:
            array = self.arrays[name] = np.empty(shape)
        return array


def fit(c: Any, shape: tuple[int, int]) -> np.ndarray:
    """A rule's gradient in the shape of its operand: summed over the samples when the operand has one column."""
    c = np.asarray(c, dtype=float)
    if c.shape == shape:
        return c
    if c.ndim == 2 and c.shape[1] > shape[1]:
        c = c.sum(axis=1, keepdims=True)
    return np.broadcast_to(c, shape)


class BatchedOp:
    """What the operations below share: `forward` reads the operands and computes; `rule` differentiates with
    the operands the forward pass read (the replay runs a call's forward pass before its rules, on the same
    thread) and hands each parent what its rows got. fn's arguments want no gradient (`wanted`)."""

    name = ""

    def __init__(self, wanted: list[bool]) -> None:
        self.wanted = wanted
        self.buffers = Buffers()

    def forward(self, *parents: np.ndarray) -> np.ndarray:
        operands = self.buffers.operands = self.read(parents)
        return self.compute(operands)

    def rule(self, g: Any, out: np.ndarray, *parents: np.ndarray) -> list[Any]:
        operands = self.buffers.operands if self.buffers.operands is not None else self.read(parents)
        totals = Totals(self.wanted, parents)
        if isinstance(g, RowGradients):  # its parts become one array here
            g = g.into(self.buffers.get("gradient", g.shape))
        g = np.asarray(g)
        self.differentiate(g if g.shape == out.shape else np.broadcast_to(g, out.shape), out, operands, parents, totals)
        return totals.result()

    def read(self, parents: Sequence[np.ndarray]) -> Any:
        raise NotImplementedError

    def compute(self, operands: Any) -> np.ndarray:
        raise NotImplementedError

    def differentiate(
        self, g: np.ndarray, out: np.ndarray, operands: Any, parents: Sequence[np.ndarray], totals: Totals
    ) -> None:
        raise NotImplementedError


class Elementwise(BatchedOp):
    """A table operation on M scalar nodes at once: `op.array_forward` on each input position's rows."""

    def __init__(self, op: Op, operands: list[Rows], members: int, wanted: list[bool]) -> None:
        super().__init__(wanted)
        self.op = op
        self.name = op.name
        self.operands = operands
        self.members = members

    def read(self, parents: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [operand.read(parents, self.buffers) for operand in self.operands]

    def compute(self, xs: list[np.ndarray]) -> np.ndarray:
        out = np.asarray(self.op.array_forward(*xs), dtype=float)
        shape = (self.members, max(x.shape[1] for x in xs) if xs else 1)
        return out if out.shape == shape else np.broadcast_to(out, shape)

    def differentiate(
        self, g: np.ndarray, out: np.ndarray, xs: Any, parents: Sequence[np.ndarray], totals: Totals
    ) -> None:
        contributions = self.op.rule(g, out, *xs)
        check_count(self.name, contributions, len(xs))
        for operand, c in zip(self.operands, contributions):
            operand.scatter(c, parents, totals)


class Layer(BatchedOp):
    """`linear_layer` for G neurons (weights and biases shared leaves) applied to T tuples of n inputs.

    Weights are read as (G, n) and the inputs tuple by tuple as (T, n, width), or (n, width) for one tuple.
    Members are ordered tuple by tuple and, within a tuple, neuron by neuron (row t G + g), as a layer applied at
    every position of a sequence reads and gives its values position by position. A neuron's bias may differ
    from tuple to tuple (a constant 0 made at each call of a layer without bias): biases are read as (T, G, 1),
    or of each sample's own.
    """

    name = "linear layer"

    def __init__(self, weights: Rows, inputs: Rows, bias: Rows, shape: tuple[int, int, int], wanted: list[bool]):
        super().__init__(wanted)
        self.weights, self.inputs, self.bias = weights, inputs, bias
        self.neurons, self.n, self.tuples = shape
        # The inputs' gradient is a product as large as the forward one: left out when only arguments are read.
        self.inputs_wanted = any(wanted[part.parent] for part in inputs.parts)

    def read(self, parents: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inputs = self.inputs.read(parents, self.buffers)
        bias = self.bias.read(parents, self.buffers)
        if self.tuples > 1:
            inputs = inputs.reshape(self.tuples, self.n, inputs.shape[1])
            bias = bias.reshape(self.tuples, self.neurons, bias.shape[1])
        return self.weights.read(parents, self.buffers).reshape(self.neurons, self.n), inputs, bias

    def compute(self, operands: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        weights, inputs, bias = operands
        out = self.buffers.get("out", (*inputs.shape[:-2], self.neurons, inputs.shape[-1]))
        return linear_layer(weights, inputs, bias, out).reshape(self.neurons * self.tuples, -1)

    def differentiate(
        self, g: np.ndarray, out: np.ndarray, operands: Any, parents: Sequence[np.ndarray], totals: Totals
    ) -> None:
        weights, inputs, bias = operands
        into = (self.buffers.get("weights", weights.shape), self.buffers.get("inputs", inputs.shape))
        g = g.reshape(*inputs.shape[:-2], self.neurons, g.shape[-1])
        d_weights, d_inputs, d_bias = linear_layer_rule(g, out, weights, inputs, bias, self.inputs_wanted, into)
        self.weights.scatter(d_weights.reshape(-1, 1), parents, totals)
        if d_inputs is not None:
            self.inputs.scatter(d_inputs.reshape(self.n * self.tuples, -1), parents, totals)
        self.bias.scatter(d_bias.reshape(self.neurons * self.tuples, -1), parents, totals)


class Contraction(BatchedOp):
    """`linear_pairs` for linear nodes that each read a vector of weights and a vector of inputs (not a layer).

    Read as C blocks of A weight vectors (C, A, L, width) and B input vectors (C, B, L, width), the rows are the
    dot products of every pair of a block, (c A + a) B + b. When `pairs` is given, not every row is a node: a
    node's shorter vector is padded with zeros to L terms, and a pair no node reads is computed and never read.
    Where a padding 0 may meet an inf or a nan (a row of the result not finite, or in backward g), the nodes are
    computed from their own terms only (`linear_pairs_exact`), as on the scalar path, and the other rows are 0:
    so a row that is no node is never what detect_anomaly finds.
    """

    name = "linear"

    def __init__(
        self,
        weights: Rows,
        inputs: Rows,
        bias: Rows,
        shape: tuple[int, int, int, int],
        pairs: Pairs | None,
        wanted: list[bool],
    ) -> None:
        super().__init__(wanted)
        self.weights, self.inputs, self.bias = weights, inputs, bias
        self.shape = shape  # (blocks C, weight vectors A, input vectors B, terms L)
        self.pairs = pairs

    def read(self, parents: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        blocks, firsts, seconds, length = self.shape
        weights, inputs = self.weights.read(parents, self.buffers), self.inputs.read(parents, self.buffers)
        return (
            weights.reshape(blocks, firsts, length, weights.shape[1]),
            inputs.reshape(blocks, seconds, length, inputs.shape[1]),
            self.bias.read(parents, self.buffers),
        )

    def compute(self, operands: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        weights, inputs, bias = operands
        width = max(weights.shape[-1], inputs.shape[-1])
        out = linear_pairs(weights, inputs, bias, self.buffers.get("out", (bias.shape[0], width)))
        # Each vector is some node's, and beyond a node's terms one of its vectors holds padding zeros: a value
        # that is not finite in either (a term, or times a padding 0) leaves some row not finite.
        self.buffers.exact = self.pairs is not None and not finite(out)
        if self.pairs is not None and self.buffers.exact:
            return linear_pairs_exact(*operands, self.pairs)
        return out

    def differentiate(
        self, g: np.ndarray, out: np.ndarray, operands: Any, parents: Sequence[np.ndarray], totals: Totals
    ) -> None:
        weights, inputs, bias = operands
        exact = self.buffers.exact  # the forward pass's verdict on these operands
        if self.pairs is not None and (exact or (exact is None and not finite(weights, inputs)) or not finite(g)):
            d_weights, d_inputs, d_bias = linear_pairs_exact_rule(g, out, weights, inputs, bias, self.pairs)
        else:
            width = g.shape[-1]
            into = (self.buffers.get("weights", (*weights.shape[:3], width)),
                    self.buffers.get("inputs", (*inputs.shape[:3], width)))  # fmt: skip
            d_weights, d_inputs, d_bias = linear_pairs_rule(g, out, weights, inputs, bias, into)
        self.weights.scatter(d_weights.reshape(self.weights.count, -1), parents, totals)
        self.inputs.scatter(d_inputs.reshape(self.inputs.count, -1), parents, totals)
        self.bias.scatter(d_bias, parents, totals)


def finite(*arrays: np.ndarray) -> bool:
    """Whether every entry of the arrays is finite (a sum too large for a float says no: then so is the answer)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return all(math.isfinite(float(np.sum(a))) for a in arrays)


class Stacked(BatchedOp):
    """`logsumexp_stacked` for M logsumexp nodes of k inputs each, the inputs read node by node as (M, k, width):
    one numpy call per step of the row's mathematics instead of one per input."""

    name = "logsumexp"

    def __init__(self, inputs: Rows, shape: tuple[int, int], wanted: list[bool]) -> None:
        super().__init__(wanted)
        self.inputs = inputs
        self.count, self.members = shape

    def read(self, parents: Sequence[np.ndarray]) -> np.ndarray:
        inputs = self.inputs.read(parents, self.buffers)
        return inputs.reshape(self.members, self.count, inputs.shape[1])

    def compute(self, xs: np.ndarray) -> np.ndarray:
        out, self.buffers.softmax = logsumexp_stacked(xs, self.buffers.get("softmax", xs.shape))
        return out

    def differentiate(
        self, g: np.ndarray, out: np.ndarray, xs: Any, parents: Sequence[np.ndarray], totals: Totals
    ) -> None:
        softmax = self.buffers.softmax  # set with the operands, by the forward pass
        into = self.buffers.get("inputs", xs.shape) if g.shape[-1] == xs.shape[-1] else None
        d_inputs = logsumexp_stacked_rule(g, out, xs, softmax, into)
        self.inputs.scatter(d_inputs.reshape(self.members * self.count, -1), parents, totals)


class TakeRows(BatchedOp):
    """`take_rows` for M take nodes whose entries are rows of one parent: member m's entry k is row table[m, k]."""

    name = "take"

    def __init__(self, index: Rows, source: int, table: np.ndarray, wanted: list[bool]) -> None:
        super().__init__(wanted)
        self.index = index
        self.source = source  # the position of the parent holding the entries
        self.table = table
        # The index's gradient (zero) is left out when only arguments hold indices (token ids, labels).
        self.index_wanted = any(wanted[part.parent] for part in index.parts)

    def read(self, parents: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return parents[self.source], self.index.read(parents, self.buffers)

    def compute(self, operands: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        source, index = operands
        out, self.buffers.chosen = take_rows(source, self.table, index)
        return out

    def differentiate(
        self, g: np.ndarray, out: np.ndarray, operands: Any, parents: Sequence[np.ndarray], totals: Totals
    ) -> None:
        source, index = operands
        chosen = self.buffers.chosen  # set with the operands, by forward
        d_source, d_index = take_rows_rule(g, out, source, self.table, index, chosen, self.index_wanted)
        if self.wanted[self.source]:
            totals.add(self.source, d_source)
        if d_index is not None:
            self.index.scatter(d_index, parents, totals)


class Gather(BatchedOp):
    """Rows of its parents moved into one array (fn's outputs; a take's entries spread over several nodes)."""

    name = "gather"

    def __init__(self, rows: Rows, wanted: list[bool]) -> None:
        super().__init__(wanted)
        self.rows = rows

    def read(self, parents: Sequence[np.ndarray]) -> np.ndarray:
        return self.rows.read(parents, self.buffers)

    def compute(self, rows: np.ndarray) -> np.ndarray:
        return rows

    def differentiate(
        self, g: np.ndarray, out: np.ndarray, operands: Any, parents: Sequence[np.ndarray], totals: Totals
    ) -> None:
        self.rows.scatter(g, parents, totals)


# The operations that compute values (a Gather only moves them): where detect_anomaly looks for nan and inf.
COMPUTING = (Elementwise, Layer, Contraction, Stacked, TakeRows)
