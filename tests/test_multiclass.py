"""nn.softmax and nn.cross_entropy: values against 50-digit decimal arithmetic, gradients against the closed form
softmax - target and finite differences, stability at +-1000, and every bad target.

(PyTorch cross-checks of the same functions are in tests/test_torch_interop.py.)
"""

from __future__ import annotations

import decimal
import math
from collections.abc import Sequence
from decimal import Decimal

import numpy as np
import pytest

import nn
from engine import Value, gradcheck
from engine.core.modes import changed

PRECISION = decimal.Context(prec=50)


def exact_logsumexp(z: Sequence[float]) -> Decimal:
    """log(sum e^z_i) in 50-digit decimal arithmetic: no overflow, no shift, an oracle independent of the engine."""
    return PRECISION.ln(sum((PRECISION.exp(Decimal(x)) for x in z), Decimal(0)))


def exact_softmax(z: Sequence[float]) -> list[float]:
    total = exact_logsumexp(z)
    return [float(PRECISION.exp(Decimal(x) - total)) for x in z]


def exact_cross_entropy(z: Sequence[float], target: Sequence[float]) -> float:
    """logsumexp(z) - sum_k t_k z_k, in decimal."""
    return float(exact_logsumexp(z) - sum((Decimal(t) * Decimal(x) for t, x in zip(target, z)), Decimal(0)))


def one_hot(k: int, n: int) -> list[float]:
    return [1.0 if i == k else 0.0 for i in range(n)]


RNG = np.random.default_rng(2024)
LOGITS = [list(RNG.normal(0, 3, size=n)) for n in (1, 2, 3, 10)] + [[1000.0, -1000.0, 999.0], [-1000.0, -1000.5]]


# --- softmax --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("z", LOGITS)
def test_softmax_is_the_exact_distribution(z: list[float]) -> None:
    probabilities = nn.softmax([Value(x) for x in z])
    assert all(isinstance(p, Value) for p in probabilities)
    assert [p.data for p in probabilities] == pytest.approx(exact_softmax(z), rel=1e-13, abs=1e-300)
    # e^(z_i - logsumexp(z)): near |z| = 1000 the float logsumexp is within 1 ulp (1.1e-13) of the exact one
    assert math.fsum(p.data for p in probabilities) == pytest.approx(1.0, abs=1e-13)


def test_softmax_gradients_match_finite_differences() -> None:
    z = [0.3, -1.2, 2.0, 0.0]
    for i in range(len(z)):
        assert gradcheck(lambda *v, i=i: nn.softmax(list(v))[i] * (i + 1), z)


def test_softmax_takes_numbers_and_arrays_and_refuses_nothing_to_normalise() -> None:
    assert [p.data for p in nn.softmax(np.array([0.0, 0.0]))] == [0.5, 0.5]
    with pytest.raises(ValueError, match="softmax: expected at least one logit"):
        nn.softmax([])
    with pytest.raises(TypeError, match="softmax.*str"):
        nn.softmax(["a"])  # type: ignore[list-item]


# --- cross_entropy: values and gradients -------------------------------------------------------------------


@pytest.mark.parametrize("z", LOGITS)
def test_cross_entropy_of_an_index_is_minus_log_softmax_with_gradient_softmax_minus_one_hot(z: list[float]) -> None:
    p = exact_softmax(z)
    for k in range(len(z)):
        logits = [Value(x) for x in z]
        loss = nn.cross_entropy(logits, k)
        assert loss.data == pytest.approx(exact_cross_entropy(z, one_hot(k, len(z))), rel=1e-13, abs=1e-13)
        loss.backward()
        expected = [pi - ti for pi, ti in zip(p, one_hot(k, len(z)))]
        assert [v.grad for v in logits] == pytest.approx(expected, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("z", LOGITS)
def test_cross_entropy_of_probabilities_is_logsumexp_minus_the_weighted_logits(z: list[float]) -> None:
    weights = RNG.uniform(0, 1, size=len(z))
    target = list(weights / weights.sum())
    target[-1] = 1.0 - math.fsum(target[:-1])  # a distribution that sums to 1 up to rounding
    logits = [Value(x) for x in z]
    loss = nn.cross_entropy(logits, target)
    assert loss.data == pytest.approx(exact_cross_entropy(z, target), rel=1e-12, abs=1e-12)
    loss.backward()
    expected = [pi - ti for pi, ti in zip(exact_softmax(z), target)]
    assert [v.grad for v in logits] == pytest.approx(expected, rel=1e-11, abs=1e-14)


def test_one_hot_targets_equal_index_targets_and_gradients_match_finite_differences() -> None:
    z = [0.5, -0.25, 1.5, 0.0, -2.0]
    for k in range(len(z)):
        by_index, by_list = nn.cross_entropy(z, k), nn.cross_entropy(z, one_hot(k, len(z)))
        assert by_list.data == pytest.approx(by_index.data, rel=1e-15)
        assert gradcheck(lambda *v, k=k: nn.cross_entropy(list(v), k), z)
        assert gradcheck(lambda *v, k=k: nn.cross_entropy(list(v), one_hot(k, len(v))), z)
    assert gradcheck(lambda *v: nn.cross_entropy(list(v), [0.1, 0.2, 0.3, 0.4, 0.0]), z)


def test_cross_entropy_is_stable_at_logits_of_plus_minus_1000() -> None:
    z = [1000.0, -1000.0, 999.0, -999.5]
    for k in range(len(z)):
        logits = [Value(x) for x in z]
        loss = nn.cross_entropy(logits, k)
        assert math.isfinite(loss.data)
        assert loss.data == pytest.approx(exact_cross_entropy(z, one_hot(k, len(z))), rel=1e-14, abs=1e-12)
        loss.backward()
        expected = [pi - ti for pi, ti in zip(exact_softmax(z), one_hot(k, len(z)))]
        assert [v.grad for v in logits] == pytest.approx(expected, rel=1e-12, abs=1e-300)
    # precision where a naive log(softmax) would round to log(1) = 0: the loss is log(1 + e^-1), not 0
    assert nn.cross_entropy([1000.0, 999.0], 0).data == pytest.approx(math.log1p(math.exp(-1.0)), rel=1e-14)
    assert nn.cross_entropy([1000.0, -1000.0], 1).data == pytest.approx(2000.0, rel=1e-15)


def test_a_value_holding_the_class_is_the_class_index_and_gets_no_gradient() -> None:
    z = [0.5, -0.25, 1.5, 0.0]
    for k in range(len(z)):
        label = Value(float(k), label="label")
        logits = [Value(x) for x in z]
        loss = nn.cross_entropy(logits, label)
        assert loss.data == pytest.approx(exact_cross_entropy(z, one_hot(k, len(z))), rel=1e-14)
        loss.backward()
        expected = [pi - ti for pi, ti in zip(exact_softmax(z), one_hot(k, len(z)))]
        assert [v.grad for v in logits] == pytest.approx(expected, rel=1e-12)
        assert label.grad == 0.0
        assert gradcheck(lambda *v, k=k: nn.cross_entropy(list(v), Value(float(k))), z)


def test_cross_entropy_takes_numpy_indices_and_arrays() -> None:
    z = np.array([0.2, 1.0, -0.3])
    expected = exact_cross_entropy(list(z), one_hot(1, 3))
    assert nn.cross_entropy(z, np.int64(1)).data == pytest.approx(expected, rel=1e-14)
    assert nn.cross_entropy(list(z), np.array([0.0, 1.0, 0.0])).data == pytest.approx(expected, rel=1e-14)
    assert nn.cross_entropy(z, (0, 1, 0)).data == pytest.approx(expected, rel=1e-14)
    assert isinstance(nn.cross_entropy([0.0], 0), Value)


# --- cross_entropy: bad targets --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "error", "message"),
    [
        (3, ValueError, r"target class 3 is out of range for 3 logits; expected 0 to 2"),
        (-1, ValueError, r"target class -1 is out of range for 3 logits"),
        ([0.5, 0.5], ValueError, r"target has 2 class probabilities but there are 3 logits"),
        ([0.5, 0.5, 0.0, 0.0], ValueError, r"target has 4 class probabilities but there are 3 logits"),
        ([1.2, -0.2, 0.0], ValueError, r"non-negative, got -0.2 for class 1"),
        ([0.5, float("nan"), 0.5], ValueError, r"finite and non-negative, got nan for class 1"),
        ([0.5, float("inf"), 0.0], ValueError, r"finite and non-negative, got inf for class 1"),
        ([0.5, 0.4, 0.0], ValueError, r"must sum to 1 \(within 1e-09\), got 0.9"),
        ([0.5, 0.5, 2e-9], ValueError, r"must sum to 1 \(within 1e-09\), got 1.000000002"),
        (True, TypeError, r"class index \(an int, or a Value holding one\) or a list of class probabilities, got bool"),
        (1.0, TypeError, r"class index \(an int, or a Value holding one\) or a list of class probabilities, got float"),
        ("a", TypeError, r"got str"),
        ({0: 1.0}, TypeError, r"got dict"),
        (np.array(1), TypeError, r"got ndarray"),
        (Value(3.0), ValueError, r"target 3.0 is not a class of the 3 logits: .*index 3 is out of range for 3 entries"),
        (Value(1.5), ValueError, r"target 1.5 is not a class of the 3 logits: .*index 1.5 is not a whole number"),
        ([0.5, "a", 0.5], TypeError, r"each target probability.*str"),
    ],
)
def test_bad_targets_raise_naming_what_was_wrong(target: object, error: type[Exception], message: str) -> None:
    logits = [Value(0.1), Value(0.2), Value(0.3)]
    with pytest.raises(error, match=f"cross_entropy: .*{message}"):
        nn.cross_entropy(logits, target)  # type: ignore[arg-type]
    assert all(v.grad == 0.0 for v in logits)


def test_probabilities_within_the_tolerance_are_accepted() -> None:
    nn.cross_entropy([0.0, 1.0, 2.0], [0.5, 0.5, 5e-10])
    nn.cross_entropy([0.0, 1.0], [1 / 3 + 1 / 3, 1 / 3])  # rounding of a computed distribution
    with pytest.raises(ValueError, match="at least one logit"):
        nn.cross_entropy([], 0)


# --- cross_entropy with Value targets, as inside engine.vectorize ------------------------------------------------


def refusing_guard(value: object, other: object, symbol: str) -> None:
    """What engine.vectorize's guard does with a comparison while it records: refuse it."""
    raise TypeError(f"comparison {symbol} of {value!r} while tracing")


def test_value_targets_are_used_without_being_compared() -> None:
    z = [0.4, -0.6, 1.3]
    target = [Value(0.0), Value(1.0), Value(0.0)]
    with changed(comparison_guard=refusing_guard):
        with pytest.raises(TypeError, match="while tracing"):  # the guard is live: a comparison would trip it
            _ = target[0] < 0.5
        logits = [Value(x) for x in z]
        loss = nn.cross_entropy(logits, target)
    assert loss.data == pytest.approx(exact_cross_entropy(z, [0.0, 1.0, 0.0]), rel=1e-14)
    loss.backward()
    assert [v.grad for v in logits] == pytest.approx([p - t for p, t in zip(exact_softmax(z), [0, 1, 0])], rel=1e-12)
    assert [t.grad for t in target] == pytest.approx([-x for x in z], rel=1e-15)  # d/dt_k = -z_k


def test_value_targets_are_not_checked_but_numbers_beside_them_are() -> None:
    # As documented: a Value entry stands for a column of a batch, so neither its sign nor the sum is checked ...
    loss = nn.cross_entropy([0.0, 0.0], [Value(2.0), Value(-3.0)])
    assert loss.data == pytest.approx(math.log(2.0), rel=1e-15)
    # ... but the length is, and so is every entry given as a number.
    with pytest.raises(ValueError, match="target has 1 class probabilities but there are 2 logits"):
        nn.cross_entropy([0.0, 0.0], [Value(1.0)])
    with pytest.raises(ValueError, match="non-negative, got -1.0 for class 0"):
        nn.cross_entropy([0.0, 0.0], [-1.0, Value(2.0)])
