"""The `Value` node and the machinery that records operations on it.

A `Value` holds a float (`data`), the gradient of the last `backward()` with
respect to it (`grad`), the operation that produced it (`op`) and that
operation's inputs (`parents`). Leaves (inputs, parameters, constants) have no
op and no parents. `label`, `scope` and `note` are for people: the pictures
show them, and no computation reads them.

This file knows no operation's mathematics. An `Op` is one row of the table in
engine/core/ops.py: a forward function and a derivative rule. Recording an Op on
Values makes a node. Value's arithmetic operators and functions (`+`, `exp`,
...) are written in its class and record rows of that table, which
engine/core/ops.py puts into `OPERATIONS` (at the bottom of this file), as
engine/core/backprop.py puts the walk `backward` runs: modules import only
downwards (modes, numbers, value, ops, anomaly, backprop), and the layer above
fills in what the node calls, as JAX fills its rule registries. (Written in the
class, the methods also compile: setup.py compiles the core with mypyc, and a
compiled class cannot be given methods later.)

Nodes never refer to themselves (no closures), so a graph has no reference
cycles and is freed by reference counting alone; `__slots__` keeps each node
small.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final, NoReturn, SupportsFloat, Union

import numpy as np

from engine.core.modes import PLAIN, current
from engine.core.numbers import as_float

# A Value, or a real number (int, float, numpy real scalar). Checked by the engine itself, which names what
# it got, so the compiled build (which checks declared types on its own) is told nothing narrower.
Operand = Union["Value", SupportsFloat]
MAX_OPERANDS_SHOWN = 6  # an error message names this many operands of an operation, then counts the rest

# Derivative rule: (g, out, *inputs) -> one gradient per input, where g is
# dL/d(out). Inputs and out are floats, Values or numpy arrays alike.
Rule = Callable[..., Sequence[Any]]


class Value:
    """A scalar that remembers how it was computed, so gradients can flow back to it."""

    # A node keeps one or two parents in slots of its own and only a node with more
    # inputs (the fused `linear`) keeps a tuple: one object per node instead of two
    # for Python's cyclic garbage collector to track while a graph is built.
    __slots__ = ("data", "grad", "op", "_first", "_second", "_more", "label", "_about", "_walk")

    def __init__(
        self,
        data: SupportsFloat,
        label: object = "",
        _op: Op | None = None,
        _first: Value | None = None,
        _second: Value | None = None,
        _more: tuple[Value, ...] | None = None,
    ) -> None:
        """A leaf from a real number. The arguments after `label` are the recording machinery's (see `Op`)."""
        self.data: float = data if type(data) is float else as_float(data)
        self.grad: float = 0.0
        self.op = _op
        self._first = _first
        self._second = _second
        self._more = _more
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__}")
        self.label = label
        self._about: tuple[str, str] | None = None  # (scope, note), see below
        self._walk = 0  # the number of the last `topological_order` that reached it (engine/core/backprop.py)

    # Arithmetic and functions: each is a row of the operation table, engine/core/ops.py, which puts its rows
    # into `OPERATIONS` (below) for these methods to record.
    def __add__(self, other: Operand) -> Value:
        return OPERATIONS.add.record2(self, other)

    def __radd__(self, other: Operand) -> Value:
        return OPERATIONS.add.record2(other, self)

    def __sub__(self, other: Operand) -> Value:
        return OPERATIONS.sub.record2(self, other)

    def __rsub__(self, other: Operand) -> Value:
        return OPERATIONS.sub.record2(other, self)

    def __mul__(self, other: Operand) -> Value:
        return OPERATIONS.mul.record2(self, other)

    def __rmul__(self, other: Operand) -> Value:
        return OPERATIONS.mul.record2(other, self)

    def __truediv__(self, other: Operand) -> Value:
        return OPERATIONS.div.record2(self, other)

    def __rtruediv__(self, other: Operand) -> Value:
        return OPERATIONS.div.record2(other, self)

    def __pow__(self, exponent: Operand) -> Value:
        """x ** y for a Value exponent (the operation `**`); x ** c for a number c (the operation `**c`)."""
        if isinstance(exponent, Value):
            return OPERATIONS.pow.record2(self, exponent)
        return OPERATIONS.power(exponent).record1(self)

    def __rpow__(self, base: Operand) -> Value:
        return OPERATIONS.pow.record2(base, self)

    def __neg__(self) -> Value:
        return OPERATIONS.neg.record1(self)

    def __abs__(self) -> Value:
        return OPERATIONS.abs.record1(self)

    def abs(self) -> Value:
        return OPERATIONS.abs.record1(self)

    def exp(self) -> Value:
        return OPERATIONS.exp.record1(self)

    def log(self) -> Value:
        return OPERATIONS.log.record1(self)

    def sqrt(self) -> Value:
        return OPERATIONS.sqrt.record1(self)

    def sin(self) -> Value:
        return OPERATIONS.sin.record1(self)

    def cos(self) -> Value:
        return OPERATIONS.cos.record1(self)

    def tanh(self) -> Value:
        return OPERATIONS.tanh.record1(self)

    def sigmoid(self) -> Value:
        return OPERATIONS.sigmoid.record1(self)

    def relu(self) -> Value:
        return OPERATIONS.relu.record1(self)

    def softplus(self) -> Value:
        return OPERATIONS.softplus.record1(self)

    def backward(self) -> None:
        """Set this Value's grad to 1 and add d(self)/d(leaf) to every leaf's grad (engine/core/backprop.py)."""
        OPERATIONS.backward(self)

    # A node made by an nn module knows the module's dotted name (`scope`, e.g. "layer1.neuron3": diagrams draw
    # a cluster per module) and may carry a note (text `explain` and `explore` show at the steps that reach it,
    # e.g. the seed's formula for a parameter). Most nodes have neither, so both live in one slot: a smaller node
    # is faster to record and to collect. A scope without a note is one tuple shared by all the nodes that have it.
    @property
    def scope(self) -> str:
        """The dotted name of the nn module that made this Value ("" if none)."""
        about = self._about
        return about[0] if about is not None else ""

    @scope.setter
    def scope(self, scope: str) -> None:
        self._about = _about(scope, self.note)

    @property
    def note(self) -> str:
        """Text that `explain` and `explore` show at the steps that reach this Value ("" if none)."""
        about = self._about
        return about[1] if about is not None else ""

    @note.setter
    def note(self, note: str) -> None:
        self._about = _about(self.scope, note)

    def __repr__(self) -> str:
        name = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{name})"

    def describe(self) -> str:
        """Short name for messages: `w1 = 0.5` or `0.5` when unlabelled."""
        return f"{self.label} = {self.data!r}" if self.label else repr(self.data)

    # Comparisons look at data only (like `float`); equality stays identity so
    # Values can be dict keys and set members, as in micrograd.
    def __lt__(self, other: Operand) -> bool:
        return self.data < _compared(self, other, "<")

    def __le__(self, other: Operand) -> bool:
        return self.data <= _compared(self, other, "<=")

    def __gt__(self, other: Operand) -> bool:
        return self.data > _compared(self, other, ">")

    def __ge__(self, other: Operand) -> bool:
        return self.data >= _compared(self, other, ">=")

    @property
    def parents(self) -> tuple[Value, ...]:
        """The inputs of the operation that made this Value, in order; () for a leaf."""
        if self._more is not None:
            return self._more
        if self._first is None:
            return ()
        if self._second is None:
            return (self._first,)
        return (self._first, self._second)

    # micrograd's names for the graph, so its diagram code runs unchanged.
    @property
    def _prev(self) -> set[Value]:
        return set(self.parents)

    @property
    def _op(self) -> str:
        return self.op.name if self.op is not None else ""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """How copy, deepcopy and pickle rebuild a Value: from its fields (a compiled class cannot find them)."""
        parts = (self.op, self._first, self._second, self._more)
        return (_rebuilt, (self.data, self.label, *parts, self.grad, self._about))

    # Compiled only: the interpreted class (see COMPILED below) removes it, as Python does it itself, faster.
    def __hash__(self) -> int:
        """Identity, as for any Python object: a compiled class that compares (<, <=, ...) must say so."""
        return id(self) >> 4


def _rebuilt(
    data: float,
    label: str,
    op: Op | None,
    first: Value | None,
    second: Value | None,
    more: tuple[Value, ...] | None,
    grad: float,
    about: tuple[str, str] | None,
) -> Value:
    """The Value `Value.__reduce__` describes."""
    value = Value(data, label, op, first, second, more)
    value.grad = grad
    value._about = about
    return value


_ABOUTS: Final[dict[tuple[str, str], tuple[str, str]]] = {}  # (scope, "") for every scope given a Value, once


def _about(scope: object, note: object) -> tuple[str, str] | None:
    """(scope, note) as the one tuple shared by every Value that has this pair; None when both are empty."""
    for name, text in (("scope", scope), ("note", note)):
        if not isinstance(text, str):
            raise TypeError(f"Value.{name} must be a str, got {type(text).__name__}")
    if not scope and not note:
        return None
    pair = (str(scope), str(note))
    if note:
        return pair  # notes are few (a model's parameters) and may differ from node to node: not kept in _ABOUTS
    return _ABOUTS.setdefault(pair, pair)


# Many Values at once. An optimizer, an nn model and engine.vectorize move every parameter between its Value and
# an array at each step; written here, these loops are compiled with the core (setup.py).


def data_of_all(values: list[Value]) -> list[float]:
    """Every Value's data, in order."""
    return [v.data for v in values]


def add_to_grads(values: list[Value], grads: list[float]) -> None:
    """Add grads[i] to values[i].grad for every i, as backward() adds to a leaf's gradient."""
    for v, g in zip(values, grads):
        v.grad += g


def zero_grads(values: Iterable[Value]) -> None:
    """Set every Value's grad to 0."""
    for v in values:
        v.grad = 0.0


def _compared(x: Value, other: Operand, symbol: str) -> float:
    """The number `x` is compared with; while `engine.vectorize` records a function, its guard looks first."""
    guard = current().comparison_guard
    if guard is not None:
        guard(x, other, symbol)
    return other.data if isinstance(other, Value) else as_float(other, "comparison with a Value")


class Op:
    """One scalar operation: its name, forward function, derivative rule and number of inputs.

    An Op is a generic function: called on Values it records a graph node, on
    floats it returns a float, on numpy arrays it returns an array. Its `rule`
    is evaluated in the same three worlds (see engine/core/ops.py). `arity` is the
    number of inputs, or None when it takes any number (the fused `linear`).
    """

    __slots__ = ("name", "forward", "rule", "array_forward", "arity")

    def __init__(
        self,
        name: str,
        forward: Callable[..., Any],
        rule: Rule,
        array_forward: Callable[..., Any] | None = None,
        arity: int | None = None,
    ) -> None:
        self.name = name
        self.forward = forward
        self.rule = rule
        self.array_forward = array_forward if array_forward is not None else np.vectorize(forward, otypes=[float])
        self.arity = arity if arity is not None else _arity(forward)

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    # An Op is a row of the table, never changed: a copy of a graph shares it, as it shares a function.
    def __copy__(self) -> Op:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Op:
        return self

    def __call__(self, *args: Any) -> Any:
        if self.arity is not None and len(args) != self.arity:
            raise TypeError(f"{self.name} takes {self.arity} input(s), got {len(args)}")
        for arg in args:
            if isinstance(arg, Value):
                return self.record(*args)
        for arg in args:
            if isinstance(arg, np.ndarray):
                return self.array_forward(*args)
        return self.compute(*[as_float(a, f"{self.name}()") for a in args])

    def compute(self, *inputs: float) -> float:
        """Run the forward function on floats, naming the operation and operands on failure."""
        try:
            return self.forward(*inputs)
        except (ArithmeticError, ValueError) as error:
            _raise_in_context(error, self.name, inputs)

    def record(self, *args: Any) -> Value:
        """Apply to Values (numbers become constant leaves) and record the node."""
        operands = [a if isinstance(a, Value) else Value(a) for a in args]
        if len(operands) == 1:
            return self.record1(operands[0])
        if len(operands) == 2:
            return self.record2(operands[0], operands[1])
        return self.record_values(*operands)

    # The three ways to record a node. Each reads the thread's mode once: in the plain
    # mode it makes the node straight away, in any other it hands over to `_record_unusual`.
    def record1(self, x: Value) -> Value:
        """Record the node of a one-input operation (most activations)."""
        try:
            data = self.forward(x.data)
        except (ArithmeticError, ValueError) as error:
            _raise_in_context(error, self.name, (x,))
        if current() is PLAIN:
            return Value(data, "", self, x)
        return _record_unusual(self, data, x)

    def record2(self, x: Operand, y: Operand) -> Value:
        """Record the node of a two-input operation; a number operand becomes a constant leaf."""
        if not isinstance(x, Value):
            x = Value(x)
        if not isinstance(y, Value):
            y = Value(y)
        try:
            data = self.forward(x.data, y.data)
        except (ArithmeticError, ValueError) as error:
            _raise_in_context(error, self.name, (x, y))
        if current() is PLAIN:
            return Value(data, "", self, x, y)
        return _record_unusual(self, data, x, y)

    def record_values(self, *operands: Value) -> Value:
        """Record the node of an operation on Values only (nn's neurons, whose inputs a layer checked once)."""
        try:
            data = self.forward(*[v.data for v in operands])
        except (ArithmeticError, ValueError) as error:
            _raise_in_context(error, self.name, operands)
        if current() is PLAIN:
            return Value(data, "", self, None, None, operands)
        return _record_unusual(self, data, None, None, operands)


def _record_unusual(
    op: Op, data: float, first: Value | None, second: Value | None = None, more: tuple[Value, ...] | None = None
) -> Value:
    """Recording outside the plain mode: check the value (`detect_anomaly`), then record it or not (`no_grad`)."""
    mode = current()
    if mode.checking and not math.isfinite(data):
        operands = more if more is not None else (first,) if second is None else (first, second)
        found = f"gave {data!r} in the {mode.pass_name} pass (detect_anomaly)"
        raise FloatingPointError(f"{_operation_text(op.name, operands)}: {found}")
    if mode.recording:
        return Value(data, "", op, first, second, more)
    return Value(data)


def _arity(forward: Callable[..., Any]) -> int | None:
    """Number of positional parameters of `forward`; None if it takes any number or cannot be told."""
    try:
        parameters = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):  # some built-ins have no signature
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in parameters)


def _operation_text(op_name: str, operands: Sequence[Any]) -> str:
    """How messages name an operation: `log(x = -1.0)`, `*(w1 = 0.5, 2.0)`; past 6 operands, the first 5 and a count."""
    shown = [o.describe() if isinstance(o, Value) else repr(o) for o in operands[:MAX_OPERANDS_SHOWN]]
    if len(operands) > MAX_OPERANDS_SHOWN:
        shown[-1] = f"... {len(operands) - MAX_OPERANDS_SHOWN + 1} more"
    return f"{op_name}({', '.join(shown)})"


def _raise_in_context(error: Exception, op_name: str, operands: Sequence[Any]) -> NoReturn:
    """Raise `error` again, of the same type, with the operation and its operands in front of its message
    (which then need not name the operation again: `take(i = 3.0, ...): index 3 is out of range`)."""
    text = str(error).removeprefix(f"{op_name}: ")
    _raise_with_message(error, f"{_operation_text(op_name, operands)}: {text}")


def _raise_with_message(error: Exception, message: str) -> NoReturn:
    """Raise `error` again, of the same type, with `message` (a note on it when its class cannot be rebuilt)."""
    try:
        wrapped = type(error)(message)
    except Exception:  # an exception class with a constructor of its own: keep it, add a note
        error.add_note(message)
        raise error from None
    raise wrapped from error


def defop(
    name: str,
    forward: Callable[..., float],
    rule: Rule,
    array_forward: Callable[..., Any] | None = None,
    *,
    arity: int | None = None,
) -> Op:
    """Define a new scalar operation from its forward function and derivative rule.

    `rule(g, out, *inputs)` returns dL/d(input) for each input, given g = dL/d(out).
    Write it with arithmetic operators and engine functions only, so that it
    works on floats, on Values (higher-order gradients) and on numpy arrays::

        cube = engine.defop("cube", lambda x: x**3, lambda g, out, x: (3 * g * x * x,))
        x = Value(2.0)
        y = cube(x); y.backward()   # y.data == 8.0, x.grad == 12.0

    `array_forward` is the numpy version of `forward` (default: `forward` applied
    element by element). `arity` is read from `forward`'s signature unless given.
    """
    return Op(name, forward, rule, array_forward, arity)


# Compiled with mypyc (see setup.py), Value is a native class, which loses Python's identity hash once it
# defines comparisons: hence `__hash__` above. Interpreted, Python's own identity hash is several times faster
# than any written in Python, so the interpreted class goes back to it.
COMPILED: Final = hasattr(Value, "__mypyc_attrs__")
if not COMPILED:
    del Value.__hash__


class Operations:
    """The rows that Value's operators record, and the walk `Value.backward` runs: filled in from the layers above.

    engine/core/ops.py sets one row of its table per operator (`add` is the row `+`, ...) and `power`, which
    gives the row of `x ** c` for a constant c; engine/core/backprop.py sets `backward`. They are declared here
    so that Value's methods are written in its class, where a compiled class needs them, while the
    mathematics stays in the table and the walk in backprop.py, above this module.
    """

    add: Op
    sub: Op
    mul: Op
    div: Op
    pow: Op
    neg: Op
    abs: Op
    exp: Op
    log: Op
    sqrt: Op
    sin: Op
    cos: Op
    tanh: Op
    sigmoid: Op
    relu: Op
    softplus: Op
    power: Callable[[SupportsFloat], Op]
    backward: Callable[[Value], None]


OPERATIONS: Final = Operations()
