"""What one operation is: a name, a forward function and a derivative rule, runnable on numbers, arrays and Values.

An `Op` is one row of the table in engine/core/ops.py. Called on floats it computes a float, on numpy
arrays an array, and with a Value among its inputs it records a graph node (the Value class does that:
engine/core/value.py). Its `rule(g, out, *inputs)` gives dL/d(input) for each input from g = dL/d(out),
and is written with operators and the table's operations only, so it runs in the same three worlds.

Errors of an operation's mathematics keep Python's type (ValueError, ZeroDivisionError, OverflowError)
and name the operation and its operands: `log(x = -1.0): log needs a positive number, got -1.0`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import numpy as np

from engine.core.numbers import as_float

Forward = Callable[..., Any]  # a forward function, on floats or on numpy arrays
# Derivative rule: (g, out, *inputs) -> one gradient per input, where g is dL/d(out).
Rule = Callable[..., Sequence[Any]]
MAX_OPERANDS_SHOWN = 6  # an error message names this many operands of an operation, then counts the rest


class Op:
    """One scalar operation: its name, forward function, derivative rule and number of inputs.

    `forward` computes on floats; `array_forward` on numpy arrays (by default `forward` element by
    element); `arity` is the number of inputs, or None when it takes any number (the fused `linear`).
    """

    __slots__ = ("name", "forward", "rule", "array_forward", "arity")

    def __init__(self, name: str, forward: Forward, rule: Rule, array_forward: Forward | None, arity: int | None):
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

    def __reduce__(self) -> tuple[Any, ...]:
        raise TypeError(f"pickle cannot store the operation {self.name!r} (its rule is a function), nor a Value "
                        "made by it: pickle .data or leaf Values, or save a model (model.save)")  # fmt: skip

    def __call__(self, *args: Any) -> Any:
        """On Values, a recorded node; on numpy arrays, an array; on numbers, a float."""
        if self.arity is not None and len(args) != self.arity:
            raise TypeError(f"{self.name} takes {self.arity} input(s), got {len(args)}")
        for arg in args:  # a Value records the node: this module sits below value.py, and knows it by that method
            record_node = getattr(type(arg), "record_node", None)
            if record_node is not None:
                return record_node(self, *args)
        for arg in args:
            if isinstance(arg, np.ndarray):
                return self.array_forward(*args)
        numbers = [as_float(a, f"{self.name}()") for a in args]
        try:
            return self.forward(*numbers)
        except (ArithmeticError, ValueError) as error:
            raise_in_context(error, self.name, numbers)


def defop(
    name: str, forward: Forward, rule: Rule, array_forward: Forward | None = None, *, arity: int | None = None
) -> Op:
    """Define a new scalar operation from its forward function and derivative rule.

    `rule(g, out, *inputs)` returns dL/d(input) for each input, given g = dL/d(out).
    Write it with arithmetic operators and engine functions only, so that it
    works on floats, on Values (higher-order gradients) and on numpy arrays::

        cube = engine.defop("cube", lambda x: x**3, lambda g, out, x: (3 * g * x * x,))
        x = Value(2.0)
        y = cube(x); y.backward()   # y.data == 8.0, x.grad == 12.0

    Keep the rule linear in g, as every rule of the table is (it scales each input's gradient by g):
    forward mode (`engine.jvp`) then reads the partial derivatives from the same rule at g = 1.
    `array_forward` is the numpy version of `forward` (default: `forward` applied
    element by element). `arity` is read from `forward`'s signature unless given.
    """
    return Op(name, forward, rule, array_forward, arity)


def _arity(forward: Callable[..., Any]) -> int | None:
    """Number of positional parameters of `forward`; None if it takes any number or cannot be told."""
    try:
        parameters = inspect.signature(forward).parameters.values()
    except (TypeError, ValueError):  # some built-ins have no signature
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty for p in parameters)


# How errors name an operation and its operands.


def operation_text(op_name: str, operands: Sequence[Any]) -> str:
    """`log(x = -1.0)`, `*(w1 = 0.5, 2.0)`: an operation and its operands; past 6 operands, the first 5 and a count."""
    shown = [o.describe() if hasattr(o, "describe") else repr(o) for o in operands[:MAX_OPERANDS_SHOWN]]
    if len(operands) > MAX_OPERANDS_SHOWN:
        shown[-1] = f"... {len(operands) - MAX_OPERANDS_SHOWN + 1} more"
    return f"{op_name}({', '.join(shown)})"


def raise_in_context(error: Exception, op_name: str, operands: Sequence[Any]) -> NoReturn:
    """Raise `error` again, of the same type, with the operation and its operands in front of its message
    (which then need not name the operation again: `take(i = 3.0, ...): index 3 is out of range`)."""
    text = str(error).removeprefix(f"{op_name}: ")
    raise_with_message(error, f"{operation_text(op_name, operands)}: {text}")


def raise_with_message(error: Exception, message: str) -> NoReturn:
    """Raise `error` again, of the same type, with `message` (a note on it when its class cannot be rebuilt)."""
    try:
        wrapped = type(error)(message)
    except Exception:  # an exception class with a constructor of its own: keep it, add a note
        error.add_note(message)
        raise error from None
    raise wrapped from error
