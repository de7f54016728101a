"""State dicts: a model's parameters as named float64 arrays, and the one check every array goes through on its way in.

`load_state_dict`, `save` and `nn.load` accept arrays only through `checked_state`: exactly the names
expected, each with its expected shape, real numbers (float or int) and all finite. This module knows
no model: the caller says which names and shapes it expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

Shapes = dict[str, tuple[int, ...]]


def checked_state(state: Mapping[str, Any], shapes: Shapes, where: str) -> dict[str, np.ndarray]:
    """`state` as new float64 arrays, if it has exactly the names of `shapes`, with those shapes and finite real values.

    Anything else raises ValueError (TypeError for a `state` that is not a mapping, or an entry that
    cannot be read as an array) whose message starts with `where` and names the entry.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"{where}: expected a mapping of names to arrays, got {type(state).__name__}")
    missing = [name for name in shapes if name not in state]
    extra = sorted(str(name) for name in state if name not in shapes)
    if missing or extra:
        expected = ", ".join(shapes) if shapes else "no arrays (the model has no parameters)"
        raise ValueError(f"{where}: {difference(missing, extra, 'array')}; expected {expected}")
    arrays = {}
    for name, expected_shape in shapes.items():
        try:
            array = np.asarray(state[name])
        except Exception as error:  # e.g. a torch tensor that requires grad
            raise TypeError(f"{where}: {name!r} cannot be read as an array: {error}") from error
        if array.dtype.kind not in "fiu":
            raise ValueError(f"{where}: {name!r} has dtype {array.dtype}; expected real numbers (float or int)")
        if array.shape != expected_shape:
            raise ValueError(f"{where}: {name!r} has shape {array.shape}; expected {expected_shape}")
        array = array.astype(np.float64)  # a copy: the caller's array is never shared with the model
        bad = np.argwhere(~np.isfinite(array))
        if len(bad):
            index = tuple(int(i) for i in bad[0])
            raise ValueError(
                f"{where}: {name!r} has {len(bad)} non-finite value(s), e.g. {float(array[index])!r} at {index}; "
                "expected finite numbers"
            )
        arrays[name] = array
    return arrays


def difference(missing: list[str], extra: list[str], what: str) -> str:
    """'missing array(s) 'a' and unexpected array(s) 'b'': what a set of names lacks and has too much of."""
    parts = []
    if missing:
        parts.append(f"missing {what}(s) {', '.join(map(repr, missing))}")
    if extra:
        parts.append(f"unexpected {what}(s) {', '.join(map(repr, extra))}")
    return " and ".join(parts)
