"""Backpropagation one step at a time: `backward_steps` (the steps as data) and `explain` (as a transcript);
forward mode's sweep too: `tangent_steps` and `explain(root, mode="forward", wrt=leaf)`.

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

Forward mode goes the other way: a tangent, the derivative along one leaf (tangent 1 on w, 0 on the
other leaves), travels forward with the values, and each Value's is the sum over its inputs of
∂(value)/∂(input) · d(input)/dw:

>>> print(explain(L, mode="forward", wrt=w))
dw/dw = 1
dx/dw = 0
dv2/dw = ∂v2/∂w · dw/dw + ∂v2/∂x · dx/dw = 2 · 1 + 0.5 · 0 = 2
db/dw = 0
dv4/dw = ∂v4/∂v2 · dv2/dw + ∂v4/∂b · db/dw = 1 · 2 + 1 · 0 = 2
dL/dw = ∂L/∂v4 · dv4/dw = 0.7864 · 2 = 1.573
forward mode: dL/dw = 1.573 in 1 sweep (with every Value's d/dw); dL/d(leaf) for all 3 leaves: 3 sweeps, one per leaf
reverse mode: dL/d(leaf) for all 3 leaves in 1 backward sweep (explain without mode="forward")

The tangents come from `engine.derivatives.forward.forward_tangents`, the sweep `engine.jvp`
makes as it computes (replayed here on the recorded graph), so they are jvp's numbers.

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
from engine.derivatives.forward import forward_tangents
from engine.pictures.naming import check_wrt, computing_order, format_number, node_names
from engine.pictures.size import DEFAULT_MAX_NODES, check_size

__all__ = [
    "Contribution",
    "Step",
    "TangentStep",
    "Term",
    "backward_steps",
    "explain",
    "final_gradients",
    "tangent_steps",
]

MODES = ("reverse", "forward")


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


@dataclass(frozen=True)
class Term:
    """One input's part in a Value's tangent: ∂(value)/∂(input) · d(input)/d(wrt)."""

    parent: Value
    local: float  # ∂(value)/∂(parent): the value's rule with g = 1, as for the backward pass
    tangent: float  # d(parent)/d(wrt), complete before the value is computed


@dataclass(frozen=True)
class TangentStep:
    """Forward mode at one Value: its tangent d(value)/d(wrt), the sum of its terms."""

    value: Value
    tangent: float  # d(value)/d(wrt), as forward mode (engine.jvp) computes it
    # One per input, in input order, when some input's tangent is not 0; none for a leaf, or where no input
    # depends on wrt (forward mode then skips the value: its tangent is 0 whatever the partials are).
    terms: tuple[Term, ...]


def tangent_steps(root: Value, wrt: Value) -> list[TangentStep]:
    """Forward mode along the leaf `wrt` through `root`'s graph, as data: one TangentStep per Value, in computing order.

    The direction is tangent 1 on `wrt` and 0 on every other leaf, so each tangent is d(value)/d(wrt), and
    the last one, `root`'s, is d(root)/d(wrt): what `backward()` leaves in `wrt.grad`, by one forward sweep.
    Changes no `.grad`.
    """
    if not isinstance(root, Value):
        raise TypeError(f"tangent_steps expects a Value (e.g. a loss), got {type(root).__name__}")
    order = computing_order(root)
    check_wrt(order, wrt, "tangent_steps")
    terms: dict[Value, tuple[Term, ...]] = {}

    def record(node: Value, incoming: list[float], tangent: float) -> None:
        if any(incoming):
            assert node.op is not None
            local = node.op.rule(1.0, node.data, *[p.data for p in node.parents])
            terms[node] = tuple(Term(p, float(d), t) for p, d, t in zip(node.parents, local, incoming))

    tangents = forward_tangents(order, {wrt: 1.0}, record)
    return [TangentStep(v, tangents[v], terms.get(v, ())) for v in order]


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


def tangent_line(step: TangentStep, name: Mapping[Value, str], wrt_name: str) -> str:
    """`du1/dw1 = ∂u1/∂w1 · dw1/dw1 + ∂u1/∂b1 · db1/dw1 = 0.5 · 1 + 1 · 0 = 0.5`; `dx/dw1 = 0` for a leaf."""
    value, w = name[step.value], wrt_name
    start = f"d{value}/d{w} = "
    if step.value.op is None:
        return start + format_number(step.tangent)
    if not step.terms:
        return start + f"{format_number(step.tangent)}  (no input of {value} depends on {w})"
    symbols = " + ".join(f"∂{value}/∂{name[t.parent]} · d{name[t.parent]}/d{w}" for t in step.terms)
    numbers = " + ".join(f"{format_number(t.local)} · {format_number(t.tangent)}" for t in step.terms)
    return start + f"{symbols} = {numbers} = {format_number(step.tangent)}"


def count_leaves(order: Sequence[Value]) -> tuple[int, str]:
    """How many leaves (inputs and parameters) the graph has, and `all 8 leaves` (or `the 1 leaf`) to say so."""
    n = sum(1 for v in order if v.op is None)
    return n, f"all {n} leaves" if n != 1 else "the 1 leaf"


def forward_sweeps_line(root_name: str, wrt_name: str, tangent: float, order: Sequence[Value]) -> str:
    """What forward mode's one sweep gave, and how many sweeps the derivatives with respect to every leaf take."""
    n, leaves = count_leaves(order)
    return (
        f"forward mode: d{root_name}/d{wrt_name} = {format_number(tangent)} in 1 sweep (with every Value's "
        f"d/d{wrt_name}); d{root_name}/d(leaf) for {leaves}: {n} sweep{'s' if n != 1 else ''}, one per leaf"
    )


def reverse_sweeps_line(root_name: str, order: Sequence[Value]) -> str:
    """What reverse mode's one sweep gives: the derivative of the root with respect to every leaf."""
    return f"reverse mode: d{root_name}/d(leaf) for {count_leaves(order)[1]} in 1 backward sweep"


def explain(
    root: Value,
    notes: Mapping[Value, str] | None = None,
    *,
    mode: str = "reverse",
    wrt: Value | None = None,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> str:
    """The backward pass of `root` as a transcript: `dL/dL = 1`, then one line per contribution, in order.

    A Value's `note` is printed, indented, under every line that reaches it
    (nn.SeedNetwork notes the seed's formula for each parameter's gradient).
    `notes` maps Values to text shown instead of their own note ("" hides
    it). A graph of more than `max_nodes` Values is refused, as by `draw_dot`.

    `mode="forward", wrt=w1` writes forward mode's sweep instead (as `engine.jacobian`'s `mode`): one line per
    Value in computing order, its derivative along the leaf w1 as the sum over its inputs of
    ∂(value)/∂(input) · d(input)/dw1, ending with d(root)/dw1 and how many sweeps each mode takes for every
    leaf's derivative. w1's note is printed under that last number.
    """
    if not isinstance(root, Value):
        raise TypeError(f"explain expects a Value (e.g. a loss), got {type(root).__name__}")
    if mode not in MODES:
        raise ValueError(f"explain: mode must be 'reverse' or 'forward', got {mode!r}")
    if mode == "forward" and wrt is None:
        raise ValueError("explain: mode='forward' needs wrt=, the leaf (input or parameter) to differentiate along")
    if mode == "reverse" and wrt is not None:
        raise ValueError("explain: wrt= is forward mode's direction; pass mode='forward' with it")
    order = computing_order(root)
    check_size(order, max_nodes, "explain")
    shown = gather_notes(order, notes, "explain")
    name = node_names(order)
    if wrt is not None:
        return "\n".join(forward_transcript(root, wrt, order, name, shown))
    lines = [start_line(name[root])]
    for step in backward_steps(root):
        for part, line in zip(step.contributions, transcript_lines(step, name, name[root])):
            lines.append(line)
            if part.parent in shown:
                lines.extend("    " + text for text in shown[part.parent].splitlines())
    return "\n".join(lines)


def forward_transcript(
    root: Value, wrt: Value, order: Sequence[Value], name: Mapping[Value, str], shown: Mapping[Value, str]
) -> list[str]:
    """explain's lines in forward mode: a tangent line per Value, then what each mode's sweeps give."""
    check_wrt(order, wrt, "explain")
    steps = tangent_steps(root, wrt)
    lines = [tangent_line(step, name, name[wrt]) for step in steps]
    lines.append(forward_sweeps_line(name[root], name[wrt], steps[-1].tangent, order))
    if wrt in shown:
        lines.extend("    " + text for text in shown[wrt].splitlines())
    lines.append(reverse_sweeps_line(name[root], order) + ' (explain without mode="forward")')
    return lines
