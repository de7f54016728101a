"""The batched program's operations as PyTorch computes them: what `to_torch` (engine/batch/to_torch.py) exports.

An exported program keeps vectorize's layout turned on its side, as PyTorch lays out batches: a node's
value is a tensor (B, rows), a row per sample and a column per member, or one row (or a 1-d tensor) when
it depends on no argument; broadcasting spreads it over the batch.

- `TORCH_ROWS`: the table's rows (engine/core/ops.py) as the torch functions that compute them and
  differentiate them the same way (tests/test_to_torch_rows.py holds every row to vectorize, forward and
  gradient). The rows of `x ** c`, made one per exponent, are found by `power_exponent`: `x ** c` in torch.
- the modules below: the batched nodes that are more than one call (a layer, a group of dot products,
  a stacked logsumexp, a take), each the matrix form of its row (engine/batch/matrix_forms.py) in torch.
- `NumpyRow`: an operation of one's own (`engine.defop`) run by its own numpy forward and rule, on the CPU.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from engine.core import ops
from engine.core.op import Op
from engine.core.ops import checked_index


def _count(n: int, thing: str, things: str = "") -> str:
    return f"{n} {thing if n == 1 else things or thing + 's'}"


class Softplus(torch.nn.Module):
    """log(1 + e^x) as logaddexp(x, 0), which never overflows and has no threshold (PyTorch's softplus has one)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logaddexp(x, torch.zeros_like(x))


class Where(torch.nn.Module):
    """a where the condition is nonzero, else b; the condition gets no gradient."""

    def forward(self, condition: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(condition != 0, a, b)


# The table's rows: a torch function, or a module class (its instance becomes a line `self.softplus(x)` of the code).
# `linear` of one input (b alone) is the input itself; `take` and `logsumexp` are never elementwise.
TORCH_ROWS: dict[Op, Callable[..., Any] | type[torch.nn.Module]] = {
    ops.add: operator.add,
    ops.sub: operator.sub,
    ops.mul: operator.mul,
    ops.div: operator.truediv,
    ops.neg: operator.neg,
    ops.pow_: operator.pow,
    ops.exp: torch.exp,
    ops.log: torch.log,
    ops.sqrt: torch.sqrt,
    ops.sign: torch.sign,
    ops.abs_: torch.abs,
    ops.sin: torch.sin,
    ops.cos: torch.cos,
    ops.tanh: torch.tanh,
    ops.sigmoid: torch.sigmoid,
    ops.relu: torch.relu,
    ops.softplus: Softplus,
    ops.where: Where,
}


def power_exponent(op: Op) -> float | None:
    """c when `op` is the table's row `x ** c` (engine.power(c)), else None.

    Those rows are made on demand, one per exponent, and named `**c`: an Op of that name is one of them
    when engine.power(c) gives it, or a row made by the same code (once more than the cache holds).
    """
    if not op.name.startswith("**") or op.arity != 1:
        return None
    try:
        c = float(op.name[2:])
    except ValueError:
        return None
    row = ops.power(c)
    same_code = getattr(op.forward, "__code__", None) is getattr(row.forward, "__code__", False)
    return c if row is op or (same_code and row.name == op.name) else None


class Columns(torch.nn.Module):
    """Some columns of a value, in a given order, copied: how an operand reads rows of a node that are not a run."""

    positions: torch.Tensor

    def __init__(self, positions: np.ndarray) -> None:
        super().__init__()
        # Structure, not state: moved with the module (.to), left out of its state_dict.
        self.register_buffer("positions", torch.as_tensor(positions, dtype=torch.long), persistent=False)

    def extra_repr(self) -> str:
        return _count(len(self.positions), "column")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.index_select(-1, self.positions)


class Layer(torch.nn.Module):
    """G neurons that read the same n inputs, applied to T tuples of inputs: `linear_layer` in torch.

    weight (G, n) (or its G n entries), inputs (B, T n) tuple by tuple and, within a tuple, input by input,
    bias (T G,) tuple by tuple and, within a tuple, neuron by neuron, or one number -> (B, T G) in the bias's
    order: column t G + g is neuron g applied to tuple t, as vectorize's `Layer` orders its rows.
    """

    def __init__(self, neurons: int, inputs: int, tuples: int) -> None:
        super().__init__()
        self.neurons, self.inputs, self.tuples = neurons, inputs, tuples

    def extra_repr(self) -> str:
        applied = f", applied to {self.tuples} tuples of inputs" if self.tuples > 1 else ""
        return f"{_count(self.inputs, 'input')} -> {_count(self.neurons, 'output')}{applied}"

    def forward(self, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        weight = weight.reshape(self.neurons, self.inputs)
        bias = bias.reshape(-1)  # parameters or constants, the same for every sample; one number for a constant bias
        if self.tuples == 1:
            return torch.nn.functional.linear(x, weight, bias.expand(self.neurons))
        tuples = x.reshape(-1, self.tuples, self.inputs)  # (B, T, n)
        out = torch.nn.functional.linear(tuples, weight)  # (B, T, G)
        return out.reshape(-1, self.tuples * self.neurons) + bias


class Contraction(torch.nn.Module):
    """The dot products of every pair of a block's vectors, C blocks at once: `linear_pairs` in torch.

    weights (B, C A L), A vectors of L terms per block; inputs (B, C B' L); bias (B, C A B') -> (B, C A B'),
    row (c A + a) B' + b = weights[c, a] . inputs[c, b] + its bias: one batched matrix product.
    """

    def __init__(self, blocks: int, firsts: int, seconds: int, length: int) -> None:
        super().__init__()
        self.blocks, self.firsts, self.seconds, self.length = blocks, firsts, seconds, length

    def extra_repr(self) -> str:
        pairs = f"{self.firsts} x {self.seconds} dot products"
        return f"{_count(self.blocks, 'block')} of {pairs} of {_count(self.length, 'term')}"

    def forward(self, weights: torch.Tensor, inputs: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        w = weights.reshape(-1, self.blocks, self.firsts, self.length)
        x = inputs.reshape(-1, self.blocks, self.seconds, self.length)
        return (w @ x.transpose(-1, -2)).reshape(-1, self.blocks * self.firsts * self.seconds) + bias


class PaddedContraction(torch.nn.Module):
    """The dot products of a Contraction that are nodes, each of its own terms: out (B, M) for the M pairs.

    Read as `Contraction` reads them; pair m is weight vector (blocks[m], firsts[m]) and input vector (blocks[m],
    seconds[m]), its first terms[m] terms, and row rows[m] of every pair (`Pairs`). While the operands (and
    backward, the gradient) are finite, a padding zero meets finite numbers only, and every pair of each block
    is one matrix product, the nodes' rows picked from it; else each node is computed from its own terms only,
    so an inf or a nan beyond a node's terms stays out of it (`linear_pairs`, `linear_pairs_exact`).
    vectorize decides on its product instead (a row not finite): an operand that is not finite leaves such a
    row, and where only the product overflows, both forms give the nodes the same numbers.
    """

    weight_columns: torch.Tensor
    input_columns: torch.Tensor
    own: torch.Tensor
    rows: torch.Tensor

    def __init__(self, shape: tuple[int, int, int, int], pairs: Any) -> None:
        super().__init__()
        self.shape = shape
        _, firsts, seconds, length = shape
        term = np.arange(length)
        weight_columns = ((pairs.blocks * firsts + pairs.firsts) * length)[:, None] + term
        input_columns = ((pairs.blocks * seconds + pairs.seconds) * length)[:, None] + term
        # Structure, not state (as Columns'): the rows that are nodes, the columns each reads, which terms are its own.
        for name, array in [("rows", pairs.rows), ("weight_columns", weight_columns), ("input_columns", input_columns)]:
            self.register_buffer(name, torch.as_tensor(array, dtype=torch.long), persistent=False)
        self.register_buffer("own", torch.as_tensor(term < pairs.terms[:, None]), persistent=False)

    def extra_repr(self) -> str:
        return f"{_count(len(self.own), 'dot product')} of up to {_count(self.own.shape[1], 'term')}"

    def forward(self, weights: torch.Tensor, inputs: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return _PaddedPairs.apply(weights, inputs, self) + bias

    def every_pair(self, weights: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Every pair of every block, one matrix product, then the rows that are nodes."""
        blocks, firsts, seconds, length = self.shape
        w = weights.reshape(-1, blocks, firsts, length)
        x = inputs.reshape(-1, blocks, seconds, length)
        return (w @ x.transpose(-1, -2)).reshape(-1, blocks * firsts * seconds).index_select(-1, self.rows)

    def own_terms(self, weights: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Each node from its own terms only: the terms beyond are left out, not multiplied by padding zeros."""
        w = torch.where(self.own, weights[..., self.weight_columns], 0.0)  # (B, M, L)
        x = torch.where(self.own, inputs[..., self.input_columns], 0.0)
        return (w * x).sum(-1)


def _finite(*tensors: torch.Tensor) -> bool:
    return all(bool(torch.isfinite(t).all()) for t in tensors)


class _PaddedPairs(torch.autograd.Function):
    """`PaddedContraction`'s two forms, chosen in each pass by whether its numbers are finite (first derivatives)."""

    @staticmethod
    def forward(ctx: Any, weights: torch.Tensor, inputs: torch.Tensor, module: PaddedContraction) -> torch.Tensor:
        ctx.module = module
        ctx.save_for_backward(weights, inputs)
        return (module.every_pair if _finite(weights, inputs) else module.own_terms)(weights, inputs)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        weights, inputs = ctx.saved_tensors
        form = ctx.module.every_pair if _finite(weights, inputs, g) else ctx.module.own_terms
        with torch.enable_grad():
            w, x = weights.detach().requires_grad_(), inputs.detach().requires_grad_()
            d_weights, d_inputs = torch.autograd.grad(form(w, x), (w, x), g)
        return d_weights, d_inputs, None


class LogSumExp(torch.nn.Module):
    """M logsumexps of k inputs each: inputs (B, M k) logsumexp by logsumexp -> (B, M) (`logsumexp_stacked` in
    torch, with vectorize's `Stacked` layout: column m k + i is input i of logsumexp m)."""

    def __init__(self, count: int, members: int) -> None:
        super().__init__()
        self.count, self.members = count, members

    def extra_repr(self) -> str:
        return f"{_count(self.members, 'logsumexp')} of {_count(self.count, 'input')}"

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return torch.logsumexp(inputs.reshape(-1, self.members, self.count), dim=2)


class Take(torch.nn.Module):
    """M takes: member m's entry k is column table[m, k] of `source`, and index (B, M) chooses it per sample.

    `source` is a node's value (B, R) or, `from_state`, a parameter or constant tensor read flat, as one row.
    `check`: the index is computed by the program (not one of fn's arguments, which the exported module
    checks before the program runs), so it is checked here, a whole number in range, as vectorize checks
    it; on a GPU an index out of range would otherwise be a device-side assert, and a fraction would be
    rounded silently.
    """

    table: torch.Tensor
    first_entry: torch.Tensor

    def __init__(self, table: np.ndarray, from_state: bool, check: bool) -> None:
        super().__init__()
        self.register_buffer("table", torch.as_tensor(table, dtype=torch.long), persistent=False)  # as Columns'
        first_entry = torch.arange(table.shape[0]) * table.shape[1]  # of each member, in the flat table
        self.register_buffer("first_entry", first_entry, persistent=False)
        self.from_state = from_state
        self.check = check

    def extra_repr(self) -> str:
        members, count = self.table.shape
        return f"{_count(members, 'take')} of {_count(count, 'entry', 'entries')}" + (
            ", index checked" if self.check else ""
        )

    def forward(self, source: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        members, count = self.table.shape
        index = index.reshape(-1, members)
        if self.check:
            check_indices(index, count, "an index the program computes")
        chosen = self.table.reshape(-1)[self.first_entry + index.long()]  # table[m, index[s, m]]: (B, M)
        rows = source.reshape(1, -1) if self.from_state else source.reshape(-1, source.shape[-1])
        return torch.take_along_dim(rows, chosen, dim=1)


@torch.compiler.disable  # it reads values to decide: run as it is, between compiled parts
def check_indices(index: torch.Tensor, count: int, what: str) -> None:
    """ValueError unless every entry of `index` (B, M) is a whole number from 0 to count - 1, naming the first
    sample that fails and the value, in the words of `checked_index` (what vectorize raises)."""
    valid = (index >= 0) & (index < count) & (index == torch.floor(index))
    if bool(valid.all()):
        return
    bad = (~valid).nonzero()[0]
    sample, member = int(bad[0]), int(bad[1])
    try:
        checked_index(float(index[sample, member]), count)
    except ValueError as error:
        raise ValueError(f"{error} ({what}, sample {sample} of {index.shape[0]})") from None


class NumpyFunction(torch.autograd.Function):
    """An operation of one's own through its numpy forward and its rule on numpy arrays (CPU tensors only)."""

    @staticmethod
    def forward(ctx: Any, op: Op, *inputs: torch.Tensor) -> torch.Tensor:
        arrays = [x.detach().numpy() for x in inputs]
        with np.errstate(all="ignore"):  # as the table's rows in torch: nan and inf, never an error
            out = np.asarray(op.array_forward(*arrays), dtype=float)
        ctx.op = op
        ctx.save_for_backward(*inputs)
        ctx.out = out
        shape = torch.broadcast_shapes(*(x.shape for x in inputs))
        return torch.as_tensor(np.broadcast_to(out, shape).copy(), dtype=inputs[0].dtype)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        inputs = ctx.saved_tensors
        arrays = [x.detach().numpy() for x in inputs]
        with np.errstate(all="ignore"):
            contributions = ctx.op.rule(g.detach().numpy(), ctx.out, *arrays)
        grads = [_summed_to(np.asarray(c, dtype=float), x.shape) for c, x in zip(contributions, inputs)]
        return (None, *(torch.as_tensor(d, dtype=x.dtype) for d, x in zip(grads, inputs)))


def _summed_to(c: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A rule's gradient summed over the dimensions its input was broadcast along."""
    c = np.broadcast_to(c, np.broadcast_shapes(c.shape, shape))
    while c.ndim > len(shape):
        c = c.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and c.shape[axis] != 1:
            c = c.sum(axis=axis, keepdims=True)
    return np.array(c)  # a new, writable array


class NumpyRow(torch.nn.Module):
    """An operation of one's own (`engine.defop`), which PyTorch has no function for: its numpy forward and rule
    run on the CPU, inside autograd (first derivatives only). On another device: RuntimeError naming it."""

    def __init__(self, op: Op) -> None:
        super().__init__()
        self.op = op

    def extra_repr(self) -> str:
        return f"{self.op.name!r}: its numpy forward and rule, on the CPU"

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        devices = {x.device.type for x in inputs}
        if devices != {"cpu"}:
            raise RuntimeError(
                f"the operation {self.op.name!r} has no PyTorch form: it runs its own numpy forward and rule, on the "
                f"CPU only, but its inputs are on {', '.join(sorted(devices))}; write it from the table's operations "
                "(then it exports as they do) or keep the module on the CPU"
            )
        return NumpyFunction.apply(self.op, *inputs)
