"""The `Value` node: a number that remembers how it was computed, so gradients can flow back to it.

A `Value` holds a float (`data`), the gradient of the last `backward()` with respect to it (`grad`),
the operation that produced it (`op`, a row of the table in engine/core/ops.py) and that operation's
inputs (`parents`). Leaves (inputs, parameters, constants) have no op and no parents. `label`, `scope`
and `note` are for people: the pictures show them, and no computation reads them.

Each arithmetic operator and function records a node: `x * y` runs the row `*` of the table on the
two numbers and keeps the result with its op and parents (`record2` below). `backward()` hands the
graph to the chain rule, engine/core/backprop.py. Nodes never refer to themselves, so a graph has no
reference cycles and is freed by reference counting alone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, Final, SupportsFloat, Union

from engine.core import backprop, ops
from engine.core.modes import PLAIN, current
from engine.core.numbers import as_float
from engine.core.op import Op, operation_text, raise_in_context

# A Value, or a real number (int, float, numpy real scalar). Checked by the engine itself, which names what
# it got, so the compiled build (which checks declared types on its own) is told nothing narrower.
Operand = Union["Value", SupportsFloat]


class Value:
    """A scalar that remembers how it was computed, so gradients can flow back to it.

    `Value(2.0, label="x")` is a leaf: an input, a parameter or a constant. Arithmetic and functions make new
    Values and record the graph, each a node of a row of the table (engine/core/ops.py: engine.add,
    engine.exp, ...) whose rule gives its derivative; a number on either side becomes a constant leaf:

        x + y, x - y, x * y, x / y, x ** y, -x, abs(x)
        x.exp(), x.log(), x.sqrt(), x.sin(), x.cos(), x.tanh(), x.sigmoid(), x.relu(), x.softplus(), x.abs()
        engine.where(c, a, b), engine.logsumexp(*xs), engine.linear(*w, *x, b), engine.take(xs, i)
        and operations of your own: engine.defop(name, forward, rule)

    `<`, `<=`, `>`, `>=` compare `data`, as floats do; `==` is identity, so Values can be dict keys.

    `y.backward()` sets y.grad to 1 and adds dy/d(leaf) to every leaf's `grad` (leaves accumulate across
    calls, as in PyTorch: zero them between steps). `engine.grad(y, [x])` gives derivatives without touching
    `grad`, also as Values for higher orders; `engine.jvp` and `engine.jacobian` give them by forward mode.

    Fields: `data` (the float), `grad`, `op` (the Op that made it; None for a leaf), `parents` (its
    operands, in order; () for a leaf), and `label`, `scope` and `note`, which only the pictures read.
    """

    __slots__ = ("data", "grad", "op", "label", "_parent1", "_parent2", "_parents", "_scope_note", "_walk_mark")
    # Speed (benchmarks/README.md, "Why the code is shaped so"): a node of one or two inputs keeps them in slots
    # of its own, `_parent1` and `_parent2`, and only a node of more (the fused `linear`) keeps a tuple,
    # `_parents`, so that most nodes are one object for the cyclic collector, not two. `scope` and `note`, both
    # rare, share `_scope_note`, and a walk marks the nodes it has expanded in `_walk_mark` (backprop.py).

    def __init__(
        self,
        data: SupportsFloat,
        label: object = "",
        op: Op | None = None,
        _parent1: Value | None = None,
        _parent2: Value | None = None,
        _parents: tuple[Value, ...] | None = None,
    ) -> None:
        """A leaf from a real number. `op` and the parents are recording's (`record1` ... below)."""
        self.data: float = data if type(data) is float else as_float(data)
        self.grad: float = 0.0
        self.op = op
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__}")
        self.label = label
        self._parent1 = _parent1
        self._parent2 = _parent2
        self._parents = _parents
        self._scope_note: str | tuple[str, str] = ""  # the scope, or (scope, note) when there is a note
        self._walk_mark = 0

    @property
    def parents(self) -> tuple[Value, ...]:
        """The inputs of the operation that made this Value, in order; () for a leaf."""
        if self._parents is not None:
            return self._parents
        if self._parent1 is None:
            return ()
        if self._parent2 is None:
            return (self._parent1,)
        return (self._parent1, self._parent2)

    # fmt: off
    # Arithmetic and functions: each records a node of a row of the table (engine/core/ops.py).
    def __add__(self, other: Operand) -> Value:      return record2(ops.add, self, other)
    def __radd__(self, other: Operand) -> Value:     return record2(ops.add, other, self)
    def __sub__(self, other: Operand) -> Value:      return record2(ops.sub, self, other)
    def __rsub__(self, other: Operand) -> Value:     return record2(ops.sub, other, self)
    def __mul__(self, other: Operand) -> Value:      return record2(ops.mul, self, other)
    def __rmul__(self, other: Operand) -> Value:     return record2(ops.mul, other, self)
    def __truediv__(self, other: Operand) -> Value:  return record2(ops.div, self, other)
    def __rtruediv__(self, other: Operand) -> Value: return record2(ops.div, other, self)
    def __rpow__(self, base: Operand) -> Value:      return record2(ops.pow_, base, self)
    def __neg__(self) -> Value:                      return record1(ops.neg, self)
    def __abs__(self) -> Value:                      return record1(ops.abs_, self)
    def abs(self) -> Value:                          return record1(ops.abs_, self)
    def exp(self) -> Value:                          return record1(ops.exp, self)
    def log(self) -> Value:                          return record1(ops.log, self)
    def sqrt(self) -> Value:                         return record1(ops.sqrt, self)
    def sin(self) -> Value:                          return record1(ops.sin, self)
    def cos(self) -> Value:                          return record1(ops.cos, self)
    def tanh(self) -> Value:                         return record1(ops.tanh, self)
    def sigmoid(self) -> Value:                      return record1(ops.sigmoid, self)
    def relu(self) -> Value:                         return record1(ops.relu, self)
    def softplus(self) -> Value:                     return record1(ops.softplus, self)
    # fmt: on

    def __pow__(self, exponent: Operand) -> Value:
        """x ** y for a Value exponent (the row `**`); x ** c for a number c (the row `**c`, c not a node)."""
        if isinstance(exponent, Value):
            return record2(ops.pow_, self, exponent)
        return record1(ops.power(exponent), self)

    def backward(self) -> None:
        """Set this Value's grad to 1 and add d(self)/d(leaf) to every leaf's grad (engine/core/backprop.py)."""
        backprop.backward(self)

    @staticmethod
    def record_node(op: Op, *operands: Any) -> Value:
        """The node of `op` on these operands (numbers become constant leaves): how an Op called on Values records.

        op.py, below this module, knows a Value by this method (`Op.__call__`)."""
        return record_values(op, *[x if isinstance(x, Value) else Value(x) for x in operands])

    @property
    def scope(self) -> str:
        """The dotted name of the nn module that made this Value ("" if none): diagrams draw a cluster per module."""
        return self._scope_note if isinstance(self._scope_note, str) else self._scope_note[0]

    @scope.setter
    def scope(self, scope: str) -> None:
        self._scope_note = _scope_note(scope, self.note)

    @property
    def note(self) -> str:
        """Text that `explain` and `explore` show at the steps that reach this Value ("" if none)."""
        return "" if isinstance(self._scope_note, str) else self._scope_note[1]

    @note.setter
    def note(self, note: str) -> None:
        self._scope_note = _scope_note(self.scope, note)

    def __repr__(self) -> str:
        return f"Value(data={self.data!r}, grad={self.grad!r}" + (f", label={self.label!r})" if self.label else ")")

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

    # micrograd's names for the graph, so its diagram code runs unchanged.
    @property
    def _prev(self) -> set[Value]:
        return set(self.parents)

    @property
    def _op(self) -> str:
        return self.op.name if self.op is not None else ""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """How copy, deepcopy and pickle rebuild a Value: from its fields (a compiled class cannot find them).

        Copies share the operation; pickle stores a leaf, and refuses a computed Value (`Op.__reduce__`)."""
        parts = (self.op, self._parent1, self._parent2, self._parents, self.grad, self._scope_note)
        return (_rebuilt, (self.data, self.label, *parts))

    # Compiled by mypyc (setup.py), a class that defines comparisons has no hash unless it writes one out.
    def __hash__(self) -> int:
        return id(self) >> 4


COMPILED: Final = hasattr(Value, "__mypyc_attrs__")
if not COMPILED:  # the Python source goes back to Python's own identity hash, which a hash written here slows
    del Value.__hash__


def _rebuilt(data: float, label: str, op: Op | None, *parts: Any) -> Value:
    """The Value `Value.__reduce__` describes."""
    parent1, parent2, parents, grad, scope_note = parts
    value = Value(data, label, op, parent1, parent2, parents)
    value.grad, value._scope_note = grad, scope_note
    return value


def _scope_note(scope: object, note: object) -> str | tuple[str, str]:
    """What `Value._scope_note` holds: the scope, or (scope, note) when there is a note."""
    for field, text in (("scope", scope), ("note", note)):
        if not isinstance(text, str):
            raise TypeError(f"Value.{field} must be a str, got {type(text).__name__}")
    return (str(scope), str(note)) if note else str(scope)


def _compared(x: Value, other: Operand, symbol: str) -> float:
    """The number `x` is compared with; while `engine.vectorize` records a function, its guard looks first."""
    guard = current().comparison_guard
    if guard is not None:
        guard(x, other, symbol)
    return other.data if isinstance(other, Value) else as_float(other, "comparison with a Value")


# Recording: run the row's forward function on the operands' data and keep the result as a node. In the plain
# mode (recording, no checks) the node is made straight away; in any other, `record_outside_plain_mode` decides.


def record1(op: Op, x: Value) -> Value:
    """The node of a one-input operation on x (most functions)."""
    try:
        data = op.forward(x.data)
    except (ArithmeticError, ValueError) as error:
        raise_in_context(error, op.name, (x,))
    if current() is PLAIN:
        return Value(data, "", op, x)
    return record_outside_plain_mode(op, data, (x,))


def record2(op: Op, x: Operand, y: Operand) -> Value:
    """The node of a two-input operation on x and y; a number operand becomes a constant leaf."""
    x = x if isinstance(x, Value) else Value(x)
    y = y if isinstance(y, Value) else Value(y)
    try:
        data = op.forward(x.data, y.data)
    except (ArithmeticError, ValueError) as error:
        raise_in_context(error, op.name, (x, y))
    if current() is PLAIN:
        return Value(data, "", op, x, y)
    return record_outside_plain_mode(op, data, (x, y))


def record_values(op: Op, *operands: Value) -> Value:
    """The node of an operation on Values only, of any number of inputs (nn's neurons, `linear`)."""
    try:
        data = op.forward(*[v.data for v in operands])
    except (ArithmeticError, ValueError) as error:
        raise_in_context(error, op.name, operands)
    if current() is PLAIN:
        return _node(op, data, operands)
    return record_outside_plain_mode(op, data, operands)


def record_outside_plain_mode(op: Op, data: float, operands: tuple[Value, ...]) -> Value:
    """A node in any mode but the plain one: checked (`detect_anomaly`), with a tangent (`jvp`), or not recorded."""
    mode = current()
    if mode.checking and not math.isfinite(data):
        found = f"gave {data!r} in the {mode.pass_name} pass (detect_anomaly)"
        raise FloatingPointError(f"{operation_text(op.name, operands)}: {found}")
    if mode.make_forward_node is not None:
        return mode.make_forward_node(op, data, operands)
    return _node(op, data, operands) if mode.recording else Value(data)


def _node(op: Op, data: float, operands: tuple[Value, ...]) -> Value:
    """The node of `op` on `operands`, its one or two parents in their slots, more in a tuple (see Value)."""
    if len(operands) > 2:
        return Value(data, "", op, None, None, operands)
    return Value(data, "", op, operands[0], operands[1] if len(operands) == 2 else None)


class Dual(Value):
    """A Value computed in forward mode (`engine.jvp`): no op and no parents, but its `tangent`.

    engine/derivatives/forward.py makes them, through `Mode.make_forward_node`. It is defined here, in the
    core, because a compiled class can be subclassed only by a class compiled with it."""

    __slots__ = ("tangent",)

    def __init__(self, data: float, tangent: float, label: str = "") -> None:
        super().__init__(data, label)
        self.tangent = tangent


def zero_grads(values: Iterable[Value]) -> None:
    """Set every Value's grad to 0 (a compiled loop: nn's and the optimizers' `zero_grad`)."""
    for v in values:
        v.grad = 0.0


def data_of_all(values: list[Value]) -> list[float]:
    """Every Value's data, in order (a compiled loop: vectorize reads the parameters with it)."""
    return [v.data for v in values]


def add_to_grads(values: list[Value], grads: list[float]) -> None:
    """Add grads[i] to values[i].grad for every i, as backward() adds to a leaf's gradient (vectorize)."""
    for v, g in zip(values, grads):
        v.grad += g
