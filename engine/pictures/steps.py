"""Backpropagation one step at a time: `backward_steps` (the steps as data) and `explain` (as a transcript).

>>> from engine import Value, explain
>>> w, x, b = Value(0.5, label="w"), Value(2.0, label="x"), Value(-0.5, label="b")
>>> L = (w * x + b).tanh()
>>> L.label = "L"
>>> print(explain(L))
dL/dL = 1
dL/dv4 += dL/dL · ∂L/∂v4 = 1 · 0.7864 = 0.7864
dL/dv2 += dL/dv4 · ∂v4/∂v2 = 0.7864 · 1 = 0.7864
dL/db += dL/dv4 · ∂v4/∂b = 0.7864 · 1 = 0.7864
dL/dw += dL/dv2 · ∂v2/∂w = 0.7864 · 2 = 1.573
dL/dx += dL/dv2 · ∂v2/∂x = 0.7864 · 0.5 = 0.3932

Unlabelled Values are called by their node names in draw_dot's picture (v2 is w * x).

The steps come from `engine.core.backprop.backward_pass`, the one general
chain-rule walk (the one `grad()` and `backward()` under `detect_anomaly()`
take), so they are the same arithmetic, in the same order, as `backward()`'s:
one step per interior node, children before parents. A step records the
walk's gradient of the node, and for each parent what the walk added and the
parent's gradient after the step. The local derivative d(node)/d(parent) is
the node's own rule evaluated with g = 1: no derivative is restated here.

The gradients are those of this pass alone, as `backward()` leaves them after
`zero_grad()` (leaves that already hold a gradient would add to it); no
`.grad` is read or changed.

Names: a Value is called by its label, or by its node name in `draw_dot`'s
picture (v0, v1, ... by position in the computing order, engine/pictures/naming.py) when it has none
or shares it.
Numbers have 4 significant digits, as in the diagrams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.core.backprop import backward_pass, data_of, topological_order
from engine.core.value import Value
from engine.pictures.naming import computing_order, format_number, node_names
from engine.pictures.size import DEFAULT_MAX_NODES, check_size

__all__ = ["Contribution", "Step", "backward_steps", "explain", "final_gradients"]


@dataclass(frozen=True)
class Contribution:
    """What one step hands to one parent: dL/d(parent) += gradient · local."""

    parent: Value
    local: float  # d(node)/d(parent): the node's rule with g = 1
    contribution: float  # dL/d(node) · d(node)/d(parent), as the walk computed it
    total: float  # dL/d(parent) after the step


@dataclass(frozen=True)
class Step:
    """One application of the chain rule: `node` hands its gradient dL/d(node) on to each of its parents."""

    node: Value
    grad: float  # dL/d(node), complete when the step runs
    contributions: tuple[Contribution, ...]  # one per parent, in input order (x * x has two)


def backward_steps(root: Value) -> list[Step]:
    """The chain-rule steps of `root.backward()`, in its order (reversed topological order), as data.

    One Step per interior node that `root` depends on; a leaf takes no step.
    Changes no `.grad`; `final_gradients(root, steps)` gives what `backward()`
    leaves in each `.grad` after `zero_grad()`.
    """
    if not isinstance(root, Value):
        raise TypeError(f"backward_steps expects a Value (e.g. a loss), got {type(root).__name__}")
    steps: list[Step] = []

    def record(node: Any, g: Any, contributions: Sequence[Any], totals: list[Any]) -> None:
        local = node.op.rule(1.0, node.data, *[p.data for p in node.parents])
        parts = zip(node.parents, local, contributions, totals)
        steps.append(Step(node, g, tuple(Contribution(p, float(d), c, t) for p, d, c, t in parts)))

    backward_pass(topological_order(root), 1.0, data_of, record)
    return steps


def final_gradients(root: Value, steps: Sequence[Step]) -> dict[Value, float]:
    """dL/d(v) for `root` and every Value its steps reach: each Value's gradient after its last step."""
    grads = {root: 1.0}
    for step in steps:
        for part in step.contributions:
            grads[part.parent] = part.total
    return grads


def gather_notes(order: Sequence[Value], notes: Mapping[Value, str] | None, caller: str) -> dict[Value, str]:
    """Each Value's text to show: its own `note`, unless `notes` gives it another ("" hides it); only non-empty ones.

    A clear error for anything that is not a mapping from Values of the graph to str, or a `note` that is not a str.
    """
    given = {} if notes is None else notes
    if not isinstance(given, Mapping):
        raise TypeError(f"{caller}: notes must be a mapping from Value to text, got {type(given).__name__}")
    in_graph = set(order)
    for value, note in given.items():
        if not isinstance(value, Value):
            raise TypeError(f"{caller}: notes must be keyed by Values, got a key of type {type(value).__name__}")
        if value not in in_graph:
            raise ValueError(f"{caller}: a note is keyed by a Value that is not in the graph: {value!r}")
        if not isinstance(note, str):
            raise TypeError(f"{caller}: the note for {value.describe()} must be a str, got {type(note).__name__}")
    shown = {}
    for value in order:
        note = given[value] if value in given else value.note  # Value.note is always a str
        if note:
            shown[value] = note
    return shown


def transcript_lines(step: Step, name: Mapping[Value, str], root_name: str) -> list[str]:
    """One line per contribution: `dL/dw3 += dL/dŷ · ∂ŷ/∂w3 = -3.241 · 0.3904 = -1.265`."""
    node = name[step.node]
    lines = []
    for part in step.contributions:
        parent = name[part.parent]
        line = (
            f"d{root_name}/d{parent} += d{root_name}/d{node} · ∂{node}/∂{parent}"
            f" = {format_number(step.grad)} · {format_number(part.local)} = {format_number(part.contribution)}"
        )
        if part.total != part.contribution:  # the parent had a gradient already (x * x: from the first half)
            line += f"  (after this step: {format_number(part.total)})"
        lines.append(line)
    return lines


def start_line(root_name: str) -> str:
    """The transcript's first line: dL/dL = 1, where backward() starts."""
    return f"d{root_name}/d{root_name} = 1"


def explain(root: Value, notes: Mapping[Value, str] | None = None, *, max_nodes: int = DEFAULT_MAX_NODES) -> str:
    """The backward pass of `root` as a transcript: `dL/dL = 1`, then one line per contribution, in order.

    A Value's `note` is printed, indented, under every line that reaches it
    (nn.SeedNetwork notes the seed's formula for each parameter's gradient).
    `notes` maps Values to text shown instead of their own note ("" hides
    it). A graph of more than `max_nodes` Values is refused, as by `draw_dot`.
    """
    if not isinstance(root, Value):
        raise TypeError(f"explain expects a Value (e.g. a loss), got {type(root).__name__}")
    order = computing_order(root)
    check_size(order, max_nodes, "explain")
    shown = gather_notes(order, notes, "explain")
    name = node_names(order)
    lines = [start_line(name[root])]
    for step in backward_steps(root):
        for part, line in zip(step.contributions, transcript_lines(step, name, name[root])):
            lines.append(line)
            if part.parent in shown:
                lines.extend("    " + text for text in shown[part.parent].splitlines())
    return "\n".join(lines)
