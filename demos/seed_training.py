"""The seed's network 1.1 trained with the seed's loss: y = sin(x) + noise, two widths.

    h1 = tanh(W1 x + b1),  h2 = tanh(W2 h1 + b2),  yhat = w3 . h2 + b3,  L = sum_n (y_n - yhat_n)^2 / N

- widths (1, 1), the seed's own case (6 parameters). Every layer is an increasing or
  decreasing function of the one before, so yhat is monotone in x: it cannot follow
  sin(x) over [-3, 3], which rises and falls; it settles on the best S-curve.
- widths (8, 8), 97 parameters: fits the data.

Both use `nn.SeedNetwork` and its loss (`nn.mse_loss`) and `nn.Adam`, full batch, with fixed seeds.
`python -m demos.seed_training` prints progress and writes out/seed_training_curve.png (loss per
step, log scale) and out/seed_training_fit.png (the final fits against the data).
"""

from __future__ import annotations

import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import nn  # noqa: E402
from engine import no_grad  # noqa: E402

SAMPLES = 32
NOISE = 0.05
STEPS = 400
MODELS = {"widths (1, 1), the seed's case": (1, 1), "widths (8, 8)": (8, 8)}


def make_data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """N = 32 points of y = sin(x) + Gaussian noise (sd 0.05), x uniform on [-3, 3]."""
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-3.0, 3.0, SAMPLES))
    return x, np.sin(x) + rng.normal(0.0, NOISE, SAMPLES)


def train(widths: tuple[int, int], x: np.ndarray, y: np.ndarray, name: str) -> tuple[nn.SeedNetwork, list[float]]:
    """Full-batch Adam on the seed's MSE; returns the model and the loss at every step."""
    model = nn.SeedNetwork("tanh", widths=widths, seed=1)
    optimizer = nn.Adam(model.parameters(), lr=0.03)
    xs, ys = [float(v) for v in x], [float(v) for v in y]
    losses = []
    for step in range(STEPS + 1):
        loss = model.loss(xs, ys)
        losses.append(loss.data)
        if step % 100 == 0:
            print(f"  {name}: step {step:3d}  loss {loss.data:.5f}")
        if step == STEPS:
            break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model, losses


def predict(model: nn.SeedNetwork, x: np.ndarray) -> np.ndarray:
    with no_grad():
        return np.array([model(float(v)).data for v in x])


def curve_figure(results: dict[str, tuple[nn.SeedNetwork, list[float]]]) -> Figure:
    """The loss at every step of each model (name -> (model, losses)), log scale, with the noise variance for scale."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, (_, losses) in results.items():
        ax.plot(losses, label=name)
    ax.axhline(NOISE**2, color="grey", linestyle=":", label=f"noise variance {NOISE}^2")
    ax.set(yscale="log", xlabel="step", ylabel="L = mean squared error", title="Network 1.1 on sin(x): training loss")
    ax.legend()
    fig.tight_layout()
    return fig


def fit_figure(
    results: dict[str, tuple[nn.SeedNetwork, list[float]]], x: np.ndarray, y: np.ndarray, grid: np.ndarray
) -> Figure:
    """The data, sin(x), and each trained model's prediction on `grid`."""
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(x, y, s=14, color="black", label=f"data, N = {SAMPLES}")
    ax.plot(grid, np.sin(grid), color="grey", linestyle=":", label="sin(x)")
    for name, (model, _) in results.items():
        ax.plot(grid, predict(model, grid), label=name)
    ax.set(xlabel="x", ylabel="y", title="Network 1.1 on sin(x): final fit")
    ax.legend()
    fig.tight_layout()
    return fig


def main(out: Path = Path("out")) -> list[Path]:
    start = time.perf_counter()
    x, y = make_data()
    print(f"network 1.1 (tanh) on y = sin(x) + noise, N = {SAMPLES}, Adam, {STEPS} full-batch steps")
    results = {}
    for name, widths in MODELS.items():
        model, losses = train(widths, x, y, name)
        results[name] = (model, losses)
        print(f"  {name}: {len(model.parameters())} parameters, final loss {losses[-1]:.5f}")
    grid = np.linspace(-3.2, 3.2, 200)
    narrow = predict(results["widths (1, 1), the seed's case"][0], grid)
    steps = np.diff(narrow)
    print(f"  the width-1 fit is monotone in x: {bool(np.all(steps >= 0) or np.all(steps <= 0))}")

    out.mkdir(parents=True, exist_ok=True)
    curve, fit = out / "seed_training_curve.png", out / "seed_training_fit.png"
    for fig, path in ((curve_figure(results), curve), (fit_figure(results, x, y, grid), fit)):
        fig.savefig(path, dpi=120)
        plt.close(fig)
    print(f"wrote {curve} and {fit} in {time.perf_counter() - start:.1f} s")
    return [curve, fit]


if __name__ == "__main__":
    main()
