"""Sums of products as linear nodes: the rewrite of fn's scalar graph that comes before grouping.

A Python `sum` of products (a dot product as microgpt.py writes it, `sum(w * x for w, x in zip(row, h))`) records a
chain of `+` nodes over `*` nodes; each link deepens every node after it by one, and engine/batch/grouping.py
groups alike nodes at the same depth only. `collapse_sums` rewrites each such chain into the one `linear` node of
the table that computes the same sum (in another order), so that dot products written either way group alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

from engine.core.modes import changed
from engine.core.ops import add, linear, mul
from engine.core.value import Value


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
