"""The graph walk and the chain rule: `topological_order`, `backward_pass` and `backward`.

`topological_order(root)` lists every node `root` depends on, each after its parents. `backward_pass`
walks that list backwards from the root, and at each node runs its operation's rule (engine/core/ops.py)
to hand the node's gradient on to its parents, adding up what a parent gets from several children: the
chain rule. `engine.grad` (engine/core/grad.py), the step-by-step transcript (engine/pictures/steps.py),
and vectorize's replay over arrays (engine/batch/replay.py) run it; `backward()` runs the same walk
written for floats in the nodes' `.grad` (`_chain_rule_into_grads`, a speed device).

micrograd's names, for readers who know it: its `_prev` is `parents` here, its `_backward` closure is the
node's `op.rule`, called by these walks, and its recursive `build_topo` is `topological_order`.

This module sits below engine/core/value.py, which calls it, and names Value for its types only.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from engine.core.anomaly import check_gradients
from engine.core.modes import current
from engine.core.op import raise_in_context

if TYPE_CHECKING:
    from engine.core.value import Value

# on_step(node, g, contributions, totals): after `node` handed its gradient g on, with what its rule gave each
# parent and each parent's gradient after adding it.
OnStep = Callable[[Any, Any, Sequence[Any], list[Any]], None]


def topological_order(root: Value) -> list[Value]:
    """All nodes that `root` depends on, each after its parents, found without recursion (deep graphs are common).

    A depth-first search with an explicit stack. A node is expanded once: it goes back on the stack under
    a `None`, which means "all its parents are done: emit it", with its parents above (pushed last-first,
    so they are visited in input order). Linear time and memory.
    """
    if current().make_forward_node is not None:
        raise RuntimeError("backward(), grad() and the pictures are not supported inside engine.jvp: forward mode "
                           "keeps no graph to walk. Take derivatives outside the function jvp runs")  # fmt: skip
    with _WALKS.turn() as walk:
        order: list[Any] = []
        stack: list[Value | None] = [root]
        while stack:
            node = stack.pop()
            if node is None:  # the node below has had all its parents emitted
                order.append(stack.pop())
            elif node._walk_mark != walk:  # not expanded yet
                node._walk_mark = walk
                parent1, parent2, parents = node._parent1, node._parent2, node._parents  # (see Value)
                if parent1 is None and parents is None:
                    order.append(node)  # a leaf
                    continue
                stack.append(node)
                stack.append(None)
                if parents is not None:
                    for parent in reversed(parents):
                        if parent._walk_mark != walk:
                            stack.append(parent)
                else:
                    if parent2 is not None and parent2._walk_mark != walk:
                        stack.append(parent2)
                    if parent1 is not None and parent1._walk_mark != walk:
                        stack.append(parent1)
        return order


class _Walks:
    """Speed: a walk marks the nodes it expands with its number (`Value._walk_mark`), cheaper than a set of them
    (benchmarks/README.md). So walks take turns under a lock; one started inside another in the same thread
    (from a trace function, say) would overwrite the marks of the walk under way, and is refused."""

    def __init__(self) -> None:
        self.started = 0
        self.under_way = False
        self.lock = threading.RLock()

    @contextmanager
    def turn(self) -> Iterator[int]:
        with self.lock:
            if self.under_way:
                raise RuntimeError("topological_order was called inside a walk of the same thread: it cannot "
                                   "walk two at once")  # fmt: skip
            self.started, self.under_way = self.started + 1, True
            try:
                yield self.started
            finally:
                self.under_way = False


_WALKS: Final = _Walks()


def backward_pass(
    order: Sequence[Any],
    root_grad: Any,
    value_of: Callable[[Any], Any],
    on_step: OnStep | None = None,
    start: Any = None,
) -> dict[Any, Any]:
    """The chain rule: dL/d(node) for every node of `order` that the last node (the root, L) reaches.

    `order` lists nodes parents first, as `topological_order` does; a node is anything with `op` and
    `parents` (a Value, or a node of vectorize's batched graph). `root_grad` is dL/d(root), where the
    walk starts. `value_of(node)` is what a rule gets for a node: its `.data` (floats), the node itself
    (Values: the rules record a graph of their own) or its array. Children come before parents in the
    reversed order, so a node's gradient is complete before its rule hands it on; a parent reached twice
    adds both contributions.
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
            raise_in_context(error, f"derivative of {node.op.name}", parents)
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

    Every walk (this one, `backward()`'s and vectorize's replay) raises this same error for this fault.
    """
    count = len(contributions) if isinstance(contributions, (tuple, list)) else None
    if count != inputs:
        gave = f"{count} gradient(s)" if count is not None else "one gradient, not a tuple or list of them,"
        raise TypeError(f"the derivative rule of {op_name} gave {gave} for {inputs} input(s); "
                        "a rule returns a tuple or list of one gradient per input")  # fmt: skip


def data_of(node: Value) -> float:
    """What a rule gets for a node on the float path (`backward_pass`'s `value_of`)."""
    return node.data


def backward(root: Value) -> None:
    """Set `root`'s grad to 1 and add d(root)/d(leaf) to every leaf's grad.

    Leaves accumulate across calls (as in PyTorch); intermediate nodes hold the
    gradient of the latest call only, so nothing is counted twice. A failed
    call leaves every `.grad` as it was. Inside `detect_anomaly()` every
    gradient a rule hands on is checked.
    """
    order = topological_order(root)
    saved = {node: node.grad for node in order if node.grad != 0.0}  # to undo a failed pass
    for node in order:
        if node.op is not None:
            node.grad = 0.0  # an intermediate node holds this pass's gradient only
    root.grad = (root.grad + 1.0) if root.op is None else 1.0
    try:
        _chain_rule_into_grads(order, check_gradients if current().checking else None)
    except BaseException:
        for node in order:
            node.grad = saved.get(node, 0.0)
        raise


def _chain_rule_into_grads(order: list[Value], check: OnStep | None) -> None:
    """`backward_pass` on floats, each gradient added to its node's `.grad`; `check`: as backward_pass's `on_step`.

    Speed: typed for the compiled core, with no dict, and one- and two-input nodes read from their slots
    (benchmarks/README.md); it raises what `backward_pass` raises (tests/test_rule_faults.py)."""
    for node in reversed(order):
        op = node.op
        if op is None:
            continue
        parent1, parent2 = node._parent1, node._parent2
        try:
            if parent1 is None:  # more than two inputs, in `_parents`
                grads = op.rule(node.grad, node.data, *[p.data for p in node.parents])
            elif parent2 is None:
                grads = op.rule(node.grad, node.data, parent1.data)
            else:
                grads = op.rule(node.grad, node.data, parent1.data, parent2.data)
        except (ArithmeticError, ValueError) as error:
            raise_in_context(error, f"derivative of {op.name}", node.parents)
        if parent1 is None or type(grads) is not tuple or check is not None:  # the general way
            check_count(op.name, grads, len(node.parents))
            totals = []  # each parent's gradient right after its contribution, as in backward_pass
            for parent, g in zip(node.parents, grads):
                parent.grad += g
                totals.append(parent.grad)
            if check is not None:
                check(node, node.grad, grads, totals)
        else:
            check_count(op.name, grads, 1 if parent2 is None else 2)
            parent1.grad += grads[0]
            if parent2 is not None:
                parent2.grad += grads[1]
