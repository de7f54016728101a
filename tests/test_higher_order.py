"""Higher-order derivatives through `engine.grad(..., create_graph=True)`.

Oracles: the second and third derivatives of every operation of the table, written
out below in closed form (independently of engine/core/ops.py), and PyTorch (float64,
torch.autograd.grad with create_graph=True) at the same points.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import engine
from engine import Value, grad

EXAMPLES = settings(max_examples=25, deadline=None)
# PyTorch's derivative of x ** y with respect to x sets the entries where the exponent is 0 to 0, a
# constant, so its d2(x ** y)/dx dy is 0 instead of x^(y-1) (1 + y ln x) at y == 0, and its
# d3(x ** y)/dx dx dy is 0 at y == 1 (torch 2.x). Comparisons with torch skip those exponents;
# test_pow_partials_at_integer_exponents_match_closed_forms covers them against the closed forms.
TORCH_WRONG_POW_EXPONENTS = (0.0, 1.0)


def close(expected: float) -> Any:
    return pytest.approx(expected, rel=1e-9, abs=1e-11)


def partial(f: Callable[..., Value], point: list[float], wrt: tuple[int, ...]) -> float:
    """d^k f / dx_wrt[0] ... dx_wrt[-1] at `point`: engine.grad k times, create_graph=True but the last."""
    xs = [Value(p) for p in point]
    out = f(*xs)
    for i in wrt[:-1]:
        (out,) = grad(out, [xs[i]], create_graph=True)
    (last,) = grad(out, [xs[wrt[-1]]])
    assert type(last) is float
    return last


def torch_partial(torch: Any, f: Callable[..., Any], point: list[float], wrt: tuple[int, ...]) -> float:
    """The same derivative from PyTorch (the module, from the `torch` fixture)."""
    xs = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in point]
    out = f(*xs)
    for i in wrt:
        if not out.requires_grad:  # the previous derivative was a constant
            return 0.0
        (out,) = torch.autograd.grad(out, xs[i], create_graph=True, allow_unused=True)
        if out is None:
            return 0.0
    return float(out.item())


# ---------------------------------------------------------------- one-input operations


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


@dataclass
class Unary:
    f: Callable[[Any], Any]  # applied to a Value (and, unless `torch_f` is given, to a torch tensor)
    derivatives: tuple[Callable[[float], float], ...]  # f', f'', f''' in closed form
    points: st.SearchStrategy[float]
    torch_f: Callable[[Any], Any] | None = None


anywhere = st.floats(-3, 3)
positive = st.floats(0.1, 5)
off_zero = st.floats(-3, 3).filter(lambda x: abs(x) > 0.05)  # away from the kink of abs and relu
# The closed forms of x**c below divide by x for the small integer powers, so keep away from 0.
off_zero_for_powers = st.floats(-3, 3).filter(lambda x: abs(x) > 0.2)


def tanh_derivatives() -> tuple[Callable[[float], float], ...]:
    # t = tanh x: t' = 1 - t^2, t'' = -2 t (1 - t^2), t''' = (6 t^2 - 2)(1 - t^2)
    t = math.tanh
    return (
        lambda x: 1 - t(x) ** 2,
        lambda x: -2 * t(x) * (1 - t(x) ** 2),
        lambda x: (6 * t(x) ** 2 - 2) * (1 - t(x) ** 2),
    )


def sigmoid_derivatives() -> tuple[Callable[[float], float], ...]:
    # s = sigmoid x: s' = s (1 - s), s'' = s (1 - s)(1 - 2 s), s''' = s (1 - s)(1 - 6 s + 6 s^2)
    s = sigmoid
    return (
        lambda x: s(x) * (1 - s(x)),
        lambda x: s(x) * (1 - s(x)) * (1 - 2 * s(x)),
        lambda x: s(x) * (1 - s(x)) * (1 - 6 * s(x) + 6 * s(x) ** 2),
    )


def power_case(c: float, points: st.SearchStrategy[float]) -> Unary:
    # (x^c)' = c x^(c-1), '' = c (c-1) x^(c-2), ''' = c (c-1)(c-2) x^(c-3)
    return Unary(
        lambda x: x**c,
        (
            lambda x: c * x ** (c - 1),
            lambda x: c * (c - 1) * x ** (c - 2),
            lambda x: c * (c - 1) * (c - 2) * x ** (c - 3),
        ),
        points,
    )


def exponential_case(a: float) -> Unary:
    # (a^x)^(k) = ln(a)^k a^x
    def derivative(k: int) -> Callable[[float], float]:
        return lambda x: math.log(a) ** k * a**x

    return Unary(lambda x: a**x, (derivative(1), derivative(2), derivative(3)), anywhere)


def softplus_torch(x: Any) -> Any:
    import torch  # only called on tensors, in tests that have the `torch` fixture

    return torch.nn.functional.softplus(x)


UNARY = {
    "neg": Unary(lambda x: -x, (lambda x: -1.0, lambda x: 0.0, lambda x: 0.0), anywhere),
    "exp": Unary(lambda x: x.exp(), (math.exp, math.exp, math.exp), anywhere),
    "log": Unary(lambda x: x.log(), (lambda x: 1 / x, lambda x: -1 / x**2, lambda x: 2 / x**3), positive),
    "sqrt": Unary(
        lambda x: x.sqrt(),
        (lambda x: 0.5 * x**-0.5, lambda x: -0.25 * x**-1.5, lambda x: 0.375 * x**-2.5),
        positive,
    ),
    "abs": Unary(lambda x: abs(x), (lambda x: math.copysign(1.0, x), lambda x: 0.0, lambda x: 0.0), off_zero),
    "sin": Unary(lambda x: x.sin(), (math.cos, lambda x: -math.sin(x), lambda x: -math.cos(x)), anywhere),
    "cos": Unary(lambda x: x.cos(), (lambda x: -math.sin(x), lambda x: -math.cos(x), math.sin), anywhere),
    "tanh": Unary(lambda x: x.tanh(), tanh_derivatives(), anywhere),
    "sigmoid": Unary(lambda x: x.sigmoid(), sigmoid_derivatives(), st.floats(-6, 6)),
    "relu": Unary(lambda x: x.relu(), (lambda x: float(x > 0), lambda x: 0.0, lambda x: 0.0), off_zero),
    "softplus": Unary(
        lambda x: x.softplus(),
        (sigmoid, *sigmoid_derivatives()[:2]),  # softplus' = sigmoid
        st.floats(-6, 6),
        softplus_torch,
    ),
    "**0": power_case(0, off_zero_for_powers),
    "**1": power_case(1, off_zero_for_powers),
    "**2": power_case(2, off_zero_for_powers),
    "**3": power_case(3, off_zero_for_powers),
    "**-1": power_case(-1, off_zero_for_powers),
    "**0.5": power_case(0.5, positive),
    "**-2.5": power_case(-2.5, positive),
    "2**x": exponential_case(2.0),
    "0.5**x": exponential_case(0.5),
}


@pytest.mark.parametrize("name", UNARY)
@EXAMPLES
@given(data=st.data())
def test_unary_derivatives_up_to_third_match_closed_forms(name: str, data: st.DataObject) -> None:
    case = UNARY[name]
    x = data.draw(case.points, label="x")
    for order, derivative in enumerate(case.derivatives, start=1):
        assert partial(case.f, [x], (0,) * order) == close(derivative(x)), f"order {order}"


@pytest.mark.parametrize("name", UNARY)
@EXAMPLES
@given(data=st.data())
def test_unary_derivatives_up_to_third_match_torch(name: str, data: st.DataObject, torch: Any) -> None:
    case = UNARY[name]
    x = data.draw(case.points, label="x")
    for order in (1, 2, 3):
        expected = torch_partial(torch, case.torch_f or case.f, [x], (0,) * order)
        assert partial(case.f, [x], (0,) * order) == close(expected), f"order {order}"


# ---------------------------------------------------------------- two-input operations
# Each oracle maps the sorted tuple of variable indices to the partial derivative; absent means 0.


def add_partials(x: float, y: float) -> dict[tuple[int, ...], float]:
    return {(0,): 1.0, (1,): 1.0}


def sub_partials(x: float, y: float) -> dict[tuple[int, ...], float]:
    return {(0,): 1.0, (1,): -1.0}


def mul_partials(x: float, y: float) -> dict[tuple[int, ...], float]:
    return {(0,): y, (1,): x, (0, 1): 1.0}


def div_partials(x: float, y: float) -> dict[tuple[int, ...], float]:
    # x / y
    return {
        (0,): 1 / y,
        (1,): -x / y**2,
        (0, 1): -1 / y**2,
        (1, 1): 2 * x / y**3,
        (0, 1, 1): 2 / y**3,
        (1, 1, 1): -6 * x / y**4,
    }


def pow_partials(x: float, y: float) -> dict[tuple[int, ...], float]:
    # x ** y for x > 0, with L = ln x
    L = math.log(x)
    return {
        (0,): y * x ** (y - 1),
        (1,): x**y * L,
        (0, 0): y * (y - 1) * x ** (y - 2),
        (0, 1): x ** (y - 1) * (1 + y * L),
        (1, 1): x**y * L**2,
        (0, 0, 0): y * (y - 1) * (y - 2) * x ** (y - 3),
        (0, 0, 1): x ** (y - 2) * ((2 * y - 1) + y * (y - 1) * L),
        (0, 1, 1): x ** (y - 1) * L * (2 + y * L),
        (1, 1, 1): x**y * L**3,
    }


nonzero = st.floats(-4, 4).filter(lambda y: abs(y) > 0.3)
BINARY: dict[str, tuple[Callable[[Any, Any], Any], Callable[..., dict[tuple[int, ...], float]], Any]] = {
    "+": (lambda x, y: x + y, add_partials, st.tuples(anywhere, anywhere)),
    "-": (lambda x, y: x - y, sub_partials, st.tuples(anywhere, anywhere)),
    "*": (lambda x, y: x * y, mul_partials, st.tuples(anywhere, anywhere)),
    "/": (lambda x, y: x / y, div_partials, st.tuples(anywhere, nonzero)),
    "**": (lambda x, y: x**y, pow_partials, st.tuples(st.floats(0.2, 4), st.floats(-2.5, 2.5))),
}
# Every ordering of up to three differentiations: d2/dxdy and d2/dydx are computed separately.
ORDERINGS = [wrt for order in (1, 2, 3) for wrt in itertools.product((0, 1), repeat=order)]


@pytest.mark.parametrize("name", BINARY)
@EXAMPLES
@given(data=st.data())
def test_binary_partials_up_to_third_match_closed_forms_in_every_order(name: str, data: st.DataObject) -> None:
    f, oracle, points = BINARY[name]
    x, y = data.draw(points, label="x, y")
    expected = oracle(x, y)
    for wrt in ORDERINGS:
        assert partial(f, [x, y], wrt) == close(expected.get(tuple(sorted(wrt)), 0.0)), wrt


@pytest.mark.parametrize("name", BINARY)
@EXAMPLES
@given(data=st.data())
def test_binary_partials_up_to_third_match_torch(name: str, data: st.DataObject, torch: Any) -> None:
    f, _, points = BINARY[name]
    x, y = data.draw(points, label="x, y")
    assume(name != "**" or y not in TORCH_WRONG_POW_EXPONENTS)
    for wrt in ORDERINGS:
        assert partial(f, [x, y], wrt) == close(torch_partial(torch, f, [x, y], wrt)), wrt


@pytest.mark.parametrize("x, y", [(1.0, 0.0), (2.0, 0.0), (1.0, 1.0), (2.0, 1.0), (0.5, 2.0), (3.0, -1.0)])
def test_pow_partials_at_integer_exponents_match_closed_forms(x: float, y: float) -> None:
    expected = pow_partials(x, y)
    for wrt in ORDERINGS:
        assert partial(lambda x, y: x**y, [x, y], wrt) == close(expected.get(tuple(sorted(wrt)), 0.0)), wrt


def linear_partials(*point: float) -> dict[tuple[int, ...], float]:
    # b + w1 x1 + w2 x2, variables ordered (w1, w2, x1, x2, b)
    w1, w2, x1, x2, b = point
    return {(0,): x1, (1,): x2, (2,): w1, (3,): w2, (4,): 1.0, (0, 2): 1.0, (1, 3): 1.0}


@settings(max_examples=10, deadline=None)
@given(point=st.lists(anywhere, min_size=5, max_size=5))
def test_fused_linear_partials_up_to_third_match_closed_forms_and_torch(point: list[float], torch: Any) -> None:
    expected = linear_partials(*point)
    orderings = [wrt for order in (1, 2) for wrt in itertools.product(range(5), repeat=order)]
    orderings += [(0, 2, 0), (2, 0, 2), (1, 3, 4), (0, 1, 2)]

    def torch_linear(w1: Any, w2: Any, x1: Any, x2: Any, b: Any) -> Any:
        return b + w1 * x1 + w2 * x2

    for wrt in orderings:
        got = partial(engine.linear, point, wrt)
        assert got == close(expected.get(tuple(sorted(wrt)), 0.0)), wrt
        assert got == close(torch_partial(torch, torch_linear, point, wrt)), wrt


# ---------------------------------------------------------------- composite functions and the API


@EXAMPLES
@given(x=anywhere, y=anywhere)
def test_mixed_partial_of_x_y_exp_x_in_both_orders(x: float, y: float) -> None:
    def f(x: Value, y: Value) -> Value:
        return x * y * x.exp()

    # d/dy (x y e^x) = x e^x, and d/dx of that = e^x (1 + x); no y left.
    expected = math.exp(x) * (1 + x)
    assert partial(f, [x, y], (0, 1)) == close(expected)
    assert partial(f, [x, y], (1, 0)) == close(expected)
    assert partial(f, [x, y], (1, 1)) == 0.0
    assert partial(f, [x, y], (0, 1, 0)) == close(math.exp(x) * (2 + x))


def composite(x: Any, y: Any, z: Any) -> Any:
    """Uses most operations at once, written so it runs on Values and on torch tensors."""
    return (x * y).sin() + x**y / (1 + z * z) + (x - z).tanh() * y.exp() + (z * y).sigmoid() / x.sqrt()


# The composite's exponent y avoids TORCH_WRONG_POW_EXPONENTS.
composite_points = st.tuples(
    st.floats(0.3, 2), st.floats(-1.5, 1.5).filter(lambda y: y not in TORCH_WRONG_POW_EXPONENTS), st.floats(-2, 2)
)


@EXAMPLES
@given(point=composite_points)
def test_hessian_of_a_composite_is_symmetric_and_matches_torch(point: tuple[float, float, float], torch: Any) -> None:
    from engine.derivatives.hessian import hessian

    h = hessian(composite, list(point))
    expected = torch.autograd.functional.hessian(
        lambda t: composite(t[0], t[1], t[2]), torch.tensor(point, dtype=torch.float64)
    ).tolist()
    for i, j in itertools.product(range(3), repeat=2):
        assert type(h[i][j]) is float
        assert h[i][j] == close(h[j][i]), (i, j)
        assert h[i][j] == close(expected[i][j]), (i, j)


@EXAMPLES
@given(point=composite_points)
def test_third_mixed_partials_of_a_composite_match_torch(point: tuple[float, float, float], torch: Any) -> None:
    for wrt in [(0, 1, 2), (2, 1, 0), (1, 1, 2), (0, 0, 0)]:
        assert partial(composite, list(point), wrt) == close(torch_partial(torch, composite, list(point), wrt)), wrt


def test_create_graph_false_returns_floats_and_true_returns_differentiable_values() -> None:
    x, y = Value(1.5), Value(-0.5)
    out = x * x * y
    floats = grad(out, [x, y])
    values = grad(out, [x, y], create_graph=True)
    assert [type(g) for g in floats] == [float, float]
    assert all(isinstance(g, Value) for g in values)
    # d/dx = 2 x y, d/dy = x^2; differentiating d/dx again gives 2 y and 2 x.
    assert floats == [close(2 * 1.5 * -0.5), close(1.5**2)]
    assert [g.data for g in values] == floats
    assert grad(values[0], [x, y]) == [close(2 * -0.5), close(2 * 1.5)]


def test_grad_leaves_every_grad_untouched() -> None:
    x, y = Value(0.7, label="x"), Value(-1.1, label="y")
    out = (x * y).tanh() + x.exp() / y
    nodes = engine.topological_order(out)
    for i, node in enumerate(nodes):
        node.grad = 100.0 + i  # sentinels
    first = grad(out, [x, y], create_graph=True)
    grad(out, [x, y])
    grad(first[0], [x, y], create_graph=True)
    grad(first[1], [x, y])
    assert [node.grad for node in nodes] == [100.0 + i for i in range(len(nodes))]
    for g in first:  # the new graph's nodes start at 0
        assert g.grad == 0.0


def test_an_input_the_output_does_not_depend_on_gets_zero() -> None:
    x, unused = Value(2.0), Value(3.0)
    out = x * x
    assert grad(out, [unused]) == [0.0]
    assert type(grad(out, [unused])[0]) is float
    (zero,) = grad(out, [unused], create_graph=True)
    assert isinstance(zero, Value) and zero.data == 0.0
    assert grad(zero, [x, unused]) == [0.0, 0.0]
    # and d2/dx dunused = 0 through the other route
    (dx,) = grad(out, [x], create_graph=True)
    assert grad(dx, [unused]) == [0.0]


def test_output_with_respect_to_itself_and_an_interior_node() -> None:
    x = Value(2.0)
    h = x * 3.0
    out = h * h  # d out / d h = 2 h = 12
    assert grad(out, [out, h, x]) == [1.0, close(12.0), close(36.0)]


def test_grad_takes_any_iterable_of_inputs() -> None:
    x, y = Value(2.0), Value(5.0)
    assert grad(x * y, (v for v in (x, y))) == [5.0, 2.0]


@pytest.mark.parametrize(
    "output, inputs",
    [
        (Value(1.0), [1.0]),
        (Value(1.0), [Value(1.0), "x"]),
        (1.0, [Value(1.0)]),
        (Value(1.0), Value(1.0)),
    ],
)
def test_non_value_arguments_raise_type_error(output: Any, inputs: Any) -> None:
    with pytest.raises(TypeError, match="grad\\(\\) expects"):
        grad(output, inputs)


def test_higher_order_rules_raise_the_engines_errors_with_context() -> None:
    # d/dx sqrt(x) = 1 / (2 sqrt x) is infinite at 0; the rule's division by zero names the operation.
    x = Value(0.0, label="x")
    with pytest.raises(ZeroDivisionError, match="derivative of sqrt"):
        grad(x.sqrt(), [x], create_graph=True)


def test_pow_exponent_gradient_at_zero_base_is_zero_with_create_graph() -> None:
    # d/dy 0**y = 0 for y > 0, as PyTorch; the rule's `_log_of_base` must not test `x == 0`, which
    # compares identity for a Value.
    x, y = Value(0.0), Value(2.0)
    assert grad(x**y, [y]) == [0.0]
    (dy,) = grad(x**y, [y], create_graph=True)
    assert dy.data == 0.0
