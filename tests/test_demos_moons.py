"""The two-moons demo: its data generator and a short training run."""

from __future__ import annotations

import numpy as np
import pytest

from demos import moons


def test_make_moons_shapes_labels_and_balance() -> None:
    for n in (2, 7, 100):
        X, y = moons.make_moons(n, noise=0.1, seed=3)
        assert X.shape == (n, 2) and y.shape == (n,)
        assert set(np.unique(y)) == {-1.0, 1.0}
        assert (y == -1).sum() == n // 2 and (y == 1).sum() == n - n // 2
        assert np.isfinite(X).all()


def test_make_moons_is_deterministic_with_a_seed() -> None:
    X1, y1 = moons.make_moons(50, noise=0.2, seed=7)
    X2, y2 = moons.make_moons(50, noise=0.2, seed=7)
    X3, _ = moons.make_moons(50, noise=0.2, seed=8)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)


def test_noiseless_moons_lie_on_their_half_circles() -> None:
    X, y = moons.make_moons(40, noise=0.0)
    outer, inner = X[y == -1], X[y == 1]
    np.testing.assert_allclose(np.hypot(outer[:, 0], outer[:, 1]), 1.0, atol=1e-12)
    assert (outer[:, 1] >= -1e-12).all()  # upper half of the circle around (0, 0)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1.0, inner[:, 1] - 0.5), 1.0, atol=1e-12)
    assert (inner[:, 1] <= 0.5 + 1e-12).all()  # lower half of the circle around (1, 0.5)


def test_noise_has_the_requested_spread() -> None:
    clean, _ = moons.make_moons(4000, noise=0.0, seed=1)
    noisy, _ = moons.make_moons(4000, noise=0.25, seed=1)
    assert np.std(noisy - clean) == pytest.approx(0.25, rel=0.05)


@pytest.mark.parametrize("n_samples, noise", [(1, 0.1), (10.0, 0.1), (10, -0.1), (10, float("nan"))])
def test_make_moons_rejects_bad_arguments(n_samples, noise) -> None:
    with pytest.raises(ValueError, match="make_moons"):
        moons.make_moons(n_samples, noise)


def test_a_short_training_run_reduces_the_loss() -> None:
    X, y = moons.make_moons(40, noise=0.1, seed=0)
    lines: list[str] = []
    model, history = moons.train(X, y, steps=15, log_every=5, log=lines.append)
    losses = [loss for _, loss, _ in history]
    assert len(history) == 15 and [s for s, _, _ in history] == list(range(15))
    assert min(losses[-3:]) < 0.6 * losses[0]
    assert history[-1][2] > 0.75  # accuracy, well above the 50% of a coin toss
    assert len(lines) == 4 and lines[0].startswith("step   0")
    assert len(model.parameters()) == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1


def test_decision_grid_and_plots(tmp_path) -> None:
    X, y = moons.make_moons(20, noise=0.1, seed=0)
    model, history = moons.train(X, y, steps=2, log_every=0)
    xs, ys, scores = moons.decision_grid(model, X, resolution=6)
    assert xs.shape == ys.shape == scores.shape == (6, 6)
    assert xs.min() < X[:, 0].min() and xs.max() > X[:, 0].max()
    corner = model([float(xs[0, -1]), float(ys[0, -1])])
    assert scores[0, -1] == pytest.approx(corner.data, rel=1e-12)
    moons.plot_boundary(xs, ys, scores, X, y, tmp_path / "boundary.png")
    moons.plot_training(history, tmp_path / "curve.png")
    for name in ("boundary.png", "curve.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def bilinear(xs: np.ndarray, ys: np.ndarray, scores: np.ndarray, point: np.ndarray) -> float:
    """The grid's scores interpolated bilinearly at `point` (exact along grid lines, where contours cross)."""
    column, row = xs[0], ys[:, 0]
    j = int(np.clip(np.searchsorted(column, point[0]) - 1, 0, len(column) - 2))
    i = int(np.clip(np.searchsorted(row, point[1]) - 1, 0, len(row) - 2))
    tx = (point[0] - column[j]) / (column[j + 1] - column[j])
    ty = (point[1] - row[i]) / (row[i + 1] - row[i])
    corners = scores[i : i + 2, j : j + 2]
    return float([1 - ty, ty] @ corners @ [1 - tx, tx])


def test_boundary_figure_draws_the_zero_level_of_the_scores_both_classes_and_the_data() -> None:
    import matplotlib.pyplot as plt

    X, y = moons.make_moons(30, noise=0.1, seed=0)
    model, _ = moons.train(X, y, steps=20, log_every=0)
    xs, ys, scores = moons.decision_grid(model, X, resolution=12)
    assert scores.min() < 0 < scores.max()  # both classes appear on the grid
    fig = moons.boundary_figure(xs, ys, scores, X, y)
    try:
        (ax,) = fig.axes
        filled, line, points = ax.collections  # contourf, contour, scatter, in drawing order
        assert filled.filled and len(filled.levels) == 3 and filled.levels[1] == 0.0  # one colour per sign
        assert sum(len(path.vertices) > 0 for path in filled.get_paths()) == 2
        assert not line.filled and list(line.levels) == [0.0]
        vertices = np.concatenate([path.vertices for path in line.get_paths()])
        assert len(vertices) > 3  # the boundary is drawn: a curve through the grid where the score is 0
        for vertex in vertices:
            assert abs(bilinear(xs, ys, scores, vertex)) <= 1e-9 * np.abs(scores).max(), vertex
        np.testing.assert_array_equal(points.get_offsets(), X)
        np.testing.assert_array_equal(points.get_array(), y)  # coloured by label
    finally:
        plt.close(fig)


def test_training_figure_draws_the_loss_and_the_accuracy_of_every_step() -> None:
    import matplotlib.pyplot as plt

    history = [(0, 1.5, 0.5), (1, 1.1, 0.6), (2, 0.7, 0.8)]
    fig = moons.training_figure(history)
    try:
        loss_axis, accuracy_axis = fig.axes
        (loss,) = loss_axis.get_lines()
        (accuracy,) = accuracy_axis.get_lines()
        np.testing.assert_array_equal(loss.get_xydata(), [[0, 1.5], [1, 1.1], [2, 0.7]])
        np.testing.assert_array_equal(accuracy.get_xydata(), [[0, 0.5], [1, 0.6], [2, 0.8]])
        assert accuracy_axis.get_ylim() == (0, 1.05)
    finally:
        plt.close(fig)
