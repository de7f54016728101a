"""The seed's section 1.1 (seed.network_1_1), checked formula by formula (docs/seed-errata.md cites these tests).

Oracles: the corrected closed form, the local partials and the yhat-factor gradients written out
below with g' by hand (conftest.g_prime, never the engine's rules, so a wrong rule for sigmoid, tanh
or relu fails these tests); central finite differences; PyTorch (float64); and the engine's autograd
through nn.SeedNetwork. Where the seed is wrong the test asserts the mismatch, so an edit cannot
quietly "fix" a seed formula into agreement; where it is right the test asserts agreement.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import central_differences, g_prime

import engine
import nn
from engine import Value
from seed import network_1_1 as sm
from seed.activations import activation_op
from seed.compare import relative_error

ACTIVATIONS = ["sigmoid", "tanh", "relu"]
SEEDS = [0, 1, 2, 3]
AGREE = 1e-10  # relative tolerance for two exact computations of the same number
DISAGREE = 1e-2  # a seed formula "disagrees" when its relative error exceeds this


def assert_agree(a: dict[str, float], b: dict[str, float], rel: float = AGREE) -> None:
    for name in b:
        assert a[name] == pytest.approx(b[name], rel=rel, abs=1e-14), name


# --- oracles with g' written out by hand ----------------------------------------------------------------------


def hand_gradient_terms(x: np.ndarray, y: np.ndarray, params: dict[str, float], activation: str) -> dict[str, Any]:
    """Each sample's summand of the corrected formulas of docs/seed-errata.md, with g' from conftest.g_prime."""
    f = sm.forward(x, params, activation)
    dL_dyhat = -2.0 / len(x) * (y - f.yhat)
    g2, g1 = g_prime(activation, f.u2), g_prime(activation, f.u1)
    w2, w3 = params["w2"], params["w3"]
    return {
        "w3": dL_dyhat * f.h2,
        "b3": dL_dyhat,
        "w2": dL_dyhat * w3 * g2 * f.h1,
        "b2": dL_dyhat * w3 * g2,
        "w1": dL_dyhat * w3 * g2 * w2 * g1 * x,
        "b1": dL_dyhat * w3 * g2 * w2 * g1,
    }


def hand_gradients(x: np.ndarray, y: np.ndarray, params: dict[str, float], activation: str) -> dict[str, float]:
    """dL/dw1 .. dL/db3, corrected, with g' written out by hand."""
    return {name: float(np.sum(t)) for name, t in hand_gradient_terms(x, y, params, activation).items()}


def hand_gradients_with_yhat_factor(
    x: np.ndarray, y: np.ndarray, params: dict[str, float], activation: str
) -> dict[str, float]:
    """The corrected gradients with the seed's spurious factor yhat_n in every summand, g' written out by hand."""
    yhat = sm.forward(x, params, activation).yhat
    return {name: float(np.sum(yhat * t)) for name, t in hand_gradient_terms(x, y, params, activation).items()}


def hand_partials(x: np.ndarray, params: dict[str, float], activation: str) -> dict[str, np.ndarray]:
    """The eight local partials of each sample, with g' written out by hand at the u inside each g."""
    f = sm.forward(x, params, activation)
    g2, g1 = g_prime(activation, f.u2), g_prime(activation, f.u1)
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


# --- test data and bad input ------------------------------------------------------------------------------------


def test_bad_arguments_raise_clear_errors() -> None:
    x, y, params = sm.random_case("tanh", 0)
    with pytest.raises(ValueError, match="samples >= 1"):
        sm.random_case("tanh", 0, samples=0)
    with pytest.raises(ValueError, match=r"\|u1\|, \|u2\| > 50"):
        sm.random_case("sigmoid", 0, margin=50)  # |u2| <= |w2| + |b2| for sigmoid: never 50
    with pytest.raises(ValueError, match="same shape"):
        sm.closed_form_gradients(x, y[:-1], params, "tanh")
    with pytest.raises(ValueError, match=r"\['w3'\] are missing"):
        sm.forward(x, {k: v for k, v in params.items() if k != "w3"}, "tanh")
    with pytest.raises(ValueError, match=r"\['b1'\] are missing"):
        sm.seed_network({k: v for k, v in params.items() if k != "b1"}, "tanh")
    with pytest.raises(ValueError, match="'u1' or 'u2'"):
        sm.seed_formulas_as_written(x, y, params, "tanh", u="u3")  # type: ignore[arg-type]


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
    built = sm.seed_network(params, activation)
    assert {name: p.data for name, p in built.named_parameters()} == params
    np.testing.assert_allclose([built(float(xn)).data for xn in x], f.yhat, rtol=1e-13)


# --- 1.1: the corrected closed form against four oracles ------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_corrected_formulas_agree_with_g_prime_written_by_hand(activation: str, seed: int) -> None:
    x, y, params = sm.random_case(activation, seed)
    expected = hand_gradients(x, y, params, activation)
    assert_agree(sm.closed_form_gradients(x, y, params, activation), expected)
    assert_agree(sm.autograd_gradients(x, y, params, activation), expected)


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
    assert relative_error(seed, float(np.sum(true))) > DISAGREE
    # ... but sum_n yhat_n dL/dyhat_n: the derivative of L along yhat -> (1 + s) yhat, not a gradient.
    assert seed == pytest.approx(float(np.sum(yhat_values * true)), rel=1e-14)
    # With one sample the factor is visible on its own: wrong unless yhat = 1.
    for one_yhat, wrong in [(2.5, True), (1.0, False)]:
        leaf = Value(one_yhat)
        nn.mse_loss([leaf], [0.3]).backward()
        assert (relative_error(sm.seed_dL_dyhat([0.3], [one_yhat]), leaf.grad) > DISAGREE) is wrong


def _partials_by_autograd(activation: str, x: float, params: dict) -> dict[str, float]:
    """The eight local partials of one sample, by engine.grad on a hand-built graph of network 1.1."""
    g = activation_op(activation)
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
    by_hand = hand_partials(x, params, activation)
    for name in by_hand:
        np.testing.assert_allclose(partials[name], by_hand[name], rtol=1e-12, atol=1e-15, err_msg=name)
    for n, xn in enumerate(x):
        expected = _partials_by_autograd(activation, float(xn), params)
        for name, value in expected.items():
            assert partials[name][n] == pytest.approx(value, rel=1e-12, abs=1e-15), (name, n)
    # They hold only with g' read at the u inside that g: at the other layer's u, dh2/db2 is wrong.
    if activation != "relu":  # relu' is 1 at both u's wherever both units are active
        f = sm.forward(x, params, activation)
        assert relative_error(float(g_prime(activation, f.u1)[0]), float(partials["dh2/db2"][0])) > DISAGREE


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_seed_chain_rule_lines_hold_per_sample(activation: str) -> None:
    x, y, params = sm.random_case(activation, 12)
    partials = sm.seed_intermediate_partials(x, params, activation)
    dL_dyhat = -2 / len(x) * (y - sm.forward(x, params, activation).yhat)  # per sample, no sum
    lines = sm.seed_chain_rule_lines(partials, dL_dyhat)
    assert_agree(lines, sm.autograd_gradients(x, y, params, activation))
    assert_agree(lines, hand_gradients(x, y, params, activation))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_seed_chain_rule_lines_give_g_prime_u2_times_g_prime_u1_not_a_square(activation: str) -> None:
    # With one sample the seed's dL/dyhat is a single number and its chain-rule lines can be evaluated
    # literally: they reproduce its final dL/dw3 .. dL/db2, but not the [g'(u)]^2 of dL/dw1, dL/db1.
    x, y, params = sm.random_case(activation, 13, samples=1)
    yhat = sm.forward(x, params, activation).yhat
    lines = sm.seed_chain_rule_lines(hand_partials(x, params, activation), sm.seed_dL_dyhat(y, yhat))
    finals = {u: sm.seed_formulas_as_written(x, y, params, activation, u=u) for u in ("u1", "u2")}
    for name in ["w3", "b3", "w2", "b2"]:
        assert lines[name] == pytest.approx(finals["u2"][name], rel=1e-13)
    for name in ["w1", "b1"]:
        for u in ("u1", "u2"):
            assert relative_error(lines[name], finals[u][name]) > DISAGREE


# --- 1.1: the six final formulas as written -----------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("u", ["u1", "u2"])
def test_seed_final_formulas_as_written_all_disagree_with_the_engine(activation: str, seed: int, u: str) -> None:
    x, y, params = sm.random_case(activation, seed)
    seed_values = sm.seed_formulas_as_written(x, y, params, activation, u=u)  # type: ignore[arg-type]
    engine_values = sm.autograd_gradients(x, y, params, activation)
    for name in sm.PARAMETERS:
        assert relative_error(seed_values[name], engine_values[name]) > DISAGREE, name


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_seed_w3_b3_w2_b2_are_wrong_only_by_the_yhat_factor(activation: str, seed: int) -> None:
    x, y, params = sm.random_case(activation, seed)
    seed_values = sm.seed_formulas_as_written(x, y, params, activation, u="u2")
    expected = hand_gradients_with_yhat_factor(x, y, params, activation)
    assert_agree(sm.gradients_with_yhat_factor(x, y, params, activation), expected, rel=1e-12)
    for name in ["w3", "b3", "w2", "b2"]:
        assert seed_values[name] == pytest.approx(expected[name], rel=1e-12, abs=1e-15), name
    if activation != "relu":  # read at u1, dL/dw2 and dL/db2 are wrong a second time
        u1_reading = sm.seed_formulas_as_written(x, y, params, activation, u="u1")
        for name in ["w2", "b2"]:
            assert relative_error(u1_reading[name], expected[name]) > DISAGREE, name


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("u", ["u1", "u2"])
def test_seed_w1_b1_square_of_g_prime_is_a_second_error(activation: str, seed: int, u: str) -> None:
    x, y, params = sm.random_case(activation, seed)
    seed_values = sm.seed_formulas_as_written(x, y, params, activation, u=u)  # type: ignore[arg-type]
    expected = hand_gradients_with_yhat_factor(x, y, params, activation)
    for name in ["w1", "b1"]:
        assert relative_error(seed_values[name], expected[name]) > DISAGREE, name


def seed_w1_b1_as_written_by_hand(
    x: np.ndarray, y: np.ndarray, params: dict[str, float], activation: str, u: str
) -> dict[str, float]:
    """The seed's final dL/dw1 = −(2/N) Σ ŷ (y − ŷ) w3 w2 x [g'(u)]² and dL/db1 (the same without x), read
    literally, sample by sample in plain floats: the network's forward pass written out again and g' from
    conftest.g_prime, so nothing here is seed.network_1_1's evaluation of the formula."""
    g = {"sigmoid": lambda t: 1.0 / (1.0 + np.exp(-t)), "tanh": np.tanh, "relu": lambda t: max(t, 0.0)}[activation]
    w1, b1, w2, b2, w3, b3 = (params[name] for name in ("w1", "b1", "w2", "b2", "w3", "b3"))
    dw1 = db1 = 0.0
    for xn, yn in zip(x.tolist(), y.tolist()):
        u1 = w1 * xn + b1
        u2 = w2 * float(g(u1)) + b2
        yhat = w3 * float(g(u2)) + b3
        slope = float(g_prime(activation, u1 if u == "u1" else u2))
        term = -2.0 / len(x) * yhat * (yn - yhat) * w3 * w2 * slope**2
        dw1 += term * xn
        db1 += term
    return {"w1": dw1, "b1": db1}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("u", ["u1", "u2"])
def test_seed_w1_b1_as_written_are_evaluated_as_the_seed_writes_them(activation: str, seed: int, u: str) -> None:
    """seed_formulas_as_written gives the seed's dL/dw1 and dL/db1 as written (not merely something wrong)."""
    x, y, params = sm.random_case(activation, seed)
    seed_values = sm.seed_formulas_as_written(x, y, params, activation, u=u)  # type: ignore[arg-type]
    expected = seed_w1_b1_as_written_by_hand(x, y, params, activation, u)
    for name in ["w1", "b1"]:
        assert seed_values[name] == pytest.approx(expected[name], rel=1e-12, abs=1e-15), (u, name)


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
        assert_agree(on, hand_gradients_with_yhat_factor(x[both_on], y[both_on], params, "relu"))
        mix = sm.seed_formulas_as_written(x[mixed], y[mixed], params, "relu", u=u)
        expected = hand_gradients_with_yhat_factor(x[mixed], y[mixed], params, "relu")
        for name in ["w1", "b1"]:
            assert relative_error(mix[name], expected[name]) > DISAGREE, (u, name)


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


def test_seed_training_figures_draw_every_loss_curve_and_every_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt

    from demos import seed_training

    monkeypatch.setattr(seed_training, "STEPS", 5)
    x, y = seed_training.make_data()
    results = {name: seed_training.train(widths, x, y, name) for name, widths in seed_training.MODELS.items()}
    grid = np.linspace(-3.2, 3.2, 50)
    curve, fit = seed_training.curve_figure(results), seed_training.fit_figure(results, x, y, grid)
    try:
        (ax,) = curve.axes
        lines = {line.get_label(): line for line in ax.get_lines()}
        for name, (_, losses) in results.items():
            np.testing.assert_array_equal(lines[name].get_xydata(), np.c_[np.arange(6), losses])
        noise = lines[f"noise variance {seed_training.NOISE}^2"]
        assert set(noise.get_ydata()) == {seed_training.NOISE**2} and ax.get_yscale() == "log"
        (ax,) = fit.axes
        lines = {line.get_label(): line for line in ax.get_lines()}
        np.testing.assert_allclose(lines["sin(x)"].get_xydata(), np.c_[grid, np.sin(grid)], rtol=1e-15)
        for name, (model, _) in results.items():
            np.testing.assert_array_equal(lines[name].get_xydata(), np.c_[grid, seed_training.predict(model, grid)])
        (data,) = ax.collections
        np.testing.assert_array_equal(data.get_offsets(), np.c_[x, y])
    finally:
        plt.close(curve)
        plt.close(fit)
