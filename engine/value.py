"""The `Value` node and the machinery that records operations on it.

A `Value` holds a float (`data`), the gradient of the last `backward()` with
respect to it (`grad`), the operation that produced it (`op`) and that
operation's inputs (`parents`). Leaves (inputs, parameters, constants) have no
op and no parents. The mathematics of every operation lives in `engine/ops.py`;
this file only records the graph and reports errors.

Nodes never refer to themselves (no closures), so a graph has no reference
cycles and is freed by reference counting alone, without the cyclic garbage
collector; `__slots__` keeps each node small.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn, Union

import numpy as np

Number = Union[int, float]
Operand = Union["Value", int, float]

# Derivative rule: (g, out, *inputs) -> one gradient per input, where g is
# dL/d(out). Inputs and out are floats, Values or numpy arrays alike.
Rule = Callable[..., Sequence[Any]]


class _GradMode:
    """Whether operations record the graph (switched off by `no_grad`)."""

    enabled = True


@contextmanager
def no_grad() -> Iterator[None]:
    """Compute values without recording the graph (e.g. for evaluation or updates).

    The switch is global to the process (not per thread), like the rest of the engine's state.
    """
    previous = _GradMode.enabled
    _GradMode.enabled = False
    try:
        yield
    finally:
        _GradMode.enabled = previous


def _as_float(data: Any, what: str = "Value") -> float:
    """Convert a real number (int, float, numpy real scalar) to float, else raise TypeError."""
    if type(data) is float:
        return data
    if isinstance(data, numbers.Real) and not isinstance(data, np.ndarray):
        return float(data)
    raise TypeError(
        f"{what} expects a real number (int, float or numpy real scalar), got {type(data).__name__}: {data!r:.60}"
    )


class Value:
    """A scalar that remembers how it was computed, so gradients can flow back to it."""

    # A node keeps one or two parents in slots of its own and only an n-ary node
    # (the fused `linear`) keeps a tuple: one object per node instead of two halves
    # the work of Python's cyclic garbage collector while a graph is being built.
    __slots__ = ("data", "grad", "op", "_first", "_second", "_more", "label", "scope")

    def __init__(self, data: Number, label: str = "") -> None:
        self.data: float = _as_float(data)
        self.grad: float = 0.0
        self.op: Op | None = None
        self._first: Value | None = None
        self._second: Value | None = None
        self._more: tuple[Value, ...] | None = None
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__}")
        self.label = label
        self.scope = ""  # dotted name of the module that made it, e.g. "layer1.neuron3"

    def __repr__(self) -> str:
        name = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{name})"

    def describe(self) -> str:
        """Short name for messages: `w1 = 0.5` or `0.5` when unlabelled."""
        return f"{self.label} = {self.data!r}" if self.label else repr(self.data)

    # Arithmetic: each operator is one row of the table in engine/ops.py.
    def __add__(self, other: Operand) -> Value:
        return add.record2(self, other)

    def __radd__(self, other: Operand) -> Value:
        return add.record2(other, self)

    def __sub__(self, other: Operand) -> Value:
        return sub.record2(self, other)

    def __rsub__(self, other: Operand) -> Value:
        return sub.record2(other, self)

    def __mul__(self, other: Operand) -> Value:
        return mul.record2(self, other)

    def __rmul__(self, other: Operand) -> Value:
        return mul.record2(other, self)

    def __truediv__(self, other: Operand) -> Value:
        return div.record2(self, other)

    def __rtruediv__(self, other: Operand) -> Value:
        return div.record2(other, self)

    def __pow__(self, exponent: Operand) -> Value:
        if isinstance(exponent, Value):
            return pow.record2(self, exponent)
        return power(exponent).record1(self)

    def __rpow__(self, base: Operand) -> Value:
        return pow.record2(base, self)

    def __neg__(self) -> Value:
        return neg.record1(self)

    # Comparisons look at data only (like `float`); equality stays identity so
    # Values can be dict keys and set members, as in micrograd.
    def __lt__(self, other: Operand) -> bool:
        return self.data < _data(other)

    def __le__(self, other: Operand) -> bool:
        return self.data <= _data(other)

    def __gt__(self, other: Operand) -> bool:
        return self.data > _data(other)

    def __ge__(self, other: Operand) -> bool:
        return self.data >= _data(other)

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

    # Functions, also available as engine.exp(x) etc.
    def exp(self) -> Value:
        return exp.record1(self)

    def log(self) -> Value:
        return log.record1(self)

    def sqrt(self) -> Value:
        return sqrt.record1(self)

    def __abs__(self) -> Value:
        return abs_.record1(self)

    def abs(self) -> Value:
        return abs_.record1(self)

    def sin(self) -> Value:
        return sin.record1(self)

    def cos(self) -> Value:
        return cos.record1(self)

    def tanh(self) -> Value:
        return tanh.record1(self)

    def sigmoid(self) -> Value:
        return sigmoid.record1(self)

    def relu(self) -> Value:
        return relu.record1(self)

    def softplus(self) -> Value:
        return softplus.record1(self)

    def backward(self) -> None:
        """Set this Value's grad to 1 and add d(self)/d(leaf) to every leaf's grad.

        Leaves accumulate across calls (as in PyTorch); intermediate nodes hold
        the gradient of the latest call only, so nothing is counted twice.
        """
        from engine.backprop import backward

        backward(self)


def _data(x: Operand) -> float:
    return x.data if isinstance(x, Value) else _as_float(x, "comparison with a Value")


def _new_node(
    data: float, op: Op, first: Value | None, second: Value | None = None, more: tuple[Value, ...] | None = None
) -> Value:
    """Make an interior node without re-validating data (ops produce floats)."""
    node = object.__new__(Value)
    node.data = data
    node.grad = 0.0
    node.op = op
    node._first = first
    node._second = second
    node._more = more
    node.label = ""
    node.scope = ""
    return node


class Op:
    """One scalar operation: its name, forward function and derivative rule.

    An Op is a generic function: called on Values it records a graph node, on
    floats it returns a float, on numpy arrays it returns an array. Its `rule`
    is evaluated in the same three worlds (see engine/ops.py).
    """

    __slots__ = ("name", "forward", "rule", "array_forward")

    def __init__(
        self,
        name: str,
        forward: Callable[..., float],
        rule: Rule,
        array_forward: Callable[..., Any] | None = None,
    ) -> None:
        self.name = name
        self.forward = forward
        self.rule = rule
        self.array_forward = array_forward if array_forward is not None else np.vectorize(forward)

    def __repr__(self) -> str:
        return f"Op({self.name!r})"

    def __call__(self, *args: Any) -> Any:
        for arg in args:
            if isinstance(arg, Value):
                return self.record(*args)
        for arg in args:
            if isinstance(arg, np.ndarray):
                return self.array_forward(*args)
        return self.compute(*[_as_float(a, f"{self.name}()") for a in args])

    def record(self, *args: Any) -> Value:
        """Apply to Values (numbers become constant leaves) and record the node."""
        return self.record_values(*[a if isinstance(a, Value) else Value(a) for a in args])

    def record_values(self, *operands: Value) -> Value:
        """`record` for operands that are all Values already (nn's neurons), without checking them."""
        try:
            data = self.forward(*[v.data for v in operands])
        except (ArithmeticError, ValueError) as error:
            _raise_in_context(error, self.name, operands)
        return _new_node(data, self, None, None, operands) if _GradMode.enabled else Value(data)

    # `record_values` specialised to one and two operands: these carry almost every
    # node of a network, and skipping the generic tuple-building halves their cost.
    def record1(self, x: Value) -> Value:
        try:
            data = self.forward(x.data)
        except (ArithmeticError, ValueError) as error:
            _raise_in_context(error, self.name, (x,))
        return _new_node(data, self, x) if _GradMode.enabled else Value(data)

    def record2(self, x: Operand, y: Operand) -> Value:
        if not isinstance(x, Value):
            x = Value(x)
        if not isinstance(y, Value):
            y = Value(y)
        try:
            data = self.forward(x.data, y.data)
        except (ArithmeticError, ValueError) as error:
            _raise_in_context(error, self.name, (x, y))
        return _new_node(data, self, x, y) if _GradMode.enabled else Value(data)

    def compute(self, *inputs: float) -> float:
        """Run the forward function on floats, naming the operation and operands on failure."""
        try:
            return self.forward(*inputs)
        except (ArithmeticError, ValueError) as error:
            _raise_in_context(error, self.name, inputs)


def _operation_text(op_name: str, operands: Sequence[Any]) -> str:
    """How messages name an operation: `log(x = -1.0)`, `*(w1 = 0.5, 2.0)`."""
    return f"{op_name}({', '.join(o.describe() if isinstance(o, Value) else repr(o) for o in operands)})"


def _raise_in_context(error: Exception, op_name: str, operands: Sequence[Any]) -> NoReturn:
    """Raise `error` again, of the same type, with the operation and its operands in front of its message."""
    message = f"{_operation_text(op_name, operands)}: {error}"
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
) -> Op:
    """Define a new scalar operation from its forward function and derivative rule.

    `rule(g, out, *inputs)` returns dL/d(input) for each input, given g = dL/d(out).
    Write it with arithmetic operators and engine functions only, so that it
    works on floats, on Values (higher-order gradients) and on numpy arrays::

        cube = engine.defop("cube", lambda x: x**3, lambda g, out, x: (3 * g * x * x,))
        x = Value(2.0)
        y = cube(x); y.backward()   # y.data == 8.0, x.grad == 12.0
    """
    return Op(name, forward, rule, array_forward)


# The operations of the table, bound late: engine/ops.py needs Op and Value first.
from engine.ops import (  # noqa: E402
    abs_,
    add,
    cos,
    div,
    exp,
    log,
    mul,
    neg,
    pow,
    power,
    relu,
    sigmoid,
    sin,
    softplus,
    sqrt,
    sub,
    tanh,
)
