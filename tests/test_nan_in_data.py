"""NaN in the data is refused where the data comes in: engine.vectorize's arguments and the losses' targets.

A NaN in a batch would make the loss, then every gradient and, after one optimizer step, every weight NaN,
without a word. Refused at the boundary (scikit-learn's "Input contains NaN"), the error names the argument,
the sample and the column, and the failed call changes nothing. Infinities stay allowed (a -inf mask is
data), and a NaN that arises inside a computation is engine.detect_anomaly()'s to find.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import engine
import nn
from engine import Value


def recorded() -> tuple[engine.Vectorized, list[Value]]:
    """A vectorized loss of a matrix, an integer label column and a number, called once, and its parameters
    (their grads set to 0.125, so that a change shows)."""
    model = nn.MLP(3, [4, 2], seed=0)
    per_sample = engine.vectorize(lambda x, label, scale: nn.cross_entropy(model(x), label) * scale)
    per_sample.backward(np.ones((4, 3)), np.array([0, 1, 0, 1]), 1.0)
    for p in model.parameters():
        p.grad = 0.125
    return per_sample, model.parameters()


def with_nan(shape: tuple[int, ...], place: tuple[int, ...]) -> np.ndarray:
    array = np.ones(shape)
    array[place] = math.nan
    return array


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ((with_nan((4, 3), (2, 1)), np.array([0, 1, 0, 1]), 1.0), r"argument x contains NaN at sample 2, column 1 \("),
        ((np.ones((4, 3)), with_nan((4,), (3,)), 1.0), r"argument label contains NaN at sample 3 \("),
        ((np.ones((4, 3)), np.array([0, 1, 0, 1]), math.nan), r"argument scale is NaN \("),
        (([[1.0, 1.0, 1.0], [1.0, math.nan, 1.0]], [0, 1], 1.0), r"argument x contains NaN at sample 1, column 1 \("),
    ],
)
def test_nan_in_an_argument_is_refused_naming_it_the_sample_and_the_column_and_changes_nothing(
    arguments: tuple[Any, ...], message: str
) -> None:
    per_sample, parameters = recorded()
    data = [p.data for p in parameters]
    for call in (per_sample, per_sample.backward):
        with pytest.raises(ValueError, match=message + r"Input contains NaN\)"):
            call(*arguments)
    assert all(p.grad == 0.125 for p in parameters) and [p.data for p in parameters] == data
    first = engine.vectorize(lambda x, label, scale: x[0] * label * scale)  # refused before it records anything
    with pytest.raises(ValueError, match=message):
        first(*arguments)
    assert first.program is None


def test_infinities_in_the_data_are_allowed_a_minus_inf_mask_hides_a_logit() -> None:
    def fn(z: list[Value], mask: list[Value]) -> Value:
        return nn.cross_entropy([zi + m for zi, m in zip(z, mask)], 0)

    logits = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 4.0]])
    mask = np.array([[0.0, 0.0, -math.inf], [0.0, -math.inf, 0.0]])
    losses = engine.vectorize(fn)(logits, mask)
    expected = [math.log(math.exp(1.0) + math.exp(2.0)) - 1.0, math.log(math.exp(0.5) + math.exp(4.0)) - 0.5]
    np.testing.assert_allclose(losses, expected, rtol=1e-14)


def test_a_nan_that_arises_inside_fn_is_not_the_datas_it_is_detect_anomalys() -> None:
    def fn(x: Value) -> Value:
        big = x * 1e300 * 1e10  # inf for every sample (which detect_anomaly flags first), then inf - inf
        return big - big

    per_sample = engine.vectorize(fn)
    assert np.isnan(per_sample(np.ones(3))).all()
    with engine.detect_anomaly(), pytest.raises(FloatingPointError, match="gave inf in the forward pass"):
        per_sample(np.ones(3))


@pytest.mark.parametrize(
    "loss", [nn.mse_loss, nn.hinge_loss, nn.binary_cross_entropy, nn.binary_cross_entropy_with_logits]
)
def test_a_loss_refuses_nan_among_its_targets_naming_the_sample(loss: Any) -> None:
    predictions = [Value(0.5), Value(0.25), Value(0.75)]
    for targets in ([1.0, math.nan, 1.0], [Value(1.0), Value(1.0), Value(math.nan)]):
        sample = [i for i, t in enumerate(targets) if math.isnan(t.data if isinstance(t, Value) else t)][0]
        with pytest.raises(ValueError, match=rf"{loss.__name__}: targets contain NaN at sample {sample} \(Input"):
            loss(predictions, targets)


def test_cross_entropy_refuses_a_nan_target_index_or_class_probability() -> None:
    logits = [Value(1.0), Value(2.0), Value(0.5)]
    with pytest.raises(ValueError, match=r"cross_entropy: target is NaN \(Input contains NaN\)"):
        nn.cross_entropy(logits, Value(math.nan))
    with pytest.raises(ValueError, match=r"cross_entropy: target contains NaN at class 1 \(Input contains NaN\)"):
        nn.cross_entropy(logits, [Value(0.5), Value(math.nan), Value(0.5)])
    with pytest.raises(ValueError, match=r"got nan for class 2"):  # numbers: refused as probabilities must be finite
        nn.cross_entropy(logits, [0.5, 0.5, math.nan])


def test_a_losss_infinite_or_computed_nan_target_is_not_refused() -> None:
    assert nn.mse_loss([0.0], [math.inf]).data == math.inf
    inf = Value(math.inf)
    computed = inf - inf  # a NaN an operation made: detect_anomaly's to find, not the data check's
    assert math.isnan(nn.mse_loss([Value(1.0)], [computed]).data)
    with engine.detect_anomaly(), pytest.raises(FloatingPointError):
        nn.mse_loss([Value(1.0)], [inf - inf])
