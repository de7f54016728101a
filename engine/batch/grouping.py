"""Grouping fn's scalar nodes into batched ones: the recording lowered to a `Program` over arrays.

Scalar nodes are grouped by depth (the longest path from a leaf) and kind; a group becomes one node of
the batched graph (engine/batch/batched_ops.py), with a row per member:

- `linear` nodes whose weights and bias are shared leaves (an nn layer's neurons) and that read the same
  inputs form a layer, one matrix product; the same neurons applied to several tuples of inputs (a layer
  used at every position of a sequence) form one layer too, the tuples side by side;
- other `linear` nodes with the same number of inputs (attention's q.k, weights times values) form one
  contraction;
- `take` nodes with the same number of entries form one gather per sample;
- `logsumexp` nodes with the same number of inputs form one reduction over their stacked inputs;
- any other nodes of the same operation and number of inputs form one elementwise group.

Each group reads its operands from the rows of the nodes that made them, of fn's arguments (a matrix
argument feeds a layer directly) or of blocks of the shared leaves. The shared leaves are numbered in
the order blocks first read them, so a block of leaves not read before (a layer's weights) is a run of
that numbering: a view of the array of their values, read without a copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from engine.batch.batched_ops import (
    COMPUTING,
    Contraction,
    Elementwise,
    Gather,
    Layer,
    Node,
    Part,
    Repeats,
    Rows,
    Selection,
    Stacked,
    TakeRows,
)
from engine.batch.recording import Recording
from engine.core.ops import linear, logsumexp, take_op
from engine.core.value import Value


@dataclass(frozen=True)
class Program:
    """fn's graph over arrays: what the replay runs.

    arguments: one source node per parameter of fn, a row per Value it received.
    shared: the shared leaves (parameters and constants), in the order their values are read.
    blocks: (source node, its leaves' positions in `shared`: a slice for a run) for every block.
    computed: the nodes with an operation, parents first; the last one gathers fn's outputs.
    """

    arguments: list[Node]
    shared: list[Value]
    blocks: list[tuple[Node, Selection]]
    computed: list[Node]

    @property
    def outputs(self) -> Node:
        return self.computed[-1]

    @property
    def walk(self) -> list[Node]:
        """What `backward_pass` walks: the blocks, then every computed node, ending at the outputs."""
        return [block for block, _ in self.blocks] + self.computed

    def computing(self) -> list[Node]:
        """The nodes whose operation computes values (not only moves them): what detect_anomaly checks."""
        return [node for node in self.computed if isinstance(node.op, COMPUTING)]


def lower(recording: Recording) -> Program:
    """Group the recording's scalar nodes into the batched nodes of a Program (see the module docstring)."""
    return _Lowering(recording).program


class _Parents:
    """The distinct parents of one batched node, in order of first use, and whether each wants a gradient."""

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.positions: dict[Node, int] = {}

    def position(self, node: Node) -> int:
        if node not in self.positions:
            self.positions[node] = len(self.nodes)
            self.nodes.append(node)
        return self.positions[node]

    def wanted(self) -> list[bool]:
        """fn's arguments want no gradient; every other parent does (its rule is evaluated, as on the scalar path)."""
        return [node.kind != "argument" for node in self.nodes]


class _Lowering:
    def __init__(self, recording: Recording) -> None:
        # Where each scalar node's values live: (batched node, row). Shared leaves live in blocks, made as read.
        self.place: dict[Value, tuple[Node, int]] = {}
        self.arguments: list[Node] = []
        for received in recording.arguments:
            leaves = received if isinstance(received, list) else [received]
            node = Node(None, (), len(leaves), batched=True, kind="argument")
            self.arguments.append(node)
            for row, leaf in enumerate(leaves):
                self.place[leaf] = (node, row)
        self.shared: list[Value] = []
        self.numbered: dict[Value, int] = {}
        self.blocks: dict[tuple[Value, ...], Node] = {}
        self.block_rows: dict[Node, dict[Value, int]] = {}
        self.block_selection: list[tuple[Node, Selection]] = []
        self.computed: list[Node] = []

        by_level = self._levels(recording.order)
        for level in sorted(by_level):
            kinds: dict[tuple, list[Value]] = {}
            for v in by_level[level]:
                kinds.setdefault(self._kind(v), []).append(v)
            for kind, members in kinds.items():
                if kind[0] == "neuron":
                    self._layers(members, kind[1])
                else:
                    self._group(kind[0], members)
        parents = _Parents()
        rows = self._rows(recording.outputs, parents)
        self._add(Gather(rows, parents.wanted()), parents, (), "outputs")
        self.program = Program(self.arguments, self.shared, self.block_selection, self.computed)

    # -- which scalar nodes go together --------------------------------------------------------------------------

    def _levels(self, order: Sequence[Value]) -> dict[int, list[Value]]:
        """The scalar nodes with an operation by depth (1 + the deepest parent's; leaves are at 0)."""
        level: dict[Value, int] = {}
        self.batched: dict[Value, bool] = {leaf: True for leaf in self.place}
        by_level: dict[int, list[Value]] = {}
        for v in order:
            if v.op is None:
                continue
            parents = v.parents
            depth = 1 + max(level.get(p, 0) for p in parents)
            level[v] = depth
            self.batched[v] = any(self.batched.get(p, False) for p in parents)
            by_level.setdefault(depth, []).append(v)
        return by_level

    def _is_shared(self, v: Value) -> bool:
        return v.op is None and v not in self.place

    def _kind(self, v: Value) -> tuple:
        """What a scalar node is grouped by (besides its depth): its operation, number of inputs, batchedness."""
        parents = v.parents
        batched = self.batched[v]
        if v.op is linear and len(parents) >= 3:
            n = len(parents) // 2
            is_neuron = all(self._is_shared(p) for p in (*parents[:n], parents[-1]))
            return ("neuron" if is_neuron else "linear", n, batched)
        if v.op is take_op:
            return ("take", len(parents), batched)
        return (v.op, len(parents), batched)

    # -- the groups ----------------------------------------------------------------------------------------------

    def _layers(self, neurons: list[Value], n: int) -> None:
        """Neurons that read the same inputs form a layer; layers of the same neurons on other inputs join it."""
        by_inputs: dict[tuple[Value, ...], list[Value]] = {}
        for v in neurons:
            by_inputs.setdefault(v.parents[n:-1], []).append(v)
        by_neurons: dict[tuple, list[tuple[tuple[Value, ...], list[Value]]]] = {}
        for xs, readers in by_inputs.items():
            key = tuple(v.parents[:n] for v in readers)
            by_neurons.setdefault(key, []).append((xs, readers))
        for applications in by_neurons.values():
            first = applications[0][1]
            members = [readers[g] for g in range(len(first)) for _, readers in applications]
            parents = _Parents()
            weights = self._rows([w for v in first for w in v.parents[:n]], parents)
            inputs = self._rows([xs[i] for i in range(n) for xs, _ in applications], parents)
            bias = self._rows([v.parents[-1] for v in members], parents)
            shape = (len(first), n, len(applications))
            self._add(Layer(weights, inputs, bias, shape, parents.wanted()), parents, members)

    def _group(self, kind: object, members: list[Value]) -> None:
        parents = _Parents()
        first = members[0]
        if kind == "linear":
            n = len(first.parents) // 2
            weights = self._rows([v.parents[i] for v in members for i in range(n)], parents)
            inputs = self._rows([v.parents[n + i] for v in members for i in range(n)], parents)
            bias = self._rows([v.parents[-1] for v in members], parents)
            op: object = Contraction(weights, inputs, bias, (len(members), n), parents.wanted())
        elif kind == "take":
            op = self._take(members, parents)
        elif kind is logsumexp:
            count = len(first.parents)
            inputs = self._rows([v.parents[p] for p in range(count) for v in members], parents)
            op = Stacked(inputs, (count, len(members)), parents.wanted())
        else:
            assert first.op is not None
            operands = [self._rows([v.parents[p] for v in members], parents) for p in range(len(first.parents))]
            op = Elementwise(first.op, operands, len(members), parents.wanted())
        self._add(op, parents, members)

    def _take(self, members: list[Value], parents: _Parents) -> TakeRows:
        """One gather per sample: from the node that holds every entry, or from a Gather of them first."""
        count = len(members[0].parents) - 1
        entries = [e for v in members for e in v.parents[1:]]
        places = self._locate(entries)
        holders = {node for node, _ in places}
        if len(holders) == 1:
            source = places[0][0]
            table = np.array([row for _, row in places], dtype=np.intp)
        else:
            gathered = _Parents()
            rows = self._rows(entries, gathered)
            source = self._add(Gather(rows, gathered.wanted()), gathered, ())
            table = np.arange(len(entries), dtype=np.intp)
        position = parents.position(source)
        index = self._rows([v.parents[0] for v in members], parents)
        return TakeRows(index, position, table.reshape(len(members), count), parents.wanted())

    def _add(self, op: object, parents: _Parents, members: Sequence[Value], kind: str = "") -> Node:
        batched = any(node.batched for node in parents.nodes)
        size = len(members) if members else op.rows.count  # type: ignore[attr-defined]
        node = Node(op, parents.nodes, size, batched, kind)
        for row, v in enumerate(members):
            if v.op is not None:  # leaves keep their place (an output may be a leaf)
                self.place[v] = (node, row)
        self.computed.append(node)
        return node

    # -- where operands are read from ----------------------------------------------------------------------------

    def _locate(self, units: Sequence[Value]) -> list[tuple[Node, int]]:
        """(node, row) holding each unit; shared leaves are read from one block made for these units."""
        shared = list(dict.fromkeys(u for u in units if self._is_shared(u)))
        if not shared:
            return [self.place[u] for u in units]
        block = self._block(tuple(shared))
        rows = self.block_rows[block]
        return [(block, rows[u]) if self._is_shared(u) else self.place[u] for u in units]

    def _block(self, leaves: tuple[Value, ...]) -> Node:
        """The source node holding these shared leaves (one for every call that reads the same ones)."""
        block = self.blocks.get(leaves)
        if block is not None:
            return block
        for leaf in leaves:
            if leaf not in self.numbered:
                self.numbered[leaf] = len(self.shared)
                self.shared.append(leaf)
        numbers = np.array([self.numbered[leaf] for leaf in leaves], dtype=np.intp)
        block = Node(None, (), len(leaves), batched=False, kind="shared")
        self.blocks[leaves] = block
        self.block_rows[block] = {leaf: row for row, leaf in enumerate(leaves)}
        run = _selection(numbers, -1)  # never "all": more leaves may be numbered after this block
        self.block_selection.append((block, run if run is not None else numbers))
        return block

    def _rows(self, units: Sequence[Value], parents: _Parents) -> Rows:
        """The operand holding `units` in order, as parts read from the nodes that hold them."""
        places = self._locate(units)
        by_node: dict[Node, tuple[list[int], list[int]]] = {}
        for i, (node, row) in enumerate(places):
            destination, rows = by_node.setdefault(node, ([], []))
            destination.append(i)
            rows.append(row)
        parts = []
        for node, (destination, rows) in by_node.items():
            numbers = np.array(rows, dtype=np.intp)
            selection = _selection(numbers, node.size)
            repeated = isinstance(selection, np.ndarray) and len(np.unique(numbers)) < len(numbers)
            parts.append(
                Part(
                    parents.position(node),
                    selection,
                    None if len(by_node) == 1 else np.array(destination, dtype=np.intp),
                    Repeats(numbers) if repeated else None,
                )
            )
        return Rows(len(units), parts)


def _selection(rows: np.ndarray, size: int) -> Selection:
    """How to read `rows` of an array of `size` rows: all in order (None), a run (a slice, a view), or a copy."""
    if len(rows) == size and np.array_equal(rows, np.arange(size)):
        return None
    if len(rows) and np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))):
        return slice(int(rows[0]), int(rows[0]) + len(rows))
    return rows
