"""The nodes of the batched graph and what each computes on arrays, forward and backward.

A node stands for a group of scalar nodes of fn's graph. Its array has a row per member and a column per
sample, or a single column when it depends on no argument (the same for every sample). An operation
reads its operands from rows of its parents (`Rows`), runs the table's forward function or the matrix
form of its row (engine/core/ops.py) and, backward, runs the matching rule and hands each parent the
gradient of the rows it read (a scatter-add). Nothing of any operation's mathematics is restated here.

The sources, nodes without an operation, are fn's arguments (one node each, a row per Value fn received)
and blocks of the shared leaves (parameters and constants), which the replay fills before the walk.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.core.backprop import check_count
from engine.core.ops import (
    linear_layer,
    linear_layer_rule,
    linear_stacked,
    linear_stacked_rule,
    logsumexp_stacked,
    logsumexp_stacked_rule,
    take_rows,
    take_rows_rule,
)
from engine.core.value import Op

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


class Rows:
    """An operand: `count` rows gathered from the parents, in parts (parent position, its rows, where they go).

    A part reading all of a parent's rows in order is the parent's array itself, a run of them a view;
    other rows are copied. Backward, `scatter` adds a gradient of the operand's shape to the rows it came from.
    """

    __slots__ = ("count", "parts", "single")

    def __init__(self, count: int, parts: list[tuple[int, Selection, np.ndarray | None, bool]]) -> None:
        self.count = count
        self.parts = parts  # (parent position, rows of the parent, rows of the operand (None: all), rows unique)
        self.single = len(parts) == 1

    def read(self, parents: Sequence[np.ndarray]) -> np.ndarray:
        if self.single:
            position, rows, _, _ = self.parts[0]
            source = parents[position]
            return source if rows is None else source[rows]
        width = max(parents[position].shape[1] for position, _, _, _ in self.parts)
        out = np.empty((self.count, width))
        for position, rows, destination, _ in self.parts:
            source = parents[position]
            out[destination] = source if rows is None else source[rows]
        return out

    def scatter(self, contribution: Any, parents: Sequence[np.ndarray], totals: Totals) -> None:
        """Add `contribution`, the gradient of this operand, to the gradients of the rows it was read from."""
        if not self.single:  # a rule may give one number for all rows: spread it before picking rows
            contribution = np.asarray(contribution, dtype=float)
            if contribution.ndim < 2 or contribution.shape[0] != self.count:
                contribution = np.broadcast_to(
                    contribution, (self.count, contribution.shape[-1] if contribution.ndim else 1)
                )
        for position, rows, destination, unique in self.parts:
            if not totals.wanted[position]:
                continue
            source = parents[position]
            part = contribution if destination is None else contribution[destination]
            part = fit(part, (self.count if destination is None else len(destination), source.shape[1]))
            if rows is None:
                totals.add(position, part)
            else:
                totals.add_rows(position, rows, part, unique)


class Totals:
    """The gradient a rule hands each parent, summed over the operands that read it (`backward_pass` adds
    those of different nodes). An array this class made is added to in place; one it was given is not."""

    __slots__ = ("wanted", "shapes", "arrays", "owned")

    def __init__(self, wanted: Sequence[bool], parents: Sequence[np.ndarray]) -> None:
        self.wanted = wanted
        self.shapes = [p.shape for p in parents]
        self.arrays: list[Any] = [None] * len(parents)
        self.owned = [False] * len(parents)

    def add(self, position: int, part: np.ndarray) -> None:
        current = self.arrays[position]
        if current is None:
            self.arrays[position] = part
        elif self.owned[position]:
            current += part
        else:
            self.arrays[position] = current + part
            self.owned[position] = True

    def add_rows(self, position: int, rows: Selection, part: np.ndarray, unique: bool) -> None:
        if not self.owned[position]:
            current = self.arrays[position]
            self.arrays[position] = np.zeros(self.shapes[position]) if current is None else np.array(current)
            self.owned[position] = True
        total = self.arrays[position]
        if unique:
            total[rows] += part
        else:
            np.add.at(total, rows, part)  # type: ignore[arg-type]  # repeated rows come as an index array

    def result(self) -> list[Any]:
        """One gradient per parent; 0.0 for the parents that want none (fn's arguments)."""
        return [0.0 if a is None else a for a in self.arrays]


class Buffers(threading.local):
    """Arrays an operation writes its results into, kept from call to call, one set per thread.

    Freed and allocated afresh at every call, arrays of more than 128 kB come back from the system as new
    pages the kernel must fault in again (glibc returns them); written into the same arrays, a replay
    touches the same pages. A call's arrays are dead when the next call on the thread starts: the API
    hands out copies.
    """

    def __init__(self) -> None:
        self.arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, shape: tuple[int, ...]) -> np.ndarray:
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


class Elementwise:
    """A table operation on M scalar nodes at once: `op.array_forward` on each input position's rows."""

    def __init__(self, op: Op, operands: list[Rows], members: int, wanted: list[bool]) -> None:
        self.op = op
        self.name = op.name
        self.operands = operands
        self.members = members
        self.wanted = wanted

    def forward(self, *parents: np.ndarray) -> np.ndarray:
        xs = [operand.read(parents) for operand in self.operands]
        out = np.asarray(self.op.array_forward(*xs), dtype=float)
        shape = (self.members, max(x.shape[1] for x in xs) if xs else 1)
        return out if out.shape == shape else np.broadcast_to(out, shape)

    def rule(self, g: Any, out: np.ndarray, *parents: np.ndarray) -> list[Any]:
        xs = [operand.read(parents) for operand in self.operands]
        contributions = self.op.rule(g, out, *xs)
        check_count(self.name, contributions, len(xs))
        totals = Totals(self.wanted, parents)
        for operand, c in zip(self.operands, contributions):
            operand.scatter(c, parents, totals)
        return totals.result()


class Layer:
    """`linear_layer` for G neurons (weights and biases shared leaves) applied to T tuples of n inputs.

    Weights are read as (G, n) and the inputs, input by input and tuple by tuple, as (n, T x width): the T
    tuples side by side as more samples. Members are ordered neuron by neuron and, within a neuron, tuple
    by tuple (row g T + t). A neuron's bias may differ from tuple to tuple (a constant 0 made at each call
    of a layer without bias): biases are read as (G, 1) for one tuple, else spread to (G, T x width).
    """

    name = "linear layer"

    def __init__(self, weights: Rows, inputs: Rows, bias: Rows, shape: tuple[int, int, int], wanted: list[bool]):
        self.weights, self.inputs, self.bias = weights, inputs, bias
        self.neurons, self.n, self.tuples = shape
        self.wanted = wanted
        self.buffers = Buffers()
        # The inputs' gradient is a product as large as the forward one: left out when only arguments are read.
        self.inputs_wanted = any(wanted[position] for position, _, _, _ in inputs.parts)

    def _operands(self, parents: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        inputs = self.inputs.read(parents)
        width = inputs.shape[1]
        bias = self.bias.read(parents)
        if self.tuples > 1:
            spread = (self.neurons, self.tuples, width)
            bias = np.broadcast_to(bias.reshape(self.neurons, self.tuples, 1), spread).reshape(self.neurons, -1)
        return (
            self.weights.read(parents).reshape(self.neurons, self.n),
            inputs.reshape(self.n, self.tuples * width),
            bias,
        )

    def forward(self, *parents: np.ndarray) -> np.ndarray:
        weights, inputs, bias = self._operands(parents)
        out = self.buffers.get("out", (self.neurons, inputs.shape[1]))
        return linear_layer(weights, inputs, bias, out).reshape(self.neurons * self.tuples, -1)

    def rule(self, g: Any, out: np.ndarray, *parents: np.ndarray) -> list[Any]:
        weights, inputs, bias = self._operands(parents)
        g = np.broadcast_to(g, out.shape).reshape(self.neurons, -1)
        into = (self.buffers.get("weights", weights.shape), self.buffers.get("inputs", inputs.shape))
        d_weights, d_inputs, d_bias = linear_layer_rule(g, out, weights, inputs, bias, self.inputs_wanted, into)
        totals = Totals(self.wanted, parents)
        self.weights.scatter(d_weights.reshape(-1, 1), parents, totals)
        if d_inputs is not None:
            self.inputs.scatter(d_inputs.reshape(self.n * self.tuples, -1), parents, totals)
        self.bias.scatter(d_bias.reshape(self.neurons * self.tuples, -1), parents, totals)
        return totals.result()


class Contraction:
    """`linear_stacked` for M linear nodes that each read their own n weights and n inputs (not a layer)."""

    name = "linear"

    def __init__(self, weights: Rows, inputs: Rows, bias: Rows, shape: tuple[int, int], wanted: list[bool]) -> None:
        self.weights, self.inputs, self.bias = weights, inputs, bias
        self.members, self.n = shape
        self.wanted = wanted

    def _operands(self, parents: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        weights, inputs = self.weights.read(parents), self.inputs.read(parents)
        return (
            weights.reshape(self.members, self.n, weights.shape[1]),
            inputs.reshape(self.members, self.n, inputs.shape[1]),
            self.bias.read(parents),
        )

    def forward(self, *parents: np.ndarray) -> np.ndarray:
        weights, inputs, bias = self._operands(parents)
        return linear_stacked(weights, inputs, bias)

    def rule(self, g: Any, out: np.ndarray, *parents: np.ndarray) -> list[Any]:
        weights, inputs, bias = self._operands(parents)
        g = np.broadcast_to(g, out.shape)
        d_weights, d_inputs, d_bias = linear_stacked_rule(g, out, weights, inputs, bias)
        totals = Totals(self.wanted, parents)
        self.weights.scatter(d_weights.reshape(self.members * self.n, -1), parents, totals)
        self.inputs.scatter(d_inputs.reshape(self.members * self.n, -1), parents, totals)
        self.bias.scatter(d_bias, parents, totals)
        return totals.result()


class Stacked:
    """`logsumexp_stacked` for M logsumexp nodes of k inputs each, the inputs read position by position as
    (k, M, width): one numpy call per step of the row's mathematics instead of one per input."""

    name = "logsumexp"

    def __init__(self, inputs: Rows, shape: tuple[int, int], wanted: list[bool]) -> None:
        self.inputs = inputs
        self.count, self.members = shape
        self.wanted = wanted

    def _stacked(self, parents: Sequence[np.ndarray]) -> np.ndarray:
        inputs = self.inputs.read(parents)
        return inputs.reshape(self.count, self.members, inputs.shape[1])

    def forward(self, *parents: np.ndarray) -> np.ndarray:
        return logsumexp_stacked(self._stacked(parents))

    def rule(self, g: Any, out: np.ndarray, *parents: np.ndarray) -> list[Any]:
        d_inputs = logsumexp_stacked_rule(g, out, self._stacked(parents))
        totals = Totals(self.wanted, parents)
        self.inputs.scatter(d_inputs.reshape(self.count * self.members, -1), parents, totals)
        return totals.result()


class TakeRows:
    """`take_rows` for M take nodes whose entries are rows of one parent: member m's entry k is row table[m, k]."""

    name = "take"

    def __init__(self, index: Rows, source: int, table: np.ndarray, wanted: list[bool]) -> None:
        self.index = index
        self.source = source  # the position of the parent holding the entries
        self.table = table
        self.wanted = wanted

    def forward(self, *parents: np.ndarray) -> np.ndarray:
        return take_rows(parents[self.source], self.table, self.index.read(parents))

    def rule(self, g: Any, out: np.ndarray, *parents: np.ndarray) -> list[Any]:
        index = self.index.read(parents)
        d_source, d_index = take_rows_rule(g, out, parents[self.source], self.table, index)
        totals = Totals(self.wanted, parents)
        if self.wanted[self.source]:
            totals.add(self.source, d_source)
        self.index.scatter(d_index, parents, totals)
        return totals.result()


class Gather:
    """Rows of its parents moved into one array (fn's outputs; a take's entries spread over several nodes)."""

    name = "gather"

    def __init__(self, rows: Rows, wanted: list[bool]) -> None:
        self.rows = rows
        self.wanted = wanted

    def forward(self, *parents: np.ndarray) -> np.ndarray:
        return self.rows.read(parents)

    def rule(self, g: Any, out: np.ndarray, *parents: np.ndarray) -> list[Any]:
        totals = Totals(self.wanted, parents)
        self.rows.scatter(np.broadcast_to(g, out.shape), parents, totals)
        return totals.result()


# The operations that compute values (a Gather only moves them): where detect_anomaly looks for nan and inf.
COMPUTING = (Elementwise, Layer, Contraction, Stacked, TakeRows)
