"""`engine.vectorize(fn)`: write a function for one sample, run it over a whole batch at numpy speed.

    loss = engine.vectorize(lambda x, label: nn.cross_entropy(model(x), label))
    losses = loss(X, labels)         # numpy array (N,): fn at every sample (X (N, 64), labels (N,))
    mean = loss.backward(X, labels)  # adds d(mean)/d(parameter) to every parameter's .grad

How: the first call records fn's graph once, from the first sample, as the scalar engine always does
(engine/batch/recording.py). That graph is grouped into a graph over arrays, in which a node stands for
a group of scalar nodes and holds a row per member and a column per sample (engine/batch/grouping.py:
a layer's neurons become one matrix product, its activations one numpy call). Every call replays it
(engine/batch/replay.py) with the forward functions and derivative rules of engine/core/ops.py; this
file checks the call and decides what an error means.

Memory: the replay keeps an array row per scalar node of fn's graph for every sample (and, in
`backward`, a gradient of the same size), so it grows as (nodes of one sample's graph) x N floats.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from types import ModuleType
from typing import Any

import numpy as np

from engine.batch import replay
from engine.batch.arguments import (
    Batch,
    argument_names,
    batch_of,
    check_argument_count,
    parameter_names,
    rest_name,
)
from engine.batch.batched_ops import Node
from engine.batch.grouping import Program, lower
from engine.batch.recording import Recording, raise_at_sample, record
from engine.core.grad import grad
from engine.core.modes import changed, current, no_grad
from engine.core.value import Value

REDUCTIONS = ("mean", "sum")


def vectorize(fn: Callable[..., Any]) -> Vectorized:
    """`fn` of one sample's Values, replayed over whole batches; see `Vectorized`.

    `fn` returns a Value or a list of Values. Each argument of a call is, for the whole batch, a 1-d
    array (N,) (fn receives one Value), a 2-d array (N, k) (a list of k Values: `vectorize(model)(X)`)
    or a plain number (one Value, the same for every sample). fn is recorded once, on the first call,
    from the first sample, and that recording is replayed for every sample of every later call, so:

    - Python control flow cannot depend on a sample. While `fn` is recorded,
      comparing a Value that depends on its arguments (`if x > 0:`, `max(a, b)`,
      `sorted(...)`) raises TypeError; use the engine's operations that act per
      sample instead (`relu`, `abs`, `where`, `take`).
    - Reading `.data` inside `fn` sees the first sample only: in
      `lambda x: x * x.data` the factor is the first sample's x for every sample.
    - The leaves `fn` reads but does not receive (a model's parameters,
      constants) are read afresh at every call, so optimizer updates between
      calls are seen; comparing them while `fn` is recorded is refused too, and
      reading their `.data` inside `fn` bakes in the value at recording. A model
      that changes shape after `vectorize` (a new layer, other parameters) needs
      a new `vectorize`.
    - Bad math raises what the scalar path raises for the first failing sample:
      where numpy flags a division by zero, an overflow or an invalid value, or a
      `take` index is not a whole number in range, fn is run on the scalar path
      sample by sample to decide. A legitimate inf (from `+ - *` overflow)
      therefore costs that scalar run at every call.
    """
    return Vectorized(fn)


class Vectorized:
    """A function of one sample's scalar Values, run over batches: calling it evaluates, `backward` differentiates."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"engine.vectorize expects a function of Values, got {type(fn).__name__}: {fn!r:.60}")
        self.fn = fn
        self.names = parameter_names(fn)
        self._rest = rest_name(fn)
        self._recording: Recording | None = None
        self._program: Program | None = None
        self._recording_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"engine.vectorize({getattr(self.fn, '__name__', None) or type(self.fn).__name__})"

    def __call__(self, *arguments: Any) -> np.ndarray:
        """fn at every sample: (N,) for a Value-valued fn, (N, m) for m Values. Records nothing, changes no grad."""
        batch = self._batch(arguments)
        program = self._recorded(batch)
        values = self._forward(program, batch)
        result = replay.outputs(program, values, batch.n)
        assert self._recording is not None
        return result[:, 0] if self._recording.single else result

    def backward(self, *arguments: Any, reduce: str = "mean") -> float:
        """Add to every leaf fn reads (parameters, constants) the derivative of the mean, or sum, of fn over the batch.

        Exactly what `mean([fn(sample) for sample in batch]).backward()` adds on the scalar path
        (`reduce="sum"`: the sum). Returns that mean or sum. A failed call changes no `.grad`.
        """
        if reduce not in REDUCTIONS:
            raise ValueError(f"{self!r}.backward: reduce must be 'mean' or 'sum', got {reduce!r}")
        batch = self._batch(arguments)
        program = self._recorded(batch)
        assert self._recording is not None
        if not self._recording.single:
            raise ValueError(
                f"{self!r}.backward: fn returns {len(self._recording.outputs)} Values, which cannot be reduced to "
                "one number; return one Value (e.g. the loss of a sample) to differentiate"
            )
        values = self._forward(program, batch)
        per_sample = replay.first_output(program, values, batch.n)
        with np.errstate(over="ignore"):  # a sum that overflows is inf, as on the scalar path
            total = float(per_sample.sum()) if reduce == "sum" else float(per_sample.mean())
        gradient = self._backward(program, values, 1.0 / batch.n if reduce == "mean" else 1.0, batch)
        replay.add_shared_gradients(program.shared, gradient)
        return total

    # -- what profiles and exports read ----------------------------------------------------------------------------

    @property
    def recording(self) -> Recording | None:
        """fn's scalar graph for one sample, as recorded by the first call (None before it)."""
        return self._recording

    @property
    def program(self) -> Program | None:
        """The recording lowered to batched nodes, what every call replays (None before the first call)."""
        return self._program

    def prepare(self, *arguments: Any) -> Batch:
        """A call's arguments checked and laid out as the replay reads them (a row per Value, a column per sample)."""
        return self._batch(arguments)

    # -- PyTorch: the program exported, trained there, loaded back (engine/batch/to_torch.py) --------------------

    def to_torch(self, *example: Any, parameters: Iterable[Value]) -> Any:
        """fn's batched program as a `torch.nn.Module` whose trainable parameters are the Values `parameters`.

        `example`: a batch of arguments, as a call takes them, to record fn on if no call has yet.
        `tm(*batch)` gives what `self(*batch)` gives, as a float64 tensor (any batch size; numpy arrays or
        tensors), differentiable by PyTorch; every other leaf fn reads is a constant buffer. `tm.code` shows
        the program. `load_torch(tm)` writes the trained parameters back into the Values. Needs PyTorch.
        """
        to_torch = _to_torch_module(f"{self!r}.to_torch")
        if example:
            program = self._recorded(self._batch(example))
        elif self._program is None:
            raise TypeError(
                f"{self!r}.to_torch: fn has not been recorded yet; pass an example batch, the arguments of a call "
                "(e.g. vf.to_torch(X, labels, parameters=model.parameters())), to record it on"
            )
        else:
            program = self._program
        assert self._recording is not None
        return to_torch.export(self.fn, self.names, self._recording, program, parameters, repr(self))

    def load_torch(self, module: Any) -> None:
        """Write the parameters of a module made by `to_torch` from this fn back into the Values they came from.

        A module of another function, or whose parameters changed shape or are not finite: ValueError
        naming the mismatch, and no Value changes.
        """
        _to_torch_module(f"{self!r}.load_torch").load(module, self.fn, repr(self))

    # -- arguments and recording ---------------------------------------------------------------------------------

    def _argument_names(self, count: int) -> list[str]:
        return argument_names(self.names, self._rest, count)

    def _batch(self, arguments: Sequence[Any]) -> Batch:
        recording = self._recording
        if recording is None:
            check_argument_count(self.fn, len(arguments), self.names, repr(self))
            return batch_of(arguments, self._argument_names(len(arguments)), None, repr(self))
        forms = [len(a) if isinstance(a, list) else None for a in recording.arguments]
        return batch_of(arguments, self._argument_names(len(forms)), forms, repr(self))

    def _recorded(self, batch: Batch) -> Program:
        with self._recording_lock:
            if self._program is None:
                recording = record(self.fn, batch, self._argument_names(len(batch.rows)), repr(self))
                self._program = lower(recording)
                self._recording = recording
            return self._program

    # -- the replay, and what its errors mean ----------------------------------------------------------------------

    def _forward(self, program: Program, batch: Batch) -> replay.Arrays:
        """Every node's array. Where numpy flags a bad value, the scalar path decides (`_raise_first_failing_sample`);
        inside `detect_anomaly()` so does any nan or inf."""
        try:
            with np.errstate(divide="raise", over="raise", invalid="raise"):
                values = replay.forward(program, batch)
        except (ArithmeticError, ValueError):
            self._raise_first_failing_sample(batch, with_gradients=False)
            with np.errstate(all="ignore"):  # no sample fails on the scalar path: its floats give these inf, nan too
                values = replay.forward(program, batch)
        if current().checking:
            self._check_finite(program, program.computing(), values, batch, "forward")
        return values

    def _backward(self, program: Program, values: replay.Arrays, scale: float, batch: Batch) -> np.ndarray:
        try:
            with np.errstate(divide="raise", over="raise", invalid="raise"):
                gradient, grads = replay.backward(program, values, scale, batch.n)
        except (ArithmeticError, ValueError):
            self._raise_first_failing_sample(batch, with_gradients=True)
            with np.errstate(all="ignore"):
                gradient, grads = replay.backward(program, values, scale, batch.n)
        if current().checking:
            self._check_finite(program, program.computing(), grads, batch, "backward")
            found = replay.first_non_finite_entry(gradient)
            if found is not None:  # the sum over the batch can overflow where no sample does
                self._raise_first_failing_sample(batch, with_gradients=True)
                leaf = program.shared[found]
                raise FloatingPointError(
                    f"the gradient of {leaf.describe()}, summed over the batch, is {gradient[found]!r} "
                    "in the backward pass (detect_anomaly, engine.vectorize)"
                )
        return gradient

    def _check_finite(
        self, program: Program, nodes: list[Node], arrays: replay.Arrays, batch: Batch, pass_name: str
    ) -> None:
        """Inside detect_anomaly(): a nan or inf in `nodes` raises the scalar path's error for the first such sample."""
        found = replay.first_non_finite(nodes, arrays)
        if found is None:
            return
        self._raise_first_failing_sample(batch, with_gradients=pass_name == "backward")
        node, place = found
        kind = "values" if pass_name == "forward" else "gradients"
        sample = f"sample {place[-1]} of {batch.n}" if node.batched else "every sample"
        value = np.asarray(arrays[node])[place]
        raise FloatingPointError(
            f"the {kind} of the {node.kind} nodes are, at {sample}, {value!r} in the {pass_name} pass "
            "(detect_anomaly, engine.vectorize)"
        )

    def _raise_first_failing_sample(self, batch: Batch, with_gradients: bool) -> None:
        """Evaluate fn on the scalar path one sample at a time and raise the first sample's error, if any.

        Called when the replay reports a problem: the scalar path says whether it is an error (log(0),
        1/0, exp(1000), a take index out of range: ValueError, ZeroDivisionError, OverflowError) or a value
        Python floats give too (1e200 * 1e200 = inf). Returns when no sample fails.
        """
        assert self._recording is not None
        shared = self._recording.shared
        names = self._argument_names(len(batch.rows))
        for i in range(batch.n):
            arguments = batch.sample(i, names)
            try:
                if with_gradients:
                    with changed(recording=True):  # the scalar path records, also when called inside no_grad()
                        grad(self.fn(*arguments), shared)
                else:
                    with no_grad():
                        self.fn(*arguments)
            except (ArithmeticError, ValueError) as error:
                raise_at_sample(error, i, batch.n)


def _to_torch_module(who: str) -> ModuleType:
    """engine/batch/to_torch.py, which imports PyTorch; without PyTorch, an ImportError saying how to install it."""
    try:
        from engine.batch import to_torch
    except ModuleNotFoundError as error:
        if error.name != "torch":
            raise
        raise ImportError(
            f"{who} needs PyTorch, which is not installed. In this project's .venv, `make setup` installs the "
            "pinned torch==2.13.0 (a CPU build); elsewhere a CPU-only build is enough and much smaller: "
            "`pip install torch --index-url https://download.pytorch.org/whl/cpu`. valuegrad does not depend on it."
        ) from error
    return to_torch
