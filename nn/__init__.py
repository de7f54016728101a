"""valuegrad's neural networks: modules, the seed's network 1.1, losses, optimizers, checkpoints.

`nn.micrograd` holds micrograd's Neuron, Layer and MLP as micrograd 0.1.0 behaves, for following its notebooks.
"""

from nn import micrograd
from nn.checkpoint import load
from nn.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    mse_loss,
    softmax,
)
from nn.module import MLP, Layer, Module, Neuron
from nn.optim import SGD, Adam, AdamW, Optimizer
from nn.seed_network import SeedNetwork

__all__ = [
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "Layer",
    "Module",
    "Neuron",
    "Optimizer",
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
