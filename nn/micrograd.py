"""micrograd's neural networks, faithfully: `Neuron`, `Layer` and `MLP` as micrograd 0.1.0 behaves.

For following micrograd's notebooks and Andrej Karpathy's lecture with the same numbers and the same
pictures: replace `from micrograd.nn import MLP` by `from nn.micrograd import MLP` (and
`micrograd.engine` by `engine`), and `random.seed(1337)` gives the losses the notebook shows.

- Weights are drawn from Python's global `random` (`random.uniform(-1, 1)`), one neuron after
  another, so `random.seed` reproduces a model; biases start at 0.
- A neuron computes b + w1*x1 + w2*x2 + ... from elementary `*` and `+` nodes, added in that order
  (its diagram is micrograd's chain), then `relu`, or nothing when `nonlin=False`.
- An MLP's hidden layers are ReLU and its last layer linear; `parameters()` lists each neuron's
  weights then its bias, neuron by neuron and layer by layer; `repr` reads `MLP of [Layer of [ReLUNeuron(2), ...`.
- A layer of one neuron gives a Value, of several a list of Values.

Where micrograd fails or silently does something else, these classes raise a clear error instead:
a wrong number of inputs (micrograd's `zip` drops the extra ones), sizes that are not positive whole
numbers, `nonlin` that is not a bool. And where micrograd breaks, an MLP with a hidden layer of one
neuron works. For anything else, `nn.MLP` (nn/mlp.py) is the better model: its initialisation keeps
the signal's size through the layers, its neurons are one fused node each, and it has any activation,
names, checkpoints and PyTorch conversion.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Union

import numpy as np

from engine import Value
from nn.module import Module

Input = Union[Value, int, float]


def _check_count(n: object, who: str, what: str) -> int:
    """`n` if it is a positive whole number, else a ValueError naming `who` and `what` it counts."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{who} needs a positive whole number of {what}, got {n!r}")
    return int(n)


class Neuron(Module):
    """relu(b + w1*x1 + ... + wn*xn), or without the relu when `nonlin=False`, as micrograd's Neuron."""

    def __init__(self, nin: int, nonlin: bool = True) -> None:
        nin = _check_count(nin, "Neuron", "inputs")
        if not isinstance(nonlin, (bool, np.bool_)):
            raise TypeError(f"Neuron's nonlin must be True (ReLU) or False (linear), got {nonlin!r}")
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0.0)
        self.nonlin = bool(nonlin)

    def __call__(self, x: Sequence[Input]) -> Value:
        try:
            count = len(x)
        except TypeError:
            raise TypeError(
                f"Neuron expects a list of {len(self.w)} numbers or Values, got {type(x).__name__}"
            ) from None
        if count != len(self.w):
            raise ValueError(f"Neuron expects {len(self.w)} inputs, got {count}")
        # Left to right from the bias, one `*` and one `+` node per input: micrograd's order of additions.
        activation = self.b
        for wi, xi in zip(self.w, x):
            activation = activation + wi * xi
        return activation.relu() if self.nonlin else activation

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def named_parameters(self) -> list[tuple[str, Value]]:
        """w1 ... wn, b: the names nn.Neuron gives (micrograd's Values have none; these are not written into labels)."""
        return [*((f"w{i}", w) for i, w in enumerate(self.w, start=1)), ("b", self.b)]

    def __repr__(self) -> str:
        return f"{'ReLU' if self.nonlin else 'Linear'}Neuron({len(self.w)})"


class Layer(Module):
    """`nout` Neurons reading the same inputs; keyword arguments (`nonlin`) go to every Neuron."""

    def __init__(self, nin: int, nout: int, **kwargs: bool) -> None:
        _check_count(nin, "Layer", "inputs")
        nout = _check_count(nout, "Layer", "outputs")
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x: Sequence[Input]) -> Value | list[Value]:
        out = [neuron(x) for neuron in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        return [p for neuron in self.neurons for p in neuron.parameters()]

    def named_parameters(self) -> list[tuple[str, Value]]:
        return _prefixed("neuron", self.neurons)

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(neuron) for neuron in self.neurons)}]"


class MLP(Module):
    """Layers of sizes `nouts` after `nin` inputs: ReLU neurons, then a linear last layer."""

    def __init__(self, nin: int, nouts: Sequence[int]) -> None:
        if isinstance(nouts, (str, bytes)) or not isinstance(nouts, (Sequence, np.ndarray)) or len(nouts) == 0:
            raise TypeError(f"MLP expects nouts as a non-empty list of layer sizes, e.g. [16, 16, 1], got {nouts!r}")
        sizes = [_check_count(nin, "MLP", "inputs")]
        sizes += [_check_count(n, "MLP", "outputs in each layer of nouts") for n in nouts]
        last = len(nouts) - 1
        self.layers = [Layer(sizes[i], sizes[i + 1], nonlin=i != last) for i in range(len(nouts))]

    def __call__(self, x: Sequence[Input]) -> Value | list[Value]:
        out = self.layers[0](x)
        for layer in self.layers[1:]:
            # A hidden layer of one neuron gives a Value; the next layer reads it as a list of one.
            out = layer([out] if isinstance(out, Value) else out)
        return out

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for p in layer.parameters()]

    def named_parameters(self) -> list[tuple[str, Value]]:
        """layer1.neuron1.w1, ...: nn.MLP's names, in the order of `parameters()`."""
        return _prefixed("layer", self.layers)

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"


def _prefixed(kind: str, parts: Sequence[Module]) -> list[tuple[str, Value]]:
    """The parts' named parameters, each name prefixed by `kind` and the part's number: neuron2.w1, ..."""
    return [(f"{kind}{i}.{name}", p) for i, part in enumerate(parts, start=1) for name, p in part.named_parameters()]
