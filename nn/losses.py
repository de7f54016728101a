"""Loss functions: each takes predictions and targets of the same length and returns a Value.

Predictions and targets may be lists, tuples, numpy arrays or any other iterable
of Values and numbers, or a single Value or number for one sample.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Union

from engine import Value
from engine.value import _as_float

Scalar = Union[Value, int, float]
Scalars = Union[Iterable[Scalar], Scalar]


def _as_list(items: Scalars, what: str, who: str) -> list[Value]:
    """One Value per sample: numbers become constants; anything else is a TypeError."""
    if isinstance(items, (str, bytes, Set, Mapping)):  # unordered or keyed: no sample order to pair by
        raise TypeError(f"{who}: {what} must be a sequence of numbers or Values, got {type(items).__name__}")
    samples = list(items) if isinstance(items, Iterable) and getattr(items, "ndim", 1) > 0 else [items]
    return [x if isinstance(x, Value) else Value(_as_float(x, f"{who}: each of the {what}")) for x in samples]


def _pairs(predictions: Scalars, targets: Scalars, who: str) -> tuple[list[Value], list[Value]]:
    preds, targs = _as_list(predictions, "predictions", who), _as_list(targets, "targets", who)
    if len(preds) != len(targs):
        raise ValueError(f"{who}: {len(preds)} predictions but {len(targs)} targets; expected equal lengths")
    if not preds:
        raise ValueError(f"{who}: expected at least one prediction, got none")
    return preds, targs


def _mean(terms: list[Value]) -> Value:
    total = sum(terms[1:], terms[0])
    return total if len(terms) == 1 else total / len(terms)


def mse_loss(predictions: Scalars, targets: Scalars) -> Value:
    """Mean squared error, the seed's L = sum_i (y_i - y_hat_i)^2 / N."""
    preds, targs = _pairs(predictions, targets, "mse_loss")
    return _mean([(y - p) ** 2 for p, y in zip(preds, targs)])


def hinge_loss(scores: Scalars, labels: Scalars) -> Value:
    """Mean of max(0, 1 - y s) for labels y in {-1, +1} (micrograd's demo loss)."""
    preds, targs = _pairs(scores, labels, "hinge_loss")
    for y in targs:
        if y.data not in (-1.0, 1.0):
            raise ValueError(f"hinge_loss: labels must be -1 or +1, got {y.data!r}")
    return _mean([(1 - y * s).relu() for s, y in zip(preds, targs)])


def binary_cross_entropy(probabilities: Scalars, targets: Scalars) -> Value:
    """Mean of -(y log p + (1 - y) log(1 - p)) for probabilities p in (0, 1) and targets y in [0, 1]."""
    preds, targs = _pairs(probabilities, targets, "binary_cross_entropy")
    _check_targets(targs, "binary_cross_entropy")
    for p in preds:
        if not 0.0 < p.data < 1.0:
            raise ValueError(
                f"binary_cross_entropy: probabilities must lie strictly between 0 and 1, got {p.data!r}"
                " (use binary_cross_entropy_with_logits for raw scores)"
            )
    return _mean([-(y * p.log() + (1 - y) * (1 - p).log()) for p, y in zip(preds, targs)])


def binary_cross_entropy_with_logits(logits: Scalars, targets: Scalars) -> Value:
    """Binary cross-entropy of sigmoid(z), computed stably as softplus(z) - y z."""
    preds, targs = _pairs(logits, targets, "binary_cross_entropy_with_logits")
    _check_targets(targs, "binary_cross_entropy_with_logits")
    return _mean([z.softplus() - y * z for z, y in zip(preds, targs)])


def _check_targets(targets: list[Value], who: str) -> None:
    for y in targets:
        if not 0.0 <= y.data <= 1.0:
            raise ValueError(f"{who}: targets must lie in [0, 1], got {y.data!r}")
