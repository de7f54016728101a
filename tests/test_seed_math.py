"""The seed's sections 1.1 and 1.2, checked formula by formula (docs/seed-errata.md cites these tests).

Oracles: the engine's autograd through nn.SeedNetwork / nn.MLP, central finite differences, PyTorch
(float64), and closed forms (telescoping products, known maximum slopes). Where the seed is wrong the
test asserts the mismatch, so an edit cannot quietly "fix" a seed formula into agreement; where it is
right the test asserts agreement.
"""

from __future__ import annotations

import csv
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import central_differences
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import engine
import nn
from engine import Value
from nn import seed_math as sm

ACTIVATIONS = ["sigmoid", "tanh", "relu"]
SEEDS = [0, 1, 2, 3]
AGREE = 1e-10  # relative tolerance for two exact computations of the same number
DISAGREE = 1e-2  # a seed formula "disagrees" when its relative error exceeds this


def assert_agree(a: dict[str, float], b: dict[str, float], rel: float = AGREE) -> None:
    for name in b:
        assert a[name] == pytest.approx(b[name], rel=rel, abs=1e-14), name


# --- g' from the engine's rules ----------------------------------------------------------------------


@pytest.mark.parametrize("activation", [*ACTIVATIONS, engine.softplus, engine.sin])
def test_derivative_comes_from_the_engine_rule_and_matches_finite_differences(activation: object) -> None:
    u = np.linspace(-3.05, 3.05, 24)  # never 0: relu has no derivative there
    h = 1e-6
    central = (sm.activate(activation, u + h) - sm.activate(activation, u - h)) / (2 * h)  # type: ignore[arg-type]
    np.testing.assert_allclose(sm.derivative(activation, u), central, rtol=1e-7, atol=1e-9)  # type: ignore[arg-type]


def test_derivative_bound_is_the_known_largest_slope() -> None:
    # closed forms: sigmoid' = s(1 - s) <= 1/4 at 0, tanh' = 1 - tanh^2 <= 1 at 0, relu' in {0, 1}
    assert sm.derivative_bound("sigmoid") == 0.25
    assert sm.derivative_bound("tanh") == 1.0
    assert sm.derivative_bound("relu") == 1.0


def test_bad_arguments_raise_clear_errors() -> None:
    x, y, params = sm.random_case("tanh", 0)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        sm.derivative("swish", x)
    with pytest.raises(ValueError, match="'linear' has no operation g"):
        sm.derivative("linear", x)
    with pytest.raises(ValueError, match="samples >= 1"):
        sm.random_case("tanh", 0, samples=0)
    with pytest.raises(ValueError, match=r"\|u1\|, \|u2\| > 50"):
        sm.random_case("sigmoid", 0, margin=50)  # |u2| <= |w2| + |b2| for sigmoid: never 50
    with pytest.raises(ValueError, match="same shape"):
        sm.closed_form_gradients(x, y[:-1], params, "tanh")
    with pytest.raises(ValueError, match=r"\['w3'\] are missing"):
        sm.forward(x, {k: v for k, v in params.items() if k != "w3"}, "tanh")
    with pytest.raises(ValueError, match="'u1' or 'u2'"):
        sm.seed_formulas_as_written(x, y, params, "tanh", u="u3")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one output"):
        sm.first_layer_gradient(
            np.ones((2, 1)), np.ones(2), [np.ones((2, 1)), np.ones((2, 2))], [np.zeros(2)] * 2, "tanh"
        )
    with pytest.raises(ValueError, match="one target per sample"):
        sm.first_layer_gradient(np.ones((2, 1)), np.ones(3), [np.ones((1, 1))] * 2, [np.zeros(1)] * 2, "tanh")
    with pytest.raises(ValueError, match="slope_bound must be a non-negative"):
        sm.first_layer_gradient_bound(np.ones((2, 1)), np.ones(2), [np.ones((1, 1))] * 2, [np.zeros(1)] * 2, "tanh", -1)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_random_case_keeps_away_from_relus_kink_and_has_live_paths(activation: str) -> None:
    for seed in SEEDS:
        x, y, params = sm.random_case(activation, seed, samples=6, margin=0.2)
        assert x.shape == y.shape == (6,) and set(params) == set(sm.PARAMETERS)
        f = sm.forward(x, params, activation)
        assert np.all(np.abs(f.u1) > 0.2) and np.all(np.abs(f.u2) > 0.2)
        live = [sm.autograd_gradients(x[n : n + 1], y[n : n + 1], params, activation)["w1"] != 0 for n in range(6)]
        assert sum(live) >= 2  # samples through which the first weight gets gradient


# --- 1.1: the definitions ------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_seed_definitions_match_seed_network_and_mse_loss(activation: str) -> None:
    x, y, params = sm.random_case(activation, 5)
    model = nn.SeedNetwork(activation)
    for name, p in model.named_parameters():
        p.data = params[name]
    predictions = [model(float(xn)) for xn in x]
    f = sm.forward(x, params, activation)
    np.testing.assert_allclose([p.data for p in predictions], f.yhat, rtol=1e-13)
    assert nn.mse_loss(predictions, list(y)).data == pytest.approx(np.sum((y - f.yhat) ** 2) / len(x), rel=1e-13)
    assert sm.loss(x, y, params, activation) == pytest.approx(np.sum((y - f.yhat) ** 2) / len(x), rel=1e-13)


# --- 1.1: the corrected closed form against three oracles ------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_corrected_formulas_agree_with_the_engine(activation: str, seed: int) -> None:
    x, y, params = sm.random_case(activation, seed)
    closed = sm.closed_form_gradients(x, y, params, activation)
    assert_agree(closed, sm.autograd_gradients(x, y, params, activation))
    assert_agree(closed, sm.autograd_gradients(x, y, params, activation, fused=False))


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_corrected_formulas_agree_with_finite_differences(activation: str, seed: int) -> None:
    x, y, params = sm.random_case(activation, seed)
    closed = sm.closed_form_gradients(x, y, params, activation)

    def loss(*values: float) -> float:
        return sm.loss(x, y, dict(zip(sm.PARAMETERS, values)), activation)

    central = central_differences(loss, [params[name] for name in sm.PARAMETERS])
    for name, numeric in zip(sm.PARAMETERS, central):
        assert closed[name] == pytest.approx(numeric, rel=1e-6, abs=1e-8), name


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_corrected_formulas_agree_with_torch(activation: str, torch: Any) -> None:
    x, y, params = sm.random_case(activation, 7)
    p = {name: torch.tensor(v, dtype=torch.float64, requires_grad=True) for name, v in params.items()}
    g = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}[activation]
    xt, yt = torch.tensor(x, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
    yhat = p["w3"] * g(p["w2"] * g(p["w1"] * xt + p["b1"]) + p["b2"]) + p["b3"]
    torch.mean((yt - yhat) ** 2).backward()
    assert_agree(sm.closed_form_gradients(x, y, params, activation), {k: float(v.grad) for k, v in p.items()})


# --- 1.1: the seed's dL/dyhat, partials and chain-rule lines ------------------------------------------------


def test_seed_dL_dyhat_has_a_spurious_yhat_factor() -> None:
    y = np.array([0.3, -1.2, 2.0, 0.7])
    yhat_values = np.array([1.5, 0.4, -0.8, 2.2])
    yhat = [Value(v) for v in yhat_values]
    nn.mse_loss(yhat, list(y)).backward()
    true = np.array([v.grad for v in yhat])  # the engine's dL/dyhat_n, one per sample
    np.testing.assert_allclose(true, -2 / len(y) * (y - yhat_values), rtol=1e-14)
    seed = sm.seed_dL_dyhat(y, yhat_values)
    # Not the sum of the per-sample gradients (which is dL/db3) ...
    assert sm.relative_error(seed, float(np.sum(true))) > DISAGREE
    # ... but sum_n yhat_n dL/dyhat_n: the derivative of L along yhat -> (1 + s) yhat, not a gradient.
    assert seed == pytest.approx(float(np.sum(yhat_values * true)), rel=1e-14)
    # With one sample the factor is visible on its own: wrong unless yhat = 1.
    for one_yhat, wrong in [(2.5, True), (1.0, False)]:
        leaf = Value(one_yhat)
        nn.mse_loss([leaf], [0.3]).backward()
        assert (sm.relative_error(sm.seed_dL_dyhat([0.3], [one_yhat]), leaf.grad) > DISAGREE) is wrong


def _partials_by_autograd(activation: str, x: float, params: dict) -> dict[str, float]:
    """The eight local partials of one sample, by engine.grad on a hand-built graph of network 1.1."""
    g = sm.activation_op(activation)
    p = {name: Value(v, label=name) for name, v in params.items()}
    xv = Value(x, label="x")
    h1 = g(p["w1"] * xv + p["b1"])
    h2 = g(p["w2"] * h1 + p["b2"])
    yhat = p["w3"] * h2 + p["b3"]
    d_yhat = engine.grad(yhat, [p["w3"], p["b3"], h2])
    d_h2 = engine.grad(h2, [p["w2"], p["b2"], h1])
    d_h1 = engine.grad(h1, [p["w1"], p["b1"]])
    names = ["dyhat/dw3", "dyhat/db3", "dyhat/dh2", "dh2/dw2", "dh2/db2", "dh2/dh1", "dh1/dw1", "dh1/db1"]
    return dict(zip(names, [*d_yhat, *d_h2, *d_h1]))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_seed_intermediate_partials_hold(activation: str) -> None:
    x, _, params = sm.random_case(activation, 11)
    partials = sm.seed_intermediate_partials(x, params, activation)
    for n, xn in enumerate(x):
        expected = _partials_by_autograd(activation, float(xn), params)
        for name, value in expected.items():
            assert partials[name][n] == pytest.approx(value, rel=1e-12, abs=1e-15), (name, n)
    # They hold only with g' read at the u inside that g: at the other layer's u, dh2/db2 is wrong.
    if activation != "relu":  # relu' is 1 at both u's wherever both units are active
        f = sm.forward(x, params, activation)
        assert sm.relative_error(float(sm.derivative(activation, f.u1)[0]), float(partials["dh2/db2"][0])) > DISAGREE


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_seed_chain_rule_lines_hold_per_sample(activation: str) -> None:
    x, y, params = sm.random_case(activation, 12)
    partials = sm.seed_intermediate_partials(x, params, activation)
    dL_dyhat = -2 / len(x) * (y - sm.forward(x, params, activation).yhat)  # per sample, no sum
    assert_agree(sm.seed_chain_rule_lines(partials, dL_dyhat), sm.autograd_gradients(x, y, params, activation))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_seed_chain_rule_lines_give_g_prime_u2_times_g_prime_u1_not_a_square(activation: str) -> None:
    # With one sample the seed's dL/dyhat is a single number and its chain-rule lines can be evaluated
    # literally: they reproduce its final dL/dw3 .. dL/db2, but not the [g'(u)]^2 of dL/dw1, dL/db1.
    x, y, params = sm.random_case(activation, 13, samples=1)
    yhat = sm.forward(x, params, activation).yhat
    lines = sm.seed_chain_rule_lines(sm.seed_intermediate_partials(x, params, activation), sm.seed_dL_dyhat(y, yhat))
    finals = {u: sm.seed_formulas_as_written(x, y, params, activation, u=u) for u in ("u1", "u2")}
    for name in ["w3", "b3", "w2", "b2"]:
        assert lines[name] == pytest.approx(finals["u2"][name], rel=1e-13)
    for name in ["w1", "b1"]:
        for u in ("u1", "u2"):
            assert sm.relative_error(lines[name], finals[u][name]) > DISAGREE


# --- 1.1: the six final formulas as written -----------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("u", ["u1", "u2"])
def test_seed_final_formulas_as_written_all_disagree_with_the_engine(activation: str, seed: int, u: str) -> None:
    x, y, params = sm.random_case(activation, seed)
    seed_values = sm.seed_formulas_as_written(x, y, params, activation, u=u)  # type: ignore[arg-type]
    engine_values = sm.autograd_gradients(x, y, params, activation)
    for name in sm.PARAMETERS:
        assert sm.relative_error(seed_values[name], engine_values[name]) > DISAGREE, name


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_seed_w3_b3_w2_b2_are_wrong_only_by_the_yhat_factor(activation: str, seed: int) -> None:
    x, y, params = sm.random_case(activation, seed)
    seed_values = sm.seed_formulas_as_written(x, y, params, activation, u="u2")
    expected = sm.gradients_with_yhat_factor(x, y, params, activation)
    for name in ["w3", "b3", "w2", "b2"]:
        assert seed_values[name] == pytest.approx(expected[name], rel=1e-12, abs=1e-15), name
    if activation != "relu":  # read at u1, dL/dw2 and dL/db2 are wrong a second time
        u1_reading = sm.seed_formulas_as_written(x, y, params, activation, u="u1")
        for name in ["w2", "b2"]:
            assert sm.relative_error(u1_reading[name], expected[name]) > DISAGREE, name


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("u", ["u1", "u2"])
def test_seed_w1_b1_square_of_g_prime_is_a_second_error(activation: str, seed: int, u: str) -> None:
    x, y, params = sm.random_case(activation, seed)
    seed_values = sm.seed_formulas_as_written(x, y, params, activation, u=u)  # type: ignore[arg-type]
    expected = sm.gradients_with_yhat_factor(x, y, params, activation)
    for name in ["w1", "b1"]:
        assert sm.relative_error(seed_values[name], expected[name]) > DISAGREE, name


def test_seed_w1_b1_square_is_harmless_for_relu_only_when_both_units_agree() -> None:
    """relu' is 0 or 1, so g'(u)^2 = g'(u1) g'(u2) exactly when both units are on or both off."""
    params = {"w1": 1.3, "b1": -0.2, "w2": -1.1, "b2": 0.8, "w3": 0.9, "b3": 0.1}
    x = np.linspace(-2.0, 2.0, 41)
    f = sm.forward(x, params, "relu")
    x = x[(np.abs(f.u1) > 0.05) & (np.abs(f.u2) > 0.05)]
    y = np.cos(x)
    f = sm.forward(x, params, "relu")
    both_on = (f.u1 > 0) & (f.u2 > 0)
    mixed = (f.u1 > 0) != (f.u2 > 0)
    assert both_on.sum() >= 3 and ((f.u1 > 0) & (f.u2 < 0)).any() and ((f.u1 < 0) & (f.u2 > 0)).any()
    for u in ("u1", "u2"):
        on = sm.seed_formulas_as_written(x[both_on], y[both_on], params, "relu", u=u)
        assert_agree(on, sm.gradients_with_yhat_factor(x[both_on], y[both_on], params, "relu"))
        mix = sm.seed_formulas_as_written(x[mixed], y[mixed], params, "relu", u=u)
        expected = sm.gradients_with_yhat_factor(x[mixed], y[mixed], params, "relu")
        for name in ["w1", "b1"]:
            assert sm.relative_error(mix[name], expected[name]) > DISAGREE, (u, name)


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
    model = sm.deep_mlp(weights, biases, activation)
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
    np.testing.assert_allclose(sm.first_layer_gradient(x, y, weights, biases, activation), autograd, rtol=AGREE)
    # Independently: enumerate every path j_1 -> j_2 -> ... -> j_{k-1} -> yhat and add up its products.
    us, yhat = sm.deep_forward(x, weights, biases, activation)
    slopes = [sm.derivative(activation, u)[0] for u in us]
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
        assert sm.relative_error(path_product((j,) * (depth - 1)), autograd[j, 0]) > DISAGREE


def _equal_u_chain(activation: str, depth: int, c: float, x: float) -> tuple[list, list]:
    """A width-1 chain whose pre-activations all equal c at input x, so the seed's single g'(u) is unambiguous."""
    rng = np.random.default_rng(depth)
    w = rng.uniform(0.5, 0.95, depth) * rng.choice([-1, 1], depth)
    h = float(sm.activate(activation, np.array(c)))
    biases = [np.array([c - w[0] * x])] + [np.array([c - w[i] * h]) for i in range(1, depth)]
    return [np.array([[wi]]) for wi in w], biases


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("depth", [3, 4, 6, 8])
def test_seed_depth_formula_is_one_slope_and_the_input_short(activation: str, depth: int) -> None:
    c, x, y = 0.4, 1.7, np.array([-0.5])
    weights, biases = _equal_u_chain(activation, depth, c, x)
    us, yhat = sm.deep_forward(np.array([[x]]), weights, biases, activation)
    assert np.allclose([u[0, 0] for u in us], c, rtol=1e-14)
    autograd = _engine_first_layer_gradient(np.array([[x]]), y, weights, biases, activation)[0, 0]
    slope = float(sm.derivative(activation, np.array(c)))
    dL_dyhat = -2.0 * (y[0] - yhat[0])  # the corrected one, so only the depth formula is on trial
    seed = sm.seed_deep_formula_as_written(dL_dyhat, slope, [float(w[0, 0]) for w in weights[1:]])
    # The first layer's own factor dh_1/dw_1 = g'(u_1) x is missing: k-1 slopes, not k-2.
    assert autograd == pytest.approx(seed * slope * x, rel=AGREE)
    assert sm.relative_error(seed, autograd) > DISAGREE


def _distinct_u_chain(activation: str) -> tuple[np.ndarray, np.ndarray, list, list, float, list[float], float]:
    """A width-1 chain of depth 5 whose four pre-activations, and so four slopes, clearly differ."""
    x, y = np.array([[0.9]]), np.array([0.4])
    weights = [np.array([[w]]) for w in (0.8, -0.7, 0.9, 0.6, 0.5)]
    biases = [np.array([b]) for b in (0.2, 2.5, -2.0, 0.3, 0.1)]
    autograd = _engine_first_layer_gradient(x, y, weights, biases, activation)[0, 0]
    us, yhat = sm.deep_forward(x, weights, biases, activation)
    slopes = [float(sm.derivative(activation, u)[0, 0]) for u in us]
    return x, y, weights, biases, autograd, slopes, -2.0 * (y[0] - yhat[0])


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_deep_chain_definition_matches_mlp(activation: str) -> None:
    rng = np.random.default_rng(17)
    weights, biases = _random_chain(rng, 3, 2, 4, 1.0)
    x = rng.normal(0, 1, (5, 3))
    model = sm.deep_mlp(weights, biases, activation)
    _, yhat = sm.deep_forward(x, weights, biases, activation)
    np.testing.assert_allclose([_output(model, xn).data for xn in x], yhat, rtol=1e-13)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_seed_deep_chain_rule_line_misses_the_weights_own_layer(activation: str) -> None:
    x, y, weights, biases, autograd, slopes, dL_dyhat = _distinct_u_chain(activation)
    depth, path = len(weights), [float(w[0, 0]) for w in weights[1:]]
    # dL/dyhat dyhat/dh_{k-1} prod_{i=2}^{k-1} dh_i/dh_{i-1}, with dh_i/dh_{i-1} = g'(u_i) w_i (width 1):
    first_line = dL_dyhat * path[-1] * math.prod(slopes[i] * path[i - 1] for i in range(1, depth - 1))
    # is dL/dh_1, not dL/dw_1: the factor dh_1/dw_1 = g'(u_1) x is missing.
    assert autograd == pytest.approx(first_line * slopes[0] * x[0, 0], rel=AGREE)
    assert sm.relative_error(first_line, autograd) > DISAGREE


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_seed_depth_formula_fails_for_every_reading_of_u_when_layers_differ(activation: str) -> None:
    x, y, weights, biases, autograd, slopes, dL_dyhat = _distinct_u_chain(activation)
    path = [float(w[0, 0]) for w in weights[1:]]
    # The last line, even with the missing g'(u_1) x restored, is wrong whichever layer's u its g'(u) means.
    for slope in slopes:
        restored = sm.seed_deep_formula_as_written(dL_dyhat, slope, path) * slopes[0] * x[0, 0]
        assert sm.relative_error(restored, autograd) > DISAGREE


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
    bound = sm.first_layer_gradient_bound(x, y, weights, biases, activation)
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
        bound = sm.first_layer_gradient_bound(x, y, weights, biases, "sigmoid")
        assert 0 < abs(gradient) <= bound
        assert abs(gradient) == pytest.approx(abs(sm.first_layer_gradient(x, y, weights, biases, "sigmoid")[0, 0]))


# --- the demos ----------------------------------------------------------------------------------------------


def test_seed_gradients_demo_writes_the_table_and_marks_every_seed_formula_wrong(tmp_path: Path) -> None:
    from demos import seed_gradients

    (path,) = seed_gradients.main(tmp_path)
    with path.open() as file:
        rows = list(csv.DictReader(file))
    assert len(rows) == 3 * 6
    for row in rows:
        assert float(row["corrected"]) == pytest.approx(float(row["autograd"]), rel=AGREE, abs=1e-14)
        assert row["verdict"].startswith("seed WRONG")
        assert min(float(row["relerr_seed_u1"]), float(row["relerr_seed_u2"])) > DISAGREE


def test_seed_training_demo_lowers_the_loss_and_writes_both_plots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demos import seed_training

    monkeypatch.setattr(seed_training, "STEPS", 30)
    x, y = seed_training.make_data()
    _, losses = seed_training.train((8, 8), x, y, "test")
    assert losses[-1] < losses[0] / 2
    paths = seed_training.main(tmp_path)
    assert [p.name for p in paths] == ["seed_training_curve.png", "seed_training_fit.png"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
