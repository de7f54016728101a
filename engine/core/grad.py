"""`grad(output, inputs)`: derivatives as results, leaving every `.grad` untouched; higher orders too.

The same walk as `backward()` (engine/core/backprop.py), with the gradients kept apart in a dict. With
`create_graph=True` the rules run on Values, so each derivative is a Value with a graph of its own,
which can be differentiated again (`engine.hessian`, `engine.gradgradcheck`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.core.anomaly import check_gradients
from engine.core.backprop import backward_pass, data_of, topological_order
from engine.core.modes import changed, current
from engine.core.value import Value


def grad(output: Any, inputs: Iterable[Any], create_graph: bool = False) -> list[Any]:
    """d(output)/d(input) for each input (a Value and a list of Values), leaving every `.grad` untouched.

    With `create_graph=True` the rules are evaluated on Values, so the results
    are Values with a graph of their own and can be differentiated again;
    otherwise they are floats. An input that `output` does not depend on gets 0.
    """
    if isinstance(inputs, Value):
        raise TypeError("grad() expects a list of input Values; for one input write grad(output, [x])")
    inputs = list(inputs)
    for x in (output, *inputs):
        if not isinstance(x, Value):
            raise TypeError(f"grad() expects Values, got {type(x).__name__}: {x!r:.60}")
    order = topological_order(output)
    check = check_gradients if current().checking else None
    # Nodes the rules record (create_graph=True) belong to the backward pass, for anomaly messages.
    with changed(recording=create_graph, pass_name="backward"):
        if create_graph:
            grads = backward_pass(order, Value(1.0), lambda node: node, check)
        else:
            grads = backward_pass(order, 1.0, data_of, check)
    if create_graph:  # a rule may hand back a plain number (a constant 0): every result a Value, as promised
        return [g if isinstance(g, Value) else Value(g) for g in [grads.get(x, 0.0) for x in inputs]]
    return [float(grads.get(x, 0.0)) for x in inputs]
