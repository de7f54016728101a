"""The graph walk and the chain rule: topological order, `backward`, `grad`.

Nothing here knows any operation's mathematics; each node's `op.rule` (from
engine/ops.py) turns the gradient of its output into gradients of its inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from engine.anomaly import _AnomalyMode, check_gradients
from engine.value import Value, _GradMode, _raise_in_context


def topological_order(root: Value) -> list[Value]:
    """All nodes that `root` depends on, each after its parents, found without recursion.

    A depth-first search with an explicit stack: a node is expanded once (its
    parents pushed above a `True` marker) and emitted when the search comes
    back to the marker, i.e. after all its parents. Linear time and memory.
    (A node's parents live in its slots `_first` and `_second`, or `_more` when
    there are more than two: see `Value`.)
    """
    order: list[Value] = []
    expanded: set[Value] = set()
    stack: list[Any] = [root]
    emit, expand, push, pop = order.append, expanded.add, stack.append, stack.pop
    while stack:
        node = pop()
        if node is True:
            emit(pop())
        elif node not in expanded:
            expand(node)
            # Parents are pushed last-first, so they are visited (and emitted) in input order.
            if node._more is not None:
                push(node)
                push(True)
                stack.extend(reversed(node._more))
            elif node._first is not None:
                push(node)
                push(True)
                if node._second is not None:
                    push(node._second)
                push(node._first)
            else:
                emit(node)
    return order


def _rule_error(node: Value, error: Exception) -> NoReturn:
    _raise_in_context(error, f"derivative of {node.op.name}", node.parents)  # type: ignore[union-attr]


def backward(root: Value) -> None:
    """Chain rule from `root` to every node it depends on (see `Value.backward`)."""
    order = topological_order(root)
    saved = [node.grad for node in order]  # to undo a failed pass
    for node in order:
        if node.op is not None:
            node.grad = 0.0  # interior nodes: this pass only, so no double counting
    root.grad = root.grad + 1.0 if not root.parents else 1.0
    # One look at the mode per call: the fast loop itself never checks anything.
    chain_rule = _checked_chain_rule if _AnomalyMode.depth else _chain_rule
    try:
        chain_rule(order)
    except BaseException:
        for restored, grad_before in zip(order, saved):
            restored.grad = grad_before
        raise


def _chain_rule(order: list[Value]) -> None:
    """Add each node's share of the gradient to its parents, children before parents."""
    node = order[-1]
    try:
        for node in reversed(order):
            # The same chain rule for every arity; reading one- and two-input nodes
            # (nearly all of them) straight from their slots makes backward about 2x faster.
            a, b, parents = node._first, node._second, node._more
            if b is not None:
                grad_a, grad_b = node.op.rule(node.grad, node.data, a.data, b.data)  # type: ignore[union-attr]
                a.grad += grad_a  # type: ignore[union-attr]
                b.grad += grad_b
            elif a is not None:
                (grad_a,) = node.op.rule(node.grad, node.data, a.data)  # type: ignore[union-attr]
                a.grad += grad_a
            elif parents is not None:
                grads = node.op.rule(node.grad, node.data, *[p.data for p in parents])  # type: ignore[union-attr]
                for parent, g in zip(parents, grads):
                    parent.grad += g
    except (ArithmeticError, ValueError) as error:
        _rule_error(node, error)


def _checked_chain_rule(order: list[Value]) -> None:
    """`_chain_rule` that checks every gradient for nan and inf (inside `engine.detect_anomaly()`)."""
    for node in reversed(order):
        if node.parents:
            try:
                grads = node.op.rule(node.grad, node.data, *[p.data for p in node.parents])  # type: ignore[union-attr]
            except (ArithmeticError, ValueError) as error:
                _rule_error(node, error)
            for parent, g in zip(node.parents, grads):
                parent.grad += g
            check_gradients(node, node.grad, grads, [parent.grad for parent in node.parents])


def grad(output: Value, inputs: Iterable[Value], create_graph: bool = False) -> list[Any]:
    """d(output)/d(input) for each input, leaving every `.grad` untouched.

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
    grads: dict[Value, Any] = {output: Value(1.0) if create_graph else 1.0}
    checking = _AnomalyMode.depth > 0  # inside engine.detect_anomaly()
    previous = _GradMode.enabled, _AnomalyMode.pass_name
    _GradMode.enabled, _AnomalyMode.pass_name = create_graph, "backward"
    try:
        for node in reversed(order):
            g = grads.get(node)
            parents = node.parents
            if g is None or not parents:
                continue
            try:
                if create_graph:
                    local = node.op.rule(g, node, *parents)  # type: ignore[union-attr]
                else:
                    local = node.op.rule(g, node.data, *[p.data for p in parents])  # type: ignore[union-attr]
            except (ArithmeticError, ValueError) as error:
                _rule_error(node, error)
            for parent, g_parent in zip(parents, local):
                grads[parent] = grads[parent] + g_parent if parent in grads else g_parent
            if checking:
                check_gradients(node, g, local, [grads[parent] for parent in parents])
    finally:
        _GradMode.enabled, _AnomalyMode.pass_name = previous
    # A rule may hand back a plain number (e.g. a constant 0): give every result the promised type.
    as_result = _as_value if create_graph else float
    return [as_result(grads.get(x, 0.0)) for x in inputs]


def _as_value(x: Any) -> Value:
    return x if isinstance(x, Value) else Value(x)
