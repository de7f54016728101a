"""detect_anomaly(): the first nan or inf, forward or backward, raises FloatingPointError with context.

Oracles: IEEE float arithmetic worked by hand (1e200 * 1e200 overflows, 1e300 * 1e10 overflows,
inf - inf is nan), closed-form gradients and engine.gradcheck (central differences) for the checking backward loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

import engine
import nn
from engine import Value
from engine.core.anomaly import detect_anomaly, is_enabled


def test_forward_overflow_names_the_operation_its_operands_and_the_pass() -> None:
    a, b = Value(1e200, label="a"), Value(1e200, label="b")
    with pytest.raises(FloatingPointError) as caught, detect_anomaly():
        a * b
    message = str(caught.value)
    assert message.startswith("*(a = 1e+200, b = 1e+200)")
    assert "inf" in message and "forward pass" in message and "backward" not in message


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize(
    "operation, name",
    [
        (lambda x: x + 1, "+"),
        (lambda x: 2 * x, "*"),
        (lambda x: -x, "neg"),
        (lambda x: x**2, "**2"),
        (lambda x: engine.linear(Value(0.5, label="w"), x, Value(0.1, label="b")), "linear"),
    ],
)
def test_a_non_finite_input_is_caught_by_the_first_operation_that_uses_it(
    bad: float, operation: Callable[[Value], Value], name: str
) -> None:
    x = Value(bad, label="x")
    with pytest.raises(FloatingPointError, match="forward pass") as caught, detect_anomaly():
        operation(x)
    message = str(caught.value)
    assert message.startswith(f"{name}(") and f"x = {bad!r}" in message


def test_finite_results_of_infinite_inputs_are_not_anomalies() -> None:
    # exp(-inf) == 0.0 and relu(-inf) == 0.0 exactly: only results and gradients are checked.
    x = Value(-math.inf, label="x")
    with detect_anomaly():
        y = x.exp() + x.relu()
        y.backward()
    assert y.data == 0.0 and x.grad == 0.0


def test_forward_check_also_runs_without_recording_and_for_numbers_as_operands() -> None:
    with pytest.raises(FloatingPointError, match=r"^\*\(1e\+300, 1e\+300\): gave inf"), detect_anomaly():
        with engine.no_grad():
            Value(1e300) * 1e300


def test_operation_through_nn_is_checked() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises(FloatingPointError, match="forward pass"), detect_anomaly():
        model([1e308, 1e308])


def test_backward_overflow_names_the_rule_its_operands_and_the_pass() -> None:
    # y = (w x) * 1e10 = 1e10 is finite, but dy/dw = 1e10 * x = 1e310 overflows in the backward pass.
    w, x = Value(1e-300, label="w"), Value(1e300, label="x")
    y = (w * x) * 1e10
    with pytest.raises(FloatingPointError) as caught, detect_anomaly():
        y.backward()
    message = str(caught.value)
    assert message.startswith("derivative of *(w = 1e-300, x = 1e+300)")
    assert "gave gradient inf to operand 1 (w = 1e-300)" in message
    assert "backward pass" in message and "forward" not in message


def test_backward_overflow_while_adding_two_finite_contributions() -> None:
    # f = (x + x) * 1e308 = 2e8 with x = 1e-300; each of the two contributions to x.grad is 1e308,
    # finite, and their sum overflows (x is both operands: the second, whose addition overflows, is named).
    x = Value(1e-300, label="x")
    f = (x + x) * 1e308
    with pytest.raises(FloatingPointError) as caught, detect_anomaly():
        f.backward()
    message = str(caught.value)
    assert message.startswith("derivative of +(x = 1e-300, x = 1e-300)")
    assert "made the gradient of operand 2 (x = 1e-300) inf by adding 1e+308" in message
    assert "backward pass" in message


def test_a_failed_backward_leaves_every_grad_as_it_was() -> None:
    w, x = Value(1e-300, label="w"), Value(1e300, label="x")
    y = (w * x) * 1e10
    nodes = engine.topological_order(y)
    for i, node in enumerate(nodes):
        node.grad = float(i) + 0.5
    with pytest.raises(FloatingPointError), detect_anomaly():
        y.backward()
    assert [node.grad for node in nodes] == [float(i) + 0.5 for i in range(len(nodes))]


@pytest.mark.parametrize("create_graph", [False, True])
def test_grad_is_checked_in_the_backward_pass(create_graph: bool) -> None:
    w, x = Value(1e-300, label="w"), Value(1e300, label="x")
    y = (w * x) * 1e10
    with pytest.raises(FloatingPointError) as caught, detect_anomaly():
        engine.grad(y, [w, x], create_graph=create_graph)
    message = str(caught.value)
    assert message.startswith("derivative of *(w = 1e-300, x = 1e+300)")
    assert "backward pass" in message and "inf" in message and "forward" not in message


def test_grad_is_checked_when_two_finite_contributions_overflow() -> None:
    x = Value(1e-300, label="x")
    with pytest.raises(FloatingPointError, match="made the gradient of operand 2"), detect_anomaly():
        engine.grad((x + x) * 1e308, [x])


def test_nothing_is_checked_outside_the_context() -> None:
    assert not is_enabled()
    a, b = Value(1e200), Value(1e200)
    assert (a * b).data == math.inf
    w, x = Value(1e-300), Value(1e300)
    y = (w * x) * 1e10
    y.backward()  # no error: the plain backward does not look
    assert w.grad == math.inf
    assert engine.grad(y, [w]) == [math.inf]


def test_leaving_the_context_turns_the_checks_off_even_after_an_error() -> None:
    with pytest.raises(FloatingPointError), detect_anomaly():
        assert is_enabled()
        Value(1e200) * 1e200
    assert not is_enabled()
    assert (Value(1e200) * 1e200).data == math.inf
    with pytest.raises(KeyError), detect_anomaly():
        raise KeyError("unrelated")
    assert (Value(1e200) * 1e200).data == math.inf


def test_contexts_nest_and_the_outer_one_keeps_checking() -> None:
    with detect_anomaly():
        with detect_anomaly():
            pass
        assert is_enabled()
        with pytest.raises(FloatingPointError):
            Value(1e200) * 1e200
    assert not is_enabled()


def test_usable_as_a_decorator() -> None:
    @detect_anomaly()
    def overflow() -> Value:
        return Value(1e200) * 1e200

    with pytest.raises(FloatingPointError):
        overflow()
    assert not is_enabled()


def test_other_errors_keep_their_type_and_context_under_anomaly_mode() -> None:
    # sqrt's derivative at 0 divides by zero: the same error as without anomaly mode.
    x = Value(0.0, label="x")
    with pytest.raises(ZeroDivisionError, match=r"^derivative of sqrt\(x = 0.0\)"), detect_anomaly():
        x.sqrt().backward()
    assert x.grad == 0.0
    with pytest.raises(ValueError, match=r"^log\(x = -1.0\)"), detect_anomaly():
        Value(-1.0, label="x").log()


def test_the_checking_backward_gives_the_same_gradients_as_the_plain_one() -> None:
    def f(w1: Value, w2: Value, x1: Value, x2: Value, b: Value) -> Value:
        z = engine.linear(w1, w2, x1, x2, b)  # many-operand node
        return z.tanh() * w1.sigmoid() / (1 + x2.exp()) + x1.relu() - (b * b + 1).sqrt() + (w2 - x1) ** 3

    point = [0.4, -0.3, 1.2, -0.7, 0.25]
    plain = [Value(v) for v in point]
    f(*plain).backward()
    checked = [Value(v) for v in point]
    with detect_anomaly():
        f(*checked).backward()
        f(*checked).backward()  # leaves accumulate as usual
    assert engine.gradcheck(f, point, rtol=1e-6, atol=0.0)  # the plain backward agrees with central differences
    assert [x.grad for x in checked] == pytest.approx([2 * x.grad for x in plain], rel=1e-15)


def test_checking_backward_through_an_mlp_matches_the_plain_one() -> None:
    model = nn.MLP(3, [4, 4, 1], seed=1)
    xs = [[0.5, -1.0, 2.0], [1.5, 0.2, -0.3]]
    loss = nn.mse_loss([model(x) for x in xs], [1.0, -1.0])  # type: ignore[misc]
    loss.backward()
    plain = [p.grad for p in model.parameters()]
    model.zero_grad()
    with detect_anomaly():
        loss.backward()
    assert [p.grad for p in model.parameters()] == plain


def test_the_checking_backward_adds_to_a_leafs_gradient_as_the_plain_one_does() -> None:
    """Both add each contribution to `.grad` in the same order: the same bits, whatever the leaf held before."""
    results = []
    for checking in (False, True):
        w = Value(1.0, label="w")
        w.grad = 1e16  # from earlier passes: the rounding depends on adding to it one contribution at a time
        loss = w * 1.0 + w * 1.0
        if checking:
            with detect_anomaly():
                loss.backward()
        else:
            loss.backward()
        results.append(w.grad)
    assert results[0] == results[1] == (1e16 + 1.0) + 1.0


def test_a_gradient_that_overflows_what_a_leaf_held_before_is_caught() -> None:
    w = Value(1.0, label="w")
    w.grad = 1.7e308  # from earlier passes
    with pytest.raises(FloatingPointError, match=r"made the gradient of operand 1 \(w = 1.0\) inf by adding 1e\+308"):
        with detect_anomaly():
            (w * 1e308).backward()
    assert w.grad == 1.7e308  # and the failed call changed nothing
