"""The networks of the batched benchmarks written by hand with numpy matrices: the yardstick for engine.vectorize.

Each step runs the forward pass over the whole batch, the mean loss, and every
gradient, derived by hand (no engine involved), as a numpy user would write it.
`tests/test_benchmarks.py` checks both against the engine's scalar path, so the
yardstick computes the same thing as what it measures.
"""

from __future__ import annotations

import numpy as np

Layers = list[tuple[np.ndarray, np.ndarray]]  # (W of shape (nout, nin), b of shape (nout,)) per layer


def layers_of(model: object) -> Layers:
    """An nn.MLP's weights as matrices, one (W, b) per layer (W[j, i] = neuron j+1's weight i+1)."""
    return [
        (np.array([[w.data for w in n.w] for n in layer.neurons]), np.array([n.b.data for n in layer.neurons]))
        for layer in model.layers  # type: ignore[attr-defined]
    ]


def relu_squared_error_step(layers: Layers, X: np.ndarray, y: np.ndarray) -> tuple[float, Layers]:
    """ReLU hidden layers, linear output of width 1; loss mean((out - y)^2). Returns the loss and dL/d(W, b)."""
    hs, zs = _forward(layers, X)
    error = hs[-1][:, 0] - y
    delta = (2.0 / len(y)) * error[:, None]  # dL/d(out)
    return float(np.mean(error**2)), _backward(layers, hs, zs, delta)


def relu_cross_entropy_step(layers: Layers, X: np.ndarray, targets: np.ndarray) -> tuple[float, Layers]:
    """ReLU hidden layers, logits out; loss mean(logsumexp(z) - targets . z). Returns the loss and dL/d(W, b)."""
    hs, zs = _forward(layers, X)
    logits = hs[-1]
    top = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - top)
    total = e.sum(axis=1, keepdims=True)
    loss = np.mean(top[:, 0] + np.log(total[:, 0]) - np.sum(targets * logits, axis=1))
    delta = (e / total - targets) / len(X)  # dL/d(logits): softmax minus the targets
    return float(loss), _backward(layers, hs, zs, delta)


def relu_cross_entropy_labels_step(layers: Layers, X: np.ndarray, labels: np.ndarray) -> tuple[float, Layers]:
    """As `relu_cross_entropy_step` with integer class labels (N,): the chosen logits picked by index."""
    hs, zs = _forward(layers, X)
    logits = hs[-1]
    rows = np.arange(len(X))
    top = logits.max(axis=1, keepdims=True)
    e = np.exp(logits - top)
    total = e.sum(axis=1, keepdims=True)
    loss = np.mean(top[:, 0] + np.log(total[:, 0]) - logits[rows, labels])
    delta = e / total  # dL/d(logits): softmax minus one at each label, over the batch size
    delta[rows, labels] -= 1.0
    delta /= len(X)
    return float(loss), _backward(layers, hs, zs, delta)


def _forward(layers: Layers, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each layer's input (X, then the hidden activations, then the output) and pre-activation, for backward."""
    hs, zs = [X], []
    for i, (W, b) in enumerate(layers):
        z = hs[-1] @ W.T + b
        zs.append(z)
        hs.append(np.maximum(z, 0.0) if i < len(layers) - 1 else z)
    return hs, zs


def _backward(layers: Layers, hs: list[np.ndarray], zs: list[np.ndarray], delta: np.ndarray) -> Layers:
    grads: Layers = []
    for i in range(len(layers) - 1, -1, -1):
        W, _ = layers[i]
        grads.append((delta.T @ hs[i], delta.sum(axis=0)))
        if i > 0:
            delta = (delta @ W) * (zs[i - 1] > 0)
    return grads[::-1]
