"""valuegrad's neural networks: modules, the seed's network 1.1, a small GPT's layers, losses, optimizers, checkpoints.

Modules import one way, from the bottom: activations, arguments (the checks of sizes, flags and inputs),
arrays (parameters as nested lists of Values), stray_values, state_dicts, checkpoint_format and
torch_bridge (no model class); module (Module); neurons (Neuron, Layer), then mlp (MLP); layers and
seed_network (built on module and mlp; seed_network also on losses and on seed_formulas, the seed's
formulas as text); and checkpoint (`load`, which knows the built-in classes); losses, optim and
seed_formulas need only the engine, or nothing.

`nn.micrograd` holds micrograd's Neuron, Layer and MLP as micrograd 0.1.0 behaves, for following its notebooks.
"""

from nn import micrograd
from nn.checkpoint import load
from nn.layers import Embedding, Linear, RMSNorm
from nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    mse_loss,
    softmax,
)
from nn.mlp import MLP
from nn.module import Module
from nn.neurons import Layer, Neuron
from nn.optim import SGD, Adam, AdamW, Optimizer
from nn.seed_network import SeedNetwork

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "Embedding",
    "Layer",
    "Linear",
    "Module",
    "Neuron",
    "Optimizer",
    "RMSNorm",
    "SeedNetwork",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge_loss",
    "load",
    "micrograd",
    "mse_loss",
    "softmax",
]
