"""demos.microgpt's GPT as a numpy user writes it by hand: one batched forward pass and its gradients derived by hand.

The yardstick of issue 24 for what engine.vectorize can approach: the whole padded batch in arrays of shape
(names, positions, ...), attention as one masked matrix product per head (-inf above the diagonal), every
gradient written out (no engine, no autograd). `weights_of(model)` reads the demo model's parameters as
arrays named as its state_dict; `step(weights, tokens, targets, position_weights)` returns every name's loss
and the gradient of their mean.

tests/test_benchmarks_gpt.py holds both equal to `engine.vectorize(model.document_loss)`'s within 1e-12.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

EPS = 1e-5  # nn.RMSNorm's
Arrays = dict[str, np.ndarray]


def weights_of(model: Any) -> Arrays:
    """The demo model's parameters as float64 arrays, by state_dict name (read afresh: an optimizer moves them)."""
    return {name: np.asarray(array, dtype=float) for name, array in model.state_dict().items()}


def rmsnorm(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x / sqrt(mean(x^2) + eps) over the last axis, and that scale (kept for the backward pass)."""
    scale = ((x * x).mean(axis=-1, keepdims=True) + EPS) ** -0.5
    return x * scale, scale


def rmsnorm_backward(x: np.ndarray, scale: np.ndarray, dy: np.ndarray) -> np.ndarray:
    """d/dx of rmsnorm given dL/dy: scale * dy - x * scale^3 / dim * sum(dy * x)."""
    return scale * dy - x * (scale**3 / x.shape[-1]) * (dy * x).sum(axis=-1, keepdims=True)


def step(weights: Arrays, tokens: np.ndarray, targets: np.ndarray, position_weights: np.ndarray,
         heads: int) -> tuple[np.ndarray, Arrays]:  # fmt: skip
    """Every name's loss (N,) and the gradient of their mean with respect to each weight, by state_dict name."""
    wte, wpe = weights["token_embedding.weight"], weights["position_embedding.weight"]
    wq, wk, wv = weights["query.weight"], weights["key.weight"], weights["value.weight"]
    wo, w1, w2 = weights["attention_output.weight"], weights["mlp_hidden.weight"], weights["mlp_output.weight"]
    wlm = weights["lm_head.weight"]
    n, length = tokens.shape
    dim = wte.shape[1]
    size = dim // heads
    scale = 1.0 / math.sqrt(size)

    # forward: embeddings, two RMSNorms, masked attention, the MLP, the logits
    e = wte[tokens] + wpe[:length]
    x0, r0 = rmsnorm(e)
    h, r1 = rmsnorm(x0)

    def split(a: np.ndarray) -> np.ndarray:  # (n, length, dim) -> (n, heads, length, size)
        return a.reshape(n, length, heads, size).transpose(0, 2, 1, 3)

    q, k, v = split(h @ wq.T), split(h @ wk.T), split(h @ wv.T)
    scores = (q @ k.transpose(0, 1, 3, 2)) * scale
    scores[..., np.triu(np.ones((length, length), dtype=bool), 1)] = -np.inf
    p = np.exp(scores - scores.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)
    a = (p @ v).transpose(0, 2, 1, 3).reshape(n, length, dim)
    x1 = x0 + a @ wo.T
    m, r2 = rmsnorm(x1)
    u = m @ w1.T
    hidden = np.maximum(u, 0.0)
    x2 = x1 + hidden @ w2.T
    z = x2 @ wlm.T
    top = z.max(axis=-1, keepdims=True)
    ez = np.exp(z - top)
    total = ez.sum(axis=-1, keepdims=True)
    chosen = np.take_along_axis(z, targets[..., None], axis=-1)
    losses = (top + np.log(total) - chosen)[..., 0]  # cross-entropy at every position
    per_name = (position_weights * losses).sum(axis=1)

    # backward: dL/dz = (softmax(z) - onehot(target)) * the position's weight / n, then back through each step
    dz = ez / total
    np.put_along_axis(dz, targets[..., None], np.take_along_axis(dz, targets[..., None], axis=-1) - 1.0, axis=-1)
    dz *= (position_weights / n)[..., None]
    flat = n * length
    grads: Arrays = {"lm_head.weight": dz.reshape(flat, -1).T @ x2.reshape(flat, dim)}
    dx2 = dz @ wlm
    grads["mlp_output.weight"] = dx2.reshape(flat, dim).T @ hidden.reshape(flat, -1)
    du = (dx2 @ w2) * (u > 0)
    grads["mlp_hidden.weight"] = du.reshape(flat, -1).T @ m.reshape(flat, dim)
    dx1 = dx2 + rmsnorm_backward(x1, r2, du @ w1)
    grads["attention_output.weight"] = dx1.reshape(flat, dim).T @ a.reshape(flat, dim)
    da = split(dx1 @ wo)
    dp = da @ v.transpose(0, 1, 3, 2)
    dv = p.transpose(0, 1, 3, 2) @ da
    ds = p * (dp - (dp * p).sum(axis=-1, keepdims=True)) * scale  # masked entries have p = 0: no gradient
    dq, dk = ds @ k, ds.transpose(0, 1, 3, 2) @ q

    def merge(d: np.ndarray) -> np.ndarray:  # (n, heads, length, size) -> (n * length, dim)
        return d.transpose(0, 2, 1, 3).reshape(flat, dim)

    dq, dk, dv = merge(dq), merge(dk), merge(dv)
    h_flat = h.reshape(flat, dim)
    grads["query.weight"], grads["key.weight"], grads["value.weight"] = dq.T @ h_flat, dk.T @ h_flat, dv.T @ h_flat
    dh = (dq @ wq + dk @ wk + dv @ wv).reshape(n, length, dim)
    dx0 = dx1 + rmsnorm_backward(x0, r1, dh)
    de = rmsnorm_backward(e, r0, dx0)
    one_hot = np.eye(len(wte))[tokens.reshape(-1)]  # (n * length, vocabulary): the rows each position read
    grads["token_embedding.weight"] = one_hot.T @ de.reshape(flat, dim)
    position = np.zeros_like(wpe)
    position[:length] = de.sum(axis=0)
    grads["position_embedding.weight"] = position
    return per_name, grads
