"""The engine's first derivatives against independent oracles, and its rules for graphs and errors."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from conftest import central_differences
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
from engine import Value
from engine.core.ops import take_op

# --- oracles -------------------------------------------------------------------------------------


def engine_gradient(f: Callable[..., Value], args: list[float]) -> tuple[float, list[float]]:
    xs = [Value(a) for a in args]
    out = f(*xs)
    out.backward()
    return out.data, [x.grad for x in xs]


# Each operation with the float function that defines it (math module: independent of engine/core/ops.py)
# and a domain where it is smooth.
away_from_zero = st.floats(0.05, 4.0) | st.floats(-4.0, -0.05)
real = st.floats(-4.0, 4.0)
positive = st.floats(0.05, 5.0)

UNARY = {
    "neg": (lambda x: -x, lambda x: -x, real),
    "exp": (Value.exp, math.exp, real),
    "log": (Value.log, math.log, positive),
    "sqrt": (Value.sqrt, math.sqrt, positive),
    "abs": (abs, abs, away_from_zero),
    "sin": (Value.sin, math.sin, real),
    "cos": (Value.cos, math.cos, real),
    "tanh": (Value.tanh, math.tanh, real),
    "sigmoid": (Value.sigmoid, lambda x: 1 / (1 + math.exp(-x)), real),
    "relu": (Value.relu, lambda x: max(x, 0.0), away_from_zero),
    "softplus": (Value.softplus, lambda x: math.log(1 + math.exp(x)), real),
    "square": (lambda x: x**2, lambda x: x * x, real),
    "cube": (lambda x: x**3, lambda x: x * x * x, real),
    "inverse power": (lambda x: x**-1.5, lambda x: x**-1.5, positive),
    "root": (lambda x: x**0.5, math.sqrt, positive),
    "2 ** x": (lambda x: 2**x, lambda x: 2.0**x, real),
    "radd": (lambda x: 3 + x, lambda x: 3 + x, real),
    "rsub": (lambda x: 3 - x, lambda x: 3 - x, real),
    "rmul": (lambda x: 3 * x, lambda x: 3 * x, real),
    "rdiv": (lambda x: 3 / x, lambda x: 3 / x, away_from_zero),
}

BINARY = {
    "+": (lambda x, y: x + y, real, real),
    "-": (lambda x, y: x - y, real, real),
    "*": (lambda x, y: x * y, real, real),
    "/": (lambda x, y: x / y, real, away_from_zero),
    "** (Value exponent)": (lambda x, y: x**y, positive, real),
}


@pytest.mark.parametrize("name", UNARY)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_unary_operation_matches_finite_differences(name: str, data: st.DataObject) -> None:
    on_values, on_floats, domain = UNARY[name]
    x = data.draw(domain)
    value, (grad,) = engine_gradient(on_values, [x])
    assert value == pytest.approx(on_floats(x), rel=1e-12, abs=1e-12)
    assert grad == pytest.approx(central_differences(on_floats, [x])[0], rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("name", BINARY)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_binary_operation_matches_finite_differences(name: str, data: st.DataObject) -> None:
    f, x_domain, y_domain = BINARY[name]
    args = [data.draw(x_domain), data.draw(y_domain)]
    value, grads = engine_gradient(f, args)
    assert value == pytest.approx(f(*args), rel=1e-12)
    for i, numeric in enumerate(central_differences(f, args)):
        assert grads[i] == pytest.approx(numeric, rel=1e-5, abs=1e-6)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 6), data=st.data())
def test_fused_linear_matches_finite_differences_and_elementary_form(n: int, data: st.DataObject) -> None:
    args = [data.draw(real) for _ in range(2 * n + 1)]

    def on_floats(*a: float) -> float:
        return a[-1] + sum(a[i] * a[n + i] for i in range(n))

    value, grads = engine_gradient(lambda *a: engine.linear(*a), args)
    assert value == pytest.approx(on_floats(*args), rel=1e-12, abs=1e-12)
    for i, numeric in enumerate(central_differences(on_floats, args)):
        assert grads[i] == pytest.approx(numeric, rel=1e-6, abs=1e-7)


@pytest.mark.parametrize(
    ("f", "x", "expected"),
    [
        (lambda x: x.tanh(), 0.7, 1 - math.tanh(0.7) ** 2),
        (lambda x: x.sigmoid(), -1.3, math.exp(-1.3) / (1 + math.exp(-1.3)) ** 2),
        (lambda x: x.exp() * x, 0.5, math.exp(0.5) * 1.5),
        (lambda x: (x * x).log(), 2.0, 1.0),
        (lambda x: x.relu(), -2.0, 0.0),
        (lambda x: x.relu(), 2.0, 1.0),
        (lambda x: x**2 / (1 + x), 1.0, (2 * 1 * 2 - 1) / 4),
    ],
)
def test_closed_form_derivatives(f: Callable[[Value], Value], x: float, expected: float) -> None:
    v = Value(x)
    f(v).backward()
    assert v.grad == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_ops_are_generic_functions_on_floats_values_and_arrays() -> None:
    x = np.array([-1.5, 0.2, 3.0])
    for op, f in [(engine.tanh, math.tanh), (engine.sigmoid, lambda t: 1 / (1 + math.exp(-t))), (engine.exp, math.exp)]:
        assert op(0.2) == pytest.approx(f(0.2), rel=1e-15)
        assert isinstance(op(Value(0.2)), Value)
        np.testing.assert_allclose(op(x), [f(t) for t in x], rtol=1e-15)


TABLE = {op.name: op for op in vars(engine).values() if isinstance(op, engine.Op)} | {
    "**3": engine.power(3),
    "take": take_op,  # engine.take is the function over a sequence; the row is its Op
}
# Three points per operation; `where`'s condition (its first input) is zero at one of them, so both branches are taken;
# `**` at a zero base (with a zero exponent too) and a negative base with an integer exponent: the special
# cases its rule writes with `where`, which must hold on arrays as on floats, without a numpy warning.
POINTS = {
    "where": [[0.0, 1.7, 2.9], [1.0, 1.4, 2.6], [-2.0, 1.1, 2.3]],
    "**": [[0.0, 2.0], [0.0, 0.0], [-2.0, 3.0]],
    "**3": [[0.0], [-2.0], [1.5]],
    "take": [[0.0, 1.7, 2.9], [1.0, 1.4, 2.6], [1.0, 1.1, -2.3]],  # an index, then the two entries it chooses from
}


@pytest.mark.parametrize("name", sorted(TABLE))
@pytest.mark.filterwarnings("error::RuntimeWarning")  # numpy's warnings (log(0), 0 ** -1, ...) fail the test
def test_each_rule_gives_the_same_gradient_on_floats_values_and_arrays(name: str) -> None:
    op = TABLE[name]
    arity = op.arity if op.arity is not None else 3  # linear: w, x, b; logsumexp: three inputs
    points = POINTS.get(name, [[0.3 + 0.4 * i, 1.7 - 0.3 * i, 2.9][:arity] for i in range(3)])
    on_floats = [op.rule(1.0, op(*p), *p) for p in points]
    on_values = [[g.data for g in op.rule(Value(1.0), op(*map(Value, p)), *map(Value, p))] for p in points]
    columns = [np.array(c) for c in zip(*points)]
    on_arrays = np.array([np.broadcast_to(g, (3,)) for g in op.rule(np.ones(3), op(*columns), *columns)], dtype=float).T
    np.testing.assert_allclose(on_values, on_floats, rtol=1e-15)
    np.testing.assert_allclose(on_arrays, on_floats, rtol=1e-12)  # numpy and math may differ by an ulp


# --- graph rules ---------------------------------------------------------------------------------


def test_shared_subexpressions_accumulate() -> None:
    x = Value(3.0)
    y = x * x + x  # x used three times
    y.backward()
    assert x.grad == 2 * 3.0 + 1


def test_backward_twice_accumulates_on_leaves_without_double_counting_interior_nodes() -> None:
    x = Value(2.0)
    inner = x * x
    z = inner * 3
    z.backward()
    assert x.grad == 12.0  # dz/dx = 6x
    assert inner.grad == 3.0
    z.backward()
    assert x.grad == 24.0  # micrograd gives 36 here: it re-adds inner's stale grad
    assert inner.grad == 3.0  # interior: latest pass only


def test_backward_from_leaf_adds_one() -> None:
    x = Value(5.0)
    x.backward()
    x.backward()
    assert x.grad == 2.0


def test_interior_nodes_show_latest_pass_when_root_changes() -> None:
    x = Value(1.5)
    h = x.tanh()
    (h * 2).backward()
    assert h.grad == 2.0
    (h * 5).backward()
    assert h.grad == 5.0
    assert x.grad == pytest.approx(7 * (1 - math.tanh(1.5) ** 2))


def test_deep_chain_backpropagates_without_recursion() -> None:
    x = Value(0.5)
    y = x
    for _ in range(100_000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0
    assert len(engine.topological_order(y)) == 1 + 4 * 100_000


def test_topological_order_puts_parents_first_and_lists_each_node_once() -> None:
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = engine.topological_order(e)
    assert len(order) == len(set(order)) == 5
    position = {node: i for i, node in enumerate(order)}
    for node in order:
        for parent in node.parents:
            assert position[parent] < position[node]


def test_no_grad_records_nothing() -> None:
    x = Value(2.0)
    with engine.no_grad():
        y = x * 3 + 1
        z = y.tanh()
    assert y.data == 7.0
    assert y.parents == () and z.parents == () and y.op is None
    w = x * 3
    assert w.parents[0] is x  # recording is back on afterwards


def test_no_grad_restores_recording_after_an_error() -> None:
    with pytest.raises(ZeroDivisionError), engine.no_grad():
        Value(1.0) / 0
    assert (Value(1.0) * 2).parents != ()


def test_in_place_operators_build_new_nodes() -> None:
    x = Value(2.0)
    y = x
    y += 3
    y *= x
    assert y is not x and x.data == 2.0
    y.backward()
    assert x.grad == 2 * 2.0 + 3


def test_comparisons_use_data_and_equality_stays_identity() -> None:
    a, b = Value(1.0), Value(1.0)
    assert a < 2 and b <= a and a >= b and 3 > a and not a > b
    assert a != b and a == a
    assert len({a, b}) == 2


def test_micrograd_aliases() -> None:
    a, b = Value(2.0), Value(3.0)
    c = a * b
    assert c._prev == {a, b} and c._op == "*" and a._op == ""


# --- the public mechanism for new operations -------------------------------------------------------


def test_defop_defines_a_differentiable_operation_that_works_everywhere() -> None:
    cube = engine.defop("cube", lambda x: x**3, lambda g, out, x: (3 * g * x * x,))
    x = Value(2.0)
    y = cube(x) * 2
    y.backward()
    assert y.data == 16.0 and x.grad == 24.0
    assert cube(2.0) == 8.0
    np.testing.assert_allclose(cube(np.array([1.0, 2.0])), [1.0, 8.0])
    (second,) = engine.grad(engine.grad(cube(x), [x], create_graph=True)[0], [x])
    assert second == 6 * 2.0


# --- constructor and bad input -----------------------------------------------------------------


@pytest.mark.parametrize("data", [3, 3.5, np.float64(3.5), np.float32(0.25), np.int64(7), True])
def test_value_converts_real_numbers_to_float(data: object) -> None:
    v = Value(data)  # type: ignore[arg-type]
    assert type(v.data) is float and v.data == float(data)  # type: ignore[arg-type]
    assert v.grad == 0.0


@pytest.mark.parametrize("data", ["1.0", None, [1.0], (1.0,), 1 + 2j, np.array(1.0), np.array([1.0]), object()])
def test_value_rejects_non_real_data_naming_the_type(data: object) -> None:
    with pytest.raises(TypeError, match=type(data).__name__):
        Value(data)  # type: ignore[arg-type]


def test_operations_with_non_numbers_raise_type_error() -> None:
    x = Value(1.0)
    with pytest.raises(TypeError, match="str"):
        x + "a"  # type: ignore[operator]
    with pytest.raises(TypeError, match="list"):
        x * [1.0]  # type: ignore[operator]
    for exponent in ["2", [1], 1j, None]:
        with pytest.raises(TypeError, match=f"exponent of \\*\\*.*{type(exponent).__name__}"):
            x**exponent  # type: ignore[operator]


def test_value_does_not_turn_into_a_float_silently() -> None:
    with pytest.raises(TypeError):
        math.exp(Value(1.0))  # type: ignore[arg-type]  # would drop the graph


def test_fused_linear_needs_2n_plus_1_inputs() -> None:
    with pytest.raises(TypeError, match="2n \\+ 1 inputs"):
        engine.linear(Value(3.0), Value(5.0))


def test_errors_of_user_exception_classes_keep_their_type_and_gain_the_operation() -> None:
    class DomainError(ValueError):
        def __init__(self, what: str, x: float) -> None:
            super().__init__(f"{what} is undefined at {x}")

    def forward(x: float) -> float:
        raise DomainError("picky", x)

    picky = engine.defop("picky", forward, lambda g, out, x: (g,))
    with pytest.raises(DomainError, match="picky is undefined at 2.0") as info:
        picky(Value(2.0, label="a"))
    assert any("picky(a = 2.0)" in note for note in info.value.__notes__)


BAD_MATH = [
    (lambda x: x.log(), 0.0, ValueError, "log"),
    (lambda x: x.log(), -1.0, ValueError, "log"),
    (lambda x: x / 0, 1.0, ZeroDivisionError, "/"),
    (lambda x: 1 / x, 0.0, ZeroDivisionError, "/"),
    (lambda x: x**-1, 0.0, ZeroDivisionError, r"\*\*-1"),
    (lambda x: x ** Value(-2.0), 0.0, ZeroDivisionError, r"\*\*"),
    (lambda x: x**0.5, -4.0, ValueError, "non-integer"),
    (lambda x: x ** Value(1.5), -4.0, ValueError, "non-integer"),
    (lambda x: (-2.0) ** x, 0.5, ValueError, "non-integer"),
    (lambda x: x.sqrt(), -1.0, ValueError, "sqrt"),
    (lambda x: x.exp(), 1000.0, OverflowError, "exp"),
    (lambda x: x**2.0, 1e200, OverflowError, r"\*\*2"),
]


@pytest.mark.parametrize(("f", "x", "error", "op_name"), BAD_MATH)
def test_bad_math_raises_python_float_errors_naming_operation_and_operand(
    f: Callable[[Value], Value], x: float, error: type[Exception], op_name: str
) -> None:
    v = Value(x, label="operand")
    with pytest.raises(error, match=op_name) as info:
        f(v)
    assert "operand" in str(info.value)
    assert v.data == x and v.grad == 0.0 and v.parents == ()


def test_negative_base_with_integer_exponent_is_real() -> None:
    x = Value(-2.0)
    y = x**3 + x ** Value(2.0)
    y.backward()
    assert y.data == -4.0
    assert x.grad == 3 * 4.0 + 2 * -2.0


def test_sigmoid_is_stable_for_large_inputs() -> None:
    assert Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).sigmoid().data == 1.0
    assert Value(-40.0).sigmoid().data == pytest.approx(math.exp(-40.0), rel=1e-12)
    assert Value(800.0).softplus().data == 800.0
    x = Value(-750.0)
    x.sigmoid().backward()
    assert x.grad == 0.0


def test_failed_backward_leaves_every_grad_as_it_was() -> None:
    x, y = Value(0.0, label="x"), Value(2.0, label="y")
    z = x.sqrt() * y  # d sqrt / dx is infinite at 0
    x.grad, y.grad = 0.25, 0.5
    with pytest.raises(ZeroDivisionError, match="derivative of sqrt"):
        z.backward()
    assert (x.grad, y.grad, z.grad) == (0.25, 0.5, 0.0)


def test_pow_exponent_gradient_at_zero_and_negative_base() -> None:
    x, y = Value(0.0), Value(2.0)
    (x**y).backward()
    assert y.grad == 0.0  # limit of 0^y log 0 for y > 0
    x, y = Value(-2.0), Value(2.0)
    (x**y).backward()
    assert x.grad == -4.0 and math.isnan(y.grad)  # d/dy (-2)^y is not real, as in PyTorch


# --- conventions where a derivative does not exist: stated here, and PyTorch's -----------------------------


def test_relu_slope_at_exactly_zero_is_zero() -> None:
    """relu has no derivative at 0 (slopes 0 and 1 meet there); the convention is 0, PyTorch's: a unit at 0 is off."""
    for zero in (0.0, -0.0):
        x = Value(zero)
        x.relu().backward()
        assert x.grad == 0.0
        y = Value(zero)
        (slope,) = engine.grad(y.relu(), [y], create_graph=True)  # the same rule in the Value world
        assert slope.data == 0.0


def test_abs_slope_at_exactly_zero_is_zero() -> None:
    """|x| has no derivative at 0 (slopes -1 and 1 meet there); the convention is 0, sign(0), as in PyTorch."""
    for zero in (0.0, -0.0):
        x = Value(zero)
        abs(x).backward()
        assert x.grad == 0.0
        y = Value(zero)
        (slope,) = engine.grad(y.abs(), [y], create_graph=True)
        assert slope.data == 0.0
    for near, slope_there in ((1e-300, 1.0), (-1e-300, -1.0)):  # on either side the slope is the side's
        z = Value(near)
        abs(z).backward()
        assert z.grad == slope_there


def test_abs_slope_at_exactly_zero_is_torchs(torch: Any) -> None:
    x, xt = Value(0.0), torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    abs(x).backward()
    torch.abs(xt).backward()
    assert x.grad == xt.grad.item() == 0.0


def test_relu_slope_at_exactly_zero_is_torchs(torch: Any) -> None:
    x, xt = Value(0.0), torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    x.relu().backward()
    torch.relu(xt).backward()
    assert x.grad == xt.grad.item() == 0.0


# Exponents y for x ** y at x = 0 where both partials are finite; 0 < y < 1 is left out because
# d/dx = y 0^(y-1) is infinite there (backward() raises, as for sqrt at 0), y < 0 because 0 ** y
# itself raises ZeroDivisionError (test_zero_to_a_negative_power_raises_in_the_forward_pass).
ZERO_BASE_EXPONENTS = [0.0, 1.0, 1.5, 2.0, 3.0]


def pow_at_zero_base(y: float) -> tuple[float, float, float]:
    """x ** y, d/dx and d/dy at x = 0 by the conventions of the test below."""
    d_dx = 0.0 if y == 0 else y * 0.0 ** (y - 1)  # y x^(y-1): 1 at y = 1, 0 for y > 1
    return 0.0**y, d_dx, 0.0


@pytest.mark.parametrize("y", ZERO_BASE_EXPONENTS)
def test_pow_partials_at_zero_base_follow_the_stated_convention(y: float) -> None:
    """x ** y at x = 0, for a Value exponent, a constant exponent (x ** c) and a constant base (0 ** y).

    d/dx: y x^(y-1) where that has a value; at x = y = 0 it is 0 * 0^-1, which has none, and the
    convention is 0: x ** 0 is the constant 1 for every x, so its slope is 0.
    d/dy = x^y ln x: at x = 0 and y > 0 it is 0 (0^t = 0 for every t near y; and x^y ln x -> 0 as
    x -> 0); at y = 0, t -> 0^t jumps from 1 to 0 and has no derivative, and the convention is 0.
    PyTorch gives the same numbers (test_pow_partials_at_zero_base_are_torchs).
    """
    value, d_dx, d_dy = pow_at_zero_base(y)
    x, exponent = Value(0.0), Value(y)
    out = x**exponent
    out.backward()
    assert (out.data, x.grad, exponent.grad) == (value, d_dx, d_dy)
    x, exponent = Value(0.0), Value(y)
    assert [g.data for g in engine.grad(x**exponent, [x, exponent], create_graph=True)] == [d_dx, d_dy]
    x = Value(0.0)
    (x**y).backward()  # a constant exponent: its own operation, **y
    assert x.grad == d_dx
    exponent = Value(y)
    (0.0**exponent).backward()  # a constant base
    assert exponent.grad == d_dy


@pytest.mark.parametrize("y", ZERO_BASE_EXPONENTS)
def test_pow_partials_at_zero_base_are_torchs(y: float, torch: Any) -> None:
    x, exponent = Value(0.0), Value(y)
    out = x**exponent
    out.backward()
    xt, yt = (torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (0.0, y))
    out_t = xt**yt
    out_t.backward()
    assert (out.data, x.grad, exponent.grad) == (out_t.item(), xt.grad.item(), yt.grad.item())
    x, xt = Value(0.0), torch.tensor(0.0, dtype=torch.float64, requires_grad=True)
    (x**y).backward()
    (xt**y).backward()
    assert x.grad == xt.grad.item()
    exponent, yt = Value(y), torch.tensor(y, dtype=torch.float64, requires_grad=True)
    (0.0**exponent).backward()
    (0.0**yt).backward()
    assert exponent.grad == yt.grad.item()


@pytest.mark.parametrize("y", [-1.0, -2.0, -3.0])
def test_zero_to_a_negative_power_raises_in_the_forward_pass(y: float) -> None:
    """0 ** y for y < 0 is 1 / 0: ZeroDivisionError before any graph exists, so no gradient to define."""
    for power in (lambda: Value(0.0) ** Value(y), lambda: Value(0.0) ** y, lambda: 0.0 ** Value(y)):
        with pytest.raises(ZeroDivisionError, match="negative power"):
            power()


def test_repr_and_label() -> None:
    v = Value(1.5, label="w1")
    assert "1.5" in repr(v) and "w1" in repr(v)
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)  # type: ignore[arg-type]


def test_topological_order_visits_inputs_in_their_order() -> None:
    a, b, c = Value(1.0, label="a"), Value(2.0, label="b"), Value(3.0, label="c")
    assert [v.label for v in engine.topological_order(a - b)][:2] == ["a", "b"]
    assert [v.label for v in engine.topological_order(engine.linear(a, b, c))][:3] == ["a", "b", "c"]


def test_scope_and_note_are_set_apart_and_default_to_empty() -> None:
    """They share one slot of the node (engine/core/value.py): setting one must keep the other."""
    v = Value(1.0, label="v")
    assert (v.label, v.scope, v.note) == ("v", "", "")
    v.scope = "layer1.neuron2"
    v.note = "the seed writes dL/dw = ..."
    assert (v.scope, v.note) == ("layer1.neuron2", "the seed writes dL/dw = ...")
    v.scope = ""
    assert (v.scope, v.note) == ("", "the seed writes dL/dw = ...")
    v.note = ""
    assert (v.scope, v.note) == ("", "")
    w = Value(2.0)
    w.scope = "layer2.neuron1"
    assert (w.scope, w.note, w.label, v.scope) == ("layer2.neuron1", "", "", "")


def test_walks_in_several_threads_at_once_each_order_the_whole_graph() -> None:
    """Walks mark the nodes they reach (engine/core/backprop.py) and take turns: without the turns, threads
    walking one graph at once overwrite each other's marks and drop or repeat nodes."""
    import sys
    import threading

    import nn

    model = nn.MLP(2, [8, 8, 1], activation="tanh", seed=0, fused=False)
    loss = nn.mse_loss([model([0.3, -0.7]), model([1.1, 0.2])], [0.5, -0.5])
    expected = engine.topological_order(loss)
    expected_grads = engine.grad(loss, model.parameters())
    wrong: list[str] = []

    def walk() -> None:
        for _ in range(20):
            if engine.topological_order(loss) != expected:
                wrong.append("order")
            if engine.grad(loss, model.parameters()) != expected_grads:
                wrong.append("grad")

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=walk) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert wrong == []


def test_a_walk_started_inside_a_walk_of_the_same_thread_is_an_error() -> None:
    """Walks mark the nodes they expand (engine/core/backprop.py): a walk started inside another would overwrite its
    marks. Here a trace function starts one, for real, while the Python source's walk runs; the compiled walk runs
    no Python code a tracer, a debugger or a finalizer could enter it from."""
    import sys

    x = Value(1.0, label="x")
    y = (x * 2 + 1) * x
    inner: list[Exception | list[Value]] = []

    def tracer(frame: Any, event: str, arg: Any) -> Any:
        if frame.f_code.co_name == "topological_order" and event == "line" and "node" in frame.f_locals and not inner:
            try:
                inner.append(engine.topological_order(x * 3))
            except RuntimeError as error:
                inner.append(error)
        return tracer

    sys.settrace(tracer)
    try:
        outer = engine.topological_order(y)
    finally:
        sys.settrace(None)
    if engine.COMPILED:
        assert inner == []
    else:
        assert len(inner) == 1 and isinstance(inner[0], RuntimeError), inner
        assert "inside a walk of the same thread" in str(inner[0])
    assert [v.label or v.op.name for v in outer if v.label or v.op] == ["x", "*", "+", "*"]
    assert len(outer) == len(set(outer)) == 6
    assert len(engine.topological_order(x * 2)) == 3


def test_zero_grad_takes_the_parameters_as_any_module_lists_them() -> None:
    import nn

    class Pair(nn.Module):
        def __init__(self) -> None:
            self.a, self.b = Value(1.0), Value(2.0)

        def parameters(self) -> tuple[Value, ...]:  # type: ignore[override]
            return (self.a, self.b)

    pair = Pair()
    pair.a.grad, pair.b.grad = 3.0, 4.0
    pair.zero_grad()
    assert (pair.a.grad, pair.b.grad) == (0.0, 0.0)
