"""The seed's network 1.1, built on MLP, in the seed's notation: its parameters, the values it computes, its loss.

    u1 = w1 x + b1,  h1 = g(u1),  u2 = w2 h1 + b2,  h2 = g(u2),  ŷ = w3 h2 + b3,  L = Σ (y − ŷ)² / N

Every Value it makes is labelled with the seed's symbol, so that `engine.explain(loss)` and
`engine.explore(loss)` read like the seed (`dL/dŷ`, `dL/dh2`): the parameters w1, b1, ..., b3;
calling the network labels u1, h1, u2, h2 and ŷ (and "x" for a number given as x); `loss(x, y)`
labels the loss L, "y" for the targets it makes from numbers, and the residual e = y − ŷ, which
the seed leaves unnamed (the tutorial, notebooks/backprop_tutorial.ipynb, calls it e). With one
input and one unit per layer (the seed's own case), each parameter's `note` is the seed's formula
for its gradient, as written and corrected (nn/seed_formulas.py), which explain and explore show
beside it; and with fused=False, where each unit is a multiply and an add, the products are named
as in the tutorial: w1x, w2h1, w3h2. So every Value of network 1.1 on one sample has a name.

With wider layers, w_i is a matrix: its entries are named `w2[j,k]` (unit j of layer i, reading
input k) and `b2[j]`, unit j's values `u2[j]` and `h2[j]`, and the inputs `x[k]`, all 1-based.
With N > 1 samples, `loss` ends each sample's labels with its number: `ŷ_1`, `h2_1`, `y_1`, ...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine import Value, add, mul, sub, topological_order
from engine.core.numbers import as_float
from nn import seed_formulas
from nn.activations import ACTIVATIONS
from nn.arguments import Input, check_inputs
from nn.losses import mse_loss
from nn.mlp import MLP, mlp_sizes


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
        self._input_names = ["x"] if self.nin == 1 else [f"x[{k}]" for k in range(1, self.nin + 1)]
        self._unit_names = [_unit_names(i, len(layer.neurons)) for i, layer in enumerate(self.layers[:-1], start=1)]
        self._seeds_own = self.nin == 1 and all(len(layer.neurons) == 1 for layer in self.layers)
        if self._seeds_own:
            for name, parameter in self.named_parameters():
                parameter.note = seed_formulas.note(name)

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
        """ŷ for one sample, its values labelled u1, h1, u2, h2, ŷ; a scalar x may be given bare when nin == 1."""
        return self._forward(x, "")

    def loss(self, x: Any, y: Input | Iterable[Input]) -> Value:
        """The seed's L = Σ (y_n − ŷ_n)² / N (`nn.mse_loss`), labelled L, for one sample or N.

        One sample: x as for calling the network, y one target. N samples: y a list of N targets
        and x a list of the N samples. Targets given as numbers become Values labelled y; with
        N > 1, every label of sample n ends in `_n` (`x_1`, `ŷ_1`, `y_1`, ...).
        """
        if isinstance(y, str) or not isinstance(y, Iterable):  # one target (a string is refused as one)
            samples, targets = [x], [y]
        else:
            targets = list(y)
            try:
                samples = list(x)
            except TypeError:
                raise TypeError(
                    f"SeedNetwork.loss: y holds {len(targets)} targets, so x must be a list of {len(targets)} "
                    f"samples, got {type(x).__name__}"
                ) from None
            if len(samples) != len(targets):
                raise ValueError(
                    f"SeedNetwork.loss: {len(samples)} samples but {len(targets)} targets; expected one target a sample"
                )
            if not targets:
                raise ValueError("SeedNetwork.loss: expected at least one sample, got none")
        endings = [""] if len(targets) == 1 else [f"_{n}" for n in range(1, len(targets) + 1)]
        ys = [
            t if isinstance(t, Value) else Value(as_float(t, "SeedNetwork.loss: each target"), label="y" + ending)
            for t, ending in zip(targets, endings)
        ]
        y_hats = [self._forward(xn, ending) for xn, ending in zip(samples, endings)]
        loss = mse_loss(y_hats, ys)
        loss.label = "L"
        # mse_loss computes (y - ŷ)² per sample; its y - ŷ is the tutorial's residual e.
        residuals = {(id(y), id(y_hat)): ending for y, y_hat, ending in zip(ys, y_hats, endings)}
        for value in topological_order(loss):
            if value.op is sub and len(value.parents) == 2:
                ending = residuals.get((id(value.parents[0]), id(value.parents[1])))
                if ending is not None:
                    value.label = "e" + ending
        return loss

    def _forward(self, x: Sequence[Input] | Input, ending: str) -> Value:
        """ŷ for one sample, every Value it makes labelled with the seed's symbol followed by `ending`."""
        if isinstance(x, (Value, int, float)):
            x = [x]
        check_inputs(x, self.nin, "SeedNetwork")
        h = [xi if isinstance(xi, Value) else Value(xi, label=name + ending) for xi, name in zip(x, self._input_names)]
        g = ACTIVATIONS[self.activation]
        reads = "x"  # what the layer reads, in the tutorial's names of the products: w1x, w2h1, w3h2
        for i, (layer, names) in enumerate(zip(self.layers[:-1], self._unit_names), start=1):
            h = layer._apply(h)
            for value, (u_name, h_name) in zip(h, names):
                value.label = h_name + ending
                u = value
                if g is not None and value.op is g:  # h = g(u): u is its input (no u for a linear g, nor under no_grad)
                    u = value.parents[0]
                    u.label = u_name + ending
                self._name_product(u, f"w{i}{reads}{ending}")
            reads = f"h{i}"
        (y_hat,) = self.layers[-1]._apply(h)
        y_hat.label = "ŷ" + ending
        self._name_product(y_hat, f"w{len(self.layers)}{reads}{ending}")
        return y_hat

    def _name_product(self, u: Value, name: str) -> None:
        """In the seed's own network with fused=False, u = b + w·h is an add of a product: name the product."""
        if not self._seeds_own or u.op is not add:  # fused, u is one linear node: no product to name
            return
        product = u.parents[1]
        if product.op is mul and not product.label:
            product.label = name


def _unit_names(layer: int, width: int) -> list[tuple[str, str]]:
    """(u, h) labels of each unit of hidden layer `layer`: ("u1", "h1") for a single unit, else ("u1[j]", "h1[j]")."""
    if width == 1:
        return [(f"u{layer}", f"h{layer}")]
    return [(f"u{layer}[{j}]", f"h{layer}[{j}]") for j in range(1, width + 1)]


def _checked_widths(widths: object) -> list[Any]:
    """`widths` as a list if it has two entries (network 1.1's two hidden layers), else an error."""
    if not isinstance(widths, (list, tuple)):
        raise TypeError(f"network 1.1 expects widths as a list of its 2 hidden layers' sizes, got {widths!r}")
    if len(widths) != 2:
        raise ValueError(f"network 1.1 has two hidden layers: widths needs 2 sizes, got {list(widths)}")
    return list(widths)
