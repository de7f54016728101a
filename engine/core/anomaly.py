"""`detect_anomaly()`: stop at the first operation that produces a nan or an infinity.

Python's float math raises on most bad operations (log(-1), 1/0, exp(1000)),
but nan and inf still get in: from inputs (`Value(float("inf"))`), from
products that overflow (1e200 * 1e200 == inf) and from gradients that overflow
in the backward pass. Inside `with detect_anomaly():` every operation on Values
checks its result and every derivative rule checks the gradients it hands back;
the first number that is not finite raises `FloatingPointError` naming the
operation, its operands and the pass (forward or backward).

The mode is a flag of the current thread (engine/core/modes.py), read where it
matters: every operation reads the thread's mode once, and only outside the
plain mode looks further (the forward check is in engine/core/value.py's
`record_outside_plain_mode`); `backward()` and `grad()` read it once per call and then
have the walk call `check_gradients` at every step. Outside the context nothing
is checked. Contexts nest, and other threads are not affected.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from engine.core.modes import changed, current
from engine.core.op import operation_text


@contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise FloatingPointError at the first nan or inf made by an operation or a derivative rule.

        with detect_anomaly():
            Value(1e200, label="a") * Value(1e200, label="b")
        # FloatingPointError: *(a = 1e+200, b = 1e+200): gave inf in the forward pass (detect_anomaly)

    A failed `backward()` leaves every `.grad` as it was before the call. The
    mode applies to the current thread only.
    """
    with changed(checking=True):
        yield


def is_enabled() -> bool:
    """True inside `detect_anomaly()` (in this thread)."""
    return current().checking


def _is_finite(x: Any) -> bool:
    return math.isfinite(_float_of(x))


def check_gradients(node: Any, g: Any, contributions: Sequence[Any], totals: Sequence[Any]) -> None:
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
            found = f"gave gradient {_float_of(contribution)!r} to {name}"
        else:
            found = f"made the gradient of {name} {_float_of(total)!r} by adding {_float_of(contribution)!r}"
        message = f"{found} in the backward pass (incoming gradient {_float_of(g)!r}; detect_anomaly)"
        raise FloatingPointError(f"{operation_text(f'derivative of {node.op.name}', node.parents)}: {message}")


def _float_of(x: Any) -> float:
    """A gradient as a number: a float, or a Value's data (`grad(create_graph=True)` hands Values on)."""
    return x if isinstance(x, (float, int)) else x.data
