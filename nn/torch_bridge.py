"""To PyTorch and back: an MLP as a `torch.nn.Sequential` of Linear layers and activations, and the reverse.

`to_torch(model)` gives a float64 Sequential that computes the same function with the same
gradients: Linear(nin, nout) per layer, each hidden one followed by ReLU, Tanh or Sigmoid (nothing
for "linear"). `from_torch(cls, sequential)` reads such a Sequential back into an MLP.

PyTorch stays optional: it is imported only when one of these is called, and its absence is an
ImportError that says how to install it.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    from nn.module import MLP

Model = TypeVar("Model", bound="MLP")

# valuegrad's activation names and PyTorch's module class names for them.
TORCH_ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def import_torch(who: str) -> ModuleType:
    """The `torch` module, or ImportError saying that `who` needs it and how to install it."""
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            f"{who} needs PyTorch, which is not installed; install it with `pip install torch`"
            " (a CPU-only build is enough). valuegrad itself does not depend on it."
        ) from error
    return torch


def to_torch(model: MLP) -> Any:
    """A float64 `torch.nn.Sequential` computing `model`'s function, with copies of its parameters."""
    torch = import_torch("to_torch")
    state = model.state_dict()
    modules = []
    for (weight, bias), layer in zip(model._state_names(len(model.layers)), model.layers):
        nout, nin = state[weight].shape
        # skip_init: no random initialisation, so PyTorch's global random state is left alone.
        linear = torch.nn.utils.skip_init(torch.nn.Linear, nin, nout, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(state[weight]))
            linear.bias.copy_(torch.from_numpy(state[bias]))
        modules.append(linear)
        activation = layer.neurons[0].activation
        if activation != "linear":
            modules.append(getattr(torch.nn, TORCH_ACTIVATIONS[activation])())
    return torch.nn.Sequential(*modules)


def from_torch(cls: type[Model], sequential: Any) -> Model:
    """A model of class `cls` (MLP or SeedNetwork) computing what `sequential` computes, in float64.

    `sequential` must be Linear, then (activation, Linear) any number of times, where every
    activation is the same one of ReLU, Tanh and Sigmoid, or there are none at all (activation
    "linear"). A Linear without bias reads as a zero bias. Anything else raises ValueError
    naming the module; a non-Sequential raises TypeError.
    """
    torch = import_torch("from_torch")
    if not isinstance(sequential, torch.nn.Sequential):
        raise TypeError(f"from_torch expects a torch.nn.Sequential, got {type(sequential).__name__}")
    activation_names = {getattr(torch.nn, module): name for name, module in TORCH_ACTIVATIONS.items()}
    linears: list[tuple[str, Any]] = []
    between: list[tuple[str, str]] = []  # (module name, activation) before each Linear after the first
    pending: tuple[str, str] | None = None  # the activation seen since the last Linear
    for name, module in sequential.named_children():
        described = f"module {name!r} ({module!r})"
        if type(module) is torch.nn.Linear:
            if linears:
                previous = linears[-1][1].out_features
                if module.in_features != previous:
                    raise ValueError(
                        f"from_torch: {described} takes {module.in_features} inputs, "
                        f"but the Linear before it gives {previous}"
                    )
                between.append(pending if pending is not None else (name, "linear"))
            linears.append((name, module))
            pending = None
        elif type(module) in activation_names:
            if not linears:
                raise ValueError(f"from_torch: {described} comes before any Linear; an MLP starts with a Linear layer")
            if pending is not None:
                raise ValueError(f"from_torch: {described} follows another activation; expected a Linear layer")
            pending = (name, activation_names[type(module)])
        else:
            raise ValueError(
                f"from_torch: {described} is not supported; expected Linear, ReLU, Tanh or Sigmoid modules"
            )
    if not linears:
        raise ValueError("from_torch: the Sequential has no Linear layer")
    if pending is not None:
        module = getattr(sequential, pending[0])
        raise ValueError(
            f"from_torch: module {pending[0]!r} ({module!r}) follows the last Linear; an MLP's output layer is linear"
        )
    activation = between[0][1] if between else "linear"
    for name, other in between:
        if other != activation:
            module = getattr(sequential, name)
            if other == "linear":
                problem = f"has no activation before it, but the first hidden layer has {activation}"
            else:
                problem = f"differs from the first hidden layer's activation, {activation}"
            raise ValueError(
                f"from_torch: module {name!r} ({module!r}) {problem}; an MLP has one activation for all hidden layers"
            )
    sizes = [linears[0][1].in_features, *(module.out_features for _, module in linears)]
    cls._check_sizes(sizes, "from_torch")
    state = {}
    for (weight, bias), (name, module) in zip(cls._state_names(len(linears)), linears):
        state[weight] = _as_array(torch, module.weight)
        state[bias] = np.zeros(module.out_features) if module.bias is None else _as_array(torch, module.bias)
        for array in (state[weight], state[bias]):
            if not np.isfinite(array).all():
                raise ValueError(f"from_torch: module {name!r} ({module!r}) has non-finite parameters")
    model = cls._from_sizes(sizes, activation)
    model.load_state_dict(state)
    return model


def _as_array(torch: ModuleType, tensor: Any) -> np.ndarray:
    """A float64 numpy copy of a tensor's values, from any device and floating dtype."""
    return np.array(tensor.detach().to(device="cpu", dtype=torch.float64).numpy(), dtype=np.float64)
