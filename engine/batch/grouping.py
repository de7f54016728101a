"""Grouping fn's scalar nodes into batched ones: the recording lowered to a `Program` over arrays.

`lower` goes in steps:

1. `Lowering(arguments)`: a source node per argument of fn, a row per Value it received;
2. `collapse_sums`: each chain of `+` over `*` (a Python `sum` of products) rewritten as one linear node;
3. `groups`: the scalar nodes with an operation, by depth (the longest path from a leaf), then by operation,
   by whether they depend on fn's arguments, and by their operation's grouping key;
4. each group lowered by its operation's rule in `GROUPING_RULES` into one or more nodes of the batched graph
   (engine/batch/batched_ops.py), a row per member; every Op not in the table, a user's `engine.defop`
   too, is lowered elementwise;
5. `Lowering.gather_outputs`: fn's outputs moved into one node, the last;
6. `Lowering.program`: the Program the replay runs.

The rules:

- linear: the nodes whose weights and bias are shared leaves (an nn layer's neurons) and that read the
  same inputs form a layer, one matrix product; the same neurons applied to several tuples of inputs (a
  layer used at every position of a sequence) form one layer too, the tuples side by side. The other linear
  nodes (attention's q.k, weights times values) each read a vector of weights and one of inputs: nodes
  that share vectors form blocks, each computed as every pair of its vectors, and blocks of one shape one
  contraction, fewer terms padded with zeros (causal attention: one contraction for every position's
  scores, one for every position's weighted sums);
- logsumexp: one reduction over the members' stacked inputs, fewer inputs padded with -inf;
- take: one gather per sample, of nodes with the same number of entries;
- elementwise (every other operation): the operation's numpy forward on each input position's rows, of
  nodes with the same number of inputs.

A group reads its operands from the rows of the nodes that made them, of fn's arguments (a matrix argument
feeds a layer directly) or of blocks of the shared leaves. The shared leaves are numbered in the order blocks
first read them, so a block of leaves not read before (a layer's weights) is a run of that numbering: a view
of the array of their values, read without a copy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from engine.batch.batched_ops import (
    COMPUTING,
    BatchedOp,
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
from engine.batch.matrix_forms import Pairs
from engine.batch.recording import Recording
from engine.core.modes import changed
from engine.core.ops import add, linear, logsumexp, mul, take_op
from engine.core.value import Op, Value


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
    lowering = Lowering(recording.arguments)
    sums = collapse_sums(recording.order, recording.outputs, lowering.is_shared)
    lowering.stand_ins = sums.stand_ins
    for op, members in groups(sums.order, lowering.argument_leaves(), sums.stand_ins):
        rule_for(op).lower(lowering, members)
    lowering.gather_outputs(recording.outputs)
    return lowering.program()


# -- sums of products as linear nodes ------------------------------------------------------------------------------


class Sums(NamedTuple):
    """The scalar graph with its sums of products collapsed: `order` holds a linear node in place of each chain
    of `+` it collapses, and `stand_ins` maps that linear node to the chain's last `+`, which its readers read."""

    order: list[Value]
    stand_ins: dict[Value, Value]


def collapse_sums(order: Sequence[Value], outputs: Sequence[Value], is_shared: Callable[[Value], bool]) -> Sums:
    """Each chain of `+` over `*` (a Python `sum` of products: a dot product, a softmax's denominator) as one
    linear node: the same number, summed in another order.

    A `+` or `*` node whose only reader is a `+` joins that `+`'s chain; a chain of products or of more than
    two terms becomes `linear(w_1..w_k, x_1..x_k, b)`: each product w x (a shared leaf as its w, as a neuron's
    weight), the first term that is a shared leaf (the 0 that `sum` starts from) as b, else a constant 0, and
    each other term t as t times a constant 1 (a softmax's denominator: a reduction). When every product weighs
    a shared leaf (a neuron), the terms that are no shared leaf are added to it after (a residual connection),
    so that the neuron stays one of its layer. Left in the chain, each `+` would deepen every node after it by
    one, and nodes alike at different depths are not grouped.
    """
    readers: dict[Value, int] = {}
    reader: dict[Value, Value] = {}
    for v in order:
        for p in v.parents:
            readers[p] = readers.get(p, 0) + 1
            reader[p] = v
    for out in outputs:
        readers[out] = readers.get(out, 0) + 2  # read from outside: never part of a chain

    def joins_chain(u: Value) -> bool:
        return (u.op is add or u.op is mul) and readers.get(u) == 1 and reader[u].op is add

    constants: dict[float, Value] = {}

    def constant(number: float) -> Value:
        return constants.setdefault(number, Value(number, label=f"vectorize's constant {number:g}"))

    collapsed: list[Value] = []
    stand_ins: dict[Value, Value] = {}
    for v in order:
        if joins_chain(v):
            continue  # its chain's last `+` takes it in
        if v.op is add:
            products, others = _terms(v, joins_chain)
            if products or len(others) > 2:
                with changed(recording=True, checking=False, comparison_guard=None):
                    nodes = _as_linear(products, others, is_shared, constant)
                stand_ins[nodes[-1]] = v
                collapsed += nodes
                continue
        collapsed.append(v)
    return Sums(collapsed, stand_ins)


def _as_linear(
    products: list[tuple[Value, Value]],
    others: list[Value],
    is_shared: Callable[[Value], bool],
    constant: Callable[[float], Value],
) -> list[Value]:
    """The nodes that compute a chain's sum, the last one the sum: one linear node, or a neuron (its products all
    weigh a shared leaf) and then its other terms added to it (a residual connection), as they were written."""
    products = [(x, w) if is_shared(x) and not is_shared(w) else (w, x) for w, x in products]
    at = next((i for i, t in enumerate(others) if is_shared(t)), None)
    bias = others.pop(at) if at is not None else constant(0.0)
    one = constant(1.0)
    if not products or not all(is_shared(w) for w, _ in products):  # a contraction or a reduction
        terms = products + [(t, one) for t in others]
        return [linear(*(w for w, _ in terms), *(x for _, x in terms), bias)]
    shared = [t for t in others if is_shared(t)]
    terms = products + [(t, one) for t in shared]
    neuron = linear(*(w for w, _ in terms), *(x for _, x in terms), bias)
    rest = [t for t in others if not is_shared(t)]
    if not rest:
        return [neuron]
    if len(rest) == 1:
        return [neuron, add(neuron, rest[0])]
    return [neuron, linear(neuron, *rest, *[one] * (len(rest) + 1), constant(0.0))]


def _terms(last: Value, joins_chain: Callable[[Value], bool]) -> tuple[list[tuple[Value, Value]], list[Value]]:
    """The products (factor pairs) and the other terms a chain of `+` ending at `last` adds, left to right."""
    products: list[tuple[Value, Value]] = []
    others: list[Value] = []
    stack = [last]
    while stack:
        u = stack.pop()
        if u is last or (u.op is add and joins_chain(u)):
            stack.extend(reversed(u.parents))
        elif u.op is mul and joins_chain(u):
            x, y = u.parents
            products.append((x, y))
        else:
            others.append(u)
    return products, others


# -- which scalar nodes go together ------------------------------------------------------------------------------


def groups(
    order: Sequence[Value], arguments: Collection[Value], stand_ins: dict[Value, Value]
) -> list[tuple[Op, list[Value]]]:
    """The scalar nodes with an operation, in the groups to lower (with their operation), each group after those
    of its members' parents.

    Grouped by depth (1 + the deepest parent's; leaves are at 0), then by operation, by whether they depend
    on one of fn's `arguments` (a column per sample) or not (one column), and by their rule's key. A node that
    stands in for another (`collapse_sums`) gives it its depth.
    """
    depth: dict[Value, int] = {}
    batched: dict[Value, bool] = dict.fromkeys(arguments, True)
    by_depth: dict[int, dict[tuple[Op, bool, Hashable], list[Value]]] = {}
    for v in order:
        op = v.op
        if op is None:
            continue
        parents = v.parents
        level = depth[v] = 1 + max((depth.get(p, 0) for p in parents), default=0)
        reads_arguments = batched[v] = any(batched.get(p, False) for p in parents)
        stands_for = stand_ins.get(v)
        if stands_for is not None:
            depth[stands_for], batched[stands_for] = level, reads_arguments
        key = (op, reads_arguments, rule_for(op).key(v))
        by_depth.setdefault(level, {}).setdefault(key, []).append(v)
    return [(key[0], members) for level in sorted(by_depth) for key, members in by_depth[level].items()]


class GroupingRule(NamedTuple):
    """How the scalar nodes of one operation become batched nodes (JAX's `primitive_batchers`, for groups)."""

    key: Callable[[Value], Hashable]  # what else keeps apart the nodes of one depth and operation
    lower: Callable[[Lowering, list[Value]], None]  # adds the batched nodes of one group to the lowering


def input_count(v: Value) -> int:
    return len(v.parents)


# -- the rules ---------------------------------------------------------------------------------------------------


def lower_elementwise(lowering: Lowering, members: list[Value]) -> None:
    """The operation's numpy forward and rule on each input position's rows: one node."""
    op = members[0].op
    assert op is not None
    members = lowering.in_source_order(members)
    parents = Parents()
    operands = [lowering.rows([v.parents[p] for v in members], parents) for p in range(len(members[0].parents))]
    lowering.add(Elementwise(op, operands, len(members), parents.wanted()), parents, members)


def lower_linear(lowering: Lowering, members: list[Value]) -> None:
    """Layers of the neurons (weights and bias shared leaves), contractions of the others."""
    neurons, others = [], []
    for v in members:
        parents = v.parents
        n = len(parents) // 2
        if n and all(lowering.is_shared(p) for p in (*parents[:n], parents[-1])):
            neurons.append(v)
        else:
            others.append(v)
    if neurons:
        _layers(lowering, neurons)
    plain = [v for v in others if len(v.parents) == 1]  # linear(b): nothing to multiply
    if plain:
        lower_elementwise(lowering, plain)
    if len(plain) < len(others):
        _contractions(lowering, [v for v in others if len(v.parents) > 1])


def _layers(lowering: Lowering, neurons: list[Value]) -> None:
    """Neurons that read the same inputs form a layer; layers of the same neurons on other inputs join it (the
    neurons in the order the first reads them, whatever order the others come in)."""
    by_inputs: dict[tuple[Value, ...], dict[tuple[Value, ...], Value]] = {}
    again: list[Value] = []  # a neuron the same as one of its layer (the same weights on the same inputs)
    for v in neurons:
        n = len(v.parents) // 2
        readers = by_inputs.setdefault(v.parents[n:-1], {})
        if v.parents[:n] in readers:
            again.append(v)
        else:
            readers[v.parents[:n]] = v
    by_neurons: dict[frozenset[tuple[Value, ...]], list[tuple[tuple[Value, ...], dict[tuple[Value, ...], Value]]]] = {}
    for xs, readers in by_inputs.items():
        by_neurons.setdefault(frozenset(readers), []).append((xs, readers))
    for applications in by_neurons.values():
        order = list(applications[0][1])  # the weight vectors of the layer's neurons
        n = len(order[0])
        members = [readers[w] for w in order for _, readers in applications]
        parents = Parents()
        weights = lowering.rows([w for vector in order for w in vector], parents)
        inputs = lowering.rows([xs[i] for i in range(n) for xs, _ in applications], parents)
        bias = lowering.rows([v.parents[-1] for v in members], parents)
        shape = (len(order), n, len(applications))
        lowering.add(Layer(weights, inputs, bias, shape, parents.wanted()), parents, members)
    if again:
        _layers(lowering, again)


class _Block(NamedTuple):
    """Nodes that multiply weight vectors `firsts` by input vectors `seconds` (numbers among the distinct
    vectors), computed as every pair of them: node (a, b) is pairs[a, b]."""

    firsts: list[int]
    seconds: list[int]
    pairs: dict[tuple[int, int], Value]


def _contractions(lowering: Lowering, members: list[Value]) -> None:
    """Contractions of linear nodes that each read a vector of weights and one of inputs.

    Nodes that share vectors (attention: a query meets every key, a softmax's weights every column of values)
    go in blocks, the sets of nodes connected by a shared vector, computed as every pair of the block's
    vectors; blocks of one shape form one contraction. A vector that is the beginning of a longer one is read
    as it, its node padded with zeros (the weights of position t meet the first t + 1 values of a column).
    Blocks that would compute more than twice as many pairs as they have nodes are split into their nodes.
    """
    weights = [v.parents[: len(v.parents) // 2] for v in members]
    inputs = [v.parents[len(v.parents) // 2 : -1] for v in members]
    first_ids, firsts = _vectors(weights)
    second_ids, seconds = _vectors(inputs)
    blocks: dict[int, _Block] = {}
    alone: list[Value] = []  # nodes computed on their own (a block of one pair of their own vectors)
    component = _Components()
    for a, b in zip(first_ids, second_ids):
        component.join(a, -1 - b)
    for v, a, b, n in zip(members, first_ids, second_ids, map(len, weights)):
        block = blocks.setdefault(component.find(a), _Block([], [], {}))
        if (a, b) in block.pairs or (len(firsts[a]) > n and len(seconds[b]) > n):
            alone.append(v)  # the same pair twice, or both vectors longer than the node's: padding alone is exact
            continue
        if a not in block.firsts:
            block.firsts.append(a)
        if b not in block.seconds:
            block.seconds.append(b)
        block.pairs[a, b] = v
    by_shape: dict[tuple[int, int, int], list[_Block]] = {}
    for block in blocks.values():
        if len(block.firsts) * len(block.seconds) > 2 * len(block.pairs) or len(block.pairs) == 1:
            alone += block.pairs.values()
            continue
        length = max(
            len(vector) for vector in [*(firsts[a] for a in block.firsts), *(seconds[b] for b in block.seconds)]
        )
        by_shape.setdefault((len(block.firsts), len(block.seconds), length), []).append(block)
    for (_, _, length), same in by_shape.items():
        _contraction(lowering, same, [firsts[a] for block in same for a in block.firsts],
                     [seconds[b] for block in same for b in block.seconds], length)  # fmt: skip
    by_terms: dict[int, list[Value]] = {}
    for v in alone:
        by_terms.setdefault(len(v.parents) // 2, []).append(v)
    for n, nodes in by_terms.items():
        ones = [_Block([m], [m], {(m, m): v}) for m, v in enumerate(nodes)]
        _contraction(lowering, ones, [v.parents[:n] for v in nodes], [v.parents[n:-1] for v in nodes], n)


def _contraction(
    lowering: Lowering,
    blocks: list[_Block],
    firsts: list[tuple[Value, ...]],
    seconds: list[tuple[Value, ...]],
    length: int,
) -> None:
    """One Contraction of blocks of one shape; `firsts` and `seconds` are their vectors, block after block."""
    count, others = len(blocks[0].firsts), len(blocks[0].seconds)
    nodes: list[Value | None] = []
    rows, block_of, first_of, second_of, terms = [], [], [], [], []
    for c, block in enumerate(blocks):
        for i, a in enumerate(block.firsts):
            for j, b in enumerate(block.seconds):
                v = block.pairs.get((a, b))
                nodes.append(v)
                if v is not None:
                    rows.append(len(nodes) - 1)
                    block_of.append(c)
                    first_of.append(i)
                    second_of.append(j)
                    terms.append(len(v.parents) // 2)
    padded = len(rows) < len(nodes) or min(terms) < length
    pairs = Pairs(*(np.array(a, dtype=np.intp) for a in (rows, block_of, first_of, second_of, terms)))
    parents = Parents()
    weights = lowering.rows([_entry(vector, i) for vector in firsts for i in range(length)], parents, 0.0)
    inputs = lowering.rows([_entry(vector, i) for vector in seconds for i in range(length)], parents, 0.0)
    bias = lowering.rows([v.parents[-1] if v is not None else None for v in nodes], parents, 0.0)
    shape = (len(blocks), count, others, length)
    op = Contraction(weights, inputs, bias, shape, pairs if padded else None, parents.wanted())
    lowering.add(op, parents, nodes)


def _entry(vector: tuple[Value, ...], i: int) -> Value | None:
    return vector[i] if i < len(vector) else None


def _vectors(vectors: list[tuple[Value, ...]]) -> tuple[list[int], list[tuple[Value, ...]]]:
    """Each vector's number among the distinct vectors, and those vectors. A vector that is the beginning of the
    longest vector with the same first entry is counted as that one (the first t + 1 values of a column: the
    column)."""
    by_first: dict[Value, list[tuple[Value, ...]]] = {}
    for vector in dict.fromkeys(vectors):
        by_first.setdefault(vector[0], []).append(vector)
    read_as: dict[tuple[Value, ...], tuple[Value, ...]] = {}
    for same_start in by_first.values():
        longest = max(same_start, key=len)
        prefixes = all(longest[: len(vector)] == vector for vector in same_start)
        for vector in same_start:
            read_as[vector] = longest if prefixes else vector
    numbers: dict[tuple[Value, ...], int] = {}
    ids = [numbers.setdefault(read_as[vector], len(numbers)) for vector in vectors]
    return ids, list(numbers)


class _Components:
    """Union-find: which items are connected."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, item: int) -> int:
        root = self.parent.setdefault(item, item)
        while root != self.parent[root]:
            root = self.parent[root]
        while item != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def lower_logsumexp(lowering: Lowering, members: list[Value]) -> None:
    """One reduction over the members' inputs stacked position by position, fewer inputs padded with -inf (which
    adds e^-inf = 0); by number of inputs when padding would more than double the stack."""
    counts = [len(v.parents) for v in members]
    if max(counts) * len(members) > 2 * sum(counts):
        by_count: dict[int, list[Value]] = {}
        for v, count in zip(members, counts):
            by_count.setdefault(count, []).append(v)
        for same in by_count.values():
            _stacked(lowering, same, len(same[0].parents))
    else:
        _stacked(lowering, members, max(counts))


def _stacked(lowering: Lowering, members: list[Value], count: int) -> None:
    members = lowering.in_source_order(members)
    parents = Parents()
    inputs = lowering.rows([_entry(v.parents, p) for p in range(count) for v in members], parents, -math.inf)
    lowering.add(Stacked(inputs, (count, len(members)), parents.wanted()), parents, members)


def lower_take(lowering: Lowering, members: list[Value]) -> None:
    """One gather per sample: from the node that holds every entry, or from a Gather of them first."""
    count = len(members[0].parents) - 1
    entries = [e for v in members for e in v.parents[1:]]
    places = lowering.locate(entries)
    if len({node for node, _ in places}) == 1:
        source = places[0][0]
        table = np.array([row for _, row in places], dtype=np.intp)
    else:
        gathered = Parents()
        rows = lowering.rows(entries, gathered)
        source = lowering.add(Gather(rows, gathered.wanted()), gathered, ())
        table = np.arange(len(entries), dtype=np.intp)
    parents = Parents()
    position = parents.position(source)
    index = lowering.rows([v.parents[0] for v in members], parents)
    lowering.add(TakeRows(index, position, table.reshape(len(members), count), parents.wanted()), parents, members)


def any_count(v: Value) -> None:
    """Nodes of any number of inputs go together: the rule pads them to one or groups them itself."""
    return None


ELEMENTWISE = GroupingRule(input_count, lower_elementwise)
GROUPING_RULES: dict[Op, GroupingRule] = {
    linear: GroupingRule(any_count, lower_linear),
    logsumexp: GroupingRule(any_count, lower_logsumexp),
    take_op: GroupingRule(input_count, lower_take),
}


def rule_for(op: Op) -> GroupingRule:
    """The grouping rule of `op`: its entry in GROUPING_RULES, else elementwise."""
    return GROUPING_RULES.get(op, ELEMENTWISE)


# -- the lowering's state: where values live, and the nodes made so far ------------------------------------------


class Parents:
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


class Lowering:
    """The batched graph as it is built: where each scalar node's values live (a row of a batched node), the
    blocks of shared leaves made so far and the computed nodes. Grouping rules read operands with `rows` and
    add their nodes with `add`."""

    def __init__(self, arguments: Sequence[Value | list[Value]]) -> None:
        self.place: dict[Value, tuple[Node, int]] = {}
        self.arguments: list[Node] = []
        for received in arguments:
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
        self.stand_ins: dict[Value, Value] = {}  # a linear node -> the sum it computes (`collapse_sums`)

    def argument_leaves(self) -> list[Value]:
        """The Values fn received (placed in the argument nodes)."""
        return list(self.place)

    def is_shared(self, v: Value) -> bool:
        """Whether v is a shared leaf: a leaf fn reads but does not receive (a parameter, a constant)."""
        return v.op is None and v not in self.place

    def add(self, op: BatchedOp, parents: Parents, members: Sequence[Value | None], kind: str = "") -> Node:
        """A new computed node; `members` (its rows' scalar nodes, None for a row that is none) are read from it
        from now on."""
        batched = any(node.batched for node in parents.nodes)
        size = len(members) if members else op.rows.count  # type: ignore[attr-defined]
        node = Node(op, parents.nodes, size, batched, kind)
        for row, v in enumerate(members):
            if v is not None and v.op is not None:  # leaves keep their place (an output may be a leaf)
                self.place[v] = (node, row)
                stands_for = self.stand_ins.get(v)
                if stands_for is not None:
                    self.place[stands_for] = (node, row)
        self.computed.append(node)
        return node

    def in_source_order(self, members: list[Value]) -> list[Value]:
        """`members` in the order their first inputs' rows have (those of computed nodes, in the order those
        were made): a group that reads a node reads it in its own order, as a whole array or in ascending rows,
        and hands its gradient back the same way."""
        order = {node: i for i, node in enumerate(self.computed)}

        def key(v: Value) -> tuple[int, int]:
            place = self.place.get(v.parents[0]) if v.parents else None
            return (order.get(place[0], -1), place[1]) if place is not None else (-1, 0)

        return sorted(members, key=key)

    def gather_outputs(self, outputs: Sequence[Value]) -> None:
        parents = Parents()
        rows = self.rows(outputs, parents)
        self.add(Gather(rows, parents.wanted()), parents, (), "outputs")

    def program(self) -> Program:
        return Program(self.arguments, self.shared, self.block_selection, self.computed)

    # -- where operands are read from ----------------------------------------------------------------------------

    def locate(self, units: Sequence[Value]) -> list[tuple[Node, int]]:
        """(node, row) holding each unit; shared leaves are read from one block made for these units."""
        shared = list(dict.fromkeys(u for u in units if self.is_shared(u)))
        if not shared:
            return [self.place[u] for u in units]
        block = self._block(tuple(shared))
        rows = self.block_rows[block]
        return [(block, rows[u]) if self.is_shared(u) else self.place[u] for u in units]

    def rows(self, units: Sequence[Value | None], parents: Parents, fill: float | None = None) -> Rows:
        """The operand holding `units` in order, as parts read from the nodes that hold them; a unit None is
        padding, a row holding `fill`."""
        real = [i for i, u in enumerate(units) if u is not None]
        places = self.locate([u for u in units if u is not None])
        by_node: dict[Node, tuple[list[int], list[int]]] = {}
        for i, (node, row) in zip(real, places):
            destination, rows = by_node.setdefault(node, ([], []))
            destination.append(i)
            rows.append(row)
        padded = len(real) < len(units)
        parts = []
        for node, (destination, rows) in by_node.items():
            numbers = np.array(rows, dtype=np.intp)
            selection = _selection(numbers, node.size)
            repeated = isinstance(selection, np.ndarray) and len(np.unique(numbers)) < len(numbers)
            parts.append(
                Part(
                    parents.position(node),
                    selection,
                    None if len(by_node) == 1 and not padded else np.array(destination, dtype=np.intp),
                    Repeats(numbers) if repeated else None,
                )
            )
        return Rows(len(units), parts, fill if padded else None)

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


def _selection(rows: np.ndarray, size: int) -> Selection:
    """How to read `rows` of an array of `size` rows: all in order (None), a run (a slice, a view), or a copy."""
    if len(rows) == size and np.array_equal(rows, np.arange(size)):
        return None
    if len(rows) and np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))):
        return slice(int(rows[0]), int(rows[0]) + len(rows))
    return rows
