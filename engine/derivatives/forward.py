"""Forward mode: `jvp` and `jacobian`, from the same rules as the backward pass.

Every rule `rule(g, out, *inputs)` of the table is linear in g: it hands input i the gradient
g * d(out)/d(input_i). So at g = 1 it gives the partial derivatives, and a tangent (a derivative along
one direction of the inputs) can travel forward with the values: as a node is computed, its tangent is
`sum_i d(out)/d(input_i) * tangent_i` (`tangent_of`). No derivative is written twice, and no graph is
kept: a node's tangent is complete when the node is made (`Dual`, engine/core/value.py).

Reverse mode (`backward`, `grad`) gets the derivatives of one output with respect to every input in one
sweep; forward mode gets the derivatives of every output along one direction in one sweep. So the
Jacobian of f: R^n -> R^m takes m backward sweeps or n forward ones (`jacobian(fn, inputs, mode=...)`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from engine.core.backprop import check_count
from engine.core.grad import grad
from engine.core.modes import changed
from engine.core.numbers import Number, as_float
from engine.core.op import Op, raise_in_context
from engine.core.value import Dual, Value
from engine.derivatives.hessian import make_inputs

MODES = ("forward", "reverse")


def tangent_of(op: Op, out: Any, inputs: Sequence[Any], tangents: Sequence[float]) -> float:
    """The tangent of `op`'s result: sum_i d(out)/d(input_i) * tangents[i], the partials from op's rule at g = 1.

    An input whose tangent is exactly 0 contributes nothing, even where its partial is not finite (a
    symbolic zero: `x ** y` at x < 0 has a nan partial in y, which a direction along x never reads).
    """
    if not any(tangents):
        return 0.0
    try:
        partials = op.rule(1.0, out, *inputs)
    except (ArithmeticError, ValueError) as error:
        raise_in_context(error, f"derivative of {op.name}", inputs)
    check_count(op.name, partials, len(inputs))
    return math.fsum(float(p) * t for p, t in zip(partials, tangents) if t != 0.0)


def _dual(op: Op, data: float, operands: tuple[Value, ...]) -> Value:
    """The node `op` makes in forward mode (`Mode.make_forward_node`): its value with its tangent, and no graph."""
    tangents = [x.tangent if isinstance(x, Dual) else 0.0 for x in operands]
    return Dual(data, tangent_of(op, data, [x.data for x in operands], tangents))


@contextmanager
def forward_mode() -> Iterator[None]:
    """Within the block every operation on Values makes a `Dual`: its value and tangent, and no graph."""
    with changed(make_forward_node=_dual):
        yield


def forward_tangents(
    order: Sequence[Value],
    seeds: dict[Value, float],
    on_step: Callable[[Value, list[float], float], None] | None = None,
) -> dict[Value, float]:
    """The tangent of every node of a recorded graph (`order`, parents first) along the direction `seeds`.

    `seeds` gives the leaves' tangents (the others' are 0): what `jvp` computes as it goes, replayed on a
    graph that was kept, for the pictures. `on_step(node, incoming, tangent)` runs at each node with an
    operation, with its parents' tangents and its own.
    """
    tangents: dict[Value, float] = {}
    for node in order:
        if node.op is None:
            tangents[node] = seeds.get(node, 0.0)
            continue
        incoming = [tangents[p] for p in node.parents]
        tangents[node] = tangent_of(node.op, node.data, [p.data for p in node.parents], incoming)
        if on_step is not None:
            on_step(node, incoming, tangents[node])
    return tangents


def jvp(fn: Callable[..., Any], inputs: Sequence[Number], tangents: Sequence[Number]) -> tuple[Any, Any]:
    """fn's value at `inputs` and its derivative along `tangents`, by forward mode: `(value, tangent)`, floats.

    `fn` is a function of Values, called as `fn(*xs)`; the tangent is `sum_i d fn/d x_i * tangents[i]`. When fn
    returns a list of Values, both are lists. It keeps no graph, so it works inside `no_grad()` and its memory
    does not grow with the length of the computation; `backward()` and `grad()` inside fn are refused.
    """
    xs = make_inputs(inputs, "jvp")
    if isinstance(tangents, (str, bytes)) or not isinstance(tangents, Sequence):
        raise TypeError(f"jvp() expects tangents as a list of numbers, one per input, got {tangents!r:.60}")
    if len(tangents) != len(xs):
        raise ValueError(f"jvp() got {len(xs)} inputs and {len(tangents)} tangents; give one tangent per input")
    directions = [as_float(t, f"jvp() tangents[{i}]") for i, t in enumerate(tangents)]
    for i, t in enumerate(directions):
        if not math.isfinite(t):
            raise ValueError(f"jvp() needs finite tangents, got tangents[{i}] = {t!r}")
    values, results, single = _forward(fn, xs, directions, "jvp")
    for tangent in results:
        if not math.isfinite(tangent):
            point = ", ".join(repr(x.data) for x in xs)
            raise ValueError(
                f"jvp(): at fn({point}) the derivative along {directions} is {tangent!r}; it must be finite"
            )
    return (values[0], results[0]) if single else (values, results)


def jacobian(fn: Callable[..., Any], inputs: Sequence[Number], mode: str = "reverse") -> list[list[float]]:
    """The matrix of d(output_j)/d(input_i) at `inputs`: a row per output of fn, a column per input.

    `mode="reverse"` computes it by one backward pass per output, `mode="forward"` by one forward sweep per
    input (a jvp along each input's axis); both give the same matrix. A partial that is not finite stays in its
    own entry: a direction not taken contributes nothing (a symbolic zero), in either mode.
    """
    if mode not in MODES:
        raise ValueError(f"jacobian(): mode must be 'forward' or 'reverse', got {mode!r}")
    xs = make_inputs(inputs, "jacobian")
    if mode == "forward":
        columns = [_forward(fn, xs, [float(i == j) for j in range(len(xs))], "jacobian")[1] for i in range(len(xs))]
        return [list(row) for row in zip(*columns)]
    with changed(recording=True):  # the backward passes need the graph, also inside no_grad()
        outputs, _ = _outputs(fn(*xs), "jacobian")
    _check_finite(outputs, xs, "jacobian")
    return [grad(out, xs) for out in outputs]


def _forward(
    fn: Callable[..., Any], xs: list[Value], directions: list[float], caller: str
) -> tuple[list[float], list[float], bool]:
    """fn's values and tangents along `directions` (each output's), and whether fn returned one Value."""
    if not callable(fn):
        raise TypeError(f"{caller}() expects fn to be a function of Values, got {type(fn).__name__}: {fn!r:.60}")
    duals = [Dual(x.data, t, x.label) for x, t in zip(xs, directions)]
    with forward_mode():
        outputs, single = _outputs(fn(*duals), caller)
    _check_finite(outputs, xs, caller)
    tangents = [out.tangent if isinstance(out, Dual) else 0.0 for out in outputs]
    return [out.data for out in outputs], tangents, single


def _outputs(out: Any, caller: str) -> tuple[list[Value], bool]:
    """fn's result as a list of Values, and whether it was one Value; TypeError for anything else."""
    single = isinstance(out, Value)
    outputs = [out] if single else list(out) if isinstance(out, (list, tuple)) else None
    if not outputs or not all(isinstance(o, Value) for o in outputs):
        raise TypeError(f"{caller}(): fn must return a Value or a list of Values, got {out!r:.60}")
    return outputs, single


def _check_finite(outputs: list[Value], xs: list[Value], caller: str) -> None:
    for out in outputs:
        if not math.isfinite(out.data):
            shown = ", ".join(repr(x.data) for x in xs)
            raise ValueError(f"{caller}(): fn({shown}) = {out.data!r}; derivatives need a finite value")
