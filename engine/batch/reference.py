"""The plain reference replay: one numpy call per scalar node, nothing grouped.

Each scalar node of the recording gets an array of its values at every sample, computed by its
operation's numpy forward from its parents' arrays; backward is `backward_pass` over the scalar graph
itself, with the rules on those arrays. It shares nothing with engine/batch/grouping.py and
engine/batch/replay.py but the table and the chain-rule walk, which is why the tests hold the grouped
replay against it on random programs. Too slow to use (a numpy call per scalar node), too simple to be
wrong in the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.batch.arguments import Batch
from engine.batch.recording import Recording
from engine.core.backprop import backward_pass
from engine.core.value import Value


def forward(recording: Recording, batch: Batch) -> dict[Value, Any]:
    """Each scalar node's values: an array (N,) for a node that depends on an argument, else an array (1,)."""
    values: dict[Value, Any] = {leaf: batch.rows[i][row] for leaf, i, row in recording.argument_leaves()}
    values.update((leaf, np.array([leaf.data])) for leaf in recording.shared)
    for v in recording.order:
        if v.op is not None:
            values[v] = v.op.array_forward(*[values[p] for p in v.parents])
    return values


def outputs(recording: Recording, values: dict[Value, Any], n: int) -> np.ndarray:
    """fn's outputs at every sample, (n, outputs)."""
    return np.column_stack([np.broadcast_to(values[v], (n,)) for v in recording.outputs])


def backward(recording: Recording, values: dict[Value, Any], scale: float, n: int) -> np.ndarray:
    """d(scale * the sum over the batch of fn's one output)/d(each shared leaf), by the walk over the scalar graph."""
    root = recording.outputs[0]
    order = [v for v in recording.order if v is not root] + [root]
    root_grad = np.full(np.shape(values[root]), scale * (n if np.size(values[root]) == 1 else 1.0))
    grads = backward_pass(order, root_grad, values.__getitem__)
    return np.array([float(np.sum(grads.get(leaf, 0.0))) for leaf in recording.shared])
