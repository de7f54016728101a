"""`engine.vectorize(fn)`: write a function for one sample, run it over a whole batch at numpy speed.

    per_sample = engine.vectorize(lambda x1, x2, y: (model([x1, x2]) - y) ** 2)
    losses = per_sample(X[:, 0], X[:, 1], Y)          # numpy array (N,): fn at every sample
    loss = per_sample.backward(X[:, 0], X[:, 1], Y)   # adds d(mean)/d(parameter) to every parameter's .grad

How: the first call records fn's graph once, from the first sample, as the
scalar engine always does. That graph is then lowered to a graph over arrays,
in which a node stands for a group of scalar nodes and holds one row per member
and one column per sample:

- scalar nodes of the same operation whose inputs are ready at the same depth
  become one group, evaluated by one call of the operation's numpy forward on
  stacked operands (all 16 relus of a layer: one `np.maximum`);
- `linear` nodes that read the same inputs with parameters as weights (one
  layer of an nn model) become one matrix product, `linear_layer` in
  engine/core/ops.py;
- a `take` node gathers a group's operands from the rows of the nodes that
  made them (or from the arguments, or from the parameters and constants).

Every call replays the forward functions of engine/core/ops.py on that graph, and
`backward` runs the engine's one chain-rule walk, `backward_pass`, over it with
the same derivative rules on arrays. Nothing of any operation's mathematics is
restated here: this file only moves rows around.

The tape holds one array row per scalar node of fn's graph for every sample
(plus the gathered copies of operands and, in `backward`, one gradient of the
same size), so its memory grows as (nodes of one sample's graph) x N floats.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import inspect
import platform
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NoReturn

import numpy as np

from engine.core.backprop import backward_pass, check_count, grad, topological_order
from engine.core.modes import changed, current, no_grad
from engine.core.ops import linear, linear_layer, linear_layer_rule
from engine.core.value import Op, Value, _raise_with_message

REDUCTIONS = ("mean", "sum")
# glibc's mallopt parameters (malloc.h), and the values `_keep_freed_memory_for_reuse` sets.
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_FREED_BYTES, HEAP_ARRAYS_UP_TO = 64 << 20, 32 << 20


def vectorize(fn: Callable[..., Any]) -> Vectorized:
    """`fn` of k scalar Values, replayed over whole batches; see `Vectorized`.

    `fn` takes k Values and returns a Value or a list of Values. It is recorded
    once, on the first call, from the first sample, and that recording is
    replayed for every sample of every later call, so:

    - Python control flow cannot depend on a sample. While `fn` is recorded,
      comparing a Value that depends on its arguments (`if x > 0:`, `max(a, b)`,
      `sorted(...)`) raises TypeError; use the engine's operations that act per
      sample instead (`relu`, `abs`, `where`).
    - Reading `.data` inside `fn` sees the first sample only: in
      `lambda x: x * x.data` the factor is the first sample's x for every sample.
    - The leaves `fn` reads but does not receive (a model's parameters,
      constants) are read afresh at every call, so optimizer updates between
      calls are seen; comparing them while `fn` is recorded is refused too, and
      reading their `.data` inside `fn` bakes in the value at recording. A model
      that changes shape after `vectorize` (a new layer, other parameters) needs
      a new `vectorize`.
    - Bad math raises what the scalar path raises for the first failing sample:
      where numpy flags a division by zero, an overflow or an invalid value, fn is
      run on the scalar path sample by sample to decide. A legitimate inf (from
      `+ - *` overflow) therefore costs that scalar run at every call.
    - On glibc the first recording makes the process keep freed memory for the
      next replay instead of returning it to the system (up to 64 MB; see
      `_keep_freed_memory_for_reuse`): without it every replay re-faults its
      arrays' pages, which doubled the replay's time here.
    """
    return Vectorized(fn)


class Vectorized:
    """A function of one sample's scalar Values, run over batches: calling it evaluates, `backward` differentiates."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"engine.vectorize expects a function of Values, got {type(fn).__name__}: {fn!r:.60}")
        self.fn = fn
        self.names = _parameter_names(fn)
        self._tape: _Tape | None = None

    def __repr__(self) -> str:
        return f"engine.vectorize({getattr(self.fn, '__name__', self.fn)})"

    def __call__(self, *columns: Any) -> np.ndarray:
        """fn at every sample: shape (N,) for a Value-valued fn, (N, m) for m Values. Records nothing, changes no grad.

        Each argument is a one-dimensional array (or list) of N numbers, or a plain number for every sample.
        """
        batch = self._batch(columns)
        tape = self._recorded(batch)
        values = tape.forward(batch, self)
        result = np.column_stack([tape.output_column(values, i, batch.shape[1]) for i in range(len(tape.outputs))])
        return result[:, 0] if tape.single else result

    def backward(self, *columns: Any, reduce: str = "mean") -> float:
        """Add to every leaf fn reads (parameters, constants) the derivative of the mean, or sum, of fn over the batch.

        Exactly what `mean([fn(sample) for sample in batch]).backward()` adds on the scalar path
        (`reduce="sum"`: the sum). Returns that mean or sum. A failed call changes no `.grad`.
        """
        if reduce not in REDUCTIONS:
            raise ValueError(f"{self!r}.backward: reduce must be 'mean' or 'sum', got {reduce!r}")
        batch = self._batch(columns)
        tape = self._recorded(batch)
        if not tape.single:
            raise ValueError(
                f"{self!r}.backward: fn returns {len(tape.outputs)} Values, which cannot be reduced to one number; "
                "return one Value (e.g. the loss of a sample) to differentiate"
            )
        values = tape.forward(batch, self)
        n = batch.shape[1]
        per_sample = tape.output_column(values, 0, n)
        with np.errstate(over="ignore"):  # a sum that overflows is inf, as on the scalar path
            total = float(per_sample.sum()) if reduce == "sum" else float(per_sample.mean())
        gradients = tape.backward(values, 1.0 / n if reduce == "mean" else 1.0, batch, self)
        for leaf, g in zip(tape.free, gradients.tolist()):
            leaf.grad += g
        return total

    # -- arguments and recording -------------------------------------------------------------------------

    def _batch(self, columns: Sequence[Any]) -> np.ndarray:
        """The arguments as one float array (k, N), checked: one row per argument, one column per sample."""
        expected = len(self._tape.arguments) if self._tape is not None else None
        if expected is not None and len(columns) != expected:
            raise TypeError(f"{self!r} was recorded with {expected} argument(s); got {len(columns)}")
        if not columns:
            raise TypeError(f"{self!r} needs at least one argument: an array of samples for each input of fn")
        rows: list[np.ndarray | float] = []
        lengths: dict[str, int] = {}
        for i, column in enumerate(columns):
            name = self._name(i)
            if isinstance(column, Value):
                raise TypeError(f"{self!r}: argument {name} is a Value; pass numbers (an array of samples)")
            if isinstance(column, (str, bytes)):
                raise TypeError(
                    f"{self!r}: argument {name} must be numbers, got {type(column).__name__}: {column!r:.40}"
                )
            array = np.asarray(column)
            if array.dtype.kind not in "biuf":
                raise TypeError(
                    f"{self!r}: argument {name} must hold real numbers, got an array of {array.dtype} ({column!r:.60})"
                )
            if array.ndim == 0:
                rows.append(float(array))
                continue
            if array.ndim != 1:
                raise ValueError(
                    f"{self!r}: argument {name} must be one-dimensional (a number per sample), got shape {array.shape}"
                )
            if len(array) == 0:
                raise ValueError(f"{self!r}: argument {name} is empty; need at least one sample")
            lengths[name] = len(array)
            rows.append(array)
        if len(set(lengths.values())) > 1:
            shown = ", ".join(f"{name}: {n}" for name, n in lengths.items())
            raise ValueError(f"{self!r}: arguments must hold the same number of samples, got {shown}")
        n = next(iter(lengths.values()), 1)
        batch = np.empty((len(rows), n))
        for i, row in enumerate(rows):
            batch[i] = row
        return batch

    def _name(self, i: int) -> str:
        return self.names[i] if i < len(self.names) else f"arg{i + 1}"

    def _recorded(self, batch: np.ndarray) -> _Tape:
        if self._tape is None:
            _keep_freed_memory_for_reuse()
            arguments = [Value(float(x), label=self._name(i)) for i, x in enumerate(batch[:, 0])]
            # Recorded even inside no_grad(); comparisons of Values are refused (see _refuse_comparison).
            with changed(recording=True, comparison_guard=_comparison_guard(arguments, self)):
                try:
                    out = self.fn(*arguments)
                except (ArithmeticError, ValueError) as error:
                    _raise_at_sample(error, 0, batch.shape[1])
            outputs = list(out) if isinstance(out, (list, tuple)) else [out]
            for position, value in enumerate(outputs):
                if not isinstance(value, Value):
                    where = "fn" if not isinstance(out, (list, tuple)) else f"fn's output {position}"
                    raise TypeError(f"{self!r}: {where} must be a Value, got {type(value).__name__}: {value!r:.60}")
            if not outputs:
                raise TypeError(f"{self!r}: fn returned an empty list; expected a Value or a list of Values")
            self._tape = _Tape(arguments, outputs, single=not isinstance(out, (list, tuple)))
        return self._tape

    # -- the scalar path, asked when numpy reports a problem ------------------------------------------------

    def _raise_first_failing_sample(self, batch: np.ndarray, with_gradients: bool) -> None:
        """Evaluate fn on the scalar path one sample at a time and raise the first sample's error, if any.

        Called when numpy flags a division by zero, an overflow or an invalid
        value: the scalar path says whether that is an error (log(0), 1/0,
        exp(1000): ValueError, ZeroDivisionError, OverflowError) or a value
        Python floats give too (1e200 * 1e200 = inf). Returns when no sample fails.
        """
        assert self._tape is not None
        free = self._tape.free
        for i in range(batch.shape[1]):
            arguments = [Value(float(x), label=self._name(j)) for j, x in enumerate(batch[:, i])]
            try:
                if with_gradients:
                    with changed(recording=True):  # the scalar path records, also when called inside no_grad()
                        grad(self.fn(*arguments), free)
                else:
                    with no_grad():
                        self.fn(*arguments)
            except (ArithmeticError, ValueError) as error:
                _raise_at_sample(error, i, batch.shape[1])


class _Node:
    """A node of the batched graph: an operation on arrays and the nodes it reads (what `backward_pass` walks)."""

    __slots__ = ("op", "parents", "members", "batched")

    def __init__(self, op: Any, parents: tuple[_Node, ...], members: Sequence[Value] = (), batched: bool = True):
        self.op = op
        self.parents = parents
        self.members = list(members)  # the scalar nodes of fn's graph it computes, one row each
        self.batched = batched  # one column per sample; False: one column for all (depends on no argument)

    def __repr__(self) -> str:
        return f"<{self.op.name if self.op is not None else 'input'} of {len(self.members)}>"


class _Take:
    """Gathers rows of a node into an array (a, b, width): `rows` is an (a, b) array of row numbers.

    Rows that follow each other (a layer reading the whole layer before it, or a run of arguments) are read
    as a view, without a copy.
    """

    name = "take"

    def __init__(self, rows: np.ndarray) -> None:
        self.rows = rows
        flat = rows.ravel()
        start = int(flat[0]) if len(flat) else 0
        consecutive = np.array_equal(flat, np.arange(start, start + len(flat)))
        self.run = slice(start, start + len(flat)) if consecutive else None
        self.unique = len(np.unique(flat)) == len(flat)

    def forward(self, source: np.ndarray) -> np.ndarray:
        if self.run is not None:
            return source[self.run].reshape(*self.rows.shape, source.shape[1])
        return source[self.rows]

    def rule(self, g: np.ndarray, out: np.ndarray, source: np.ndarray) -> tuple[np.ndarray]:
        if self.run is not None and self.run.stop - self.run.start == len(source):
            return (g.reshape(source.shape),)
        total = np.zeros(source.shape)
        if self.run is not None:
            total[self.run] = g.reshape(-1, source.shape[1])
        elif self.unique:
            total[self.rows] = g
        else:
            np.add.at(total, self.rows, g)
        return (total,)


class _Group:
    """A table operation applied to a group of scalar nodes at once, each input position a slice of a take.

    `slots[p]` = (which parent, which row of it) holds the operands at input position p for all members.
    """

    def __init__(self, op: Op, slots: list[tuple[int, int]], batched: list[bool], members: int) -> None:
        self.op = op
        self.name = op.name
        self.slots = slots
        self.members = members
        # A parent with one column per sample gives the width of the result; none: one column for every sample.
        self.batched_parent = batched.index(True) if True in batched else None

    def operands(self, parents: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [parents[j][q] for j, q in self.slots]

    def forward(self, *parents: np.ndarray) -> np.ndarray:
        out = np.asarray(self.op.array_forward(*self.operands(parents)), dtype=float)
        width = parents[self.batched_parent].shape[-1] if self.batched_parent is not None else 1
        if out.shape != (self.members, width):
            out = np.broadcast_to(out, (self.members, width))
        return out

    def rule(self, g: np.ndarray, out: np.ndarray, *parents: np.ndarray) -> list[np.ndarray]:
        contributions = self.op.rule(g, out, *self.operands(parents))
        check_count(self.op.name, contributions, len(self.slots))
        per_parent: list[list[np.ndarray]] = [[] for _ in parents]
        for (j, _), c in zip(self.slots, contributions):
            per_parent[j].append(_fit(c, (self.members, parents[j].shape[-1])))
        return [np.stack(cs) if len(cs) > 1 else cs[0][None] for cs in per_parent]


class _Layer:
    """`linear_layer` and its rule (engine/core/ops.py) on takes: weights (G, n, 1), inputs (1, n, N),
    biases (1, G, 1)."""

    name = "linear layer"

    def forward(self, weights: np.ndarray, inputs: np.ndarray, biases: np.ndarray) -> np.ndarray:
        return linear_layer(weights[:, :, 0], inputs[0], biases[0])

    def rule(self, g: np.ndarray, out: np.ndarray, weights: np.ndarray, inputs: np.ndarray, biases: np.ndarray) -> Any:
        d_weights, d_inputs, d_biases = linear_layer_rule(g, out, weights[:, :, 0], inputs[0], biases[0])
        return d_weights[:, :, None], d_inputs[None], d_biases[None]


def _fit(c: Any, shape: tuple[int, int]) -> np.ndarray:
    """A rule's contribution in the shape of its operand: summed over the batch when the operand is one number."""
    c = np.asarray(c, dtype=float)
    if c.shape == shape:
        return c
    if c.ndim == 2 and c.shape[1] > shape[1]:
        c = c.sum(axis=1, keepdims=True)
    return np.broadcast_to(c, shape)


class _Tape:
    """fn's graph, recorded once, lowered to groups over arrays (see the module docstring)."""

    def __init__(self, arguments: list[Value], outputs: list[Value], single: bool) -> None:
        self.arguments = arguments
        self.outputs = outputs
        self.single = single
        order = _order_of(outputs)
        argument_rows = {v: i for i, v in enumerate(arguments)}
        self.free = [v for v in order if v.op is None and v not in argument_rows]  # parameters and constants
        self.argument_values = _Node(None, (), arguments, batched=True)
        self.free_values = _Node(None, (), self.free, batched=False)
        # Where each scalar node's values live: (node of the batched graph, row).
        self.place: dict[Value, tuple[_Node, int]] = {v: (self.argument_values, i) for v, i in argument_rows.items()}
        self.place.update({v: (self.free_values, i) for i, v in enumerate(self.free)})
        self.nodes: list[_Node] = [self.argument_values, self.free_values]
        self._takes: dict[tuple[int, bytes, tuple[int, ...]], _Node] = {}
        levels: dict[Value, int] = {}
        by_level: dict[int, list[Value]] = {}
        for v in order:
            if v.op is not None:
                levels[v] = 1 + max(levels.get(p, 0) for p in v.parents)
                by_level.setdefault(levels[v], []).append(v)
        for level in sorted(by_level):
            buckets: dict[Any, list[Value]] = {}
            for v in by_level[level]:
                buckets.setdefault(self._group_key(v), []).append(v)
            for key, members in buckets.items():
                self._add_group(key, members)
        self.output_takes = [self._take(self.place[v][0], [[self.place[v][1]]]) for v in outputs]
        # What backward walks: every node up to the (single) output, as the scalar path evaluates every rule,
        # but for the leaves and the takes of arguments, which have no rule that could fail and no gradient to give.
        root = self.output_takes[0]
        leaves = (self.argument_values, self.free_values)
        walked = [n for n in self.nodes[: self.nodes.index(root)] if n not in leaves]
        self.backward_order = [n for n in walked if n.parents[0] is not self.argument_values] + [root]

    # -- lowering ---------------------------------------------------------------------------------------------

    def _group_key(self, v: Value) -> Any:
        parents = v.parents
        if v.op is linear and self._is_layer_neuron(v):
            n = len(parents) // 2
            return ("layer", parents[n:-1])
        return (v.op, tuple(self.place[p][0] for p in parents))

    def _is_layer_neuron(self, v: Value) -> bool:
        """A linear node whose weights and bias are parameters or constants and whose inputs come from one node."""
        parents = v.parents
        n = len(parents) // 2
        weights_and_bias = (*parents[:n], parents[-1])
        if any(self.place[p][0] is not self.free_values for p in weights_and_bias):
            return False
        return len({id(self.place[p][0]) for p in parents[n:-1]}) == 1

    def _add_group(self, key: Any, members: list[Value]) -> None:
        if key[0] == "layer":
            node = self._layer(members)
        else:
            node = self._elementwise(members)
        for row, v in enumerate(members):
            self.place[v] = (node, row)
        self.nodes.append(node)

    def _layer(self, members: list[Value]) -> _Node:
        n = len(members[0].parents) // 2
        weights = self._take(self.free_values, [[self.place[p][1] for p in v.parents[:n]] for v in members])
        inputs_node = self.place[members[0].parents[n]][0]
        inputs = self._take(inputs_node, [[self.place[p][1] for p in members[0].parents[n:-1]]])
        biases = self._take(self.free_values, [[self.place[v.parents[-1]][1] for v in members]])
        return _Node(_Layer(), (weights, inputs, biases), members, batched=inputs_node.batched)

    def _elementwise(self, members: list[Value]) -> _Node:
        first = members[0]
        sources: list[_Node] = []
        slots: list[tuple[int, int]] = []
        rows_of: list[list[list[int]]] = []
        for position, parent in enumerate(first.parents):
            source = self.place[parent][0]
            j = next((i for i, s in enumerate(sources) if s is source), None)
            if j is None:
                j = len(sources)
                sources.append(source)
                rows_of.append([])
            slots.append((j, len(rows_of[j])))
            rows_of[j].append([self.place[v.parents[position]][1] for v in members])
        takes = tuple(self._take(s, rows) for s, rows in zip(sources, rows_of))
        assert first.op is not None
        op = _Group(first.op, slots, [s.batched for s in sources], len(members))
        return _Node(op, takes, members, batched=any(s.batched for s in sources))

    def _take(self, node: _Node, rows: list[list[int]]) -> _Node:
        """The take node gathering `rows` of `node` (one take per distinct gather, shared by its readers)."""
        array = np.asarray(rows, dtype=np.intp)
        key = (id(node), array.tobytes(), array.shape)
        take = self._takes.get(key)
        if take is None:
            take = _Node(_Take(array), (node,), (), batched=node.batched)
            self._takes[key] = take
            self.nodes.append(take)
        return take

    # -- replay ---------------------------------------------------------------------------------------------------

    def forward(self, batch: np.ndarray, owner: Vectorized) -> dict[_Node, np.ndarray]:
        """Every node's array for this batch. Where numpy flags a bad value, the scalar path decides (see
        `Vectorized._raise_first_failing_sample`); inside `detect_anomaly()` so does any nan or inf."""
        try:
            with np.errstate(divide="raise", over="raise", invalid="raise"):
                values = self._forward(batch)
        except (ArithmeticError, ValueError):
            owner._raise_first_failing_sample(batch, with_gradients=False)
            with np.errstate(all="ignore"):  # no sample fails on the scalar path: its floats give these inf, nan too
                values = self._forward(batch)
        if current().checking:
            self._check_finite(self._groups(self.nodes), values, batch, owner, "forward")
        return values

    def _forward(self, batch: np.ndarray) -> dict[_Node, np.ndarray]:
        scalars = np.fromiter((v.data for v in self.free), dtype=float, count=len(self.free))
        values = {self.argument_values: batch, self.free_values: scalars.reshape(-1, 1)}
        for node in self.nodes[2:]:
            values[node] = node.op.forward(*[values[p] for p in node.parents])
        return values

    def output_column(self, values: dict[_Node, np.ndarray], i: int, n: int) -> np.ndarray:
        return np.broadcast_to(values[self.output_takes[i]][0, 0], (n,))

    def backward(
        self, values: dict[_Node, np.ndarray], scale: float, batch: np.ndarray, owner: Vectorized
    ) -> np.ndarray:
        """d(scale * sum over the batch of fn)/d(each free leaf), by `backward_pass` over the batched graph."""
        order = self.backward_order
        width = values[order[-1]].shape[-1]
        root_grad = np.full((1, 1, width), scale * (batch.shape[1] if width == 1 else 1.0))
        try:
            with np.errstate(divide="raise", over="raise", invalid="raise"):
                grads = backward_pass(order, root_grad, values.__getitem__)
        except (ArithmeticError, ValueError):
            owner._raise_first_failing_sample(batch, with_gradients=True)
            with np.errstate(all="ignore"):
                grads = backward_pass(order, root_grad, values.__getitem__)
        gradients = np.asarray(grads.get(self.free_values, np.zeros((len(self.free), 1))), dtype=float)
        if current().checking:
            grads[self.free_values] = gradients  # the sum over the batch can overflow where no sample does
            walked = self._groups(n for n in order if n in grads)
            self._check_finite([*walked, self.free_values], grads, batch, owner, "backward")
        return gradients[:, 0]

    def _check_finite(
        self, nodes: list[_Node], arrays: dict[_Node, Any], batch: np.ndarray, owner: Vectorized, pass_name: str
    ) -> None:
        """Inside detect_anomaly(): a nan or inf in `nodes` raises the scalar path's error for the first such sample."""
        for node in nodes:
            array = np.asarray(arrays[node])
            if np.isfinite(array).all():
                continue
            owner._raise_first_failing_sample(batch, with_gradients=pass_name == "backward")
            place = tuple(np.argwhere(~np.isfinite(array))[0])
            if node is self.free_values:
                where = f"the gradient of {self.free[place[0]].describe()}, summed over the batch, is"
            else:
                kind = "values" if pass_name == "forward" else "gradients"
                sample = f"sample {int(place[-1])} of {batch.shape[1]}" if node.batched else "every sample"
                where = f"the {kind} of the {node.op.name} nodes are, at {sample},"
            raise FloatingPointError(
                f"{where} {array[place]!r} in the {pass_name} pass (detect_anomaly, engine.vectorize)"
            )

    @staticmethod
    def _groups(nodes: Iterable[_Node]) -> list[_Node]:
        """The nodes that compute (groups and layers); a take only moves rows, checked where they come from."""
        return [node for node in nodes if isinstance(node.op, (_Group, _Layer))]


_memory_kept = False


def _keep_freed_memory_for_reuse() -> None:
    """On glibc, keep freed memory in the process for the next replay instead of returning it to the system.

    A replay allocates and frees the same arrays of a few hundred kB every step. By default glibc serves
    arrays above 128 kB with fresh mmaps and trims the heap once the free memory at its top passes twice
    the largest array freed so far, so every step starts on pages the kernel must fault in again (about
    1,000 page faults per digits step here, which doubled its time). Serving arrays up to 32 MB from the
    heap and trimming only past 64 MB free keeps those pages: the process holds up to 64 MB more than it
    uses. Done once, on the first recording; elsewhere than glibc (macOS, musl) nothing is changed.
    """
    global _memory_kept
    if _memory_kept or platform.libc_ver()[0] != "glibc":
        return
    _memory_kept = True
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt(M_MMAP_THRESHOLD, HEAP_ARRAYS_UP_TO)
        libc.mallopt(M_TRIM_THRESHOLD, KEEP_FREED_BYTES)
    except (OSError, AttributeError):  # no libc to load, or no mallopt in it: the default allocator stays
        pass


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


def _parameter_names(fn: Callable[..., Any]) -> list[str]:
    """fn's positional parameter names, for messages and labels (x1, x2, y); [] when they cannot be read."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]


def _comparison_guard(arguments: list[Value], owner: Vectorized) -> Callable[[Any, Any, str], None]:
    """What `Value`'s comparisons do while fn is recorded: refuse (see `_refuse_comparison`)."""
    argument_set = set(arguments)

    def guard(x: Any, other: Any, symbol: str) -> None:
        _refuse_comparison(x, other, symbol, argument_set, owner)

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


def _refuse_comparison(x: Any, other: Any, symbol: str, arguments: set[Value], owner: Vectorized) -> NoReturn:
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
        f"{owner!r}: `{left} {symbol} {right}` compares {depends}, while fn is recorded (in fn, or in a derivative "
        "rule run by engine.grad inside it). fn is recorded once, from the first sample, and replayed for every "
        "sample and call, so Python control flow (if, while, max, min, sorted) cannot depend on its Values. Use "
        "the engine's operations, which act per sample: relu, abs, or engine.where(condition, a, b), which gives "
        "a where the condition is nonzero and b elsewhere (for the condition a > b write engine.sign(a - b).relu())."
    )


def _raise_at_sample(error: Exception, i: int, n: int) -> NoReturn:
    """Raise `error` again, of the same type, saying which sample of the batch it came from."""
    _raise_with_message(error, f"{error} (engine.vectorize: sample {i} of {n})")
