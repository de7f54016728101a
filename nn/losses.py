"""Loss functions: each takes predictions and targets of the same length and returns a Value."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

from engine import Value

Scalar = Union[Value, int, float]


def _pairs(predictions: Sequence[Scalar] | Scalar, targets: Sequence[Scalar] | Scalar, who: str) -> tuple[list, list]:
    preds = list(predictions) if isinstance(predictions, (list, tuple)) else [predictions]
    targs = list(targets) if isinstance(targets, (list, tuple)) else [targets]
    if len(preds) != len(targs):
        raise ValueError(f"{who}: {len(preds)} predictions but {len(targs)} targets; expected equal lengths")
    if not preds:
        raise ValueError(f"{who}: expected at least one prediction, got none")
    return preds, targs


def _mean(terms: list[Value]) -> Value:
    total = sum(terms[1:], terms[0])
    return total if len(terms) == 1 else total / len(terms)


def mse_loss(predictions: Sequence[Scalar] | Scalar, targets: Sequence[Scalar] | Scalar) -> Value:
    """Mean squared error, the seed's L = sum_i (y_i - y_hat_i)^2 / N."""
    preds, targs = _pairs(predictions, targets, "mse_loss")
    return _mean([(y - p) ** 2 for p, y in zip(preds, targs)])


def hinge_loss(scores: Sequence[Scalar] | Scalar, labels: Sequence[Scalar] | Scalar) -> Value:
    """Mean of max(0, 1 - y s) for labels y in {-1, +1} (micrograd's demo loss)."""
    preds, targs = _pairs(scores, labels, "hinge_loss")
    for y in targs:
        if float(y) not in (-1.0, 1.0):
            raise ValueError(f"hinge_loss: labels must be -1 or +1, got {y!r}")
    return _mean([(1 - y * s).relu() for s, y in zip(preds, targs)])


def binary_cross_entropy(probabilities: Sequence[Scalar] | Scalar, targets: Sequence[Scalar] | Scalar) -> Value:
    """Mean of -(y log p + (1 - y) log(1 - p)) for probabilities p in (0, 1) and targets y in [0, 1]."""
    preds, targs = _pairs(probabilities, targets, "binary_cross_entropy")
    _check_targets(targs, "binary_cross_entropy")
    for p in preds:
        if not 0.0 < float(p) < 1.0:
            raise ValueError(
                f"binary_cross_entropy: probabilities must lie strictly between 0 and 1, got {float(p)!r}"
                " (use binary_cross_entropy_with_logits for raw scores)"
            )
    terms = [-(y * Value.log(_v(p)) + (1 - y) * Value.log(1 - _v(p))) for p, y in zip(preds, targs)]
    return _mean(terms)


def binary_cross_entropy_with_logits(logits: Sequence[Scalar] | Scalar, targets: Sequence[Scalar] | Scalar) -> Value:
    """Binary cross-entropy of sigmoid(z), computed stably as softplus(z) - y z."""
    preds, targs = _pairs(logits, targets, "binary_cross_entropy_with_logits")
    _check_targets(targs, "binary_cross_entropy_with_logits")
    return _mean([_v(z).softplus() - y * z for z, y in zip(preds, targs)])


def _v(x: Scalar) -> Value:
    return x if isinstance(x, Value) else Value(x)


def _check_targets(targets: list, who: str) -> None:
    for y in targets:
        if not 0.0 <= float(y) <= 1.0:
            raise ValueError(f"{who}: targets must lie in [0, 1], got {y!r}")
