"""Section 1.1 of the seed, checked: network 1.1's gradients in closed form, and the seed's formulas as written.

Network 1.1 has one unit per layer, an activation g and N samples (x_n, y_n):

    u1 = w1 x + b1,   h1 = g(u1),   u2 = w2 h1 + b2,   h2 = g(u2),   yhat = w3 h2 + b3
    L = sum_n (y_n - yhat_n)^2 / N

Its gradients, corrected (every factor inside a sum is evaluated at sample n):

    dL/dyhat_n = -(2/N) (y_n - yhat_n)                  one number per sample, no sum
    dL/dw3 = sum_n dL/dyhat_n h2                        dL/db3 = sum_n dL/dyhat_n
    dL/dw2 = sum_n dL/dyhat_n w3 g'(u2) h1              dL/db2 = sum_n dL/dyhat_n w3 g'(u2)
    dL/dw1 = sum_n dL/dyhat_n w3 g'(u2) w2 g'(u1) x     dL/db1 = sum_n dL/dyhat_n w3 g'(u2) w2 g'(u1)

The seed's six final formulas differ in two ways (docs/seed-errata.md has the
whole list): each carries a spurious factor yhat_n, and dL/dw1, dL/db1 have
[g'(u)]^2 where the chain rule gives g'(u2) g'(u1). `seed_formulas_as_written`
evaluates them literally, so tests can pin exactly where they fail.

g' is the engine's own rule (`seed.activations.derivative`). `random_case` draws
test data; `seed_network` builds an `nn.SeedNetwork` holding given parameters,
and `autograd_gradients` differentiates the seed's loss through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from nn.seed_network import SeedNetwork
from seed.activations import Activation, Array, activate, derivative

# Network 1.1's parameters, in SeedNetwork's order and with its labels.
PARAMETERS = ("w1", "b1", "w2", "b2", "w3", "b3")


@dataclass(frozen=True)
class Forward:
    """The intermediate quantities of network 1.1, one entry per sample."""

    u1: Array
    h1: Array
    u2: Array
    h2: Array
    yhat: Array


def _check_data(x: ArrayLike, y: ArrayLike | None = None) -> tuple[Array, Array]:
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be a non-empty 1-d array of samples, got shape {x.shape}")
    if y is None:
        return x, x
    y = np.asarray(y, dtype=float)
    if y.shape != x.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    return x, y


def _check_parameters(params: Mapping[str, float]) -> None:
    missing = [name for name in PARAMETERS if name not in params]
    if missing:
        raise ValueError(f"parameters {missing} are missing: expected a mapping with keys {', '.join(PARAMETERS)}")


def forward(x: ArrayLike, params: Mapping[str, float], activation: Activation) -> Forward:
    """Run network 1.1 on every sample of `x` at once."""
    x, _ = _check_data(x)
    _check_parameters(params)
    u1 = params["w1"] * x + params["b1"]
    h1 = activate(activation, u1)
    u2 = params["w2"] * h1 + params["b2"]
    h2 = activate(activation, u2)
    return Forward(u1, h1, u2, h2, params["w3"] * h2 + params["b3"])


def random_case(
    activation: Activation, rng: np.random.Generator | int, samples: int = 8, margin: float = 0.1
) -> tuple[Array, Array, dict[str, float]]:
    """Random data x, y and parameters for network 1.1, with every |u1|, |u2| > margin.

    The margin keeps the samples away from relu's kink, where g' is undefined. The draw is
    repeated until at least two samples (one, if only one is asked for) have g'(u1) and g'(u2)
    both nonzero (for relu: both units active), so no gradient is zero for want of a live
    path. `rng` is a generator (which it advances) or a seed.
    """
    if samples < 1 or not margin >= 0:
        raise ValueError(f"need samples >= 1 and margin >= 0, got samples={samples!r} and margin={margin!r}")
    rng = np.random.default_rng(rng)
    for _ in range(1000):
        params = {name: float(v) for name, v in zip(PARAMETERS, rng.normal(0.0, 1.2, 6))}
        x = rng.uniform(-2.5, 2.5, 400)
        f = forward(x, params, activation)
        x = x[(np.abs(f.u1) > margin) & (np.abs(f.u2) > margin)][:samples]
        if len(x) < samples:
            continue
        f = forward(x, params, activation)
        live = (derivative(activation, f.u1) != 0) & (derivative(activation, f.u2) != 0)
        if np.sum(live) >= min(2, samples):
            return x, rng.normal(0.0, 1.0, samples), params
    raise ValueError(
        f"no {samples} samples with |u1|, |u2| > {margin} in 1000 draws: ask for fewer or a smaller margin"
    )


def loss(x: ArrayLike, y: ArrayLike, params: Mapping[str, float], activation: Activation) -> float:
    """The seed's L = sum_n (y_n - yhat_n)^2 / N."""
    x, y = _check_data(x, y)
    return float(np.mean((y - forward(x, params, activation).yhat) ** 2))


def gradient_terms(x: ArrayLike, y: ArrayLike, params: Mapping[str, float], activation: Activation) -> dict[str, Array]:
    """Each sample's contribution to each corrected gradient: the summands of the module docstring."""
    x, y = _check_data(x, y)
    f = forward(x, params, activation)
    dL_dyhat = -2.0 / len(x) * (y - f.yhat)
    dL_du2 = dL_dyhat * params["w3"] * derivative(activation, f.u2)
    dL_du1 = dL_du2 * params["w2"] * derivative(activation, f.u1)
    return {
        "w1": dL_du1 * x,
        "b1": dL_du1,
        "w2": dL_du2 * f.h1,
        "b2": dL_du2,
        "w3": dL_dyhat * f.h2,
        "b3": dL_dyhat,
    }


def closed_form_gradients(
    x: ArrayLike, y: ArrayLike, params: Mapping[str, float], activation: Activation
) -> dict[str, float]:
    """dL/dw1 .. dL/db3 of network 1.1 in corrected closed form, summed over the samples."""
    return {name: float(np.sum(terms)) for name, terms in gradient_terms(x, y, params, activation).items()}


def seed_dL_dyhat(y: ArrayLike, yhat: ArrayLike) -> float:
    """The seed's dL/dyhat = -(2/N) sum yhat (y - yhat), as written (it is wrong: see seed-errata)."""
    y, yhat = np.asarray(y, dtype=float), np.asarray(yhat, dtype=float)
    return float(-2.0 / y.size * np.sum(yhat * (y - yhat)))


def seed_intermediate_partials(x: ArrayLike, params: Mapping[str, float], activation: Activation) -> dict[str, Array]:
    """The seed's eight local partials per sample, reading each g'(u) at the u inside that g.

    So u = u2 in the rows for h2 and u = u1 in the rows for h1: the only reading
    under which they are derivatives of the definitions at all.
    """
    x, _ = _check_data(x)
    f = forward(x, params, activation)
    g2, g1 = derivative(activation, f.u2), derivative(activation, f.u1)
    ones = np.ones_like(x)
    return {
        "dyhat/dw3": f.h2,
        "dyhat/db3": ones,
        "dyhat/dh2": params["w3"] * ones,
        "dh2/dw2": f.h1 * g2,
        "dh2/db2": g2,
        "dh2/dh1": params["w2"] * g2,
        "dh1/dw1": x * g1,
        "dh1/db1": g1,
    }


def seed_chain_rule_lines(partials: Mapping[str, Array], dL_dyhat: ArrayLike) -> dict[str, float]:
    """The seed's six chain-rule lines, read per sample and summed: dL/dp = sum_n dL/dyhat_n (product of partials)_n."""
    p = partials
    chains = {
        "w3": p["dyhat/dw3"],
        "b3": p["dyhat/db3"],
        "w2": p["dyhat/dh2"] * p["dh2/dw2"],
        "b2": p["dyhat/dh2"] * p["dh2/db2"],
        "w1": p["dyhat/dh2"] * p["dh2/dh1"] * p["dh1/dw1"],
        "b1": p["dyhat/dh2"] * p["dh2/dh1"] * p["dh1/db1"],
    }
    return {name: float(np.sum(np.asarray(dL_dyhat, dtype=float) * chain)) for name, chain in chains.items()}


def seed_formulas_as_written(
    x: ArrayLike,
    y: ArrayLike,
    params: Mapping[str, float],
    activation: Activation,
    u: Literal["u1", "u2"] = "u2",
) -> dict[str, float]:
    """The seed's six final formulas, evaluated literally.

    The seed writes one symbol u for two different pre-activations, so `u`
    says which one it stands for, everywhere it appears: "u2" (= w2 h1 + b2,
    the argument of g in h2, which the seed's own dh2/dw2 line implies) or "u1"
    (= w1 x + b1). Under either reading dL/dw1 and dL/db1 contain g'(u)^2.
    """
    if u not in ("u1", "u2"):
        raise ValueError(f"u must be 'u1' or 'u2' (which pre-activation the seed's u stands for), got {u!r}")
    x, y = _check_data(x, y)
    f = forward(x, params, activation)
    slope = derivative(activation, f.u1 if u == "u1" else f.u2)
    w2, w3 = params["w2"], params["w3"]
    common = -2.0 / len(x) * f.yhat * (y - f.yhat)  # the seed's -(2/N) yhat (y - yhat) under the sum
    return {
        "w1": float(np.sum(common * w3 * w2 * x * slope**2)),
        "b1": float(np.sum(common * w3 * w2 * slope**2)),
        "w2": float(np.sum(common * w3 * f.h1 * slope)),
        "b2": float(np.sum(common * w3 * slope)),
        "w3": float(np.sum(common * f.h2)),
        "b3": float(np.sum(common)),
    }


def gradients_with_yhat_factor(
    x: ArrayLike, y: ArrayLike, params: Mapping[str, float], activation: Activation
) -> dict[str, float]:
    """The corrected gradients with the seed's spurious factor yhat_n put back into every summand.

    Where a seed formula equals this, the yhat factor is its only mistake.
    """
    yhat = forward(x, params, activation).yhat
    return {name: float(np.sum(yhat * terms)) for name, terms in gradient_terms(x, y, params, activation).items()}


def seed_network(params: Mapping[str, float], activation: str, *, fused: bool = True) -> SeedNetwork:
    """An `nn.SeedNetwork` (one unit per layer) whose parameters w1 .. b3 hold the given values."""
    _check_parameters(params)
    model = SeedNetwork(activation, fused=fused)
    for name, parameter in model.named_parameters():
        parameter.data = float(params[name])
    return model


def autograd_gradients(
    x: ArrayLike, y: ArrayLike, params: Mapping[str, float], activation: str, *, fused: bool = True
) -> dict[str, float]:
    """The engine's gradients of the seed's loss (`SeedNetwork.loss`: nn.mse_loss) with the given parameters."""
    x, y = _check_data(x, y)
    model = seed_network(params, activation, fused=fused)
    model.zero_grad()
    model.loss([float(xn) for xn in x], [float(yn) for yn in y]).backward()
    return {name: parameter.grad for name, parameter in model.named_parameters()}
