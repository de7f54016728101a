"""Every operation's mathematics, stated once: forward function and derivative rule.

Each row is `defop(name, forward, rule, array_forward)`:

- `forward(*inputs)` computes the result on floats, raising Python's float
  errors (ValueError, ZeroDivisionError, OverflowError) with a clear message.
- `rule(g, out, *inputs)` returns dL/d(input) for each input, given
  g = dL/d(out) and the forward result `out`. Rules use only arithmetic
  operators, comparisons and the operations of this table, so the same rule
  runs on floats (`backward()`), on Values (`engine.grad(...,
  create_graph=True)`, for higher-order derivatives) and on numpy arrays (one
  rule evaluation for a whole batch). Every rule is linear in g, so at g = 1
  it gives the partial derivatives that forward mode (`engine.jvp`) uses.
- `array_forward` is the numpy version of `forward`.

A new operation goes here, as one more row (or, outside the package, through
`engine.defop`, the same call). engine/core/op.py says what a row is; Value's
operators (engine/core/value.py) record the rows `+`, `*`, `exp`, ...
"""

from __future__ import annotations

import functools
import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any, Final, SupportsFloat

import numpy as np

from engine.core.numbers import Number, as_float
from engine.core.op import Op, defop


def _pow(x: float, y: float) -> float:
    if x == 0 and y < 0:
        raise ZeroDivisionError(f"0 cannot be raised to the negative power {y!r}")
    if x < 0 and not float(y).is_integer():
        raise ValueError(f"negative base {x!r} with non-integer exponent {y!r} has no real result")
    return float(x) ** y


def _log(x: float) -> float:
    if x <= 0:
        raise ValueError(f"log needs a positive number, got {x!r}")
    return math.log(x)


def _sqrt(x: float) -> float:
    if x < 0:
        raise ValueError(f"sqrt needs a non-negative number, got {x!r}")
    return math.sqrt(x)


def _div(x: float, y: float) -> float:
    if y == 0:
        raise ZeroDivisionError(f"division of {x!r} by zero")
    return x / y


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise OverflowError(f"exp({x!r}) is too large for a float") from None


def _sigmoid(x: float) -> float:
    # Two branches so that exp never overflows: for x < 0 use e^x / (1 + e^x).
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _softplus(x: float) -> float:
    # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), which never overflows.
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


# The helpers below call rows of this table (`where`, `log`, `sign`, `cos`, ...: Ops, defined further down), so
# that they run on floats, Values and arrays alike.


def _nonzero(x: Any) -> Any:
    """x != 0, element by element on floats, Values and arrays (`!=` on a Value compares identity, not data)."""
    return (x < 0) | (x > 0)


def _base_partial(x: Any, y: Any) -> Any:
    """d(x ** y)/dx = y x^(y-1), and 0 at x = y = 0 (x ** 0 is the constant 1), as in PyTorch.

    At x = y = 0 the base is replaced by 1, so x^(y-1) is never evaluated at 0 ** -1.
    """
    return y * where(_nonzero(x) | _nonzero(y), x, 1) ** (y - 1)


def _log_of_base(x: Any) -> Any:
    """log x, for d(x ** y)/dy = x^y log x: 0 at x = 0 (the limit for y > 0) and nan for x < 0, as in PyTorch.

    log only ever sees a positive number: elsewhere its input is replaced by 1.
    """
    return log(where(x > 0, x, 1)) + where(x < 0, math.nan, 0)


def _logsumexp(*xs: float) -> float:
    """log(sum_i e^x_i), computed as m + log(sum_i e^(x_i - m)) with m = max x_i, so no e^x overflows."""
    if not xs:
        raise TypeError("logsumexp needs at least one input")
    top = max(xs)
    if math.isinf(top):  # all -inf, or some +inf: the shift would make nan
        return top
    return top + math.log(math.fsum(math.exp(x - top) for x in xs))


def _logsumexp_of_arrays(*xs: Any) -> Any:
    """`_logsumexp` element by element: the largest input of each element is subtracted before exponentiating."""
    top = functools.reduce(np.maximum, xs)
    shift = np.where(np.isfinite(top), top, 0.0)
    return shift + np.log(sum(np.exp(x - shift) for x in xs))


def checked_index(index: float, count: int) -> int:
    """`index` as a position among `count` entries: a whole number from 0 to count - 1, else ValueError naming it."""
    if not float(index).is_integer():
        raise ValueError(f"take: index {index!r} is not a whole number; expected an integer from 0 to {count - 1}")
    k = int(index)
    if not 0 <= k < count:
        raise ValueError(f"take: index {k} is out of range for {count} entries; expected 0 to {count - 1}")
    return k


def _take(index: float, *entries: float) -> float:
    """The entry at position `index`: entries[index]."""
    return entries[checked_index(index, len(entries))]


def _take_of_arrays(index: Any, *entries: Any) -> Any:
    """`_take` element by element: a gather, each element's entry chosen by its own index."""
    index, *arrays = np.broadcast_arrays(np.asarray(index, dtype=float), *entries)
    valid = np.isin(index, np.arange(len(entries)))
    if not valid.all():
        checked_index(float(index[~valid].flat[0]), len(entries))  # raises, naming the index
    return np.take_along_axis(np.stack(arrays), index.astype(np.intp)[None], axis=0)[0]


def _take_rule(g: Any, out: Any, index: Any, *entries: Any) -> list[Any]:
    # The gradient goes to the entry chosen, none to the others or to the index: where(index == k, g, 0).
    return [g * 0] + [where(_nonzero(index - k), 0, g) for k in range(len(entries))]


def _where(condition: float, a: float, b: float) -> float:
    return a if condition else b


def _relu(x: float) -> float:
    return 0.0 if x <= 0 else x


def _sign(x: float) -> float:
    return float((x > 0) - (x < 0))


def _linear(*args: Any) -> Any:
    """b + sum_i w_i x_i for args (w_1..w_n, x_1..x_n, b): floats or numpy arrays alike."""
    if len(args) % 2 == 0:
        raise TypeError(f"linear expects 2n + 1 inputs (w_1..w_n, x_1..x_n, b), got {len(args)}")
    n = len(args) // 2
    return sum(map(operator.mul, args[:n], args[n:-1]), args[-1])


def _linear_rule(g: Any, out: Any, *args: Any) -> list[Any]:
    # d(b + sum w_i x_i)/dw_i = x_i, /dx_i = w_i, /db = 1: the inputs' values, then the weights', then 1
    n = len(args) // 2
    return [g * d for d in args[n:-1] + args[:n]] + [g]


# fmt: off
# name                          forward          rule: g = dL/d(out) -> dL/d(inputs)                   numpy forward
add: Final[Op]  = defop("+",           operator.add,    lambda g, out, x, y: (g, g),                           np.add)
sub: Final[Op]  = defop("-",           operator.sub,    lambda g, out, x, y: (g, -g),                          np.subtract)
mul: Final[Op]  = defop("*",           operator.mul,    lambda g, out, x, y: (g * y, g * x),                   np.multiply)
div: Final[Op]  = defop("/",           _div,            lambda g, out, x, y: (g / y, -g * out / y),            np.divide)
neg: Final[Op]  = defop("neg",         operator.neg,    lambda g, out, x: (-g,),                               np.negative)
pow_: Final[Op] = defop("**",          _pow,            lambda g, out, x, y: (g * _base_partial(x, y), g * out * _log_of_base(x)), np.power)
exp: Final[Op]  = defop("exp",         _exp,            lambda g, out, x: (g * out,),                          np.exp)
log: Final[Op]  = defop("log",         _log,            lambda g, out, x: (g / x,),                            np.log)
sqrt: Final[Op] = defop("sqrt",        _sqrt,           lambda g, out, x: (g / (2 * out),),                    np.sqrt)
sign: Final[Op] = defop("sign",        _sign,           lambda g, out, x: (g * 0,),                            np.sign)
abs_: Final[Op] = defop("abs",         abs,             lambda g, out, x: (g * sign(x),),                      np.abs)
sin: Final[Op]  = defop("sin",         math.sin,        lambda g, out, x: (g * cos(x),),                       np.sin)
cos: Final[Op]  = defop("cos",         math.cos,        lambda g, out, x: (-g * sin(x),),                      np.cos)
tanh: Final[Op] = defop("tanh",        math.tanh,       lambda g, out, x: (g * (1 - out * out),),              np.tanh)
sigmoid: Final[Op] = defop("sigmoid",  _sigmoid,        lambda g, out, x: (g * out * (1 - out),),              lambda x: np.exp(-np.logaddexp(0, -x)))
relu: Final[Op] = defop("relu",        _relu,           lambda g, out, x: (g * (x > 0),),                      lambda x: np.maximum(x, 0.0))
softplus: Final[Op] = defop("softplus", _softplus,      lambda g, out, x: (g * sigmoid(x),),                   lambda x: np.logaddexp(0, x))
# where(c, a, b) is a if c is nonzero, else b: the gradient goes to the branch taken, none to the condition.
where: Final[Op] = defop("where",      _where,          lambda g, out, c, a, b: (g * 0, where(c, g, 0), where(c, 0, g)), np.where)
# log(sum_i e^x_i) of any number of inputs; its derivative is the softmax e^(x_i - out).
logsumexp: Final[Op] = defop("logsumexp", _logsumexp,   lambda g, out, *xs: [g * exp(x - out) for x in xs],    _logsumexp_of_arrays)
# The fused neuron b + sum_i w_i x_i, one node instead of 2n; inputs are (w_1..w_n, x_1..x_n, b).
linear: Final[Op] = defop("linear",    _linear,         _linear_rule,                                          _linear)
# entries[index] for inputs (index, entry_0, ..., entry_n-1): an embedding's row, a class's logit. See `take`.
take_op: Final[Op] = defop("take",     _take,           _take_rule,                                            _take_of_arrays)
# fmt: on


def take(values: Any, index: Any) -> Any:
    """The entry of `values` at position `index`, `values[index]`, recorded as a node when the index is a Value.

    `values` is a list or tuple of Values or numbers, or a table of rows (a list of lists, as microgpt's
    `state_dict['wte']`): then the row at `index` is taken, a list. `index` is an int (the entry or row
    itself is returned, no node is recorded) or a Value holding a whole number from 0 to len(values) - 1:
    then each entry taken is a node of the `take` operation, whose gradient goes to the chosen entry only
    (the index gets none). So a token id or a class label can be a Value that `engine.vectorize` replays
    per sample. Anything else, or an index out of range, is an error naming it: TypeError for a wrong
    type, ValueError for a wrong number.
    """
    if not isinstance(values, Sequence) or isinstance(values, (str, bytes)):
        raise TypeError(f"take expects a list or tuple of Values or numbers, got {type(values).__name__}; or a "
                        "table of rows (a list of lists of them, each of the same length), of which it takes a row")  # fmt: skip
    if not values:
        raise ValueError("take expects at least one entry to choose from, got an empty sequence")
    rows = [isinstance(entry, Sequence) and not isinstance(entry, str) for entry in values]
    if any(rows):  # a table: the entry of each column, i.e. the row
        widths = [len(entry) if is_row else None for entry, is_row in zip(values, rows)]
        if not all(rows) or len(set(widths)) != 1 or not widths[0]:
            raise ValueError(f"take: a table's rows must be lists of one nonzero length, got lengths {widths!r:.200}")
        return [take(column, index) for column in zip(*values)]
    if isinstance(index, (numbers.Integral, np.integer)) and not isinstance(index, bool):
        return values[checked_index(int(index), len(values))]
    if getattr(type(index), "record_node", None) is None:  # neither an int nor a Value (see Op.__call__)
        raise TypeError(f"take: index must be an int or a Value holding one, got {type(index).__name__}: {index!r:.40}")
    return take_op(index, *values)


def power(exponent: SupportsFloat) -> Op:
    """x ** c for a constant c: its own operation, so c is not a graph node (drawn as `**c`)."""
    c = as_float(exponent, "the exponent of **")
    return _power(int(c) if c.is_integer() else c)


@functools.lru_cache(maxsize=256)
def _power(c: Number) -> Op:
    return defop(f"**{c}", lambda x: _pow(x, c), lambda g, out, x: (g * _base_partial(x, c),),
                 lambda x: np.power(x, c), arity=1)  # fmt: skip
