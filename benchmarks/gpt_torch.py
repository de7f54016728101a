"""demos.microgpt's GPT in PyTorch, written batched as a PyTorch user writes it: the yardstick of issue 24.

The same model as `demos.microgpt.MicroGPT` (token and position embeddings, RMSNorm without gain, one block
of 4-head causal self-attention and a ReLU MLP with residual connections, bias-free linear maps), over a
whole padded batch at once: every position of every name in one tensor, attention as one masked matrix
product (a causal mask of -inf above the diagonal), cross-entropy per position weighted as the demo weighs
it (1/n at a name's n real positions, 0 at padding). Its parameters have the demo's state_dict names, so
`TorchGPT(model.state_dict())` runs on the demo model's weights, in float64 or float32.

tests/test_benchmarks_gpt.py holds its per-name losses and gradients equal to `engine.vectorize(
model.document_loss)`'s within 1e-10 in float64, so that the timings of gpt_speed.py and bench.py compare
the same computation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-5  # nn.RMSNorm's


def rmsnorm(x: torch.Tensor) -> torch.Tensor:
    return x * ((x * x).mean(dim=-1, keepdim=True) + EPS) ** -0.5


class TorchGPT(torch.nn.Module):
    """microgpt's transformer over a batch: `model(tokens, targets, weights)` gives every name's loss (N,).

    `state` maps the demo's parameter names (`MicroGPT.state_dict()`) to arrays; `dtype` is torch.float64
    or torch.float32.
    """

    def __init__(self, state: Mapping[str, np.ndarray], heads: int, dtype: torch.dtype = torch.float64) -> None:
        super().__init__()
        vocabulary, dim = state["token_embedding.weight"].shape
        block = state["position_embedding.weight"].shape[0]
        if dim % heads:
            raise ValueError(f"TorchGPT: embedding dim {dim} must be a multiple of heads {heads}")
        self.heads = heads
        self.token_embedding = torch.nn.Embedding(vocabulary, dim)
        self.position_embedding = torch.nn.Embedding(block, dim)
        for name in ("query", "key", "value", "attention_output"):
            setattr(self, name, torch.nn.Linear(dim, dim, bias=False))
        self.mlp_hidden = torch.nn.Linear(dim, 4 * dim, bias=False)
        self.mlp_output = torch.nn.Linear(4 * dim, dim, bias=False)
        self.lm_head = torch.nn.Linear(dim, vocabulary, bias=False)
        self.to(dtype)
        self.load_state_dict({name: torch.tensor(np.asarray(array), dtype=dtype) for name, array in state.items()})
        causal = torch.triu(torch.ones(block, block, dtype=torch.bool), diagonal=1)
        self.register_buffer("above_diagonal", causal, persistent=False)

    def forward(self, tokens: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        n, length = tokens.shape
        dim = self.token_embedding.embedding_dim
        size = dim // self.heads
        x = rmsnorm(self.token_embedding(tokens) + self.position_embedding.weight[:length])
        h = rmsnorm(x)

        def heads(linear: torch.nn.Module) -> torch.Tensor:  # (n, heads, length, size)
            return linear(h).view(n, length, self.heads, size).transpose(1, 2)

        q, k, v = heads(self.query), heads(self.key), heads(self.value)
        scores = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(size))
        scores = scores.masked_fill(self.above_diagonal[:length, :length], -math.inf)
        mixed = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(n, length, dim)
        x = x + self.attention_output(mixed)
        x = x + self.mlp_output(torch.relu(self.mlp_hidden(rmsnorm(x))))
        logits = self.lm_head(x)
        losses = F.cross_entropy(logits.reshape(n * length, -1), targets.reshape(-1), reduction="none")
        return (weights * losses.view(n, length)).sum(dim=1)


def batch_tensors(
    tokens: np.ndarray, targets: np.ndarray, weights: np.ndarray, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A demos.microgpt Batch's arrays as the tensors `TorchGPT` takes (made once, outside any timing)."""
    return (
        torch.as_tensor(tokens, dtype=torch.long),
        torch.as_tensor(targets, dtype=torch.long),
        torch.tensor(weights, dtype=dtype),
    )


def step(model: TorchGPT, tokens: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> float:
    """One forward and backward of the mean loss over the batch, gradients set to None first; returns the mean."""
    model.zero_grad(set_to_none=True)
    loss = model(tokens, targets, weights).mean()
    loss.backward()
    return loss.item()


def gradients(model: TorchGPT) -> dict[str, np.ndarray]:
    """Each parameter's gradient by the demo's state_dict name, as float64 arrays."""
    return {
        name: p.grad.detach().to(torch.float64).numpy() for name, p in model.named_parameters() if p.grad is not None
    }
