"""Parameter arrays: a module's parameters as nested lists of Values, with a shape, as a state dict holds them.

A Value is an array of shape (), a list of Values one of shape (n,), a list of such lists (a matrix, a
list of rows) one of shape (rows, columns), and so on; tuples count as lists. `flatten` gives an
array's shape and its Values in row-major order, the order of `parameters()` and of a state dict's
arrays; `entry_name` names one entry (`weight[2,0]`). This module knows no Module.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import repeat
from typing import Any, Union

from engine import Value

# Parameters arranged as an array: a Value (0-d), a list of Values (1-d), a list of such lists (2-d), ...
ValueArray = Union[Value, Sequence["ValueArray"]]


def holds_a_value(items: list[Any] | tuple[Any, ...]) -> bool:
    """Whether a Value sits in `items` or in lists (or tuples) within it: then it is meant as an array."""
    return any(isinstance(x, Value) or (isinstance(x, (list, tuple)) and holds_a_value(x)) for x in items)


def flatten(array: ValueArray, name: str) -> tuple[tuple[int, ...], list[Value]]:
    """The shape of a (nested) list of Values and its Values in row-major order; TypeError naming `name` if it is
    not a rectangular array of Values."""
    if isinstance(array, Value):
        return (), [array]
    if not isinstance(array, (list, tuple)):
        raise TypeError(f"parameter array {name!r} holds a {type(array).__name__}; expected only Values")
    if all(map(isinstance, array, repeat(Value))):  # the common case, a row, without a call per entry
        return (len(array),), list(array)
    rows = [flatten(row, name) for row in array]
    shapes = {shape for shape, _ in rows}
    if len(shapes) != 1:
        raise TypeError(
            f"parameter array {name!r} is ragged: its entries have shapes {sorted(shapes)}; expected a rectangle"
        )
    values: list[Value] = []
    for _, row in rows:
        values += row
    return (len(array), *rows[0][0]), values


def entry_name(name: str, index: tuple[int, ...]) -> str:
    """The name of one entry of the array `name`: `weight[2,0]`, or `name` itself for a single Value."""
    return f"{name}[{','.join(map(str, index))}]" if index else name
