"""A short example: an MLP learns y = sin(x) with the seed's MSE loss."""

from __future__ import annotations

import math

import nn


def main() -> None:
    model = nn.MLP(1, [8, 8, 1], activation="tanh", seed=0)
    xs = [[-3 + 6 * i / 19] for i in range(20)]
    ys = [math.sin(x[0]) for x in xs]
    optimizer = nn.Adam(model.parameters(), lr=0.05)
    for step in range(201):
        loss = nn.mse_loss([model(x) for x in xs], ys)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            print(f"step {step:3d}  loss {loss.data:.5f}")


if __name__ == "__main__":
    main()
