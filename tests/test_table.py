"""The operation table as a whole: arity, Value's operators bound from it, and its rows `where` and `logsumexp`.

Oracles: the math module, closed forms (the softmax), and central finite differences (engine.gradcheck).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine
from engine import Value


def test_each_op_knows_its_number_of_inputs() -> None:
    assert (engine.add.arity, engine.exp.arity, engine.where.arity, engine.power(2).arity) == (2, 1, 3, 1)
    assert engine.linear.arity is None and engine.logsumexp.arity is None  # any number
    assert engine.defop("cube", lambda x: x**3, lambda g, out, x: (3 * g * x * x,)).arity == 1


def test_calling_an_op_with_the_wrong_number_of_inputs_names_it() -> None:
    with pytest.raises(TypeError, match=r"exp takes 1 input\(s\), got 2"):
        engine.exp(1.0, 2.0)
    with pytest.raises(TypeError, match=r"where takes 3 input\(s\), got 2"):
        engine.where(Value(1.0), Value(2.0))


def test_every_operation_value_records_is_a_row_of_the_table() -> None:
    x, y = Value(0.5), Value(2.0)
    recorded = {
        "add": (x + y, 1 + x),
        "sub": (x - y, 1 - x),
        "mul": (x * y, 2 * x),
        "div": (x / y, 1 / x),
        "pow_": (x**y, 2**x),
        "neg": (-x,),
        "abs_": (abs(x), x.abs()),
        "exp": (x.exp(),),
        "log": (x.log(),),
        "sqrt": (x.sqrt(),),
        "sin": (x.sin(),),
        "cos": (x.cos(),),
        "tanh": (x.tanh(),),
        "sigmoid": (x.sigmoid(),),
        "relu": (x.relu(),),
        "softplus": (x.softplus(),),
    }
    for name, nodes in recorded.items():
        row = getattr(engine, name)
        assert isinstance(row, engine.Op) and all(node.op is row for node in nodes), name
        assert all(node.data == row(*[p.data for p in node.parents]) for node in nodes), name
    assert (x**3).op is engine.power(3) and (x**0.5).op is engine.power(0.5)
    assert [p.data for p in (1 - x).parents] == [1.0, 0.5]  # a number on the left stays the first operand


@pytest.mark.parametrize("condition", [2.0, 0.0, -0.5])
def test_where_picks_a_branch_and_sends_the_gradient_to_it_only(condition: float) -> None:
    c, a, b = Value(condition, label="c"), Value(3.0, label="a"), Value(-4.0, label="b")
    out = engine.where(c, a * a, b * b * b)
    out.backward()
    chosen = condition != 0
    assert out.data == (9.0 if chosen else -64.0)
    assert (a.grad, b.grad, c.grad) == ((6.0, 0.0, 0.0) if chosen else (0.0, 48.0, 0.0))
    assert engine.where(condition, 1.0, 2.0) == (1.0 if chosen else 2.0)
    np.testing.assert_array_equal(engine.where(np.array([condition, 0.0]), 1.0, 2.0), [1.0 if chosen else 2.0, 2.0])


def test_where_passes_gradcheck_away_from_the_switch() -> None:
    assert engine.gradcheck(lambda c, a, b: engine.where(c, a.tanh() * b, b.exp()), [0.7, 0.3, -1.2])
    assert engine.gradgradcheck(lambda c, a, b: engine.where(c, a.tanh() * b, b.exp()), [0.0, 0.3, -1.2])


def naive_logsumexp(xs: list[float]) -> float:
    return math.log(sum(math.exp(x) for x in xs))


def test_logsumexp_matches_the_definition_and_its_gradient_is_the_softmax() -> None:
    xs = [0.3, -1.2, 2.5, 0.0]
    values = [Value(x) for x in xs]
    out = engine.logsumexp(*values)
    out.backward()
    assert out.data == pytest.approx(naive_logsumexp(xs), rel=1e-14)
    total = sum(math.exp(x) for x in xs)
    assert [v.grad for v in values] == pytest.approx([math.exp(x) / total for x in xs], rel=1e-13)
    assert engine.gradcheck(lambda *v: engine.logsumexp(*v), xs)
    assert engine.gradgradcheck(lambda *v: engine.logsumexp(*v), xs[:3])


@pytest.mark.parametrize("shift", [1000.0, -1000.0])
def test_logsumexp_neither_overflows_nor_loses_precision_at_large_inputs(shift: float) -> None:
    xs = [0.3, -1.2, 2.5]
    values = [Value(x + shift) for x in xs]
    out = engine.logsumexp(*values)
    out.backward()
    assert out.data == pytest.approx(shift + naive_logsumexp(xs), rel=1e-15)
    total = sum(math.exp(x) for x in xs)
    assert [v.grad for v in values] == pytest.approx([math.exp(x) / total for x in xs], rel=1e-12)
    columns = [np.array([x + shift, x]) for x in xs]
    np.testing.assert_allclose(engine.logsumexp(*columns), [shift + naive_logsumexp(xs), naive_logsumexp(xs)])


def test_logsumexp_of_infinities() -> None:
    assert engine.logsumexp(-math.inf, -math.inf) == -math.inf
    assert engine.logsumexp(math.inf, 1.0) == math.inf
    assert engine.logsumexp(-math.inf, 2.0) == 2.0
    with pytest.raises(TypeError, match="at least one input"):
        engine.logsumexp()
