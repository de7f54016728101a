"""The seed's network 1.1, built on MLP, with its parameters in the seed's notation.

    h1 = g(w1 x + b1),  h2 = g(w2 h1 + b2),  y_hat = w3 h2 + b3

With one unit per layer (the seed's own case) the parameters are named w1, b1,
w2, b2, w3, b3. With wider layers, w_i is a matrix and its entries are named
`w2[j,k]` (unit j of layer i, reading input k) and `b2[j]`, 1-based.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine import Value
from nn.module import MLP, Input, mlp_sizes


class SeedNetwork(MLP):
    """Network 1.1 of the seed: two hidden layers with activation g, a linear output."""

    def __init__(
        self,
        activation: str = "sigmoid",
        widths: Sequence[int] = (1, 1),
        *,
        nin: int = 1,
        seed: int | None = None,
        fused: bool = True,
    ) -> None:
        super().__init__(nin, [*_checked_widths(widths), 1], activation, seed=seed, fused=fused)
        self._name_parameters()

    def named_parameters(self) -> list[tuple[str, Value]]:
        named = []
        for i, layer in enumerate(self.layers, start=1):
            single = len(layer.neurons) == 1 and layer.neurons[0].nin == 1
            for j, neuron in enumerate(layer.neurons, start=1):
                for k, w in enumerate(neuron.w, start=1):
                    named.append((f"w{i}" if single else f"w{i}[{j},{k}]", w))
                named.append((f"b{i}" if len(layer.neurons) == 1 else f"b{i}[{j}]", neuron.b))
        return named

    @classmethod
    def _state_names(cls, n_layers: int) -> list[tuple[str, str]]:
        """The seed's notation: w1 (a widths[0] x nin matrix), b1, w2, b2, w3, b3."""
        return [(f"w{i}", f"b{i}") for i in range(1, n_layers + 1)]

    @classmethod
    def _sizes(cls, arguments: Mapping[str, Any]) -> list[int]:
        return mlp_sizes(arguments["nin"], [*_checked_widths(arguments["widths"]), 1])

    @classmethod
    def _config_for_sizes(cls, sizes: Sequence[int], activation: str, fused: bool, where: str) -> dict[str, Any]:
        if len(sizes) != 4 or sizes[-1] != 1:
            raise ValueError(
                f"{where}: network 1.1 has sizes [nin, width1, width2, 1] (two hidden layers and one output),"
                f" got {list(sizes)}"
            )
        return {"activation": activation, "widths": [int(n) for n in sizes[1:3]], "nin": int(sizes[0]), "fused": fused}

    def __call__(self, x: Sequence[Input] | Input) -> Value:
        """y_hat for one sample; a scalar x may be given bare when nin == 1."""
        if isinstance(x, (Value, int, float)):
            x = [x]
        out = super().__call__(x)
        assert isinstance(out, Value)
        return out


def _checked_widths(widths: object) -> list[Any]:
    """`widths` as a list if it has two entries (network 1.1's two hidden layers), else an error."""
    if not isinstance(widths, (list, tuple)):
        raise TypeError(f"network 1.1 expects widths as a list of its 2 hidden layers' sizes, got {widths!r}")
    if len(widths) != 2:
        raise ValueError(f"network 1.1 has two hidden layers: widths needs 2 sizes, got {list(widths)}")
    return list(widths)
