"""The seed's six final formulas of network 1.1 as text (nn/seed_formulas.py), read as arithmetic and evaluated.

nn.SeedNetwork shows each formula, as the seed writes it and corrected, beside its parameter in
`engine.explain` and `engine.explore`. The text is installed with `nn`; this module, which is not,
checks that it says what the numbers say. Every formula has the form

    −(2/N) Σ factor factor ...

a sum over the samples of a product of network 1.1's quantities at sample n: ŷ, (y − ŷ), x, h1,
h2, w2, w3, g'(u1), g'(u2), and the seed's ∂g(u)/∂u and [∂g(u)/∂u]², where `u` says which
pre-activation the seed's single symbol u stands for (docs/seed-errata.md, "Reading the seed's u").
`evaluate` reads every character of the formula or refuses it, so the text cannot say more than
what is evaluated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from nn.seed_formulas import FORMULAS
from seed import network_1_1
from seed.activations import Activation, derivative

SUM = "−(2/N) Σ "  # what every formula's right-hand side begins with
FACTOR = re.compile(r"\(y − ŷ\)|\[∂g\(u\)/∂u\]²|∂g\(u\)/∂u|g'\(u[12]\)|ŷ|x|h[12]|w[23]")


def evaluate(
    formula: str,
    x: ArrayLike,
    y: ArrayLike,
    params: Mapping[str, float],
    activation: Activation,
    u: Literal["u1", "u2"] = "u2",
) -> float:
    """The value of one formula (`∂L/∂w3 = −(2/N) Σ ...`, or its right-hand side alone) on samples x, y."""
    if u not in ("u1", "u2"):
        raise ValueError(f"u must be 'u1' or 'u2' (which pre-activation the seed's u stands for), got {u!r}")
    right = formula.split(" = ", 1)[-1]
    if not right.startswith(SUM):
        raise ValueError(f"a formula of network 1.1 reads {SUM!r} then a product, got {formula!r}")
    product = right.removeprefix(SUM)
    factors = FACTOR.findall(product)
    if " ".join(factors) != product:
        raise ValueError(f"cannot read {product!r} as a product of {FACTOR.pattern}")
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    f = network_1_1.forward(x, params, activation)
    g1, g2 = derivative(activation, f.u1), derivative(activation, f.u2)
    slope = g1 if u == "u1" else g2
    quantities = {
        "ŷ": f.yhat,
        "(y − ŷ)": y - f.yhat,
        "x": x,
        "h1": f.h1,
        "h2": f.h2,
        "w2": params["w2"],
        "w3": params["w3"],
        "g'(u1)": g1,
        "g'(u2)": g2,
        "∂g(u)/∂u": slope,
        "[∂g(u)/∂u]²": slope**2,
    }
    terms = np.ones_like(x)
    for factor in factors:
        terms = terms * quantities[factor]
    return float(-2.0 / len(x) * np.sum(terms))


def written_values(
    x: ArrayLike, y: ArrayLike, params: Mapping[str, float], activation: Activation, u: Literal["u1", "u2"] = "u2"
) -> dict[str, float]:
    """dL/dw1 .. dL/db3 as the seed's formulas (the text nn.SeedNetwork notes) give them, reading u as `u`."""
    return {name: evaluate(FORMULAS[name].written, x, y, params, activation, u) for name in network_1_1.PARAMETERS}


def corrected_values(
    x: ArrayLike, y: ArrayLike, params: Mapping[str, float], activation: Activation
) -> dict[str, float]:
    """dL/dw1 .. dL/db3 as the corrections in the same text give them (the formula itself where the seed is right)."""
    formulas = {name: FORMULAS[name] for name in network_1_1.PARAMETERS}
    return {name: evaluate(f.corrected or f.written, x, y, params, activation) for name, f in formulas.items()}
