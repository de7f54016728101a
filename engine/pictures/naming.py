"""What every picture calls a node, in what order it shows the nodes, and how it writes a number.

Diagrams, transcripts and the explorer agree on all three.

Order: the order in which one computes by hand (`computing_order`): the computed Values in the
topological order that `backward()` walks backwards, each leaf (an input, a parameter, a constant)
placed just before the first Value that reads it. For u1 = linear(w1, x, b1), h1 = sigmoid(u1):
w1, x, b1, u1, h1, then w2, b2, u2, ...

Names come from a Value's position in that order: `v0`, `v1`, ... for Values and `op<i>` for the
operation that made `v<i>`. A transcript calls a Value by its label when no other Value of the graph
has the same one, else by its node name. Numbers have 4 significant digits.

Forward mode's pictures follow one leaf, `wrt` (an input or a parameter): `check_wrt` says when a
Value cannot be that leaf, in the graph's names.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from engine.core.backprop import topological_order
from engine.core.value import Value


def computing_order(root: Value) -> list[Value]:
    """Every Value `root` depends on, in computing order: each leaf just before its first reader, else topological.

    The computed (interior) Values keep `topological_order`'s order, so this is a topological order too;
    only the leaves move, from wherever the depth-first walk met them (the target y of a loss first) to
    where they are first used, in the order their reader takes its inputs.
    """
    order: list[Value] = []
    placed: set[Value] = set()
    for value in topological_order(root):
        if not value.parents:
            continue
        for parent in value.parents:
            if not parent.parents and parent not in placed:
                placed.add(parent)
                order.append(parent)
        order.append(value)
    return order or [root]  # a leaf alone is its own graph


def value_id(i: int) -> str:
    """The node name of the Value at position i of the computing order: v0, v1, ..."""
    return f"v{i}"


def op_id(i: int) -> str:
    """The node name of the operation that made the Value at position i: op0, op1, ..."""
    return f"op{i}"


def node_names(order: Sequence[Value]) -> dict[Value, str]:
    """What the transcript and the explorer call each Value: its label if no other Value shares it, else v<i>."""
    used = Counter(v.label for v in order)
    return {v: v.label if v.label and used[v.label] == 1 else value_id(i) for i, v in enumerate(order)}


def format_number(x: float) -> str:
    """4 significant digits, as every picture shows a number; nan, inf and -inf spelled out."""
    return "0" if x == 0 else f"{x:.4g}"


def check_wrt(order: Sequence[Value], wrt: Any, caller: str) -> None:
    """A clear error unless `wrt` is a leaf of the graph `order`: forward mode's direction starts at the leaves."""
    if not isinstance(wrt, Value):
        raise TypeError(
            f"{caller}: wrt must be a Value, a leaf of the graph (an input or a parameter), got {type(wrt).__name__}"
        )
    if wrt not in set(order):
        raise ValueError(f"{caller}: wrt is not in the graph: {wrt.describe()}")
    if wrt.op is not None:
        raise ValueError(
            f"{caller}: wrt must be a leaf of the graph (an input or a parameter), where forward mode's direction "
            f"starts; {node_names(order)[wrt]} is made by {wrt.op.name}"
        )
