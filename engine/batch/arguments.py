"""The arguments of a vectorized call, checked and laid out as the replay reads them.

Each argument of `fn` is given for the whole batch in one of three forms, which mix freely:

- a plain number: `fn` receives one Value, the same for every sample;
- a 1-d array (N,) (or a list of N numbers): one Value, a number per sample;
- a 2-d array (N, k) (or N lists of k numbers): a list of k Values, a row per sample.

Numbers may be infinite (a -inf mask is data) but not NaN: a NaN in the data is refused, naming the argument,
the sample and the column, before anything is computed.

The first call fixes the forms (one Value or a list of k); later calls must give the same. Inside, an
argument is an array (width, N): a row per Value `fn` receives, a column per sample, so a matrix
argument is read through a transposed view, without a copy.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.core.value import Value

# A recorded argument's form: None for one Value, k for a list of k Values.
Form = int | None
# Integers from -2**53 to 2**53 are exactly floats; a label or token id beyond would silently change.
EXACT_INTEGERS = 2**53


@dataclass(frozen=True)
class Batch:
    """The checked arguments: `rows[i]` is argument i as an array (width, n) of floats; `forms[i]` its form."""

    rows: list[np.ndarray]
    forms: list[Form]
    n: int

    def sample(self, i: int, names: Sequence[str]) -> list[Value | list[Value]]:
        """The arguments fn receives for sample i, as new leaves labelled by fn's parameter names (x, x[3])."""
        return [
            Value(float(rows[0, i]), label=name)
            if form is None
            else [Value(float(x), label=f"{name}[{j}]") for j, x in enumerate(rows[:, i])]
            for rows, form, name in zip(self.rows, self.forms, names)
        ]


def parameter_names(fn: Callable[..., Any]) -> list[str]:
    """fn's positional parameter names, for messages and labels (x1, x2, y); [] when they cannot be read."""
    parameters = _parameters(fn)
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def rest_name(fn: Callable[..., Any]) -> str | None:
    """The name of fn's `*rest` parameter, which receives the arguments after the named ones; None without one."""
    return next((p.name for p in _parameters(fn) if p.kind is p.VAR_POSITIONAL), None)


def _parameters(fn: Callable[..., Any]) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return []


def argument_names(names: Sequence[str], rest: str | None, count: int) -> list[str]:
    """A distinct name for each of `count` arguments of a call: fn's positional parameter `names`, then
    `rest[0]`, `rest[1]`, ... for those its `*rest` parameter receives, else `arg<i>` (i counted from 1)."""
    named = list(names[:count])
    if rest is not None:
        return named + [f"{rest}[{k}]" for k in range(count - len(named))]
    return named + [argument_name(named, i) for i in range(len(named), count)]


def argument_name(names: Sequence[str], i: int) -> str:
    """Argument i's name: names[i], or `arg<i+1>` beyond them (primed until no name in `names` is the same)."""
    if i < len(names):
        return names[i]
    name = f"arg{i + 1}"
    while name in names:
        name += "'"
    return name


def check_argument_count(fn: Callable[..., Any], count: int, names: Sequence[str], who: str) -> None:
    """TypeError unless fn accepts `count` positional arguments (checked before the first call records fn)."""
    if count == 0:
        raise TypeError(f"{who} needs at least one argument: the samples of each input of fn")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # no signature to read (some built-ins): calling fn will tell
        return
    try:
        signature.bind(*range(count))
    except TypeError:
        listed = ", ".join(names) if names else "none"
        raise TypeError(
            f"{who}: fn takes {len(names)} positional argument(s) ({listed}), got {count}; "
            "pass one array of samples (or a number) per parameter of fn"
        ) from None


def batch_of(columns: Sequence[Any], names: Sequence[str], recorded: Sequence[Form] | None, who: str) -> Batch:
    """The arguments checked and laid out as a Batch; TypeError or ValueError naming the argument otherwise.

    `names` holds a name for each argument (`argument_names`).
    `recorded` holds the forms of the recording, when there is one: a call must then give each argument
    in the same form (one Value, or a list of the same width).
    """
    if recorded is not None and len(columns) != len(recorded):
        listed = ", ".join(argument_name(names, i) for i in range(len(recorded)))
        raise TypeError(f"{who} was recorded with {len(recorded)} argument(s) ({listed}); got {len(columns)}")
    arrays: list[np.ndarray] = []
    forms: list[Form] = []
    lengths: list[tuple[str, tuple[int, ...]]] = []  # (name, shape) of every argument given as an array
    for i, column in enumerate(columns):
        name = argument_name(names, i)
        array = _as_array(column, name, who)
        form: Form = array.shape[1] if array.ndim == 2 else None
        if recorded is not None and form != recorded[i]:
            raise ValueError(f"{who}: argument {name} {_recorded_as(recorded[i])}; got {_given_as(array)}")
        if array.ndim > 0:
            lengths.append((name, array.shape))
        arrays.append(array)
        forms.append(form)
    if len({shape[0] for _, shape in lengths}) > 1:
        shown = ", ".join(
            f"{name}: {shape[0]}" + (f" (rows of {shape})" if len(shape) == 2 else "") for name, shape in lengths
        )
        raise ValueError(f"{who}: arguments must hold the same number of samples, got {shown}")
    n = lengths[0][1][0] if lengths else 1
    rows = [_as_rows(array, n) for array in arrays]
    return Batch(rows, forms, n)


def _as_array(column: Any, name: str, who: str) -> np.ndarray:
    """One argument as a numpy array of 0, 1 or 2 dimensions of real numbers, checked."""
    if isinstance(column, Value):
        raise TypeError(f"{who}: argument {name} is a Value; pass numbers (an array of samples, or one number)")
    if isinstance(column, (str, bytes)):
        raise TypeError(f"{who}: argument {name} must be numbers, got {type(column).__name__}: {column!r:.40}")
    try:
        array = np.asarray(column)
    except ValueError:  # numpy refuses lists of rows of different lengths
        raise ValueError(
            f"{who}: argument {name} is a ragged list (its rows have different lengths); expected N rows of "
            "the same number of values, one row per sample"
        ) from None
    if array.dtype.kind not in "biuf":
        raise TypeError(
            f"{who}: argument {name} must hold real numbers, got an array of {array.dtype} ({column!r:.60})"
        )
    if array.ndim > 2:
        raise ValueError(
            f"{who}: argument {name} must be a number, an array (N,) of one number per sample or (N, k) of k "
            f"numbers per sample, got shape {array.shape}"
        )
    if array.ndim > 0 and array.shape[0] == 0:
        raise ValueError(f"{who}: argument {name} is empty; need at least one sample")
    if array.ndim == 2 and array.shape[1] == 0:
        raise ValueError(f"{who}: argument {name} has no columns, shape {array.shape}; need k >= 1 values per sample")
    if array.dtype.kind == "f" and array.size and np.isnan(array.min()):  # min is nan when any entry is
        raise ValueError(f"{who}: {_nan_found(array, name)}")
    if array.dtype.kind in "iu" and array.size:
        low, high = int(array.min()), int(array.max())
        if low < -EXACT_INTEGERS or high > EXACT_INTEGERS:
            raise ValueError(
                f"{who}: argument {name} holds integers beyond 2**53 ({high if high > EXACT_INTEGERS else low}), "
                "which floats cannot hold exactly"
            )
    return array


def _nan_found(array: np.ndarray, name: str) -> str:
    """Where the first NaN of an argument is, and why it is refused."""
    if array.ndim == 0:
        where = f"argument {name} is NaN"
    else:
        place = np.argwhere(np.isnan(array))[0]
        where = f"argument {name} contains NaN at sample {place[0]}" + (
            f", column {place[1]}" if array.ndim == 2 else ""
        )
    return (
        f"{where} (Input contains NaN). NaN in the data would make the loss and every gradient NaN: drop or fill "
        "in the missing values first. Infinities are allowed (a -inf mask is); engine.detect_anomaly() finds a "
        "NaN that arises inside fn"
    )


def _as_rows(array: np.ndarray, n: int) -> np.ndarray:
    """An argument as floats (width, n): a matrix through its transposed view, a number for every sample."""
    values = np.asarray(array, dtype=float)
    if values.ndim == 2:
        return values.T
    if values.ndim == 1:
        return values[None, :]
    return np.broadcast_to(values, (1, n))


def _recorded_as(form: Form) -> str:
    if form is None:
        return "was recorded as one Value (an array (N,) or a number)"
    return f"was recorded as a list of {form} Values (an array (N, {form}))"


def _given_as(array: np.ndarray) -> str:
    return "a number" if array.ndim == 0 else f"an array of shape {array.shape}"
