"""The checks every nn module applies to what it is built from (sizes, flags) and called on (one sample's inputs).

Each check raises the error a learner can act on, naming the module and the argument: a size that is not
a positive whole number, a flag that is not True or False, a batch given where one sample is expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Union

import numpy as np

from engine import Value

Input = Union[Value, int, float]


def check_size(n: object, who: str, what: str) -> int:
    """`n` if it is a positive whole number, else ValueError naming `who` and `what`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{who} needs a positive whole number of {what}, got {n!r}")
    return int(n)


def check_flag(flag: object, who: str, what: str) -> bool:
    """`flag` if it is True or False, else TypeError naming `who` and `what`."""
    if not isinstance(flag, (bool, np.bool_)):
        raise TypeError(f"{who}: {what} must be True or False, got {flag!r}")
    return bool(flag)


def check_inputs(x: Sequence[Input], nin: int | None, who: str) -> None:
    """Nothing if `x` is one sample's list of inputs (`nin` of them; at least one when None); else TypeError for
    something that is not a list, ValueError for a wrong length or a batch (a matrix, a list of rows), with a
    message saying how to run a batch: engine.vectorize, or a loop.
    """
    expected = f"{nin} inputs" if nin is not None else "inputs"
    try:
        n = len(x)
    except TypeError:
        raise TypeError(f"{who} expects a list of {expected} (numbers or Values), got {type(x).__name__}") from None
    shape = getattr(x, "shape", None)
    first = next(iter(x), None)
    if (shape is not None and len(shape) >= 2) or isinstance(first, (list, tuple, np.ndarray)):
        given = f"an array of shape {shape}" if shape is not None else f"a list of {n} rows"
        raise ValueError(
            f"{who} expects {expected}, one sample, and got {given}: a batch of {n} samples? A batch goes through "
            "engine.vectorize, which takes the whole matrix: engine.vectorize(model)(X); or call the model on one "
            "row at a time: [model(list(row)) for row in X]"
        )
    if nin is None:
        if n == 0:
            raise ValueError(f"{who} expects at least one input, got none")
    elif n != nin:
        raise ValueError(f"{who} expects {nin} inputs, got {n}")


def as_values(x: Sequence[Input]) -> list[Value]:
    """The inputs as Values: a number becomes a new leaf, a Value stays itself."""
    return [xi if isinstance(xi, Value) else Value(xi) for xi in x]
