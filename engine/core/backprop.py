"""The graph walk and the chain rule: `topological_order`, `backward_pass`, `backward`, `grad`.

Nothing here knows any operation's mathematics; each node's `op.rule` (from
engine/core/ops.py) turns the gradient of its output into gradients of its inputs.

The chain rule is written once, in `backward_pass`, for every caller: `grad`
(on floats, or on Values for higher-order gradients), `backward()` inside
`detect_anomaly()`, the explorer's steps and `engine.vectorize`'s batched
replay (on numpy arrays). `backward()` has one fast loop of its own beside it,
which keeps gradients in the nodes' `.grad` fields instead of a dictionary (what
that saves is measured in benchmarks/README.md, "Why the code is shaped so").
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, NoReturn

from engine.core.anomaly import check_gradients
from engine.core.modes import changed, current
from engine.core.value import OPERATIONS, Value, _raise_in_context

# on_step(node, g, contributions, totals): after `node` handed its gradient g on, with what its rule gave each
# parent and each parent's gradient after adding it.
OnStep = Callable[[Any, Any, Sequence[Any], list[Any]], None]


def topological_order(root: Value) -> list[Value]:
    """All nodes that `root` depends on, each after its parents, found without recursion.

    A depth-first search with an explicit stack: a node is expanded once (its
    parents pushed above the marker `_EMIT_NEXT`) and emitted when the search
    comes back to the marker, i.e. after all its parents. Linear time and memory.
    (A node's parents live in its slots `_first` and `_second`, or `_more` when
    there are more than two: see `Value`.) Each walk has a number of its own and
    writes it into the nodes it expands (`Value._walk`), which is cheaper than a
    set of the nodes seen; walks take turns, so that no two ever mark at once.
    """
    with _WALKS.taking_turns:
        if _WALKS.walking:  # this thread is inside a walk already: its marks would be overwritten
            raise RuntimeError(
                "topological_order (which backward(), grad() and the pictures use) was called while it was "
                "ordering another graph in the same thread, e.g. from a __del__ the garbage collector ran; "
                "it cannot order two graphs at once in one thread"
            )
        _WALKS.walking = True
        try:
            _WALKS.started += 1
            return _depth_first(root, _WALKS.started)
        finally:
            _WALKS.walking = False


def _depth_first(root: Value, walk: int) -> list[Value]:
    """`topological_order`'s search, marking the nodes it expands with `walk`."""
    order: list[Value] = []
    stack: list[Value] = [root]
    while stack:
        node = stack.pop()
        if node is _EMIT_NEXT:
            order.append(stack.pop())
            continue
        if node._walk == walk:
            continue
        node._walk = walk
        first = node._first
        more = node._more
        if first is None and more is None:
            order.append(node)  # a leaf
            continue
        stack.append(node)
        stack.append(_EMIT_NEXT)
        # Parents are pushed last-first, so they are visited (and emitted) in input order; one already
        # expanded (a weight every sample reads) would be skipped when popped, so it is not pushed.
        if more is not None:
            for parent in reversed(more):
                if parent._walk != walk:
                    stack.append(parent)
        else:
            second = node._second
            if second is not None and second._walk != walk:
                stack.append(second)
            if first is not None and first._walk != walk:
                stack.append(first)
    return order


class _Walks:
    """How many walks `topological_order` has started, whether one is under way, and the lock of their turns."""

    def __init__(self) -> None:
        self.started = 0
        self.walking = False
        self.taking_turns = threading.RLock()  # re-entrant, so that a walk within a walk is an error, not a hang


_WALKS: Final = _Walks()


# The stack entry in `topological_order` that says: the node below has had all its parents emitted.
_EMIT_NEXT: Final = Value(0.0, "topological_order's marker")


def backward_pass(
    order: Sequence[Any], root_grad: Any, value_of: Callable[[Any], Any], on_step: OnStep | None = None
) -> dict[Any, Any]:
    """The chain rule: dL/d(node) for every node of `order` that the last node (the root, L) reaches.

    `order` lists nodes parents first, as `topological_order` does; a node is
    anything with `op` and `parents` (a Value, or a node of vectorize's batched
    graph). `root_grad` is dL/d(root), where the walk starts (1 for `backward()`).
    `value_of(node)` is what a rule gets for a node: its `.data` (floats), the node itself (Values: the rules record a
    graph of their own) or its array. Children come before parents, so a
    node's gradient is complete before its rule hands it on; a parent reached
    twice adds both contributions.
    """
    grads = {order[-1]: root_grad}
    for node in reversed(order):
        g = grads.get(node)
        parents = node.parents
        if g is None or not parents:
            continue
        try:
            contributions = node.op.rule(g, value_of(node), *[value_of(p) for p in parents])
        except (ArithmeticError, ValueError) as error:
            _raise_in_context(error, f"derivative of {node.op.name}", parents)
        check_count(node.op.name, contributions, len(parents))
        totals = []  # each parent's gradient right after its contribution (a parent may appear twice: x * x)
        for parent, contribution in zip(parents, contributions):
            grads[parent] = grads[parent] + contribution if parent in grads else contribution
            totals.append(grads[parent])
        if on_step is not None:
            on_step(node, g, contributions, totals)
    return grads


def check_count(op_name: str, contributions: Any, inputs: int) -> None:
    """A derivative rule gives a sequence of one gradient per input; anything else is a TypeError naming the operation.

    Every walk (this one, `backward()`'s fast loop, vectorize's replay) raises this same error for this fault.
    """
    count = len(contributions) if isinstance(contributions, (tuple, list)) else None
    if count != inputs:
        gave = f"{count} gradient(s)" if count is not None else "one gradient, not a tuple or list of them,"
        raise TypeError(
            f"the derivative rule of {op_name} gave {gave} for {inputs} input(s); "
            "a rule returns a tuple or list of one gradient per input"
        )


def data_of(node: Value) -> float:
    """What a rule gets for a node on the float path (`backward_pass`'s `value_of`)."""
    return node.data


def _itself(node: Value) -> Value:
    return node


def backward(root: Value) -> None:
    """Set `root`'s grad to 1 and add d(root)/d(leaf) to every leaf's grad.

    Leaves accumulate across calls (as in PyTorch); intermediate nodes hold the
    gradient of the latest call only, so nothing is counted twice. A failed
    call leaves every `.grad` as it was.
    """
    order = topological_order(root)
    if current().checking:  # inside detect_anomaly(): the general walk, checking every gradient
        grads = backward_pass(order, 1.0, data_of, check_gradients)
        for node in order:
            g = grads.get(node, 0.0)
            node.grad = node.grad + g if node.op is None else g
        return
    saved: list[tuple[Value, float]] = []  # the gradients that were not 0 before the pass, to undo a failed one
    for node in order:
        if node.grad != 0.0:
            saved.append((node, node.grad))
            if node.op is not None:
                node.grad = 0.0  # interior nodes: this pass only, so no double counting
    root.grad = root.grad + 1.0 if root.op is None else 1.0
    try:
        _fast_chain_rule(order)
    except BaseException:
        for node in order:
            node.grad = 0.0
        for node, grad_before in saved:
            node.grad = grad_before
        raise


def _fast_chain_rule(order: list[Value]) -> None:
    """`backward_pass` on floats, with each gradient kept in its node's `.grad` instead of a dictionary.

    One- and two-input nodes (nearly all of them) are read straight from their
    slots, without building the `parents` tuple.
    """
    node = order[-1]
    try:
        for node in reversed(order):
            op = node.op
            if op is None:
                continue  # a leaf: nothing to hand on
            first = node._first
            second = node._second
            if second is not None and first is not None:
                grads = op.rule(node.grad, node.data, first.data, second.data)
                if type(grads) is not tuple or len(grads) != 2:
                    check_count(op.name, grads, 2)  # a list of two is fine; anything else is a TypeError
                first.grad += grads[0]
                second.grad += grads[1]
            elif first is not None:
                grads = op.rule(node.grad, node.data, first.data)
                if type(grads) is not tuple or len(grads) != 1:
                    check_count(op.name, grads, 1)
                first.grad += grads[0]
            else:
                parents = node.parents
                grads = op.rule(node.grad, node.data, *[p.data for p in parents])
                check_count(op.name, grads, len(parents))
                for parent, g in zip(parents, grads):
                    parent.grad += g
    except (ArithmeticError, ValueError, TypeError) as error:
        _raise_as_backward_pass_does(node, error)


def _raise_as_backward_pass_does(node: Value, error: Exception) -> NoReturn:
    """Raise what `backward_pass` raises where `node`'s step failed in the fast loop.

    The fast loop unpacks a rule's gradients before it could count them, so a rule that gives the wrong
    number fails there as a ValueError or TypeError of unpacking: the rule is run again (it only reads the
    node's gradient and data, which the failed step left as they were) and its gradients are counted, so
    that the same fault gives the same TypeError in every walk. Errors of the rule's own arithmetic get the
    operation and operands in front of their message, as `backward_pass` gives them.
    """
    op, parents = node.op, node.parents
    assert op is not None
    try:
        contributions = op.rule(node.grad, node.data, *[p.data for p in parents])
    except (ArithmeticError, ValueError) as again:
        _raise_in_context(again, f"derivative of {op.name}", parents)
    check_count(op.name, contributions, len(parents))
    if isinstance(error, (ArithmeticError, ValueError)):
        _raise_in_context(error, f"derivative of {op.name}", parents)
    raise error


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
            grads = backward_pass(order, Value(1.0), _itself, check)
        else:
            grads = backward_pass(order, 1.0, data_of, check)
    # A rule may hand back a plain number (e.g. a constant 0): give every result the promised type.
    as_result = _as_value if create_graph else float
    return [as_result(grads.get(x, 0.0)) for x in inputs]


def _as_value(x: Any) -> Value:
    return x if isinstance(x, Value) else Value(x)


OPERATIONS.backward = backward
