"""A GPT-shaped scalar workload: microgpt's model on one name, forward and backward, on any micrograd-style Value.

The model of Karpathy's microgpt.py and of demos.microgpt (token and position embeddings, RMSNorm, one layer
of 4-head causal self-attention, a ReLU MLP, residual connections, no biases, 16-dim embeddings), computed as
microgpt.py computes it: every dot product a chain of `*` and `+` (Python's `sum`), the softmax as exp, sum and
division. It uses only what micrograd-style engines share (`+ - * / **`, `exp`, `log`, `relu`, `.data`), so
the same code runs on `engine.Value` and on the minimal Value of benchmarks/tuple_value.py, whose per-node
cost `make bench` compares on it (bench.py's `gpt` case). microgpt_bench.py computes demos.microgpt's scalar
path with it too.

Parameters are a dict of matrices (lists of rows of Values), named as in `shapes`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any

VOCABULARY = 27  # 26 letters and the BOS token
DIM, HEADS, BLOCK = 16, 4, 16
STD = 0.08


def shapes(vocabulary: int = VOCABULARY, dim: int = DIM, block: int = BLOCK) -> dict[str, tuple[int, int]]:
    """Each weight matrix's (rows, columns): embeddings are (entries, dim), a linear map (outputs, inputs)."""
    return {
        "token": (vocabulary, dim),
        "position": (block, dim),
        "query": (dim, dim),
        "key": (dim, dim),
        "value": (dim, dim),
        "attention_output": (dim, dim),
        "mlp_hidden": (4 * dim, dim),
        "mlp_output": (dim, 4 * dim),
        "lm_head": (vocabulary, dim),
    }


def parameters(leaf: Callable[[float], Any], seed: int = 0) -> dict[str, list[list[Any]]]:
    """Fresh Gaussian parameters (std 0.08, microgpt's) made with `leaf`, the engine's Value constructor."""
    rng = random.Random(seed)
    return {name: [[leaf(rng.gauss(0.0, STD)) for _ in range(columns)] for _ in range(rows)]
            for name, (rows, columns) in shapes().items()}  # fmt: skip


def matrix_times(matrix: list[list[Any]], x: list[Any]) -> list[Any]:
    """Each row's dot product with x, as a chain of `*` and `+`."""
    return [sum(w * xi for w, xi in zip(row, x)) for row in matrix]


def softmax(logits: list[Any]) -> list[Any]:
    """exp(z - max) / sum: the largest logit (a number, read once) is subtracted so that no exp overflows."""
    top = max(z.data for z in logits)
    exps = [(z - top).exp() for z in logits]
    total = sum(exps)
    return [e / total for e in exps]


def rmsnorm(x: list[Any], eps: float = 1e-5) -> list[Any]:
    scale = (sum(xi * xi for xi in x) / len(x) + eps) ** -0.5
    return [xi * scale for xi in x]


def document_loss(weights: dict[str, list[list[Any]]], ids: list[int], heads: int = HEADS) -> Any:
    """The mean over positions of -log p(next token): `ids` is a name's tokens, BOS first and last."""
    n = min(len(ids) - 1, len(weights["position"]))
    head_size = len(weights["query"]) // heads
    keys: list[list[Any]] = []
    values: list[list[Any]] = []
    losses = []
    for position in range(n):
        x = rmsnorm([t + p for t, p in zip(weights["token"][ids[position]], weights["position"][position])])
        h = rmsnorm(x)
        query = matrix_times(weights["query"], h)
        keys.append(matrix_times(weights["key"], h))
        values.append(matrix_times(weights["value"], h))
        mixed = []
        for head in range(heads):
            part = slice(head * head_size, (head + 1) * head_size)
            scores = [sum(q * k for q, k in zip(query[part], key[part])) / math.sqrt(head_size) for key in keys]
            attention = softmax(scores)
            mixed += [sum(a * v[part][j] for a, v in zip(attention, values)) for j in range(head_size)]
        x = [a + r for a, r in zip(matrix_times(weights["attention_output"], mixed), x)]
        hidden = [u.relu() for u in matrix_times(weights["mlp_hidden"], rmsnorm(x))]
        x = [a + r for a, r in zip(matrix_times(weights["mlp_output"], hidden), x)]
        probabilities = softmax(matrix_times(weights["lm_head"], x))
        losses.append(-probabilities[ids[position + 1]].log())
    return (1.0 / n) * sum(losses)
