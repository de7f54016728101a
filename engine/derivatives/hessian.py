"""Derivatives of a function of several numbers, built on `engine.grad`: `hessian`.

`fn` is an ordinary Python function of Values, e.g. `lambda x, y: x * y.exp()`;
it is evaluated at Values made from the given numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from engine.core.grad import grad
from engine.core.numbers import Number, as_float
from engine.core.value import Value


def hessian(fn: Callable[..., Value], inputs: Sequence[Number]) -> list[list[float]]:
    """The matrix of second derivatives d²fn / dx_i dx_j at the point `inputs`.

    Row i is the gradient of d(fn)/dx_i, which `engine.grad(..., create_graph=True)`
    returns as a Value with a graph of its own.
    """
    xs = make_inputs(inputs, "hessian")
    first = grad(evaluate(fn, xs, "hessian"), xs, create_graph=True)
    return [grad(d_fn_d_x, xs) for d_fn_d_x in first]


def make_inputs(inputs: Sequence[Number], caller: str) -> list[Value]:
    """Fresh leaf Values `inputs[0]`, `inputs[1]`, ... from finite numbers, else a clear error."""
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Sequence):
        raise TypeError(f"{caller}() expects inputs as a list of numbers, e.g. [1.0, 2.0], got {inputs!r:.60}")
    if not inputs:
        raise ValueError(f"{caller}() needs at least one input number, got an empty list")
    xs = []
    for i, x in enumerate(inputs):
        if isinstance(x, Value):
            raise TypeError(f"{caller}() makes its own Values: pass numbers (e.g. x.data), got {x!r} as inputs[{i}]")
        number = as_float(x, f"{caller}() inputs[{i}]")
        if not math.isfinite(number):
            raise ValueError(f"{caller}() needs finite inputs, got inputs[{i}] = {number!r}")
        xs.append(Value(number, label=f"inputs[{i}]"))
    return xs


def evaluate(fn: Callable[..., Value], xs: Sequence[Value], caller: str) -> Value:
    """`fn(*xs)`, checked to be a finite Value."""
    if not callable(fn):
        raise TypeError(f"{caller}() expects fn to be a function of Values, got {type(fn).__name__}: {fn!r:.60}")
    out: Any = fn(*xs)
    if not isinstance(out, Value):
        raise TypeError(f"{caller}(): fn must return a Value, got {type(out).__name__}: {out!r:.60}")
    if not math.isfinite(out.data):
        shown = ", ".join(repr(x.data) for x in xs)
        raise ValueError(f"{caller}(): fn({shown}) = {out.data!r}; derivatives need a finite value")
    return out
