"""Replaying a Program over a batch: every node's array forward, the chain rule backward.

The forward pass evaluates each batched node once, parents first; the backward pass is the engine's one
chain-rule walk, `backward_pass`, over the batched graph with each node's rule on arrays. Errors are
raised, never handled here: numpy's floating-point errors as the caller's `np.errstate` asks, the
table's own (a take's index out of range). The caller decides what they mean (engine/batch/vectorize.py
asks the scalar path which sample failed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.batch.arguments import Batch
from engine.batch.batched_ops import Node, fit
from engine.batch.grouping import Program
from engine.core.backprop import backward_pass
from engine.core.value import Value, add_to_grads, data_of_all

Arrays = dict[Node, Any]


def shared_values(shared: list[Value]) -> np.ndarray:
    """The shared leaves' values (parameters and constants), read afresh: an optimizer changes them between calls."""
    return np.array(data_of_all(shared), dtype=float)


def forward(program: Program, batch: Batch) -> Arrays:
    """Every node's array for this batch: arguments and blocks first, then each computed node from its parents."""
    values: Arrays = dict(zip(program.arguments, batch.rows))
    shared = shared_values(program.shared)
    for block, selection in program.blocks:
        values[block] = shared[selection][:, None]
    for node in program.computed:
        values[node] = node.op.forward(*[values[p] for p in node.parents])
    return values


def outputs(program: Program, values: Arrays, n: int) -> np.ndarray:
    """fn's outputs at every sample, a new array (n, outputs)."""
    out = values[program.outputs]
    return np.array(np.broadcast_to(out, (out.shape[0], n)).T)


def first_output(program: Program, values: Arrays, n: int) -> np.ndarray:
    """fn's first output at every sample (n,), a view of the replay's array: read it before the next call."""
    return np.broadcast_to(values[program.outputs][0], (n,))


def backward(program: Program, values: Arrays, scale: float, n: int) -> tuple[np.ndarray, Arrays]:
    """d(scale * the sum over the batch of fn's one output)/d(each shared leaf), and every node's gradient.

    A block's gradient is added to the positions of its leaves; a leaf read by several blocks gets each.
    """
    root = program.outputs
    width = values[root].shape[1]
    root_grad = np.full((1, width), scale * (n if width == 1 else 1.0))  # one column stands for all n samples
    grads = backward_pass(program.walk, root_grad, values.__getitem__)
    total = np.zeros(len(program.shared))
    for block, selection in program.blocks:
        g = grads.get(block)
        if g is not None:
            total[selection] += fit(g, (block.size, 1))[:, 0]
    return total, grads


def add_shared_gradients(shared: list[Value], gradient: np.ndarray) -> None:
    """Add each shared leaf's gradient to its `.grad`, as `backward()` does on the scalar path."""
    add_to_grads(shared, gradient.tolist())


def first_non_finite(nodes: list[Node], arrays: Arrays) -> tuple[Node, tuple[int, ...]] | None:
    """The first of `nodes` whose array holds a nan or an inf, and where; None when all are finite."""
    for node in nodes:
        array = arrays.get(node)
        if array is None:
            continue
        array = np.asarray(array)
        real = node.op.real
        if real is not None:  # rows that are no node (pairs of a Contraction no node reads) are never read
            array = array[real] if array.shape[0] == node.size else array
        if not np.isfinite(array).all():
            place = [int(i) for i in np.argwhere(~np.isfinite(array))[0]]
            if real is not None and array.ndim == 2 and len(real) == array.shape[0]:
                place[0] = int(real[place[0]])
            return node, tuple(place)
    return None


def first_non_finite_entry(gradient: np.ndarray) -> int | None:
    """The position of the first nan or inf of a 1-d array, or None."""
    bad = np.flatnonzero(~np.isfinite(gradient))
    return int(bad[0]) if len(bad) else None
