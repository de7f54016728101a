"""micrograd's classic demo, reproduced: an MLP separates the two moons with a max-margin loss.

`python -m demos.moons` trains `nn.MLP(2, [16, 16, 1], activation="relu")` on 100 noisy points
(two interleaved half circles, labels -1 and +1) with micrograd's recipe: the SVM hinge loss
mean(max(0, 1 - y s)) plus 1e-4 * sum(p^2), full-batch SGD with the learning rate decaying from
1.0 to 0.1 over 100 steps. It prints progress, then writes out/moons_decision_boundary.png (the
model's sign over a 200 x 200 grid, with the data) and out/moons_training_curve.png. The grid's
40,000 scores come from one `engine.vectorize` replay of the model (a scalar pass per point would
take seconds); the demo prints how long that took.

The data are generated here with numpy (no scikit-learn, no download): the outer moon is the
upper half of the unit circle, the inner moon the lower half of the unit circle centred at
(1, 0.5), both sampled at evenly spaced angles and blurred by Gaussian noise.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import engine
import nn
from engine import Value, no_grad

if TYPE_CHECKING:
    from matplotlib.figure import Figure

N_SAMPLES = 100
NOISE = 0.1
DATA_SEED = 0
MODEL_SEED = 0
STEPS = 100
ALPHA = 1e-4  # weight of the L2 regularisation
GRID = 200  # decision-boundary grid: GRID x GRID model evaluations, in one engine.vectorize call


def make_moons(
    n_samples: int = N_SAMPLES, noise: float = NOISE, seed: int | None = DATA_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles: points X of shape (n, 2) and labels y in {-1, +1} of shape (n,).

    The outer moon (label -1) gets n // 2 points, the inner moon (label +1) the rest; `noise` is
    the standard deviation of the Gaussian blur added to each coordinate.
    """
    if not isinstance(n_samples, int) or n_samples < 2:
        raise ValueError(f"make_moons needs a whole number n_samples >= 2 (one point per moon), got {n_samples!r}")
    if not (isinstance(noise, (int, float)) and noise >= 0 and math.isfinite(noise)):
        raise ValueError(f"make_moons needs a finite noise >= 0, got {noise!r}")
    rng = np.random.default_rng(seed)
    n_outer = n_samples // 2
    outer_angle = np.linspace(0.0, math.pi, n_outer)
    inner_angle = np.linspace(0.0, math.pi, n_samples - n_outer)
    outer = np.column_stack([np.cos(outer_angle), np.sin(outer_angle)])
    inner = np.column_stack([1.0 - np.cos(inner_angle), 0.5 - np.sin(inner_angle)])
    X = np.vstack([outer, inner]) + noise * rng.standard_normal((n_samples, 2))
    y = np.concatenate([-np.ones(n_outer), np.ones(n_samples - n_outer)])
    return X, y


def score(model: nn.MLP, point: list[Value] | list[float]) -> Value:
    """The model's score for one point (its single output)."""
    out = model(point)
    assert isinstance(out, Value)
    return out


def accuracy(scores: list[Value], labels: list[float]) -> float:
    """Fraction of points on the right side of the boundary (score > 0 means label +1)."""
    return sum((s.data > 0) == (y > 0) for s, y in zip(scores, labels)) / len(labels)


def train(
    X: np.ndarray,
    y: np.ndarray,
    steps: int = STEPS,
    seed: int = MODEL_SEED,
    log_every: int = 10,
    log: Callable[[str], None] = print,
) -> tuple[nn.MLP, list[tuple[int, float, float]]]:
    """micrograd's training loop; returns the model and (step, loss, accuracy) for every step."""
    model = nn.MLP(2, [16, 16, 1], activation="relu", seed=seed)
    parameters = model.parameters()
    inputs = [[Value(float(a)), Value(float(b))] for a, b in X]  # made once, reused every step
    labels = [float(v) for v in y]
    optimizer = nn.SGD(parameters, lr=1.0)
    history = []
    for step in range(steps):
        scores = [score(model, x) for x in inputs]
        regularisation = ALPHA * sum((p * p for p in parameters), Value(0.0))
        loss = nn.hinge_loss(scores, labels) + regularisation
        optimizer.zero_grad()
        loss.backward()
        optimizer.lr = 1.0 - 0.9 * step / steps
        optimizer.step()
        history.append((step, loss.data, accuracy(scores, labels)))  # loss and accuracy before this step
        if log_every and (step % log_every == 0 or step == steps - 1):
            log(f"step {step:3d}  loss {loss.data:.4f}  accuracy {history[-1][2]:.0%}")
    return model, history


def decision_grid(model: nn.MLP, X: np.ndarray, resolution: int = GRID) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The model's score on a resolution x resolution grid around the data, by one engine.vectorize replay."""
    low, high = X.min(axis=0) - 0.5, X.max(axis=0) + 0.5
    xs, ys = np.meshgrid(np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution))
    scores = engine.vectorize(lambda a, b: score(model, [a, b]))(xs.ravel(), ys.ravel())
    return xs, ys, scores.reshape(xs.shape)


def boundary_figure(xs: np.ndarray, ys: np.ndarray, scores: np.ndarray, X: np.ndarray, y: np.ndarray) -> Figure:
    """The sign of the score filled in two colours, the decision boundary (score = 0) as a black line, and the data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    bottom, top = min(scores.min(), -1.0) - 1.0, max(scores.max(), 1.0) + 1.0
    ax.contourf(xs, ys, scores, levels=[bottom, 0.0, top], cmap="Spectral", alpha=0.7)  # the sign of the score
    ax.contour(xs, ys, scores, levels=[0.0], colors="k", linewidths=1)
    ax.scatter(X[:, 0], X[:, 1], c=y, s=25, cmap="Spectral", edgecolors="k", linewidths=0.5)
    ax.set_title("two moons: MLP(2, [16, 16, 1]) decision boundary")
    fig.tight_layout()
    return fig


def plot_boundary(xs: np.ndarray, ys: np.ndarray, scores: np.ndarray, X: np.ndarray, y: np.ndarray, path: Path) -> None:
    _save(boundary_figure(xs, ys, scores, X, y), path)


def training_figure(history: list[tuple[int, float, float]]) -> Figure:
    """Loss (left axis) and accuracy (right axis) at every step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, losses, accuracies = zip(*history)
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    ax.plot(steps, losses, color="tab:blue")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (hinge + L2)", color="tab:blue")
    right = ax.twinx()
    right.plot(steps, accuracies, color="tab:orange")
    right.set_ylabel("accuracy", color="tab:orange")
    right.set_ylim(0, 1.05)
    ax.set_title("two moons: training")
    fig.tight_layout()
    return fig


def plot_training(history: list[tuple[int, float, float]], path: Path) -> None:
    _save(training_figure(history), path)


def _save(fig: Figure, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(out: Path = Path("out")) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    X, y = make_moons()
    start = time.perf_counter()
    model, history = train(X, y)
    trained = time.perf_counter()
    xs, ys, scores = decision_grid(model, X)
    evaluated = time.perf_counter()
    with no_grad():
        final = accuracy([score(model, [float(a), float(b)]) for a, b in X], [float(v) for v in y])
    print(
        f"moons: {len(y)} points, {len(model.parameters())} parameters, accuracy after training {final:.0%}; "
        f"training {trained - start:.1f} s; the {GRID}x{GRID} grid's {GRID * GRID:,} scores through engine.vectorize "
        f"{evaluated - trained:.3f} s"
    )
    boundary, curve = out / "moons_decision_boundary.png", out / "moons_training_curve.png"
    plot_boundary(xs, ys, scores, X, y, boundary)
    plot_training(history, curve)
    print(f"wrote {boundary} and {curve}")
    return [boundary, curve]


if __name__ == "__main__":
    main()
