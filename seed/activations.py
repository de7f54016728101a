"""The activation g of the seed's networks on numpy arrays: g, its slope g' and the largest slope max |g'|.

g' is not restated here: `derivative` evaluates the activation's own rule from engine/core/ops.py on
numpy arrays, so the closed forms of both sections use exactly the engine's mathematics. (The
tests check these functions against g' written out by hand and against finite differences.)
"""

from __future__ import annotations

from typing import Union

import numpy as np
from numpy.typing import ArrayLike

from engine import Op
from nn.activations import ACTIVATIONS

Activation = Union[str, Op]
Array = np.ndarray


def activation_op(activation: Activation) -> Op:
    """The engine operation g for an activation given as an Op or by a name from `nn.activations.ACTIVATIONS`.

    Only the names with an operation count ("linear" has none: it has no g to differentiate).
    """
    if isinstance(activation, Op):
        return activation
    op = ACTIVATIONS.get(activation)
    if op is None:
        names = ", ".join(repr(name) for name, known in ACTIVATIONS.items() if known is not None)
        if activation in ACTIVATIONS:
            problem = f"activation {activation!r} has no operation g (it is the identity)"
        else:
            problem = f"unknown activation {activation!r}"
        raise ValueError(f"{problem}: expected an engine Op or one of {names}")
    return op


def activate(activation: Activation, u: ArrayLike) -> Array:
    """g(u) elementwise, by the operation's numpy forward."""
    return np.asarray(activation_op(activation).array_forward(np.asarray(u, dtype=float)), dtype=float)


def derivative(activation: Activation, u: ArrayLike) -> Array:
    """g'(u) elementwise, from the operation's own derivative rule (the one stated in engine/core/ops.py).

    The rule maps g = dL/d(out) to dL/d(input); with g = 1 it returns d(out)/d(input).
    """
    op = activation_op(activation)
    u = np.asarray(u, dtype=float)
    (slope,) = op.rule(np.ones_like(u), op.array_forward(u), u)
    return np.broadcast_to(np.asarray(slope, dtype=float), u.shape).copy()


def derivative_bound(activation: Activation, grid: ArrayLike | None = None) -> float:
    """max |g'(u)| over a grid of u (default: -20..20 in steps of 0.001, which contains 0).

    Exact for sigmoid (1/4, at u = 0), tanh (1, at u = 0) and relu (1, any u > 0),
    whose largest slope lies on the grid; for other activations a numerical estimate.
    """
    u = np.linspace(-20.0, 20.0, 40001) if grid is None else np.asarray(grid, dtype=float)
    return float(np.max(np.abs(derivative(activation, u))))
