"""A synthetic attention model, for timing engine.vectorize on a graph shaped like a small GPT's.

Not microgpt (that is `demos.microgpt`'s work): a one-layer transformer of the same shape written with
`engine`'s operations only, parameters as Values. One document of `BLOCK` tokens: token and position
embeddings (`engine.take` by token id), RMSNorm, causal self-attention with `HEADS` heads, a ReLU MLP, both
with residual connections, bias-free linear maps (each neuron `engine.linear` with a constant 0 bias, made
at each call), and the mean cross-entropy of the next token over the document's real positions (`mask`).
Each attention score is a `linear` dot product of q and k, each attention output a `linear` of the softmax
weights and the values: the shape of graph that vectorize must group across positions (about 10,000
scalar nodes per document).
"""

from __future__ import annotations

import math
from typing import Any

import gpt_workload
import numpy as np

VOCAB, BLOCK, EMBED, HEADS = gpt_workload.VOCABULARY, gpt_workload.BLOCK, gpt_workload.DIM, gpt_workload.HEADS
HEAD = EMBED // HEADS


def parameters(seed: int = 0) -> dict[str, list[list[Any]]]:
    """The model's weight matrices as lists of rows of Values, Gaussian with std 0.08 (gpt_workload.py's)."""
    from engine import Value

    return gpt_workload.parameters(Value, seed)


def document_loss(weights: dict[str, list[list[Any]]], elementary: bool = False) -> Any:
    """fn(tokens, targets, mask) of one document (lists of BLOCK Values) -> its mean next-token cross-entropy.

    `elementary=True` writes every dot product as microgpt.py does, a sum of products (`*` and `+` only),
    instead of one `engine.linear` node: about 135,600 scalar nodes per document instead of 16,800.
    """
    import engine
    import nn

    def dot(w: list[Any], x: list[Any]) -> Any:
        if not elementary:
            return engine.linear(*w, *x, 0.0)
        return sum((wi * xi for wi, xi in zip(w, x)), engine.Value(0.0))

    def linear(matrix: list[list[Any]], x: list[Any]) -> list[Any]:
        return [dot(row, x) for row in matrix]

    def rmsnorm(x: list[Any]) -> list[Any]:
        scale = (dot(x, x) / len(x) + 1e-5) ** -0.5
        return [xi * scale for xi in x]

    def loss(tokens: list[Any], targets: list[Any], mask: list[Any]) -> Any:
        keys: list[list[Any]] = []
        values: list[list[Any]] = []
        losses = []
        for t in range(BLOCK):
            column = list(zip(*weights["token"]))
            x = [engine.take(list(column[d]), tokens[t]) + weights["position"][t][d] for d in range(EMBED)]
            x = rmsnorm(x)
            h = rmsnorm(x)
            q, k, v = linear(weights["query"], h), linear(weights["key"], h), linear(weights["value"], h)
            keys.append(k)
            values.append(v)
            attended = []
            for head in range(HEADS):
                part = slice(head * HEAD, (head + 1) * HEAD)
                scores = [dot(q[part], keys[s][part]) / math.sqrt(HEAD) for s in range(t + 1)]
                total = engine.logsumexp(*scores)
                probabilities = [(score - total).exp() for score in scores]
                for j in range(head * HEAD, (head + 1) * HEAD):
                    attended.append(dot(probabilities, [values[s][j] for s in range(t + 1)]))
            x = [a + b for a, b in zip(x, linear(weights["attention_output"], attended))]
            hidden = [u.relu() for u in linear(weights["mlp_hidden"], rmsnorm(x))]
            x = [a + b for a, b in zip(x, linear(weights["mlp_output"], hidden))]
            losses.append(nn.cross_entropy(linear(weights["lm_head"], x), targets[t]) * mask[t])
        return sum(losses[1:], losses[0]) / dot(mask, [1.0] * BLOCK)

    return loss


def documents(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n random documents padded to BLOCK: tokens, next-token targets (integers) and a mask of real positions."""
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, VOCAB, (n, BLOCK + 1))
    lengths = rng.integers(3, BLOCK + 1, n)
    mask = (np.arange(BLOCK)[None, :] < lengths[:, None]).astype(float)
    return tokens[:, :BLOCK], tokens[:, 1:], mask
