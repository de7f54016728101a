"""How operations behave right now, per thread: record the graph or not, check for nan and inf or not.

Every operation on Values reads the current `Mode` once. The usual mode, `PLAIN`,
records the graph and checks nothing; anything else (inside `no_grad()`,
`detect_anomaly()`, `engine.jvp`, or while `engine.vectorize` records a function)
goes through one function in engine/core/value.py, `record_outside_plain_mode`, that reads
the mode's fields.

The mode lives in a `contextvars.ContextVar`, so each thread (and each asyncio
task) has its own, as grad mode is per thread in PyTorch: a `no_grad()`
evaluation in one thread does not stop another thread from recording its graph.
A new thread starts in `PLAIN`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any, Final


@dataclass(frozen=True)
class Mode:
    """What operations do in the current thread.

    recording: operations on Values record graph nodes (off inside `no_grad()`).
    checking: every new value and gradient is checked for nan and inf (inside `detect_anomaly()`).
    pass_name: "forward", or "backward" while derivative rules run on Values (`grad(create_graph=True)`),
        so that an anomaly names the pass it happened in.
    comparison_guard: while `engine.vectorize` records a function, called as `comparison_guard(value, other,
        symbol)` before any comparison of Values; it raises TypeError, since a comparison's outcome would be
        recorded once and replayed for every sample. None otherwise.
    make_forward_node: while `engine.jvp` runs a function, called as `make_forward_node(op, data, operands)` to make
        each new node, carrying its tangent instead of its parents (engine/derivatives/forward.py). None otherwise.
    """

    recording: bool = True
    checking: bool = False
    pass_name: str = "forward"
    comparison_guard: Callable[[Any, Any, str], None] | None = None
    make_forward_node: Callable[[Any, float, tuple[Any, ...]], Any] | None = None


PLAIN: Final = Mode()
_mode: Final[ContextVar[Mode]] = ContextVar("valuegrad_mode", default=PLAIN)

current: Final = _mode.get  # the current thread's Mode; called once per operation


@contextmanager
def changed(**fields: Any) -> Iterator[Mode]:
    """Run the block with some of the current thread's Mode fields changed; restored on exit, also on error."""
    mode = replace(current(), **fields)
    token = _mode.set(mode)
    try:
        yield mode
    finally:
        _mode.reset(token)


@contextmanager
def no_grad() -> Iterator[None]:
    """Compute values without recording the graph (e.g. for evaluation or parameter updates).

    It applies to the current thread only: other threads keep recording.
    """
    with changed(recording=False):
        yield
