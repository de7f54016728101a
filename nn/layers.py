"""Building blocks beyond the MLP, for models such as a small GPT: Linear (with or without bias), Embedding, RMSNorm.

Each is a Module: its parameters are named arrays (`weight` (nout, nin), `bias` (nout,), an
embedding's `weight` (num_embeddings, dim)), so `state_dict`, `save` and `nn.load` work on it
and on any Module that holds it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from engine import Value, linear, take
from engine.core.numbers import as_float
from engine.core.value import record_values
from nn.activations import check_std, draw_weights
from nn.arguments import Input, as_values, check_flag, check_inputs, check_size
from nn.module import Module
from nn.state_dicts import Shapes


def _matrix(draw: np.ndarray) -> list[list[Value]]:
    """A matrix of new Values, one per entry of the 2-d array `draw`."""
    return [[Value(x) for x in row] for row in draw.tolist()]


class Linear(Module):
    """y_j = sum_i W_ji x_i (+ b_j): `nout` outputs that all read the same `nin` inputs, no activation.

    Each output is one fused `linear` node whose weights and bias are leaves and whose inputs are
    the same Values, so `engine.vectorize` runs the whole layer as one matrix product. `bias=False`
    leaves the bias out of the parameters (microgpt's layers have none); each node then adds a
    constant 0. Weights are drawn uniformly with variance 1/nin (LeCun), or from a Gaussian with
    standard deviation `std` when it is given (microgpt: 0.08); a bias starts at 0.
    """

    def __init__(
        self,
        nin: int,
        nout: int,
        bias: bool = True,
        *,
        std: float | None = None,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        check_size(nin, "Linear", "inputs")
        check_size(nout, "Linear", "outputs")
        check_flag(bias, "Linear", "bias")
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.weight = _matrix(draw_weights(rng, (nout, nin), nin, "linear", check_std(std, "Linear")))
        self.bias = [Value(0.0) for _ in range(nout)] if bias else None
        self._zero = Value(0.0)  # the constant bias of a layer without one: the same leaf at every call (a constant)
        self._name_parameters()

    @property
    def nin(self) -> int:
        return len(self.weight[0])

    @property
    def nout(self) -> int:
        return len(self.weight)

    def __call__(self, x: Sequence[Input]) -> list[Value]:
        check_inputs(x, self.nin, "Linear")
        inputs = as_values(x)
        biases = self.bias if self.bias is not None else [self._zero] * self.nout
        return [record_values(linear, *row, *inputs, b) for row, b in zip(self.weight, biases)]

    def config(self) -> dict[str, Any]:
        return {"nin": self.nin, "nout": self.nout, "bias": self.bias is not None}

    def _constants(self) -> list[Value]:
        return [self._zero] if self.bias is None else []

    @classmethod
    def state_shapes(cls, arguments: Mapping[str, Any]) -> Shapes:
        nin = check_size(arguments["nin"], "Linear", "inputs")
        nout = check_size(arguments["nout"], "Linear", "outputs")
        shapes: Shapes = {"weight": (nout, nin)}
        if check_flag(arguments["bias"], "Linear", "bias"):
            shapes["bias"] = (nout,)
        return shapes

    def __repr__(self) -> str:
        return f"Linear({self.nin}, {self.nout}{'' if self.bias is not None else ', bias=False'})"


class Embedding(Module):
    """A table of `num_embeddings` rows of `dim` Values: `emb(index)` is row `index`, e.g. a token's vector.

    `index` is an int, or a Value holding a whole number (a token id that `engine.vectorize` feeds
    per sample): each of the `dim` outputs is then one `take` node, whose gradient goes to the
    chosen row only. An index out of range, or not a whole number, raises ValueError naming it.
    Entries are drawn from a Gaussian with standard deviation `std` (1, as PyTorch's; microgpt: 0.08).
    """

    def __init__(
        self,
        num_embeddings: int,
        dim: int,
        *,
        std: float = 1.0,
        seed: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        check_size(num_embeddings, "Embedding", "rows (num_embeddings)")
        check_size(dim, "Embedding", "dimensions (dim)")
        checked = check_std(std, "Embedding")
        if checked is None:
            raise ValueError("Embedding: std must be a positive finite number, got None")
        rng = rng if rng is not None else np.random.default_rng(seed)
        self.weight = _matrix(rng.normal(0.0, checked, (num_embeddings, dim)))
        self._name_parameters()

    @property
    def num_embeddings(self) -> int:
        return len(self.weight)

    @property
    def dim(self) -> int:
        return len(self.weight[0])

    def __call__(self, index: int | Value) -> list[Value]:
        try:
            return [take(column, index) for column in zip(*self.weight)]
        except (TypeError, ValueError) as error:
            raise type(error)(f"{self!r}: {error}") from None

    def config(self) -> dict[str, Any]:
        return {"num_embeddings": self.num_embeddings, "dim": self.dim}

    @classmethod
    def state_shapes(cls, arguments: Mapping[str, Any]) -> Shapes:
        rows = check_size(arguments["num_embeddings"], "Embedding", "rows (num_embeddings)")
        return {"weight": (rows, check_size(arguments["dim"], "Embedding", "dimensions (dim)"))}

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.dim})"


class RMSNorm(Module):
    """x_i / sqrt(mean_j x_j^2 + eps) for each of the inputs: scales a vector to root-mean-square 1.

    No learnable gain (microgpt's has none), so no parameters. `eps` (1e-5 by default) keeps the
    division finite at x = 0. The sum of squares is one fused `linear` node (x . x).
    """

    def __init__(self, eps: float = 1e-5) -> None:
        value = as_float(eps, "RMSNorm: eps")
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"RMSNorm: eps must be a positive finite number, got {eps!r}")
        self.eps = value

    def __call__(self, x: Sequence[Input]) -> list[Value]:
        check_inputs(x, None, "RMSNorm")
        inputs = as_values(x)
        sum_of_squares = record_values(linear, *inputs, *inputs, Value(0.0))
        scale = (sum_of_squares / len(inputs) + self.eps) ** -0.5
        return [xi * scale for xi in inputs]

    def config(self) -> dict[str, Any]:
        return {"eps": self.eps}

    @classmethod
    def state_shapes(cls, arguments: Mapping[str, Any]) -> Shapes:
        return {}

    def __repr__(self) -> str:
        return f"RMSNorm(eps={self.eps:g})"
