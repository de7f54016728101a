"""The multi-layer perceptron: layers of neurons (nn/neurons.py), its state dict, and its way to PyTorch and back.

An MLP's state dict has one weight matrix (nout x nin) and one bias vector per layer (`layer1.weight`,
`layer1.bias`, ...), and it converts to and from a PyTorch `Sequential` (the arrays' work is done in
nn/torch_bridge.py). SeedNetwork (nn/seed_network.py), the seed's network 1.1, is an MLP that changes
only its names and how its sizes follow from its arguments, through the hooks at the end of the class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Self

import numpy as np

from engine import Value
from nn import torch_bridge
from nn.activations import check_activation, refuse_nonlin
from nn.arguments import Input, check_inputs, check_size
from nn.arrays import ValueArray
from nn.module import Module
from nn.neurons import Layer
from nn.state_dicts import Shapes


def mlp_sizes(nin: object, nouts: object) -> list[int]:
    """[nin, *nouts] if they are an MLP's sizes (positive whole numbers, at least one layer), else an error."""
    inputs = check_size(nin, "MLP", "inputs")
    if not isinstance(nouts, (list, tuple)):
        raise TypeError(f"MLP expects nouts as a list of layer sizes, e.g. [16, 16, 1], got {nouts!r}")
    if len(nouts) == 0:
        raise ValueError("MLP needs at least one layer size in nouts")
    return [inputs, *(check_size(n, "MLP", "outputs in each layer of nouts") for n in nouts)]


class MLP(Module):
    """A multi-layer perceptron: `nin` inputs, then one layer per entry of `nouts`.

    `activation` ("relu", "tanh", "sigmoid" or "linear") applies to every hidden
    layer; the last layer is linear. `seed` makes the initial weights
    reproducible; `std` draws them from a Gaussian instead (see Neuron). Calling
    the model on a list of `nin` numbers or Values gives a Value when the last
    layer has one output, else a list of Values. Its state dict has one weight
    matrix (nout x nin) and one bias vector per layer: `layer1.weight`, `layer1.bias`, ...
    """

    def __init__(
        self,
        nin: int,
        nouts: Sequence[int],
        activation: str = "tanh",
        *,
        seed: int | None = None,
        std: float | None = None,
        fused: bool = True,
        nonlin: object = None,
    ) -> None:
        refuse_nonlin(nonlin, "MLP")
        check_activation(activation)
        sizes = mlp_sizes(nin, nouts)
        rng = np.random.default_rng(seed)
        self.nin = sizes[0]
        self.activation = activation
        self.layers = [
            Layer(
                sizes[i],
                sizes[i + 1],
                activation if i < len(sizes) - 2 else "linear",
                rng=rng,
                std=std,
                fused=fused,
            )
            for i in range(len(sizes) - 1)
        ]
        for i, layer in enumerate(self.layers, start=1):
            layer._set_scope(f"layer{i}")

    def parameters(self) -> list[Value]:
        parameters: list[Value] = []
        for layer in self.layers:
            parameters += layer.parameters()
        return parameters

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [pair for layer in self.layers for pair in layer.named_parameters()]

    def parameter_arrays(self) -> dict[str, ValueArray]:
        arrays: dict[str, ValueArray] = {}
        for (weight, bias), layer in zip(self._state_names(len(self.layers)), self.layers):
            arrays[weight] = [n.w for n in layer.neurons]
            arrays[bias] = [n.b for n in layer.neurons]
        return arrays

    def config(self) -> dict[str, Any]:
        return self._config_for_sizes(
            [self.nin, *(len(layer.neurons) for layer in self.layers)],
            self.activation,
            all(n.fused for layer in self.layers for n in layer.neurons),
            type(self).__name__,
        )

    @classmethod
    def state_shapes(cls, arguments: Mapping[str, Any]) -> Shapes:
        sizes = cls._sizes(arguments)
        shapes: Shapes = {}
        for (weight, bias), nin, nout in zip(cls._state_names(len(sizes) - 1), sizes[:-1], sizes[1:]):
            shapes[weight] = (nout, nin)
            shapes[bias] = (nout,)
        return shapes

    def __call__(self, x: Sequence[Input]) -> Value | list[Value]:
        check_inputs(x, self.nin, "MLP")
        # Numbers become input Values once here, not once per neuron: x1, x2, ... in diagrams.
        out = [xi if isinstance(xi, Value) else Value(xi, label=f"x{i}") for i, xi in enumerate(x, start=1)]
        for layer in self.layers:
            out = layer._apply(out)
        return out[0] if len(out) == 1 else out

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"

    # PyTorch: the work is done on plain arrays in nn/torch_bridge.py.

    def to_torch(self) -> Any:
        """A float64 `torch.nn.Sequential` of Linear layers and activation modules computing the same function.

        Raises ImportError, saying how to install it, when PyTorch is not installed.
        """
        state = self.state_dict()
        layers = [(state[weight], state[bias]) for weight, bias in self._state_names(len(self.layers))]
        return torch_bridge.to_torch(layers, self.activation)

    @classmethod
    def from_torch(cls, sequential: Any) -> Self:
        """The MLP computing what a `torch.nn.Sequential` of Linear and ReLU/Tanh/Sigmoid modules computes.

        The Sequential must alternate Linear layers with one kind of activation (or none) and end
        with a Linear layer, as an MLP does; any other module or order raises ValueError naming it.
        """
        layers, activation = torch_bridge.from_torch(sequential)
        sizes = [layers[0][0].shape[1], *(weight.shape[0] for weight, _ in layers)]
        model = cls(**cls._config_for_sizes(sizes, activation, True, "from_torch"))
        names = cls._state_names(len(layers))
        model.load_state_dict({name: array for pair, arrays in zip(names, layers) for name, array in zip(pair, arrays)})
        return model

    # What SeedNetwork, a kind of MLP, changes: its state dict's names and how its sizes come from its arguments.

    @classmethod
    def _state_names(cls, n_layers: int) -> list[tuple[str, str]]:
        """The state dict's (weight, bias) names, layer by layer."""
        return [(f"layer{i}.weight", f"layer{i}.bias") for i in range(1, n_layers + 1)]

    @classmethod
    def _sizes(cls, arguments: Mapping[str, Any]) -> list[int]:
        """The sizes (inputs, then each layer's outputs) of a model built with these constructor arguments."""
        return mlp_sizes(arguments["nin"], arguments["nouts"])

    @classmethod
    def _config_for_sizes(cls, sizes: Sequence[int], activation: str, fused: bool, where: str) -> dict[str, Any]:
        """The constructor arguments of a model with these sizes, hidden activation and fused flag."""
        return {"nin": int(sizes[0]), "nouts": [int(n) for n in sizes[1:]], "activation": activation, "fused": fused}
