"""How far apart two computations of the same number are: the measure behind every "agrees" and "disagrees"."""

from __future__ import annotations


def relative_error(a: float, b: float) -> float:
    """|a - b| relative to the larger of |a|, |b| (0 when both are 0): how far apart two computations are.

    >>> relative_error(2.0, 1.0)
    0.5
    >>> relative_error(0.0, 0.0)
    0.0
    """
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale
