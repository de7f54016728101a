"""Check the engine's derivatives against central finite differences: `gradcheck`, `gradgradcheck`.

A derivative rule can be wrong in two ways. It can give the wrong number
(`gradcheck` compares first derivatives with finite differences of `fn`), or
give the right number on floats while not being differentiable as written, e.g.
a rule that reads `.data` or calls `float()` is a constant in the Value world
(`gradgradcheck` compares second derivatives with finite differences of the
engine's own gradient).

Both return True when every derivative agrees and raise `GradcheckError`, an
AssertionError listing every analytic and numeric derivative, when one does
not; `assert gradcheck(fn, [1.0, 2.0])` reads naturally in a test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from engine.core.grad import grad
from engine.core.modes import no_grad
from engine.core.numbers import Number, as_float
from engine.core.value import Value
from engine.derivatives.hessian import evaluate, hessian, make_inputs


class GradcheckError(AssertionError):
    """Analytic and numeric derivatives disagree; `analytic` and `numeric` hold both, entry by entry."""

    def __init__(self, message: str, analytic: list[list[float]], numeric: list[list[float]]) -> None:
        super().__init__(message)
        self.analytic = analytic
        self.numeric = numeric


def gradcheck(
    fn: Callable[..., Value],
    inputs: Sequence[Number],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Compare `backward()`'s gradient of `fn` at `inputs` with central differences.

    `fn` is called with one Value per number in `inputs` and must return a Value.
    Derivatives agree when |analytic - numeric| <= atol + rtol * |numeric|.
    """
    _check_tolerances(eps, atol, rtol, "gradcheck")
    xs = make_inputs(inputs, "gradcheck")
    evaluate(fn, xs, "gradcheck").backward()
    analytic = [[x.grad for x in xs]]
    numeric = _central_differences(lambda point: [_value_at(fn, point)], _data(xs), eps)
    return _compare("gradcheck", analytic, numeric, inputs, eps, atol, rtol)


def gradgradcheck(
    fn: Callable[..., Value],
    inputs: Sequence[Number],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
) -> bool:
    """Compare the Hessian of `fn` at `inputs` with central differences of the engine's gradient.

    The Hessian comes from `engine.grad` applied twice (`create_graph=True`
    first), so this checks that every rule is differentiable as written.
    """
    _check_tolerances(eps, atol, rtol, "gradgradcheck")
    xs = make_inputs(inputs, "gradgradcheck")
    evaluate(fn, xs, "gradgradcheck")  # fail early, with a clear message, on a bad fn
    analytic = hessian(fn, _data(xs))
    numeric = _central_differences(lambda point: _gradient_at(fn, point), _data(xs), eps)
    return _compare("gradgradcheck", analytic, numeric, inputs, eps, atol, rtol)


def _check_tolerances(eps: float, atol: float, rtol: float, caller: str) -> None:
    for name, number, smallest in (("eps", eps, "> 0"), ("atol", atol, ">= 0"), ("rtol", rtol, ">= 0")):
        x = as_float(number, f"{caller}() {name}")
        if not math.isfinite(x) or x < 0 or (x == 0 and name == "eps"):
            raise ValueError(f"{caller}() needs a finite {name} {smallest}, got {number!r}")


def _data(xs: Sequence[Value]) -> list[float]:
    return [x.data for x in xs]


def _value_at(fn: Callable[..., Value], point: list[float]) -> float:
    with no_grad():
        return evaluate(fn, make_inputs(point, "gradcheck"), "gradcheck").data


def _gradient_at(fn: Callable[..., Value], point: list[float]) -> list[float]:
    xs = make_inputs(point, "gradgradcheck")
    return grad(evaluate(fn, xs, "gradgradcheck"), xs)


def _central_differences(f: Callable[[list[float]], list[float]], point: list[float], eps: float) -> list[list[float]]:
    """J[i][j] = d f_i / d x_j at `point`, as (f(x + eps e_j) - f(x - eps e_j)) / (2 eps)."""
    columns = []
    for j in range(len(point)):
        after = f([x + eps if k == j else x for k, x in enumerate(point)])
        before = f([x - eps if k == j else x for k, x in enumerate(point)])
        columns.append([(a - b) / (2 * eps) for a, b in zip(after, before)])
    return [list(row) for row in zip(*columns)]


def _compare(
    caller: str,
    analytic: list[list[float]],
    numeric: list[list[float]],
    inputs: Sequence[Number],
    eps: float,
    atol: float,
    rtol: float,
) -> bool:
    """True if every entry agrees; otherwise GradcheckError with a table of all entries."""
    second = caller == "gradgradcheck"
    rows, failed = [], False
    for i, (analytic_row, numeric_row) in enumerate(zip(analytic, numeric)):
        for j, (a, n) in enumerate(zip(analytic_row, numeric_row)):
            agrees = abs(a - n) <= atol + rtol * abs(n)  # False for nan
            failed = failed or not agrees
            entry = f"d2/dinputs[{i}]dinputs[{j}]" if second else f"d/dinputs[{j}]"
            rows.append(f"  {entry:<28} {a:<24.16g} {n:<24.16g} {'' if agrees else '<- differs'}".rstrip())
    if not failed:
        return True
    header = f"  {'derivative':<28} {'analytic (engine)':<24} numeric (central differences)"
    message = (
        f"{caller}: the engine's {'second derivatives disagree' if second else 'gradient disagrees'} with central "
        f"finite differences at inputs = {list(inputs)!r} (eps={eps!r}, atol={atol!r}, rtol={rtol!r}):\n"
        + "\n".join([header, *rows])
    )
    raise GradcheckError(message, analytic, numeric)
