"""`detect_anomaly()`: stop at the first operation that produces a nan or an infinity.

Python's float math raises on most bad operations (log(-1), 1/0, exp(1000)),
but nan and inf still get in: from inputs (`Value(float("inf"))`), from
products that overflow (1e200 * 1e200 == inf) and from gradients that overflow
in the backward pass. Inside `with detect_anomaly():` every operation on Values
checks its result and every derivative rule checks the gradients it hands back;
the first number that is not finite raises `FloatingPointError` naming the
operation, its operands and the pass (forward or backward).

Outside the context nothing is checked, so nothing is paid: entering it puts
checking versions of `Op.record_values`, `Op.record1` and `Op.record2` (every
node is made by one of them) on the `Op` class (leaving restores the plain ones), and `backward()` and `grad()` look at
the mode once per call to choose their checking loop. The mode is global to
the process (all threads), and contexts nest.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from engine.value import Op, Value, _operation_text


class _AnomalyMode:
    """Whether checks are on (`depth` open `detect_anomaly()` contexts) and which pass is running."""

    depth = 0
    # "backward" while engine.grad evaluates derivative rules: with create_graph=True
    # those rules record new nodes, and their anomalies belong to the backward pass.
    pass_name = "forward"


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise FloatingPointError at the first nan or inf made by an operation or a derivative rule.

    >>> with detect_anomaly():
    ...     Value(1e200, label="a") * Value(1e200, label="b")
    Traceback (most recent call last):
    FloatingPointError: *(a = 1e+200, b = 1e+200): gave inf in the forward pass (detect_anomaly)

    A failed `backward()` leaves every `.grad` as it was before the call.
    """
    if _AnomalyMode.depth == 0:
        _use_records(_CHECKING_RECORDS)
    _AnomalyMode.depth += 1
    try:
        yield
    finally:
        _AnomalyMode.depth -= 1
        if _AnomalyMode.depth == 0:
            _use_records(_PLAIN_RECORDS)


def is_enabled() -> bool:
    """True inside `detect_anomaly()`."""
    return _AnomalyMode.depth > 0


def _checking(record: Callable[..., Value]) -> Callable[..., Value]:
    """`record` (one of Op's node-recording methods) followed by a check of the new node's value."""

    @functools.wraps(record)
    def checked_record(op: Op, *operands: Any) -> Value:
        out = record(op, *operands)
        if not math.isfinite(out.data):
            found = f"gave {out.data!r} in the {_AnomalyMode.pass_name} pass (detect_anomaly)"
            raise FloatingPointError(f"{_operation_text(op.name, operands)}: {found}")
        return out

    return checked_record


_PLAIN_RECORDS = {name: getattr(Op, name) for name in ("record_values", "record1", "record2")}
_CHECKING_RECORDS = {name: _checking(record) for name, record in _PLAIN_RECORDS.items()}


def _use_records(records: dict[str, Callable[..., Value]]) -> None:
    for name, record in records.items():
        setattr(Op, name, record)


def _is_finite(x: Any) -> bool:
    return math.isfinite(_number(x))


def check_gradients(node: Value, g: Any, contributions: Sequence[Any], totals: Sequence[Any]) -> None:
    """Raise FloatingPointError unless the gradients `node`'s rule gave its parents are finite.

    `g` is dL/d(node), `contributions` what the rule returned for each parent and
    `totals` each parent's gradient after adding them (a sum of finite numbers
    can still overflow).
    """
    for position, (parent, contribution, total) in enumerate(zip(node.parents, contributions, totals), start=1):
        if _is_finite(contribution) and _is_finite(total):
            continue
        name = f"operand {position} ({parent.describe()})"
        if not _is_finite(contribution):
            found = f"gave gradient {_number(contribution)!r} to {name}"
        else:
            found = f"made the gradient of {name} {_number(total)!r} by adding {_number(contribution)!r}"
        message = f"{found} in the backward pass (incoming gradient {_number(g)!r}; detect_anomaly)"
        raise FloatingPointError(f"{_operation_text(f'derivative of {node.op.name}', node.parents)}: {message}")  # type: ignore[union-attr]


def _number(x: Any) -> float:
    return x.data if isinstance(x, Value) else x
