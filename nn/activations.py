"""The activations an nn module knows by name, and how to initialise the weights a neuron feeds into each."""

from __future__ import annotations

import math

from engine import Op, relu, sigmoid, tanh

# The activations known by name: engine operations (None = linear, no node).
ACTIVATIONS: dict[str, Op | None] = {"relu": relu, "tanh": tanh, "sigmoid": sigmoid, "linear": None}


def check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: expected one of {', '.join(map(repr, ACTIVATIONS))}")
    return activation


def init_limit(activation: str, nin: int) -> float:
    """Half-width of the uniform initialisation for a neuron with `nin` inputs.

    relu: He (variance 2/nin), so the signal keeps its size through relu layers;
    tanh, sigmoid, linear: LeCun (variance 1/nin), so pre-activations stay near
    the responsive part of the curve. U(-a, a) has variance a^2/3.
    """
    variance = 2.0 / nin if activation == "relu" else 1.0 / nin
    return math.sqrt(3.0 * variance)
