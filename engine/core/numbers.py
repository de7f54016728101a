"""Real numbers in, floats out: the one conversion every layer uses for the numbers it is given.

A Value holds a float. Ints, bools and numpy real scalars are converted; anything else
(a string, a complex number, an array, None) is a TypeError that says what was expected and what
came, so `Value("3")` or `nn.SGD(params, lr="0.1")` fails where the mistake is.
"""

from __future__ import annotations

import numbers
from typing import Any, Union

import numpy as np

Number = Union[int, float]


def as_float(data: Any, what: str = "Value") -> float:
    """`data` as a float if it is a real number (int, float, numpy real scalar), else TypeError naming `what`."""
    if type(data) is float:
        return data
    if isinstance(data, (float, int)) or (isinstance(data, numbers.Real) and not isinstance(data, np.ndarray)):
        return float(data)  # a numpy float64 is a float, and passes the first check
    raise TypeError(
        f"{what} expects a real number (int, float or numpy real scalar), got {type(data).__name__}: {data!r:.60}"
    )
