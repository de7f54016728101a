"""Recording `fn` once, from the first sample: the scalar graph every later call replays.

While `fn` runs, comparing Values is refused (see `refuse_comparison`): a comparison's outcome would be
recorded once and replayed for every sample and every call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from engine.batch.arguments import Batch
from engine.core.backprop import topological_order
from engine.core.modes import changed
from engine.core.op import raise_with_message
from engine.core.value import Value


@dataclass(frozen=True)
class Recording:
    """fn's graph for one sample.

    arguments: per parameter of fn, the Value it received, or the list of Values (a matrix argument).
    outputs: the Values fn returned (one, or the list); `single` when fn returned a Value, not a list.
    order: every node of the outputs' graphs, parents first, each once.
    shared: the leaves fn reads but does not receive, the parameters and constants: one number for every
        sample, read afresh at every call (an optimizer changes them between calls).
    """

    arguments: list[Value | list[Value]]
    outputs: list[Value]
    single: bool
    order: list[Value]
    shared: list[Value]

    def argument_leaves(self) -> list[tuple[Value, int, int]]:
        """(leaf, argument, row) for every Value fn received: row is its column in a matrix argument, else 0."""
        leaves = []
        for i, received in enumerate(self.arguments):
            for row, leaf in enumerate(received if isinstance(received, list) else [received]):
                leaves.append((leaf, i, row))
        return leaves


def record(fn: Callable[..., Any], batch: Batch, names: Sequence[str], who: str) -> Recording:
    """Run fn once on the first sample, with comparisons of Values refused, and keep its graph.

    Recorded even inside no_grad(). An error of fn's own math at that sample is raised naming it.
    """
    arguments = batch.sample(0, names)
    received = {leaf for a in arguments for leaf in (a if isinstance(a, list) else [a])}
    with changed(recording=True, comparison_guard=_comparison_guard(received, who)):
        try:
            out = fn(*arguments)
        except (ArithmeticError, ValueError) as error:
            raise_at_sample(error, 0, batch.n)
    single = not isinstance(out, (list, tuple))
    outputs = [out] if single else list(out)
    if not outputs:
        raise TypeError(f"{who}: fn returned an empty list; expected a Value or a list of Values")
    for position, value in enumerate(outputs):
        if not isinstance(value, Value):
            where = "fn" if single else f"fn's output {position}"
            raise TypeError(f"{who}: {where} must be a Value, got {type(value).__name__}: {value!r:.60}")
    order = _order_of(outputs)
    shared = [v for v in order if v.op is None and v not in received]
    return Recording(arguments, outputs, single, order, shared)


def raise_at_sample(error: Exception, i: int, n: int) -> NoReturn:
    """Raise `error` again, of the same type, saying which sample of the batch it came from."""
    raise_with_message(error, f"{error} (engine.vectorize: sample {i} of {n})")


def _order_of(outputs: list[Value]) -> list[Value]:
    """The nodes of all outputs' graphs, parents first, each once."""
    seen: set[Value] = set()
    order: list[Value] = []
    for out in outputs:
        for v in topological_order(out):
            if v not in seen:
                seen.add(v)
                order.append(v)
    return order


def _comparison_guard(arguments: set[Value], who: str) -> Callable[[Any, Any, str], None]:
    """What `Value`'s comparisons do while fn is recorded: refuse (see `refuse_comparison`)."""

    def guard(x: Any, other: Any, symbol: str) -> None:
        refuse_comparison(x, other, symbol, arguments, who)

    return guard


def _argument_reached(v: Value, arguments: set[Value]) -> Value | None:
    """An argument that `v` depends on, or None."""
    stack, seen = [v], {v}
    while stack:
        node = stack.pop()
        if node in arguments:
            return node
        for p in node.parents:
            if p not in seen:
                seen.add(p)
                stack.append(p)
    return None


def refuse_comparison(x: Any, other: Any, symbol: str, arguments: set[Value], who: str) -> NoReturn:
    """Raise TypeError: a comparison's outcome would be recorded once and replayed for every sample and call.

    A Value that depends on an argument differs from sample to sample; one that depends only on
    parameters differs from call to call (an optimizer changes them), so either outcome would go stale.
    """
    left, right = (o.label or "a Value" if isinstance(o, Value) else repr(o) for o in (x, other))
    found = next((a for a in (_argument_reached(v, arguments) for v in (x, other) if isinstance(v, Value)) if a), None)
    depends = (
        f"a Value that depends on the argument {found.label}, which differs from sample to sample"
        if found is not None
        else "a Value of the parameters or constants, which an optimizer may change between calls"
    )
    raise TypeError(
        f"{who}: `{left} {symbol} {right}` compares {depends}, while fn is recorded (in fn, or in a derivative "
        "rule run by engine.grad inside it). fn is recorded once, from the first sample, and replayed for every "
        "sample and call, so Python control flow (if, while, max, min, sorted) cannot depend on its Values. Use "
        "the engine's operations, which act per sample: relu, abs, or engine.where(condition, a, b), which gives "
        "a where the condition is nonzero and b elsewhere (for the condition a > b write engine.sign(a - b).relu())."
    )
