"""Newton's method against gradient descent on Rosenbrock's banana function.

f(x, y) = (1 - x)^2 + 100 (y - x^2)^2 has its minimum f = 0 at (1, 1), at the end
of a long, curved, flat-bottomed valley. Gradient descent crawls along the
valley; Newton's method, which also uses the second derivatives (the Hessian,
from `engine.grad` applied twice), gets there in a handful of steps.

Run: python -m demos.newton  (writes out/newton.png).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from engine import Value, grad
from engine.derivatives.hessian import hessian

if TYPE_CHECKING:
    from matplotlib.figure import Figure

T = TypeVar("T", Value, np.ndarray)

START = (-1.2, 1.0)  # the classic starting point
MINIMUM = (1.0, 1.0)
TOLERANCE = 1e-6  # stop when within this distance of the minimum
LEARNING_RATE = 1e-3  # about the largest step that stays stable along the valley
MAX_DESCENT_STEPS = 50_000


def rosenbrock(x: T, y: T) -> T:
    """Rosenbrock's function, in arithmetic only: it takes Values (for gradients) or numpy arrays (for the plot)."""
    return (1 - x) ** 2 + 100 * (y - x**2) ** 2


def gradient(point: tuple[float, float]) -> list[float]:
    x, y = Value(point[0]), Value(point[1])
    return grad(rosenbrock(x, y), [x, y])


def newton(start: tuple[float, float]) -> list[tuple[float, float]]:
    """Iterates of x <- x - H(x)^-1 grad f(x) until within TOLERANCE of the minimum."""
    path = [start]
    while _distance(path[-1]) > TOLERANCE and len(path) <= 100:
        step = np.linalg.solve(np.array(hessian(rosenbrock, path[-1])), np.array(gradient(path[-1])))
        path.append((path[-1][0] - float(step[0]), path[-1][1] - float(step[1])))
    return path


def gradient_descent(start: tuple[float, float]) -> list[tuple[float, float]]:
    """Iterates of x <- x - LEARNING_RATE * grad f(x) until within TOLERANCE (or MAX_DESCENT_STEPS)."""
    path = [start]
    while _distance(path[-1]) > TOLERANCE and len(path) <= MAX_DESCENT_STEPS:
        g = gradient(path[-1])
        path.append((path[-1][0] - LEARNING_RATE * g[0], path[-1][1] - LEARNING_RATE * g[1]))
    return path


def _distance(point: tuple[float, float]) -> float:
    return float(np.hypot(point[0] - MINIMUM[0], point[1] - MINIMUM[1]))


def _f(point: tuple[float, float]) -> float:
    return rosenbrock(Value(point[0]), Value(point[1])).data


def main(out: Path = Path("out")) -> list[Path]:
    newton_path = newton(START)
    print(f"Newton's method on Rosenbrock from {START}:")
    for step, point in enumerate(newton_path):
        print(f"  step {step}: x = {point[0]: .10f}  y = {point[1]: .10f}  f = {_f(point):.3e}")
    descent_path = gradient_descent(START)
    reached = "reached" if _distance(descent_path[-1]) <= TOLERANCE else "did not reach"
    print(
        f"Newton: {len(newton_path) - 1} steps; gradient descent (learning rate {LEARNING_RATE}): "
        f"{len(descent_path) - 1} steps and {reached} distance {TOLERANCE} of the minimum"
    )
    return [_plot(newton_path, descent_path, out / "newton.png")]


def figure(newton_path: list[tuple[float, float]], descent_path: list[tuple[float, float]]) -> Figure:
    """Rosenbrock's contour lines with both paths, every iterate of Newton's method marked, and the minimum."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs, ys = np.meshgrid(np.linspace(-2.0, 2.0, 300), np.linspace(-3.5, 3.0, 300))
    f = rosenbrock(xs, ys)  # on the whole grid at once, for the contour lines
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.contour(xs, ys, np.log10(f + 1e-3), levels=25, cmap="viridis", linewidths=0.7)
    descent = np.array(descent_path)
    ax.plot(descent[:, 0], descent[:, 1], "-", color="tab:orange", lw=1.5,
            label=f"gradient descent ({len(descent_path) - 1} steps)")  # fmt: skip
    newton_points = np.array(newton_path)
    ax.plot(newton_points[:, 0], newton_points[:, 1], "o-", color="tab:red", lw=1.5, ms=5,
            label=f"Newton ({len(newton_path) - 1} steps)")  # fmt: skip
    ax.plot(*MINIMUM, "k*", ms=12, label="minimum (1, 1)")
    ax.set(xlabel="x", ylabel="y", title="Rosenbrock: Newton's method vs gradient descent")
    ax.legend(loc="upper left")
    fig.tight_layout()
    return fig


def _plot(newton_path: list[tuple[float, float]], descent_path: list[tuple[float, float]], path: Path) -> Path:
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig = figure(newton_path, descent_path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main()
