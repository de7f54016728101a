"""The graph walk and the chain rule: topological order, `backward`, `grad`.

Nothing here knows any operation's mathematics; each node's `op.rule` (from
engine/ops.py) turns the gradient of its output into gradients of its inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from engine.value import Value, _GradMode, _with_context


def topological_order(root: Value) -> list[Value]:
    """All nodes that `root` depends on, each after its parents, found without recursion.

    A depth-first search with an explicit stack: a node is expanded once (its
    parents pushed above a `True` marker) and emitted when the search comes
    back to the marker, i.e. after all its parents. Linear time and memory.
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
            if node.parents:
                push(node)
                push(True)
                stack.extend(node.parents)
            else:
                emit(node)
    return order


def _rule_error(node: Value, error: Exception) -> Exception:
    return _with_context(error, f"derivative of {node.op.name}", node.parents)  # type: ignore[union-attr]


def backward(root: Value) -> None:
    """Chain rule from `root` to every node it depends on (see `Value.backward`)."""
    order = topological_order(root)
    saved = [node.grad for node in order]  # to undo a failed pass
    for node in order:
        if node.parents:
            node.grad = 0.0  # interior nodes: this pass only, so no double counting
    root.grad = root.grad + 1.0 if not root.parents else 1.0
    node = root
    try:
        for node in reversed(order):
            # The same chain rule for every arity; unpacking one- and two-input
            # nodes (nearly all of them) by hand makes backward about 2x faster.
            parents = node.parents
            if len(parents) == 2:
                a, b = parents
                grad_a, grad_b = node.op.rule(node.grad, node.data, a.data, b.data)  # type: ignore[union-attr]
                a.grad += grad_a
                b.grad += grad_b
            elif len(parents) == 1:
                (a,) = parents
                (grad_a,) = node.op.rule(node.grad, node.data, a.data)  # type: ignore[union-attr]
                a.grad += grad_a
            elif parents:
                grads = node.op.rule(node.grad, node.data, *[p.data for p in parents])  # type: ignore[union-attr]
                for parent, g in zip(parents, grads):
                    parent.grad += g
    except BaseException as error:
        for restored, grad_before in zip(order, saved):
            restored.grad = grad_before
        if isinstance(error, (ArithmeticError, ValueError)):
            raise _rule_error(node, error) from error
        raise


def grad(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> list[Any]:
    """d(output)/d(input) for each input, leaving every `.grad` untouched.

    With `create_graph=True` the rules are evaluated on Values, so the results
    are Values with a graph of their own and can be differentiated again;
    otherwise they are floats. An input that `output` does not depend on gets 0.
    """
    for x in (output, *inputs):
        if not isinstance(x, Value):
            raise TypeError(f"grad() expects Values, got {type(x).__name__}: {x!r:.60}")
    order = topological_order(output)
    grads: dict[Value, Any] = {output: Value(1.0) if create_graph else 1.0}
    previous = _GradMode.enabled
    _GradMode.enabled = create_graph
    try:
        for node in reversed(order):
            g = grads.get(node)
            if g is None or not node.parents:
                continue
            try:
                if create_graph:
                    local = node.op.rule(g, node, *node.parents)  # type: ignore[union-attr]
                else:
                    local = node.op.rule(g, node.data, *[p.data for p in node.parents])  # type: ignore[union-attr]
            except (ArithmeticError, ValueError) as error:
                raise _rule_error(node, error) from error
            for parent, g_parent in zip(node.parents, local):
                grads[parent] = grads[parent] + g_parent if parent in grads else g_parent
    finally:
        _GradMode.enabled = previous
    zero = Value(0.0) if create_graph else 0.0
    return [grads.get(x, zero) for x in inputs]
