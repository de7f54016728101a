"""seed.activations: g' from the engine's rules, against g' written out by hand and finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import g_prime

import engine
from seed.activations import activate, derivative, derivative_bound

ACTIVATIONS = ["sigmoid", "tanh", "relu"]


@pytest.mark.parametrize("activation", [*ACTIVATIONS, engine.softplus, engine.sin])
def test_derivative_comes_from_the_engine_rule_and_matches_finite_differences(activation: object) -> None:
    u = np.linspace(-3.05, 3.05, 24)  # never 0: relu has no derivative there
    h = 1e-6
    central = (activate(activation, u + h) - activate(activation, u - h)) / (2 * h)  # type: ignore[arg-type]
    np.testing.assert_allclose(derivative(activation, u), central, rtol=1e-7, atol=1e-9)  # type: ignore[arg-type]


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_derivative_matches_g_prime_written_by_hand(activation: str) -> None:
    u = np.concatenate([np.linspace(-6.0, 6.0, 41), [0.0, -0.0, 1e-300, -1e-300]])  # relu's kink: slope 0 at 0
    np.testing.assert_allclose(derivative(activation, u), g_prime(activation, u), rtol=1e-13, atol=1e-15)


def test_derivative_bound_is_the_known_largest_slope() -> None:
    # closed forms: sigmoid' = s(1 - s) <= 1/4 at 0, tanh' = 1 - tanh^2 <= 1 at 0, relu' in {0, 1}
    assert derivative_bound("sigmoid") == 0.25
    assert derivative_bound("tanh") == 1.0
    assert derivative_bound("relu") == 1.0


def test_bad_activations_raise_clear_errors() -> None:
    x = np.linspace(-1.0, 1.0, 5)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        derivative("swish", x)
    with pytest.raises(ValueError, match="'linear' has no operation g"):
        derivative("linear", x)
