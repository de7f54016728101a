"""To PyTorch and back, on plain data: an MLP's layers as a `torch.nn.Sequential` of Linear layers and activations.

An MLP is described here by one (weight, bias) pair of arrays per layer, weight of shape (nout, nin),
and the one activation of its hidden layers (its last layer is linear). `to_torch(layers, activation)`
gives a float64 Sequential computing that function: Linear(nin, nout) per layer, each hidden one
followed by ReLU, Tanh or Sigmoid (nothing for "linear"). `from_torch(sequential)` reads such a
Sequential back into layers and an activation. This module knows no model class: `MLP.to_torch` and
`MLP.from_torch` (nn/mlp.py) call down into it.

PyTorch stays optional: it is imported only when one of these is called, and its absence is an
ImportError that says how to install it.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any

import numpy as np

# One layer: its weight matrix (nout, nin) and bias vector (nout,).
Arrays = tuple[np.ndarray, np.ndarray]

# valuegrad's activation names and PyTorch's module class names for them.
TORCH_ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}


def import_torch(who: str) -> ModuleType:
    """The `torch` module, or ImportError saying that `who` needs it and how to install it."""
    try:
        import torch
    except ImportError as error:
        raise ImportError(
            f"{who} needs PyTorch, which is not installed; install it with `pip install torch`. A CPU-only build is "
            "enough and much smaller: `pip install torch --index-url https://download.pytorch.org/whl/cpu` (in this "
            "project's .venv, `make setup` installs the pinned torch==2.13.0). valuegrad itself does not depend on it."
        ) from error
    return torch


def to_torch(layers: Sequence[Arrays], activation: str) -> Any:
    """A float64 `torch.nn.Sequential` of one Linear per (weight, bias) pair, copies of them, `activation` between."""
    torch = import_torch("to_torch")
    modules = []
    for i, (weight, bias) in enumerate(layers):
        nout, nin = weight.shape
        # skip_init: no random initialisation, so PyTorch's global random state is left alone.
        linear = torch.nn.utils.skip_init(torch.nn.Linear, nin, nout, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(weight))
            linear.bias.copy_(torch.from_numpy(bias))
        modules.append(linear)
        if activation != "linear" and i < len(layers) - 1:
            modules.append(getattr(torch.nn, TORCH_ACTIVATIONS[activation])())
    return torch.nn.Sequential(*modules)


def from_torch(sequential: Any) -> tuple[list[Arrays], str]:
    """The (weight, bias) float64 arrays of each Linear of `sequential`, and the activation between them.

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
    layers = []
    for name, module in linears:
        weight = _as_array(torch, module.weight)
        bias = np.zeros(module.out_features) if module.bias is None else _as_array(torch, module.bias)
        if not (np.isfinite(weight).all() and np.isfinite(bias).all()):
            raise ValueError(f"from_torch: module {name!r} ({module!r}) has non-finite parameters")
        layers.append((weight, bias))
    return layers, activation


def _as_array(torch: ModuleType, tensor: Any) -> np.ndarray:
    """A float64 numpy copy of a tensor's values, from any device and floating dtype."""
    return np.array(tensor.detach().to(device="cpu", dtype=torch.float64).numpy(), dtype=np.float64)
