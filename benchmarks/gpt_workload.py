"""A GPT-shaped scalar workload: microgpt's model written as microgpt.py writes it, on any micrograd-style Value.

The model of Karpathy's microgpt.py and of demos.microgpt (token and position embeddings, RMSNorm, one layer
of 4-head causal self-attention, a ReLU MLP, residual connections, no biases, 16-dim embeddings), computed as
microgpt.py computes it: every dot product a chain of `*` and `+` (Python's `sum`), the softmax as exp, sum and
division, weights as lists of rows of Values. Two entry points share the model (`next_token_probabilities`):

- `document_loss(weights, ids)`: one name of int token ids, as microgpt.py trains. It uses only what
  micrograd-style engines share (`+ - * / **`, `exp`, `log`, `relu`, `.data`), so the same code runs on
  `engine.Value` and on the minimal Value of tuple_value.py, whose per-node cost `make bench` compares on it
  (the `gpt` cases); microgpt_bench.py computes demos.microgpt's scalar path one name at a time with it.
- `padded_document_loss(weights)`: fn(tokens, targets, position_weights) of one padded name of demos.microgpt's
  batches, the token lookups and the target's probability picked by `engine.take`, so that
  `engine.vectorize(fn)` runs it over a batch: the elementary GPT of issue 24, timed against the demo's
  fused model (every dot product one `engine.linear`) on the same weights.

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


def next_token_probabilities(
    weights: dict[str, list[list[Any]]],
    token_embedding: list[Any],
    position: int,
    keys: list[list[Any]],
    values: list[list[Any]],
    heads: int = HEADS,
) -> list[Any]:
    """p(next token) at `position`, from the token's embedding; appends this position's key and value."""
    head_size = len(weights["query"]) // heads
    x = rmsnorm([t + p for t, p in zip(token_embedding, weights["position"][position])])
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
    return softmax(matrix_times(weights["lm_head"], x))


def document_loss(weights: dict[str, list[list[Any]]], ids: list[int], heads: int = HEADS) -> Any:
    """The mean over positions of -log p(next token): `ids` is a name's tokens, BOS first and last."""
    n = min(len(ids) - 1, len(weights["position"]))
    keys: list[list[Any]] = []
    values: list[list[Any]] = []
    losses = []
    for position in range(n):
        probabilities = next_token_probabilities(
            weights, weights["token"][ids[position]], position, keys, values, heads
        )
        losses.append(-probabilities[ids[position + 1]].log())
    return (1.0 / n) * sum(losses)


def padded_document_loss(weights: dict[str, list[list[Any]]], heads: int = HEADS) -> Callable[..., Any]:
    """fn(tokens, targets, position_weights) of one padded name, on engine.Value: what `engine.vectorize` batches.

    The model of `document_loss`, taking demos.microgpt's padded rows (demos.microgpt.Batch): the token ids and
    targets may be Values (`engine.take` picks the embedding's entries and the target's probability, per sample),
    and a name's loss is sum_t position_weights[t] * -log p(targets[t]) (1/n at its n real positions, 0 at
    padding), as the demo model's `document_loss`.
    """
    import engine

    columns = [list(column) for column in zip(*weights["token"])]  # take chooses one entry: a column per dimension

    def loss(tokens: list[Any], targets: list[Any], position_weights: list[Any]) -> Any:
        keys: list[list[Any]] = []
        values: list[list[Any]] = []
        losses = []
        for position, (token, target) in enumerate(zip(tokens, targets)):
            embedding = [engine.take(column, token) for column in columns]
            probabilities = next_token_probabilities(weights, embedding, position, keys, values, heads)
            losses.append(-engine.take(probabilities, target).log())
        return sum(w * term for w, term in zip(position_weights, losses))

    return loss
