"""Diagrams of computation graphs after one backward pass: the seed's network 1.1 and a 2-16-16-1 MLP.

python -m demos.diagram      # writes out/seed_network.svg, .png and out/mlp_2_16_16_1.svg
"""

from __future__ import annotations

import time
from pathlib import Path

import nn
from engine import Value, save_diagram


def seed_network_loss() -> Value:
    """The seed's network 1.1 with g = sigmoid on one sample, every multiply and add drawn, after backward().

    The network labels what it computes with the seed's symbols: u1, h1, u2, h2, ŷ, and y and L.
    """
    loss = nn.SeedNetwork("sigmoid", seed=0, fused=False).loss(0.5, 1.0)
    loss.backward()
    return loss


def mlp_loss() -> Value:
    """A 2-16-16-1 relu MLP with fused neurons on one sample, after backward()."""
    model = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
    loss = nn.mse_loss(model([0.5, -1.0]), 1.0)
    loss.label = "L"
    loss.backward()
    return loss


def main(out: Path = Path("out")) -> list[Path]:
    start = time.perf_counter()
    seed_loss = seed_network_loss()
    written = [save_diagram(seed_loss, out / f"seed_network.{fmt}", rankdir="TB") for fmt in ("svg", "png")]
    print(f"seed network 1.1 (sigmoid, unfused), L = {seed_loss.data:.4g}: {', '.join(map(str, written))}")
    written.append(save_diagram(mlp_loss(), out / "mlp_2_16_16_1.svg"))
    print(f"2-16-16-1 relu MLP, one neuron per cluster: {written[-1]}")
    print(f"diagrams drawn in {time.perf_counter() - start:.1f} s")
    return written


if __name__ == "__main__":
    main()
