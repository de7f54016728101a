"""The seed's section 1.2 (seed.deep_chain_1_2), checked claim by claim (docs/seed-errata.md cites these tests).

Oracles: the engine's autograd through nn.MLP, every path of a width-two chain enumerated by hand,
slopes g' written out by hand (conftest.g_prime, never the engine's rules), the known largest slopes
(1/4, 1, 1), and closed forms for the counterexamples (a telescoping product). Where the seed is wrong
the test asserts the mismatch; where it is right the test asserts agreement.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from conftest import g_prime
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import nn
from engine import Value
from seed.activations import activate
from seed.compare import relative_error
from seed.deep_chain_1_2 import (
    deep_forward,
    deep_mlp,
    first_layer_gradient,
    first_layer_gradient_bound,
    seed_deep_formula_as_written,
)

ACTIVATIONS = ["sigmoid", "tanh", "relu"]
MAX_SLOPE = {"sigmoid": 0.25, "tanh": 1.0, "relu": 1.0}  # sup |g'|: s(1 - s) at s = 1/2, 1 - tanh^2 at 0, relu' = 1
AGREE = 1e-10  # relative tolerance for two exact computations of the same number
DISAGREE = 1e-2  # a seed formula "disagrees" when its relative error exceeds this


def test_bad_arguments_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="one output"):
        first_layer_gradient(np.ones((2, 1)), np.ones(2), [np.ones((2, 1)), np.ones((2, 2))], [np.zeros(2)] * 2, "tanh")
    with pytest.raises(ValueError, match="one target per sample"):
        first_layer_gradient(np.ones((2, 1)), np.ones(3), [np.ones((1, 1))] * 2, [np.zeros(1)] * 2, "tanh")
    with pytest.raises(ValueError, match="slope_bound must be a non-negative"):
        first_layer_gradient_bound(np.ones((2, 1)), np.ones(2), [np.ones((1, 1))] * 2, [np.zeros(1)] * 2, "tanh", -1)


# --- 1.2: the norm argument ---------------------------------------------------------------------------------
# The next two tests check the errata's mathematics only (rows 28-29), on vectors hypothesis draws: they touch
# no project code, and each fails if its claim is false.


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, st.integers(1, 8), elements=st.floats(-1.5, 1.5)))
def test_two_norm_below_one_implies_every_entry_below_one(w: np.ndarray) -> None:
    norm = math.sqrt(float(np.sum(w**2)))
    assert norm == pytest.approx(float(np.linalg.norm(w)), rel=1e-12)  # ||w||_2 = sqrt(sum w_j^2)
    # |w_j| <= ||w||_2 for every w, the reason for the implication (math.hypot: the norm without underflow)
    assert np.max(np.abs(w)) <= math.hypot(*w) * (1 + 1e-15)
    if 0 < norm < 1:
        assert np.all(np.abs(w) < 1)


def test_every_entry_below_one_does_not_imply_two_norm_below_one() -> None:
    """The converse fails, so "every |w_j| < 1" is the weaker statement the seed's argument goes on to use."""
    entries_below_one = arrays(
        np.float64, st.integers(1, 8), elements=st.floats(-1, 1, exclude_min=True, exclude_max=True)
    )
    w = find(entries_below_one, lambda v: bool(np.linalg.norm(v) >= 1), settings=settings(database=None))
    assert np.all(np.abs(w) < 1) and np.linalg.norm(w) >= 1


def _output(model: nn.MLP, x: np.ndarray) -> Value:
    out = model([float(v) for v in x])
    assert isinstance(out, Value)
    return out


def _engine_first_layer_gradient(
    x: np.ndarray, y: np.ndarray, weights: list, biases: list, activation: str
) -> np.ndarray:
    model = deep_mlp(weights, biases, activation)
    nn.mse_loss([_output(model, xn) for xn in x], [float(v) for v in y]).backward()
    return np.array([[w.grad for w in neuron.w] for neuron in model.layers[0].neurons])


def _random_chain(rng: np.random.Generator, nin: int, width: int, depth: int, scale: float) -> tuple[list, list]:
    sizes = [nin, *[width] * (depth - 1), 1]
    weights = [rng.normal(0, scale, (sizes[i + 1], sizes[i])) for i in range(depth)]
    biases = [rng.normal(0, 0.3, sizes[i + 1]) for i in range(depth)]
    return weights, biases


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_width_two_gradient_is_a_sum_over_paths_not_the_seeds_single_product(activation: str) -> None:
    rng = np.random.default_rng(21)
    depth = 5  # k: W_1..W_4 of width 2, then the read-out W_5
    # Positive weights and biases keep every relu unit on, so every path carries gradient.
    weights = [rng.uniform(0.2, 1.0, shape) for shape in [(2, 1), (2, 2), (2, 2), (2, 2), (1, 2)]]
    biases = [rng.uniform(0.0, 0.5, len(w)) for w in weights]
    x, y = np.array([[0.7]]), np.array([0.2])
    autograd = _engine_first_layer_gradient(x, y, weights, biases, activation)
    np.testing.assert_allclose(first_layer_gradient(x, y, weights, biases, activation), autograd, rtol=AGREE)
    # Independently: enumerate every path j_1 -> j_2 -> ... -> j_{k-1} -> yhat and add up its products.
    us, yhat = deep_forward(x, weights, biases, activation)
    slopes = [g_prime(activation, u)[0] for u in us]
    dL_dyhat = -2.0 * (y[0] - yhat[0])

    def path_product(path: tuple[int, ...]) -> float:
        product = dL_dyhat * weights[-1][0, path[-1]] * slopes[0][path[0]] * x[0, 0]
        for i in range(1, depth - 1):
            product *= weights[i][path[i], path[i - 1]] * slopes[i][path[i]]
        return product

    for j in range(2):
        paths = [(j, *rest) for rest in itertools.product(range(2), repeat=depth - 2)]
        assert sum(path_product(p) for p in paths) == pytest.approx(autograd[j, 0], rel=AGREE, abs=1e-15)
        # The seed's prod_i w_{i,j} follows one path (unit j in every layer), even with g' fixed per layer.
        assert relative_error(path_product((j,) * (depth - 1)), autograd[j, 0]) > DISAGREE


def _equal_u_chain(activation: str, depth: int, c: float, x: float) -> tuple[list, list]:
    """A width-1 chain whose pre-activations all equal c at input x, so the seed's single g'(u) is unambiguous."""
    rng = np.random.default_rng(depth)
    w = rng.uniform(0.5, 0.95, depth) * rng.choice([-1, 1], depth)
    h = float(activate(activation, np.array(c)))
    biases = [np.array([c - w[0] * x])] + [np.array([c - w[i] * h]) for i in range(1, depth)]
    return [np.array([[wi]]) for wi in w], biases


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("depth", [3, 4, 6, 8])
def test_seed_depth_formula_is_one_slope_and_the_input_short(activation: str, depth: int) -> None:
    c, x, y = 0.4, 1.7, np.array([-0.5])
    weights, biases = _equal_u_chain(activation, depth, c, x)
    us, yhat = deep_forward(np.array([[x]]), weights, biases, activation)
    assert np.allclose([u[0, 0] for u in us], c, rtol=1e-14)
    autograd = _engine_first_layer_gradient(np.array([[x]]), y, weights, biases, activation)[0, 0]
    slope = float(g_prime(activation, np.array(c)))
    dL_dyhat = -2.0 * (y[0] - yhat[0])  # the corrected one, so only the depth formula is on trial
    seed = seed_deep_formula_as_written(dL_dyhat, slope, [float(w[0, 0]) for w in weights[1:]])
    # The first layer's own factor dh_1/dw_1 = g'(u_1) x is missing: k-1 slopes, not k-2.
    assert autograd == pytest.approx(seed * slope * x, rel=AGREE)
    assert relative_error(seed, autograd) > DISAGREE


def _distinct_u_chain(activation: str) -> tuple[np.ndarray, np.ndarray, list, list, float, list[float], float]:
    """A width-1 chain of depth 5 whose four pre-activations, and so four slopes, clearly differ."""
    x, y = np.array([[0.9]]), np.array([0.4])
    weights = [np.array([[w]]) for w in (0.8, -0.7, 0.9, 0.6, 0.5)]
    biases = [np.array([b]) for b in (0.2, 2.5, -2.0, 0.3, 0.1)]
    autograd = _engine_first_layer_gradient(x, y, weights, biases, activation)[0, 0]
    us, yhat = deep_forward(x, weights, biases, activation)
    slopes = [float(g_prime(activation, u)[0, 0]) for u in us]
    return x, y, weights, biases, autograd, slopes, -2.0 * (y[0] - yhat[0])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_deep_chain_definition_matches_mlp(activation: str) -> None:
    rng = np.random.default_rng(17)
    weights, biases = _random_chain(rng, 3, 2, 4, 1.0)
    x = rng.normal(0, 1, (5, 3))
    model = deep_mlp(weights, biases, activation)
    _, yhat = deep_forward(x, weights, biases, activation)
    np.testing.assert_allclose([_output(model, xn).data for xn in x], yhat, rtol=1e-13)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_seed_deep_chain_rule_line_misses_the_weights_own_layer(activation: str) -> None:
    x, y, weights, biases, autograd, slopes, dL_dyhat = _distinct_u_chain(activation)
    depth, path = len(weights), [float(w[0, 0]) for w in weights[1:]]
    # dL/dyhat dyhat/dh_{k-1} prod_{i=2}^{k-1} dh_i/dh_{i-1}, with dh_i/dh_{i-1} = g'(u_i) w_i (width 1):
    first_line = dL_dyhat * path[-1] * math.prod(slopes[i] * path[i - 1] for i in range(1, depth - 1))
    # is dL/dh_1, not dL/dw_1: the factor dh_1/dw_1 = g'(u_1) x is missing.
    assert autograd == pytest.approx(first_line * slopes[0] * x[0, 0], rel=AGREE)
    assert relative_error(first_line, autograd) > DISAGREE


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_seed_depth_formula_fails_for_every_reading_of_u_when_layers_differ(activation: str) -> None:
    x, y, weights, biases, autograd, slopes, dL_dyhat = _distinct_u_chain(activation)
    path = [float(w[0, 0]) for w in weights[1:]]
    # The last line, even with the missing g'(u_1) x restored, is wrong whichever layer's u its g'(u) means.
    for slope in slopes:
        restored = seed_deep_formula_as_written(dL_dyhat, slope, path) * slopes[0] * x[0, 0]
        assert relative_error(restored, autograd) > DISAGREE


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(ACTIVATIONS),
    st.integers(1, 3),
    st.integers(2, 5),
    st.integers(1, 3),
    st.floats(0.2, 2.0),
    st.integers(0, 2**32 - 1),
)
def test_spectral_norm_bound_holds(
    activation: str, width: int, depth: int, samples: int, scale: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    weights, biases = _random_chain(rng, 2, width, depth, scale)
    x, y = rng.normal(0, 1, (samples, 2)), rng.normal(0, 1, samples)
    gradient = _engine_first_layer_gradient(x, y, weights, biases, activation)
    bound = first_layer_gradient_bound(x, y, weights, biases, activation)
    by_hand = first_layer_gradient_bound(x, y, weights, biases, activation, slope_bound=MAX_SLOPE[activation])
    assert bound == pytest.approx(by_hand, rel=1e-14)
    assert np.linalg.norm(gradient) <= bound * (1 + 1e-12) + 1e-300
    # With Frobenius norms ||W_i||_F in place of the spectral ones the bound holds as well (errata row 27).
    frobenius_bound = bound * math.prod(np.linalg.norm(w) / np.linalg.norm(w, 2) for w in weights[1:])
    assert np.linalg.norm(gradient) <= frobenius_bound * (1 + 1e-12) + 1e-300


def test_row_norms_below_one_do_not_make_relu_gradients_vanish() -> None:
    """Every neuron's weight vector has norm 0.9 (so every |w_ij| < 1), yet ||W_i||_2 = 1.8 and relu' = 1."""
    width, x, y = 4, np.array([[1.0]]), np.array([0.0])
    sizes: list[float] = []
    for depth in range(3, 9):
        weights = [np.full((width, 1), 0.9)] + [np.full((width, width), 0.45)] * (depth - 2)
        weights.append(np.full((1, width), 0.45))
        biases = [np.zeros(width)] * (depth - 1) + [np.zeros(1)]
        assert all(np.all(np.linalg.norm(w, axis=1) < 1) for w in weights)
        assert np.linalg.norm(weights[1], 2) == pytest.approx(1.8)
        sizes.append(float(np.linalg.norm(_engine_first_layer_gradient(x, y, weights, biases, "relu"))))
    assert all(b > a for a, b in zip(sizes, sizes[1:])) and sizes[-1] > 100


def test_entries_below_one_need_not_make_the_product_vanish() -> None:
    """w_i = 1 - 1/(i+1)^2 < 1 for all i, but prod_{m=2}^{n} (1 - 1/m^2) = (n+1)/(2n) -> 1/2 (telescoping)."""
    x, y = np.array([[1.0]]), np.array([0.0])
    for depth in (10, 50, 200):
        w = [1 - 1 / (i + 1) ** 2 for i in range(1, depth + 1)]
        weights = [np.array([[wi]]) for wi in w]
        biases = [np.zeros(1)] * depth
        yhat = (depth + 2) / (2 * (depth + 1))  # prod_{m=2}^{k+1} (1 - 1/m^2), relu passes it unchanged
        rest = yhat / (1 - 1 / 4)  # prod over w_2..w_k
        expected = -2.0 * (0.0 - yhat) * rest * 1.0  # dL/dyhat * prod_{i>=2} w_i * x
        gradient = _engine_first_layer_gradient(x, y, weights, biases, "relu")[0, 0]
        assert gradient == pytest.approx(expected, rel=1e-12)
        assert gradient > 0.6  # tends to 2 * 1/2 * 2/3 = 2/3, not 0


def test_first_layer_gradient_is_small_but_not_zero_at_finite_depth() -> None:
    """The limit says nothing about a finite network: sigmoid, |w_i| < 1, and the gradient is never 0."""
    rng = np.random.default_rng(41)
    x, y = np.array([[1.0]]), np.array([2.0])
    for depth in (3, 10, 20, 30):
        weights, biases = _random_chain(rng, 1, 1, depth, 1.0)
        weights = [np.clip(w, -0.99, 0.99) for w in weights]
        gradient = _engine_first_layer_gradient(x, y, weights, biases, "sigmoid")[0, 0]
        bound = first_layer_gradient_bound(x, y, weights, biases, "sigmoid")
        assert 0 < abs(gradient) <= bound
        assert abs(gradient) == pytest.approx(abs(first_layer_gradient(x, y, weights, biases, "sigmoid")[0, 0]))
