"""The activations an nn module knows by name, and how to initialise the weights a neuron feeds into each."""

from __future__ import annotations

import math

import numpy as np

from engine import Op, relu, sigmoid, tanh
from engine.core.numbers import as_float

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


def check_std(std: float | None, who: str) -> float | None:
    """`std` as a float if it is a positive finite number (or None), else TypeError or ValueError naming `who`."""
    if std is None:
        return None
    value = as_float(std, f"{who}: std")
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{who}: std must be a positive finite number (or None for the uniform default), got {std!r}")
    return value


def draw_weights(
    rng: np.random.Generator, shape: int | tuple[int, ...], nin: int, activation: str, std: float | None
) -> np.ndarray:
    """Initial weights for units with `nin` inputs feeding `activation`.

    `std=None`: uniform on (-a, a) with a = `init_limit(activation, nin)`; a number: Gaussian with
    mean 0 and that standard deviation (microgpt draws every matrix with std 0.08). A checked `std`.
    """
    if std is None:
        limit = init_limit(activation, nin)
        return rng.uniform(-limit, limit, shape)
    return rng.normal(0.0, std, shape)


def refuse_nonlin(nonlin: object, who: str) -> None:
    """micrograd's `nonlin=` (its Neuron's switch between ReLU and linear) is not nn's: say what to write instead."""
    if nonlin is not None:
        raise TypeError(
            f"{who} takes activation= ('relu', 'tanh', 'sigmoid' or 'linear'), not micrograd's nonlin=; "
            f"for micrograd's own Neuron, Layer and MLP, as its notebooks use them, write nn.micrograd.{who}"
        )
