"""Section 1.2 of the seed, checked: a deep chain of layers, its gradient as a product of Jacobians, and its bound.

Layers i = 1..k, weight matrices W_i of shape (units of layer i, units of layer i-1),
u_i = W_i h_{i-1} + b_i with h_0 = x, h_i = g(u_i) for i < k, and a linear output
yhat = W_k h_{k-1} + b_k; the loss is the seed's L = sum_n (y_n - yhat_n)^2 / N.
`first_layer_gradient` is its backpropagation written as the product of the
Jacobians diag(g'(u_i)) W_i, `first_layer_gradient_bound` the bound that product
obeys, and `seed_deep_formula_as_written` the seed's own result, evaluated
literally. `deep_mlp` builds the same chain as an `nn.MLP` holding given weights,
so the engine's autograd can be compared with all three.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from nn.mlp import MLP
from seed.activations import Activation, Array, activate, derivative, derivative_bound


def _check_layers(
    x: ArrayLike, weights: Sequence[Array], biases: Sequence[Array], y: ArrayLike | None = None
) -> tuple[Array, Array]:
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"x must have shape (samples, inputs) with at least one sample, got {x.shape}")
    y = np.zeros(len(x)) if y is None else np.asarray(y, dtype=float)
    if y.shape != (len(x),):
        raise ValueError(f"y must hold one target per sample, shape ({len(x)},), got {y.shape}")
    if len(weights) != len(biases) or len(weights) < 2:
        raise ValueError(
            f"need at least two layers and one bias per weight matrix, got {len(weights)} and {len(biases)}"
        )
    width = x.shape[1]
    for i, (w, b) in enumerate(zip(weights, biases), start=1):
        units = np.shape(w)[0] if np.ndim(w) == 2 else -1
        if np.shape(w) != (units, width) or np.shape(b) != (units,):
            raise ValueError(
                f"layer {i}: W has shape {np.shape(w)} and b {np.shape(b)}; expected (units, {width}) and (units,)"
            )
        width = units
    if width != 1:
        raise ValueError(f"the last layer must have one output (yhat), got {width}")
    return x, y


def deep_forward(
    x: ArrayLike, weights: Sequence[Array], biases: Sequence[Array], activation: Activation
) -> tuple[list[Array], Array]:
    """Pre-activations u_1..u_{k-1} (each (samples, units)) and yhat (samples,) of the deep chain."""
    h, _ = _check_layers(x, weights, biases)
    us = []
    for w, b in zip(weights[:-1], biases[:-1]):
        u = h @ np.asarray(w).T + b
        us.append(u)
        h = activate(activation, u)
    return us, (h @ np.asarray(weights[-1]).T + biases[-1])[:, 0]


def first_layer_gradient(
    x: ArrayLike, y: ArrayLike, weights: Sequence[Array], biases: Sequence[Array], activation: Activation
) -> Array:
    """dL/dW_1 of the deep chain under the seed's loss, as the product of Jacobians.

    delta_{k-1} = g'(u_{k-1}) * W_k^T dL/dyhat and delta_i = g'(u_i) * W_{i+1}^T delta_{i+1},
    i.e. the chain sum_n dL/dyhat_n W_k diag(g'(u_{k-1})) W_{k-1} ... diag(g'(u_1)) x_n^T;
    each product of matrices sums over every path from the weight to yhat.
    """
    x, y = _check_layers(x, weights, biases, y)
    us, yhat = deep_forward(x, weights, biases, activation)
    delta = (-2.0 / len(y) * (y - yhat))[:, None]  # dL/dyhat_n, shape (samples, 1)
    for i in range(len(us) - 1, -1, -1):
        delta = (delta @ np.asarray(weights[i + 1])) * derivative(activation, us[i])
    return delta.T @ x


def first_layer_gradient_bound(
    x: ArrayLike,
    y: ArrayLike,
    weights: Sequence[Array],
    biases: Sequence[Array],
    activation: Activation,
    slope_bound: float | None = None,
) -> float:
    """An upper bound on ||dL/dW_1||_F, for any activation with |g'| <= slope_bound:

        sum_n |dL/dyhat_n| ||x_n|| slope_bound^(k-1) prod_{i=2..k} ||W_i||_2

    (||.||_2 is the spectral norm, at most the Frobenius norm). It follows from
    the Jacobian product in `first_layer_gradient`, one factor at a time. It goes
    to 0 with depth when slope_bound * ||W_i||_2 <= c < 1 for every layer;
    entries |w_ij| < 1 alone do not make it small. `slope_bound` defaults to
    `derivative_bound(activation)`.
    """
    x, y = _check_layers(x, weights, biases, y)
    bound = derivative_bound(activation) if slope_bound is None else float(slope_bound)
    if not bound >= 0:
        raise ValueError(f"slope_bound must be a non-negative number, got {slope_bound!r}")
    _, yhat = deep_forward(x, weights, biases, activation)
    dL_dyhat = -2.0 / len(y) * (y - yhat)
    data_factor = float(np.sum(np.abs(dL_dyhat) * np.linalg.norm(x, axis=1)))
    spectral = math.prod(float(np.linalg.norm(np.asarray(w, dtype=float), 2)) for w in weights[1:])
    return data_factor * bound ** (len(weights) - 1) * spectral


def deep_mlp(weights: Sequence[Array], biases: Sequence[Array], activation: str) -> MLP:
    """An engine `nn.MLP` holding the given weights: W_i[j, c] is layer i, neuron j+1, weight c+1."""
    nin = np.shape(weights[0])[1]
    model = MLP(nin, [np.shape(w)[0] for w in weights], activation)
    for layer, w, b in zip(model.layers, weights, biases):
        for j, neuron in enumerate(layer.neurons):
            for c, weight in enumerate(neuron.w):
                weight.data = float(w[j][c])
            neuron.b.data = float(b[j])
    return model


def seed_deep_formula_as_written(dL_dyhat: float, slope: float, path_weights: Sequence[float]) -> float:
    """The seed's 1.2 result dL/dyhat (g'(u))^(k-2) prod_{i=2..k} w_{i,j}, with path_weights = (w_2, .., w_k)."""
    k = len(path_weights) + 1
    return dL_dyhat * slope ** (k - 2) * math.prod(path_weights)
