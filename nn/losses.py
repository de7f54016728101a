"""Loss functions: each takes predictions and targets of the same length and returns a Value.

Predictions and targets may be lists, tuples, numpy arrays or any other iterable
of Values and numbers, or a single Value or number for one sample.

Multi-class: `softmax` turns one sample's logits into probabilities and
`cross_entropy` is the loss of one sample's logits against its class (an index,
or a list of class probabilities such as a one-hot list).

Targets and labels are data: a NaN among them (a number, or a Value no operation
made) is refused with a ValueError naming the sample, as scikit-learn's "Input
contains NaN"; infinities are allowed. A NaN that arises inside a model is
`engine.detect_anomaly()`'s to find.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Set
from typing import Union

import numpy as np

from engine import Value, linear, logsumexp, take
from engine.core.numbers import as_float

Scalar = Union[Value, int, float]
Scalars = Union[Iterable[Scalar], Scalar]
# A class: its index (an int, or a Value holding one), or one probability per class (one-hot for a single class).
Target = Union[int, np.integer, Value, Iterable[Scalar]]

# How far from 1 the class probabilities of a target may sum (rounding in a computed distribution).
PROBABILITY_SUM_TOLERANCE = 1e-9


def _as_list(items: Scalars, what: str, who: str) -> list[Value]:
    """One Value per sample: numbers become constants; anything else is a TypeError."""
    if isinstance(items, (str, bytes, Set, Mapping)):  # unordered or keyed: no sample order to pair by
        raise TypeError(f"{who}: {what} must be a sequence of numbers or Values, got {type(items).__name__}")
    samples = list(items) if isinstance(items, Iterable) and getattr(items, "ndim", 1) > 0 else [items]
    return [x if isinstance(x, Value) else Value(as_float(x, f"{who}: each of the {what}")) for x in samples]


def _pairs(predictions: Scalars, targets: Scalars, who: str) -> tuple[list[Value], list[Value]]:
    preds, targs = _as_list(predictions, "predictions", who), _as_list(targets, "targets", who)
    if len(preds) != len(targs):
        raise ValueError(f"{who}: {len(preds)} predictions but {len(targs)} targets; expected equal lengths")
    if not preds:
        raise ValueError(f"{who}: expected at least one prediction, got none")
    for i, y in enumerate(targs):
        if _is_nan_data(y):
            raise ValueError(_nan_in_data(who, f"targets contain NaN at sample {i}"))
    return preds, targs


def _is_nan_data(y: Value) -> bool:
    """Whether y is data (a leaf: a number given, or a Value that no operation made) holding NaN. A NaN that arises
    inside a computation is engine.detect_anomaly()'s to find."""
    return y.op is None and math.isnan(y.data)


def _nan_in_data(who: str, where: str) -> str:
    return (
        f"{who}: {where} (Input contains NaN). NaN in the data would make the loss and every gradient NaN: drop "
        "or fill in the missing values first (infinities are allowed; engine.detect_anomaly() finds a NaN that "
        "arises inside a computation)"
    )


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


def softmax(logits: Scalars) -> list[Value]:
    """The probabilities e^(z_i) / sum_j e^(z_j) of one sample's logits, as Values that sum to 1.

    Computed as e^(z_i - logsumexp(z)): every exponent is at most 0, so no logit, however
    large, overflows, and the graph has one logsumexp node whose derivative is this softmax.
    """
    zs = _as_list(logits, "logits", "softmax")
    if not zs:
        raise ValueError("softmax: expected at least one logit, got none")
    total = logsumexp(*zs)
    return [(z - total).exp() for z in zs]


def cross_entropy(logits: Scalars, target: Target) -> Value:
    """The cross-entropy of one sample: logsumexp(logits) - sum_k target_k * logits_k.

    `logits` is one sample's list of scores (Values or numbers), one per class. `target` is the
    class index, as an int in range(len(logits)) or as a Value holding one (so a column of integer
    labels goes through `engine.vectorize`: `engine.vectorize(lambda x, label:
    nn.cross_entropy(model(x), label))`), or a list of class probabilities of the same length
    (one-hot for a single class). For an index the loss is -log softmax(logits)[target], its chosen
    logit picked by `engine.take`; its gradient with respect to the logits is softmax(logits) -
    target. Large logits (e.g. +-1000) neither overflow nor lose precision: `engine.logsumexp`
    subtracts the largest logit before exponentiating.

    Checked: an int index must be in range (not a bool or float); a Value index must hold a whole
    number in range, checked by `engine.take` at every sample (under `engine.vectorize` the error
    names the sample); a list must have one entry per logit; entries given as numbers must be finite
    and non-negative and, when all entries are numbers, sum to 1 within 1e-9. Anything else raises
    TypeError or ValueError naming it.

    Not checked: list entries given as Values. Inside `engine.vectorize` such a Value stands for a
    whole column of the batch, so its `.data` is not the sample's probability, and comparing it
    would be sample-dependent control flow (the vectorize guard rightly refuses it); it is used as
    given, so check the arrays you pass to the vectorized function instead (rows of a one-hot matrix
    are). Its length is checked.
    """
    zs = _as_list(logits, "logits", "cross_entropy")
    if not zs:
        raise ValueError("cross_entropy: expected at least one logit, got none")
    if isinstance(target, Value):
        if _is_nan_data(target):
            raise ValueError(_nan_in_data("cross_entropy", "target is NaN"))
        try:
            chosen = take(zs, target)
        except ValueError as error:
            raise ValueError(
                f"cross_entropy: target {target.data!r} is not a class of the {len(zs)} logits: {error}"
            ) from None
        return logsumexp(*zs) - chosen
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        k = int(target)
        if not 0 <= k < len(zs):
            raise ValueError(
                f"cross_entropy: target class {k} is out of range for {len(zs)} logits; expected 0 to {len(zs) - 1}"
            )
        return logsumexp(*zs) - take(zs, k)
    weights = _class_probabilities(target, len(zs))
    # sum_k t_k z_k as one fused node; numeric zeros (the rest of a one-hot list) add nothing and are left out.
    kept = [(t, z) for t, z in zip(weights, zs) if isinstance(t, Value) or t != 0.0]
    return logsumexp(*zs) - linear(*[t for t, _ in kept], *[z for _, z in kept], 0.0)


def _class_probabilities(target: object, n_classes: int) -> list[Value | float]:
    """A cross-entropy target given as a list: one entry per class, numbers checked, Values passed through."""
    if (
        isinstance(target, (str, bytes, Set, Mapping))
        or not isinstance(target, Iterable)
        or getattr(target, "ndim", 1) == 0
    ):
        raise TypeError(
            "cross_entropy: target must be a class index (an int, or a Value holding one) or a list of class"
            f" probabilities, got {type(target).__name__}: {target!r:.60}"
        )
    entries = list(target)
    if len(entries) != n_classes:
        raise ValueError(
            f"cross_entropy: target has {len(entries)} class probabilities but there are {n_classes} logits;"
            " expected one per logit"
        )
    weights: list[Value | float] = []
    for k, entry in enumerate(entries):
        if isinstance(entry, Value):
            if _is_nan_data(entry):
                raise ValueError(_nan_in_data("cross_entropy", f"target contains NaN at class {k}"))
            weights.append(entry)
            continue
        p = as_float(entry, "cross_entropy: each target probability")
        if not math.isfinite(p) or p < 0.0:
            raise ValueError(
                f"cross_entropy: target probabilities must be finite and non-negative, got {p!r} for class {k}"
            )
        weights.append(p)
    if not any(isinstance(w, Value) for w in weights):
        total = math.fsum(w for w in weights if isinstance(w, float))
        if abs(total - 1.0) > PROBABILITY_SUM_TOLERANCE:
            within = PROBABILITY_SUM_TOLERANCE
            raise ValueError(f"cross_entropy: target probabilities must sum to 1 (within {within:g}), got {total!r}")
    return weights
