"""Section 1.2 measured: the first layer's gradient against depth, and the corrected bound."""

from __future__ import annotations

import csv
import math
from typing import Any

import numpy as np
import pytest
from conftest import central_differences

import engine
import nn
from demos import vanishing_gradients as vg
from seed.deep_chain_1_2 import deep_mlp


def _curve(rows: list[dict], key: str = "grad_first_layer") -> list[float]:
    return [float(r[key]) for r in sorted(rows, key=lambda r: int(r["depth"]))]


def _network(activation: str, weight_norm: float, depth: int, width: int, seed: int = 0):
    hidden, readout, x = vg.weight_stack(depth, width, seed)
    matrices = vg.layer_matrices(hidden, readout, weight_norm, depth)
    return deep_mlp(matrices, [np.zeros(len(m)) for m in matrices], activation), matrices, x


def _weight_matrices(model: nn.MLP) -> list[np.ndarray]:
    """The model's weight matrices W_1..W_K, read back from its parameters."""
    return [np.array([[w.data for w in n.w] for n in layer.neurons]) for layer in model.layers]


def test_sigmoid_gradient_decreases_with_depth_and_stays_below_bound() -> None:
    for weight_norm in (0.5, 0.9):
        rows = vg.run(("sigmoid",), (weight_norm,), depths=range(2, 11), width=4)
        grads, bounds = _curve(rows), _curve(rows, "bound")
        assert all(deeper < shallower for shallower, deeper in zip(grads, grads[1:])), grads
        assert all(0 < g <= b * (1 + 1e-12) for g, b in zip(grads, bounds)), list(zip(grads, bounds))


def test_bound_holds_for_tanh_and_relu_at_every_weight_norm() -> None:
    rows = vg.run(("tanh", "relu"), (0.5, 0.9, 2.0), depths=(2, 3, 5, 8, 13), width=6)
    for row in rows:
        assert float(row["grad_first_layer"]) <= float(row["bound"]) * (1 + 1e-12), row


def test_bound_is_attained_by_a_nearly_linear_network() -> None:
    # Small weights keep pre-activations near 0, where |g'| is at its maximum s (sigmoid and tanh
    # with zero biases), and the matrices are orthogonal times c, so ||dL/dW_1|| tends to
    # |dL/dy_hat| ||x|| (s c)^(K-1): the bound itself. An exponent off by one, a wrong s or a
    # Frobenius norm in place of the spectral one makes the bound too large and fails here.
    rows = vg.run(("sigmoid", "tanh"), (0.05,), depths=(2, 3, 6), width=5)
    for row in rows:
        assert 0.99 < float(row["ratio"]) <= 1 + 1e-12, row


def test_relu_gradient_decays_below_norm_one_and_grows_above_it() -> None:
    depths = (2, 4, 8, 16, 32)
    small = _curve(vg.run(("relu",), (0.5,), depths, width=16))
    large = _curve(vg.run(("relu",), (2.0,), depths, width=16))
    assert all(deeper < shallower for shallower, deeper in zip(small, small[1:])), small
    assert all(deeper > shallower for shallower, deeper in zip(large, large[1:])), large
    assert large[-1] > 1e3 * large[0]


def test_bound_is_the_corrected_seed_bound_with_engine_gradients() -> None:
    # |dL/dy_hat| ||x|| s^(K-1) prod_{i>=2} ||W_i||_2 with s = sup|g'| = 1/4 for sigmoid.
    row = vg.measure("sigmoid", 0.5, depth=4, width=3)
    expected = abs(float(row["dloss_dyhat"])) * 1.0 * 0.25**3 * 0.5**3  # ||x|| = 1, every ||W_i||_2 = 0.5
    assert float(row["bound"]) == pytest.approx(expected, rel=1e-12)


def test_weight_norm_is_the_spectral_norm_of_every_layer() -> None:
    model, _, _ = _network("tanh", 0.7, depth=5, width=4)
    matrices = _weight_matrices(model)
    assert [m.shape for m in matrices] == [(4, 4)] * 4 + [(1, 4)]
    for m in matrices:
        singular_values = np.linalg.svd(m, compute_uv=False)
        assert singular_values.max() == pytest.approx(0.7, rel=1e-12)
    assert np.linalg.norm(matrices[0]) == pytest.approx(0.7 * 2.0, rel=1e-12)  # Frobenius = c sqrt(m)
    assert all(b.data == 0.0 for layer in model.layers for n in layer.neurons for b in [n.b])


def test_engine_gradient_matches_finite_differences() -> None:
    model, _, x = _network("tanh", 0.9, depth=4, width=3)
    grad_w1, dloss_dyhat = vg.autograd_first_layer_gradient(model, x)

    first_layer = [w for neuron in model.layers[0].neurons for w in neuron.w]

    def loss(*entries: float) -> float:
        """L as a function of W_1's entries (row by row), the rest of the model fixed."""
        saved = [w.data for w in first_layer]
        for w, entry in zip(first_layer, entries):
            w.data = entry
        with engine.no_grad():
            y_hat = model([float(v) for v in x])
        for w, data in zip(first_layer, saved):
            w.data = data
        return (y_hat.data - vg.TARGET) ** 2

    numeric = np.reshape(central_differences(loss, [w.data for w in first_layer]), grad_w1.shape)
    np.testing.assert_allclose(grad_w1, numeric, rtol=1e-6, atol=1e-9)
    with engine.no_grad():
        y_hat = model([float(v) for v in x])
    assert dloss_dyhat == pytest.approx(2 * (y_hat.data - vg.TARGET), rel=1e-12)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_engine_gradient_matches_torch_on_a_deep_network(activation: str, torch: Any) -> None:
    model, matrices, x = _network(activation, 0.9, depth=24, width=12)  # wide: relu stays alive
    grad_w1, _ = vg.autograd_first_layer_gradient(model, x)

    weights = [torch.tensor(m, dtype=torch.float64) for m in matrices]
    weights[0].requires_grad_(True)
    g = getattr(torch, activation)
    h = torch.tensor(x, dtype=torch.float64)
    for w in weights[:-1]:
        h = g(w @ h)
    loss = ((weights[-1] @ h)[0] - vg.TARGET) ** 2
    loss.backward()
    expected = weights[0].grad.numpy()
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(grad_w1, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())


def test_measure_rejects_bad_configurations() -> None:
    with pytest.raises(ValueError, match="depth"):
        vg.measure("sigmoid", 0.5, depth=1)
    with pytest.raises(ValueError, match="activation 'softsign'"):
        vg.measure("softsign", 0.5, depth=3)
    with pytest.raises(ValueError, match="weight_norm"):
        vg.measure("tanh", 0.0, depth=3)
    with pytest.raises(ValueError, match="needs 4"):
        vg.measure("tanh", 0.5, depth=5, stack=vg.weight_stack(3, width=2))


def test_main_writes_the_csv_and_the_plot(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(vg, "DEPTHS", (2, 3, 4))
    monkeypatch.setattr(vg, "WIDTH", 4)
    paths = vg.main(tmp_path / "out")
    assert [p.name for p in paths] == ["vanishing_gradients.csv", "vanishing_gradients.png"]
    with paths[0].open() as f:
        rows = list(csv.DictReader(f))
    assert {"activation", "weight_norm", "depth", "grad_first_layer", "bound"} <= set(rows[0])
    assert len(rows) == len(vg.ACTIVATIONS) * len(vg.WEIGHT_NORMS) * 3
    assert {(r["activation"], float(r["weight_norm"]), int(r["depth"])) for r in rows} == {
        (a, c, k) for a in vg.ACTIVATIONS for c in vg.WEIGHT_NORMS for k in (2, 3, 4)
    }
    assert all(math.isfinite(float(r["grad_first_layer"])) for r in rows)
    assert paths[1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "bound holds in every configuration" in capsys.readouterr().out


def test_plot_marks_gradients_that_are_exactly_zero(tmp_path) -> None:
    import matplotlib.pyplot as plt

    rows = vg.run(("relu",), (0.5,), depths=(2, 3, 4), width=6)
    rows[1] = {**rows[1], "grad_first_layer": 0.0, "ratio": 0.0}  # a dead relu network at depth 3
    vg.plot(rows, tmp_path / "zero.png")
    assert (tmp_path / "zero.png").stat().st_size > 0
    assert "0.00e+00" in vg.table(rows)
    fig = vg.figure(rows)
    try:
        (ax,) = fig.axes
        measured, bound, crosses = _lines(ax, "-"), _lines(ax, "--"), _lines(ax, "None")
        np.testing.assert_array_equal(measured.get_xdata(), [2, 3, 4])
        grads = measured.get_ydata()  # the zero is left out of the line (nan), the others are drawn
        assert math.isnan(grads[1]) and grads[0] == rows[0]["grad_first_layer"] > 0
        assert grads[2] == rows[2]["grad_first_layer"] > 0
        np.testing.assert_array_equal(bound.get_ydata(), [r["bound"] for r in rows])
        assert crosses.get_marker() == "x" and list(crosses.get_xdata()) == [3]
        (floor,) = crosses.get_ydata()  # on the floor: below every value drawn, still on the log scale
        assert 0 < floor < min(*grads[[0, 2]], *bound.get_ydata()) and ax.get_yscale() == "log"
    finally:
        plt.close(fig)


def _lines(ax, linestyle: str):
    """The one line of `ax` drawn with this line style ("-" solid, "--" dashed, "None" markers only)."""
    (line,) = [line for line in ax.get_lines() if line.get_linestyle() == linestyle]
    return line


def test_figure_draws_each_measured_curve_and_its_bound_per_activation() -> None:
    import matplotlib.pyplot as plt

    rows = vg.run(("sigmoid", "relu"), (0.5, 2.0), depths=(2, 3, 5), width=4)
    fig = vg.figure(rows)
    try:
        assert len(fig.axes) == 2
        for ax, activation, slope in zip(fig.axes, ("sigmoid", "relu"), ("0.25", "1")):
            assert ax.get_title() == f"{activation}  (max |g'| = {slope})"
            solid = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
            dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
            assert [line.get_label() for line in solid] == ["||W||_2 = 0.5", "||W||_2 = 2.0"] and len(dashed) == 2
            for c, measured, bound in zip((0.5, 2.0), solid, dashed):
                curve = [r for r in rows if r["activation"] == activation and r["weight_norm"] == c]
                np.testing.assert_array_equal(
                    measured.get_xydata(), [[r["depth"], r["grad_first_layer"]] for r in curve]
                )
                np.testing.assert_array_equal(bound.get_xydata(), [[r["depth"], r["bound"]] for r in curve])
                assert measured.get_color() == bound.get_color()  # a curve and its bound share a colour
    finally:
        plt.close(fig)
