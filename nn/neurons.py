"""A neuron, g(w . x + b), and a layer of neurons reading the same inputs: the parts an MLP is made of.

Each is a Module with its own parameters' names (a neuron's `w1`, ..., `b`; a layer's arrays `weight`
(nout x nin) and `bias`), and each records its nodes with its dotted `scope` ("layer1.neuron3"), which
diagrams draw as a box around the neuron's nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine import Value, linear
from engine.core.value import record1, record_values
from nn.activations import ACTIVATIONS, check_activation, check_std, draw_weights, refuse_nonlin
from nn.arguments import Input, as_values, check_flag, check_inputs, check_size
from nn.arrays import ValueArray
from nn.module import Module
from nn.state_dicts import Shapes


class Neuron(Module):
    """g(w . x + b): one unit with `nin` weights and a bias.

    `fused=True` (the default) records w . x + b as one `linear` node with one
    derivative rule; `fused=False` records it as n multiplications and n
    additions, the form to draw when teaching. Both give the same gradients.
    Weights are drawn uniformly with the variance `init_limit` describes
    (He for relu, LeCun otherwise), or from a Gaussian with standard deviation
    `std` when it is given; the bias starts at 0.
    """

    def __init__(
        self,
        nin: int,
        activation: str = "tanh",
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        std: float | None = None,
        fused: bool = True,
        nonlin: object = None,
    ) -> None:
        refuse_nonlin(nonlin, "Neuron")
        check_size(nin, "Neuron", "inputs")
        self.activation = check_activation(activation)
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.w = [Value(float(v)) for v in draw_weights(rng, nin, nin, activation, check_std(std, "Neuron"))]
        self.b = Value(0.0)
        self.fused = check_flag(fused, "Neuron", "fused")
        self.scope = ""
        self._name_parameters()

    @property
    def nin(self) -> int:
        return len(self.w)

    def parameters(self) -> list[Value]:
        return [*self.w, self.b]

    def named_parameters(self) -> list[tuple[str, Value]]:
        prefix = f"{self.scope}." if self.scope else ""
        named = [(f"{prefix}w{i}", w) for i, w in enumerate(self.w, start=1)]
        return [*named, (f"{prefix}b", self.b)]

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "activation": self.activation, "fused": self.fused}

    @classmethod
    def state_shapes(cls, arguments: Mapping[str, Any]) -> Shapes:
        return {"w": (check_size(arguments["nin"], "Neuron", "inputs"),), "b": ()}

    def __call__(self, x: Sequence[Input]) -> Value:
        check_inputs(x, len(self.w), "Neuron")
        return self._apply(as_values(x))

    def _apply(self, x: list[Value]) -> Value:
        """The neuron on `nin` Values (checked by the caller, once for a whole layer); its nodes get its scope."""
        scope = self.scope
        if self.fused:
            z = record_values(linear, *self.w, *x, self.b)
            z.scope = scope
        else:
            z = self.b
            for w, xi in zip(self.w, x):
                product = w * xi
                z = z + product
                product.scope = z.scope = scope
        g = ACTIVATIONS[self.activation]
        if g is None:
            return z
        out = record1(g, z)
        out.scope = scope
        return out

    def __repr__(self) -> str:
        kind = "" if self.activation == "linear" else self.activation.capitalize()
        return f"{kind}Neuron({len(self.w)})"


class Layer(Module):
    """`nout` neurons that all read the same `nin` inputs; as arrays, `weight` (nout x nin) and `bias` (nout,)."""

    def __init__(
        self,
        nin: int,
        nout: int,
        activation: str = "tanh",
        *,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
        std: float | None = None,
        fused: bool = True,
        nonlin: object = None,
    ) -> None:
        refuse_nonlin(nonlin, "Layer")
        check_size(nout, "Layer", "outputs")
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.neurons = [Neuron(nin, activation, rng=rng, std=std, fused=fused) for _ in range(nout)]
        self._set_scope("")

    def _set_scope(self, scope: str) -> None:
        self.scope = scope
        prefix = f"{scope}." if scope else ""
        for j, neuron in enumerate(self.neurons, start=1):
            neuron.scope = f"{prefix}neuron{j}"
        self._name_parameters()

    def parameters(self) -> list[Value]:
        parameters: list[Value] = []
        for neuron in self.neurons:  # whole lists at a time: a model's parameters are listed at every step
            parameters += neuron.w
            parameters.append(neuron.b)
        return parameters

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [pair for n in self.neurons for pair in n.named_parameters()]

    def _constants_within(self) -> list[Value]:
        return []  # a speed device: neurons read no constants, and zero_grad need not visit each one to learn that

    def parameter_arrays(self) -> dict[str, ValueArray]:
        return {"weight": [n.w for n in self.neurons], "bias": [n.b for n in self.neurons]}

    def config(self) -> dict[str, Any]:
        first = self.neurons[0]
        return {"nin": first.nin, "nout": len(self.neurons), "activation": first.activation, "fused": first.fused}

    @classmethod
    def state_shapes(cls, arguments: Mapping[str, Any]) -> Shapes:
        nin = check_size(arguments["nin"], "Layer", "inputs")
        nout = check_size(arguments["nout"], "Layer", "outputs")
        return {"weight": (nout, nin), "bias": (nout,)}

    def __call__(self, x: Sequence[Input]) -> list[Value]:
        check_inputs(x, self.neurons[0].nin, "Layer")
        return self._apply(as_values(x))

    def _apply(self, x: list[Value]) -> list[Value]:
        return [n._apply(x) for n in self.neurons]

    def __repr__(self) -> str:
        return f"Layer of [{', '.join(str(n) for n in self.neurons)}]"
