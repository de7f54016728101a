"""A faulty derivative rule fails the same way in every walk: the same exception type and the same core message.

The walks: `backward()` (its fast loop), `backward()` under `detect_anomaly()` and `grad` (the general walk
on floats), `grad(create_graph=True)` (the general walk on Values), `backward_steps` (the explorer's walk)
and `engine.vectorize`'s replay on arrays, which may add which sample failed. The faults: a rule that
gives too many gradients, too few, or a number instead of a sequence of them, and a rule that raises.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import engine
from engine import Value


def _too_many(g: Any, out: Any, x: Any, y: Any) -> Any:
    return (g, g, g)


def _too_few(g: Any, out: Any, x: Any, y: Any) -> Any:
    return (g,)


def _not_a_sequence(g: Any, out: Any, x: Any, y: Any) -> Any:
    return g * y


def _raises(g: Any, out: Any, x: Any, y: Any) -> Any:
    raise ZeroDivisionError("the rule divided by zero")


FAULTS = {
    "too many": (_too_many, TypeError, "the derivative rule of faulty gave 3 gradient(s) for 2 input(s)"),
    "too few": (_too_few, TypeError, "the derivative rule of faulty gave 1 gradient(s) for 2 input(s)"),
    "not a sequence": (
        _not_a_sequence,
        TypeError,
        "the derivative rule of faulty gave one gradient, not a tuple or list of them, for 2 input(s)",
    ),
    "raises": (_raises, ZeroDivisionError, "derivative of faulty(x = 2.0, 3.0): the rule divided by zero"),
}


def _faulty(rule: Callable[..., Any]) -> engine.Op:
    return engine.defop("faulty", lambda x, y: x * y, rule, np.multiply)


def _loss(op: engine.Op, x: Value) -> Value:
    return (op(x, 3.0) + 1.0).tanh()


def _backward(op: engine.Op) -> None:
    _loss(op, Value(2.0, label="x")).backward()


def _backward_under_anomaly(op: engine.Op) -> None:
    with engine.detect_anomaly():
        _loss(op, Value(2.0, label="x")).backward()


def _grad(op: engine.Op) -> None:
    x = Value(2.0, label="x")
    engine.grad(_loss(op, x), [x])


def _grad_of_grad(op: engine.Op) -> None:
    x = Value(2.0, label="x")
    engine.grad(_loss(op, x), [x], create_graph=True)


def _steps(op: engine.Op) -> None:
    engine.backward_steps(_loss(op, Value(2.0, label="x")))


def _vectorize(op: engine.Op) -> None:
    w = Value(0.5, label="w")
    engine.vectorize(lambda x: _loss(op, x * w / w)).backward(np.array([2.0, 2.0]))


WALKS = {
    "backward": _backward,
    "backward under detect_anomaly": _backward_under_anomaly,
    "grad": _grad,
    "grad with create_graph": _grad_of_grad,
    "backward_steps": _steps,
    "vectorize": _vectorize,
}


@pytest.mark.parametrize("walk", WALKS)
@pytest.mark.parametrize("fault", FAULTS)
def test_a_faulty_rule_fails_alike_in_every_walk(fault: str, walk: str) -> None:
    rule, error_type, core = FAULTS[fault]
    with pytest.raises(Exception) as caught:
        WALKS[walk](_faulty(rule))
    assert type(caught.value) is error_type
    message = str(caught.value)
    if walk == "vectorize":  # the replay may say which sample failed
        message = re.sub(r" \(engine\.vectorize: sample \d+ of \d+\)$", "", message)
    if error_type is TypeError:
        assert message == core + "; a rule returns a tuple or list of one gradient per input"
    else:
        # the operand is named by its label on the scalar path; vectorize's x is an intermediate (x * w / w)
        assert message.startswith("derivative of faulty(") and message.endswith("): the rule divided by zero")
        if walk != "vectorize":
            assert message == core


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failed_backward_restores_every_grad(fault: str) -> None:
    x = Value(2.0, label="x")
    x.grad = 0.25
    loss = _loss(_faulty(FAULTS[fault][0]), x)
    with pytest.raises((TypeError, ZeroDivisionError)):
        loss.backward()
    assert x.grad == 0.25 and loss.grad == 0.0
