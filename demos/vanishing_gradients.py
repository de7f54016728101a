"""Section 1.2 of the seed, measured: how the first layer's gradient shrinks (or grows) with depth.

`python -m demos.vanishing_gradients` writes out/vanishing_gradients.csv, out/vanishing_gradients.png
and prints a short table.

The network. Depth K is the number of weight layers, the linear read-out included (the seed's
network 1.1 has K = 3: w1, w2 and the read-out w3). With width m and input x in R^m:

    h_0 = x,   h_i = g(W_i h_{i-1} + b_i)  for i = 1..K-1   (W_i is m x m)
    y_hat = W_K h_{K-1} + b_K                               (W_K is 1 x m, no activation)
    L = (y_hat - y)^2                                       (one sample, target y = 1)

It is an `nn.MLP(m, [m] * (K - 1) + [1], activation=g)`, so every gradient below is the engine's
autograd. All biases are 0 (as `nn.Neuron` starts them).

The weights. Each W_i is c times a random orthogonal matrix (W_K: c times a random unit row), so
its spectral norm ||W_i||_2 -- the largest singular value, the operator 2-norm -- is exactly c.
The column `weight_norm` is this c. The same orthogonal matrices are reused for every activation,
every c and every depth (the depth-K network is the first K-1 hidden layers of one stack plus
the same read-out direction), so the curves differ only in what they are meant to show.

The bound. Write z_i = W_i h_{i-1} + b_i, delta_i = dL/dz_i and D_i = diag(g'(z_i)). The chain
rule gives delta_{K-1} = D_{K-1} W_K^T dL/dy_hat, delta_{i-1} = D_{i-1} W_i^T delta_i, and
dL/dW_1 = delta_1 x^T, a rank-one matrix whose Frobenius norm is ||delta_1|| ||x||. Since
||D_i||_2 <= s = sup |g'| and ||W_i^T||_2 = ||W_i||_2,

    ||dL/dW_1||_F  <=  |dL/dy_hat| * ||x|| * s^(K-1) * prod_{i=2..K} ||W_i||_2
                    =  |dL/dy_hat| * ||x|| * (s c)^(K-1)       when every ||W_i||_2 = c.

This is the seed's (max |g'|)^(k-1) * prod ||w_i|| with the output-side factor |dL/dy_hat| and
the input-side factor ||x||. It needs operator norms: for m > 1, entries below 1 (the seed's
"every |w_ij| < 1") bound nothing, as an m x m matrix of 0.9s has norm 0.9 m. The Frobenius norm
would also give a valid bound (||W||_2 <= ||W||_F) but a looser one, by sqrt(m) per layer here.
The gradient is forced to vanish when s c < 1 (|dL/dy_hat| stays bounded then): c < 4 for
sigmoid (s = 1/4), c < 1 for tanh and relu (s = 1). With s c > 1 the bound allows growth but does
not force it: saturated tanh units and switched-off relu units shrink the gradient further.

The columns. `grad_first_layer` is ||dL/dW_1||_F (= its spectral norm, the matrix being rank one),
measured; `bound` the right-hand side above (it depends on depth through |dL/dy_hat| too, which
`dloss_dyhat` records: the engine's y_hat.grad); `ratio` = grad / bound.
Width m = 16 keeps relu alive: a layer of m relu units reading a random direction switches all
of them off with probability about 2^-m, which at m = 4 kills most depth-64 networks. One sample
per network; the 63 networks (3 activations x 3 norms x depths 2..128) take 2-4 s on 2 busy cores.

The network is built by `seed.deep_chain_1_2.deep_mlp` and the bound computed by
`seed.deep_chain_1_2.first_layer_gradient_bound`, with s = `seed.activations.derivative_bound`
(1/4, 1, 1), measured on the engine's own derivative rules. Gradients that
are exactly 0 (possible for relu, whose units can all switch off) cannot be drawn on a log scale:
the plot puts them on its bottom edge as crosses.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import engine
import nn
from seed.activations import activation_op, derivative_bound
from seed.deep_chain_1_2 import deep_mlp, first_layer_gradient_bound

if TYPE_CHECKING:
    from matplotlib.figure import Figure

ACTIVATIONS = ("sigmoid", "tanh", "relu")
WEIGHT_NORMS = (0.5, 0.9, 2.0)
DEPTHS = (2, 4, 8, 16, 32, 64, 128)
WIDTH = 16
SEED = 0
TARGET = 1.0

CSV_COLUMNS = ("activation", "weight_norm", "depth", "width", "grad_first_layer", "bound", "ratio", "dloss_dyhat")


def random_orthogonal(width: int, rng: np.random.Generator) -> np.ndarray:
    """A random orthogonal matrix (QR of a Gaussian one), so every singular value is 1."""
    q, r = np.linalg.qr(rng.standard_normal((width, width)))
    return q * np.sign(np.diag(r))


def weight_stack(max_depth: int, width: int, seed: int = SEED) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Unit-norm directions shared by all configurations: hidden matrices, read-out row, input x."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(width)
    readout = rng.standard_normal((1, width))
    hidden = [random_orthogonal(width, rng) for _ in range(max_depth - 1)]  # drawn last: prefixes agree
    return hidden, readout / np.linalg.norm(readout), x / np.linalg.norm(x)


def layer_matrices(
    hidden: Sequence[np.ndarray], readout: np.ndarray, weight_norm: float, depth: int
) -> list[np.ndarray]:
    """W_1..W_K of the depth-K network: weight_norm times the first K-1 hidden matrices, then the read-out row."""
    if len(hidden) < depth - 1:
        raise ValueError(f"the weight stack has {len(hidden)} hidden matrices, depth {depth} needs {depth - 1}")
    return [weight_norm * q for q in hidden[: depth - 1]] + [weight_norm * readout]


def autograd_first_layer_gradient(model: nn.MLP, x: np.ndarray, target: float = TARGET) -> tuple[np.ndarray, float]:
    """dL/dW_1 (a matrix) and dL/dy_hat for L = (y_hat - target)^2, both by the engine's backward."""
    y_hat = model([float(v) for v in x])
    assert isinstance(y_hat, engine.Value)
    loss = nn.mse_loss([y_hat], [target])
    model.zero_grad()
    loss.backward()
    grad_w1 = np.array([[w.grad for w in n.w] for n in model.layers[0].neurons])
    return grad_w1, y_hat.grad


def measure(
    activation: str,
    weight_norm: float,
    depth: int,
    width: int = WIDTH,
    seed: int = SEED,
    stack: tuple[list[np.ndarray], np.ndarray, np.ndarray] | None = None,
) -> dict[str, float | int | str]:
    """One configuration: build the network, measure ||dL/dW_1||_F and compute the bound."""
    if depth < 2:
        raise ValueError(f"depth counts weight layers including the read-out, so it must be >= 2, got {depth}")
    activation_op(activation)  # an activation the bound knows, else a clear error before any work
    if not (weight_norm > 0 and math.isfinite(weight_norm)):
        raise ValueError(f"weight_norm must be a positive finite number, got {weight_norm!r}")
    hidden, readout, x = stack if stack is not None else weight_stack(depth, width, seed)
    matrices = layer_matrices(hidden, readout, weight_norm, depth)
    biases = [np.zeros(len(m)) for m in matrices]
    grad_w1, dloss_dyhat = autograd_first_layer_gradient(deep_mlp(matrices, biases, activation), x)
    grad_norm = float(np.linalg.norm(grad_w1))
    bound = first_layer_gradient_bound([x], [TARGET], matrices, biases, activation)
    return {
        "activation": activation,
        "weight_norm": weight_norm,
        "depth": depth,
        "width": width,
        "grad_first_layer": grad_norm,
        "bound": bound,
        "ratio": grad_norm / bound if bound > 0 else math.nan,
        "dloss_dyhat": dloss_dyhat,
    }


def run(
    activations: Sequence[str] = ACTIVATIONS,
    weight_norms: Sequence[float] = WEIGHT_NORMS,
    depths: Sequence[int] = DEPTHS,
    width: int = WIDTH,
    seed: int = SEED,
) -> list[dict[str, float | int | str]]:
    """Every configuration, sharing one stack of orthogonal directions."""
    stack = weight_stack(max(depths), width, seed)
    return [measure(a, c, k, width, seed, stack) for a in activations for c in weight_norms for k in sorted(depths)]


def write_csv(rows: Sequence[dict[str, float | int | str]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})


def _curves(rows: Sequence[dict[str, float | int | str]]) -> dict[tuple[str, float], list[dict]]:
    curves: dict[tuple[str, float], list[dict]] = {}
    for row in rows:
        curves.setdefault((str(row["activation"]), float(row["weight_norm"])), []).append(dict(row))
    return curves


def figure(rows: Sequence[dict[str, float | int | str]]) -> Figure:
    """Log-scale ||dL/dW_1||_F against depth: one panel per activation, one colour per weight norm.

    Solid lines with dots are the measured gradients, dashed lines the bound; a gradient that is
    exactly 0 has no place on a log scale and is drawn as a cross on the panel's floor instead.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = _curves(rows)
    activations = list(dict.fromkeys(a for a, _ in curves))
    norms = list(dict.fromkeys(c for _, c in curves))
    positive = [float(r[k]) for r in rows for k in ("grad_first_layer", "bound") if float(r[k]) > 0]
    floor = min(positive) / 100 if positive else 1e-300
    fig, axes = plt.subplots(1, len(activations), figsize=(5 * len(activations), 4.2), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, activation in zip(axes[0], activations):
        for colour, c in zip(colours, norms):
            curve = curves.get((activation, c), [])
            depth = [int(r["depth"]) for r in curve]
            grad = np.array([float(r["grad_first_layer"]) for r in curve])
            bound = np.array([float(r["bound"]) for r in curve])
            ax.plot(depth, np.where(grad > 0, grad, np.nan), "o-", color=colour, label=f"||W||_2 = {c}")
            ax.plot(depth, np.where(bound > 0, bound, np.nan), "--", color=colour, alpha=0.8)
            zero = grad == 0
            if zero.any():
                ax.plot(np.array(depth)[zero], np.full(zero.sum(), floor), "x", color=colour, markersize=9)
        ax.set_yscale("log")  # (s c)^K is a straight line against K
        ax.set_title(f"{activation}  (max |g'| = {derivative_bound(activation):g})")
        ax.set_xlabel("depth K (weight layers)")
        ax.set_ylabel("||dL/dW_1||_F   (dashed: bound)")
        ax.grid(True, which="major", alpha=0.3)
    axes[0][0].legend(fontsize=8, title="solid: measured", title_fontsize=8)
    fig.suptitle("Gradient of the first layer vs depth (crosses on the floor: exactly 0)", fontsize=11)
    fig.tight_layout()
    return fig


def plot(rows: Sequence[dict[str, float | int | str]], path: Path) -> None:
    """`figure(rows)`, saved as a PNG at `path`."""
    import matplotlib.pyplot as plt

    fig = figure(rows)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(rows: Sequence[dict[str, float | int | str]]) -> str:
    """Measured gradient per depth for each (activation, weight norm), and the worst grad/bound."""
    curves = _curves(rows)
    depths = sorted({int(r["depth"]) for r in rows})
    head = f"{'activation':<10} {'||W||':>5} " + " ".join(f"{'K=' + str(k):>9}" for k in depths) + "  max grad/bound"
    lines = [head]
    for (activation, c), curve in curves.items():
        by_depth = {int(r["depth"]): float(r["grad_first_layer"]) for r in curve}
        cells = " ".join(f"{by_depth[k]:9.2e}" if k in by_depth else " " * 9 for k in depths)
        worst = max(float(r["ratio"]) for r in curve)
        lines.append(f"{activation:<10} {c:>5g} {cells}  {worst:.3f}")
    return "\n".join(lines)


def main(out: Path = Path("out")) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    rows = run(ACTIVATIONS, WEIGHT_NORMS, DEPTHS, WIDTH, SEED)
    elapsed = time.perf_counter() - start
    print(
        f"vanishing gradients: {len(rows)} networks of width {WIDTH}, depths {min(DEPTHS)}..{max(DEPTHS)}, "
        f"measured in {elapsed:.2f} s"
    )
    print(table(rows))
    broken = [r for r in rows if float(r["grad_first_layer"]) > float(r["bound"]) * (1 + 1e-9)]
    print("bound holds in every configuration" if not broken else f"BOUND VIOLATED in {len(broken)} configurations")
    csv_path, png_path = out / "vanishing_gradients.csv", out / "vanishing_gradients.png"
    write_csv(rows, csv_path)
    plot(rows, png_path)
    print(f"wrote {csv_path} and {png_path}")
    return [csv_path, png_path]


if __name__ == "__main__":
    main()
