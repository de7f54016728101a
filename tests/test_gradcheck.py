"""gradcheck, gradgradcheck and hessian.

Oracles: closed-form derivatives (of the correct functions and of deliberately
wrong rules, so the reported analytic numbers are known), PyTorch's Hessian.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import Value, defop
from engine.derivatives.gradcheck import GradcheckError, gradcheck, gradgradcheck
from engine.derivatives.hessian import hessian

# Functions of one or more Values built from every operation of the table, with points away from
# kinks (abs, relu at 0) and domain edges (log, sqrt at 0; division by 0; negative bases).
anywhere = st.floats(-2, 2)
positive = st.floats(0.2, 3)
off_zero = st.floats(-2, 2).filter(lambda x: abs(x) > 0.1)
OPERATIONS: dict[str, tuple[Callable[..., Value], Any]] = {
    "+": (lambda x, y: x + y, st.tuples(anywhere, anywhere)),
    "-": (lambda x, y: x - y, st.tuples(anywhere, anywhere)),
    "*": (lambda x, y: x * y, st.tuples(anywhere, anywhere)),
    "/": (lambda x, y: x / y, st.tuples(anywhere, off_zero)),
    "neg": (lambda x: -x, st.tuples(anywhere)),
    "** (Value exponent)": (lambda x, y: x**y, st.tuples(positive, anywhere)),
    "** (constant exponent)": (lambda x: x**3 + x**0.5 + x**-1.5, st.tuples(positive)),
    "** (constant base)": (lambda x: 3.0**x, st.tuples(anywhere)),
    "exp": (lambda x: x.exp(), st.tuples(anywhere)),
    "log": (lambda x: x.log(), st.tuples(positive)),
    "sqrt": (lambda x: x.sqrt(), st.tuples(positive)),
    "abs": (lambda x: abs(x) * x, st.tuples(off_zero)),
    "sin": (lambda x: x.sin(), st.tuples(anywhere)),
    "cos": (lambda x: x.cos(), st.tuples(anywhere)),
    "tanh": (lambda x: x.tanh(), st.tuples(anywhere)),
    "sigmoid": (lambda x: x.sigmoid(), st.tuples(anywhere)),
    "relu": (lambda x: x.relu() * x, st.tuples(off_zero)),
    "softplus": (lambda x: x.softplus(), st.tuples(anywhere)),
    "linear": (lambda w1, w2, x1, x2, b: engine.linear(w1, w2, x1, x2, b).tanh(), st.tuples(*[anywhere] * 5)),
}


@pytest.mark.parametrize("name", OPERATIONS)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_every_operation_passes_gradcheck_and_gradgradcheck(name: str, data: st.DataObject) -> None:
    fn, points = OPERATIONS[name]
    point = list(data.draw(points, label="inputs"))
    assert gradcheck(fn, point) is True
    assert gradgradcheck(fn, point) is True


# A wrong first derivative: "sine" whose rule says d sin(x)/dx = sin(x).
bad_sin = defop("bad_sin", math.sin, lambda g, out, x: (g * engine.sin(x),))
# A wrong partial in a two-input operation: d(x y)/dx reported as x instead of y.
bad_mul = defop("bad_mul", lambda x, y: x * y, lambda g, out, x, y: (g * x, g * x))
# Right on floats, but float() makes the rule a constant in the Value world: d2/dx2 x^3 comes out 0.
# Reads `.data`: right on floats, but a constant in the Value world (so its own derivative is lost).
float_cube = defop(
    "float_cube", lambda x: x**3, lambda g, out, x: (g * 3 * (x.data if isinstance(x, Value) else x) ** 2,)
)


def test_gradcheck_catches_a_wrong_rule_and_reports_both_gradients() -> None:
    x = 0.5
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x: bad_sin(x), [x])
    (analytic,), (numeric,) = caught.value.analytic[0], caught.value.numeric[0]
    assert analytic == pytest.approx(math.sin(x), rel=1e-12)  # what the wrong rule says
    assert numeric == pytest.approx(math.cos(x), rel=1e-6)  # the true derivative
    message = str(caught.value)
    assert "gradcheck" in message and "d/dinputs[0]" in message and "<- differs" in message
    assert f"{math.sin(x):.12g}"[:10] in message and f"{math.cos(x):.8g}"[:8] in message
    assert isinstance(caught.value, AssertionError)


def test_gradcheck_flags_only_the_wrong_partial_and_lists_every_input() -> None:
    x, y = 0.5, 2.0
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda x, y: bad_mul(x, y), [x, y])
    assert caught.value.analytic == [[pytest.approx(x), pytest.approx(x)]]
    assert caught.value.numeric == [[pytest.approx(y), pytest.approx(x)]]
    rows = [line for line in str(caught.value).splitlines() if "d/dinputs[" in line]
    assert len(rows) == 2
    assert rows[0].endswith("<- differs") and not rows[1].endswith("<- differs")


def test_gradcheck_catches_a_rule_that_is_slightly_off() -> None:
    off_by_a_percent = defop("off_sin", math.sin, lambda g, out, x: (g * 1.01 * engine.cos(x),))
    with pytest.raises(GradcheckError):
        gradcheck(lambda x: off_by_a_percent(x), [0.3])
    assert gradcheck(lambda x: off_by_a_percent(x), [0.3], rtol=0.02) is True


def test_gradgradcheck_catches_a_rule_that_is_right_on_floats_but_not_differentiable() -> None:
    x, y = 1.5, 2.0
    fn = lambda x, y: float_cube(x) * y  # noqa: E731
    assert gradcheck(fn, [x, y]) is True  # the first derivatives are right
    with pytest.raises(GradcheckError) as caught:
        gradgradcheck(fn, [x, y])
    # True Hessian of x^3 y: [[6 x y, 3 x^2], [3 x^2, 0]]; the constant rule loses d2/dx2 only.
    assert caught.value.numeric == [
        [pytest.approx(6 * x * y, rel=1e-6), pytest.approx(3 * x**2, rel=1e-6)],
        [pytest.approx(3 * x**2, rel=1e-6), pytest.approx(0, abs=1e-6)],
    ]
    assert caught.value.analytic == [[0.0, pytest.approx(3 * x**2)], [pytest.approx(3 * x**2), 0.0]]
    rows = [line for line in str(caught.value).splitlines() if line.strip().startswith("d2/")]
    assert [row.endswith("<- differs") for row in rows] == [True, False, False, False]
    assert "gradgradcheck" in str(caught.value) and "d2/dinputs[0]dinputs[0]" in rows[0]


def test_a_correct_rule_written_with_table_operations_passes_both_checks() -> None:
    cube = defop("cube", lambda x: x**3, lambda g, out, x: (g * 3 * x * x,))
    assert gradcheck(lambda x: cube(x), [1.5]) and gradgradcheck(lambda x: cube(x), [1.5])


def test_checks_do_not_depend_on_the_callers_values() -> None:
    # inputs are numbers; the checks make fresh Values, so nothing of the caller's changes.
    inputs = [0.3, -0.7]
    assert gradcheck(lambda x, y: x * y.exp(), inputs) and inputs == [0.3, -0.7]


CHECKS = [gradcheck, gradgradcheck]


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize(
    "fn, inputs, kwargs, error, match",
    [
        (42, [1.0], {}, TypeError, "fn to be a function of Values"),
        (lambda x: 1.0, [1.0], {}, TypeError, "fn must return a Value, got float"),
        (lambda x: x * 1e200 * 1e200, [1.0], {}, ValueError, "finite value"),
        (lambda x: x, 1.0, {}, TypeError, "inputs as a list of numbers"),
        (lambda x: x, "12", {}, TypeError, "inputs as a list of numbers"),
        (lambda x: x, [Value(1.0)], {}, TypeError, "makes its own Values"),
        (lambda x: x, ["a"], {}, TypeError, r"inputs\[0\]"),
        (lambda x: x, [], {}, ValueError, "at least one input"),
        (lambda x: x, [math.inf], {}, ValueError, "finite inputs"),
        (lambda x: x, [1.0], {"eps": 0}, ValueError, "eps > 0"),
        (lambda x: x, [1.0], {"eps": -1e-6}, ValueError, "eps > 0"),
        (lambda x: x, [1.0], {"eps": math.nan}, ValueError, "eps > 0"),
        (lambda x: x, [1.0], {"eps": "small"}, TypeError, "eps"),
        (lambda x: x, [1.0], {"atol": -1.0}, ValueError, "atol >= 0"),
        (lambda x: x, [1.0], {"rtol": math.inf}, ValueError, "rtol >= 0"),
    ],
)
def test_bad_arguments_raise_clear_errors(
    check: Callable[..., bool], fn: Any, inputs: Any, kwargs: dict[str, Any], error: type, match: str
) -> None:
    with pytest.raises(error, match=match) as caught:
        check(fn, inputs, **kwargs)
    assert check.__name__ in str(caught.value)


def test_hessian_rejects_bad_arguments_like_the_checks() -> None:
    with pytest.raises(TypeError, match="hessian\\(\\): fn must return a Value"):
        hessian(lambda x: 2.0, [1.0])  # type: ignore[arg-type, return-value]
    with pytest.raises(ValueError, match="hessian\\(\\) needs at least one input"):
        hessian(lambda x: x, [])


@settings(max_examples=30, deadline=None)
@given(x=st.floats(-2, 2), y=st.floats(-2, 2))
def test_hessian_of_rosenbrock_matches_its_closed_form(x: float, y: float) -> None:
    def rosenbrock(x: Value, y: Value) -> Value:
        return (1 - x) ** 2 + 100 * (y - x**2) ** 2

    # f_xx = 2 - 400 (y - x^2) + 800 x^2, f_xy = -400 x, f_yy = 200
    expected = [[2 - 400 * (y - x**2) + 800 * x**2, -400 * x], [-400 * x, 200.0]]
    h = hessian(rosenbrock, [x, y])
    assert [[type(entry) for entry in row] for row in h] == [[float, float], [float, float]]
    assert h == [[pytest.approx(e, rel=1e-12, abs=1e-9) for e in row] for row in expected]


def test_hessian_matches_torch_for_a_function_of_four_inputs(torch: Any) -> None:

    def f(a: Any, b: Any, c: Any, d: Any) -> Any:
        return (a * b).tanh() * c.exp() + (d / (1 + a * a)).sin() + (b * c * d).sigmoid()

    point = [0.3, -1.2, 0.8, 1.7]
    expected = torch.autograd.functional.hessian(lambda t: f(*t), torch.tensor(point, dtype=torch.float64)).tolist()
    assert hessian(f, point) == [[pytest.approx(e, rel=1e-10, abs=1e-12) for e in row] for row in expected]


def test_hessian_of_a_function_that_ignores_an_input_has_a_zero_row_and_column() -> None:
    assert hessian(lambda x, y: x**3, [2.0, 5.0]) == [[pytest.approx(12.0), 0.0], [0.0, 0.0]]
