"""Every operation's mathematics, stated once: forward function and derivative rule.

Each row is `defop(name, forward, rule, array_forward)`:

- `forward(*inputs)` computes the result on floats, raising Python's float
  errors (ValueError, ZeroDivisionError, OverflowError) with a clear message.
- `rule(g, out, *inputs)` returns dL/d(input) for each input, given
  g = dL/d(out) and the forward result `out`. Rules use only arithmetic
  operators, comparisons and the operations of this table, so the same rule
  runs on floats (the fast `backward()`), on Values (`engine.grad(...,
  create_graph=True)`, for higher-order derivatives) and on numpy arrays (one
  rule evaluation for a whole batch).
- `array_forward` is the numpy version of `forward`.

A new operation goes here, as one more row (or, outside the package, through
`engine.defop`, the same call).
"""

from __future__ import annotations

import math
import operator
from functools import lru_cache
from typing import Any

import numpy as np

from engine.value import Op, _as_float, defop


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


def _log_of_base(x: Any) -> Any:
    """log(x) for the exponent's gradient of x ** y: 0 at x = 0, nan for x < 0 (as PyTorch)."""
    if isinstance(x, np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.where(x == 0, 0.0, np.nan))
    if x > 0:
        return log(x)
    return math.nan if x < 0 else 0.0


def _base_partial(x: Any, y: Any) -> Any:
    """d(x ** y)/dx = y x^(y-1); 0 at x = y = 0, where x ** 0 is the constant 1 but x^(y-1) has no value."""
    if isinstance(x, np.ndarray) or isinstance(y, np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((x == 0) & (y == 0), 0.0, y * x ** (y - 1))
    return y * 0 if _is_zero(x) and _is_zero(y) else y * x ** (y - 1)


def _is_zero(x: Any) -> bool:
    return not (x < 0 or x > 0)  # for a Value, `==` would compare identity


def _sign(x: float) -> float:
    return float((x > 0) - (x < 0))


def _linear(*args: Any) -> Any:
    """b + sum_i w_i x_i for args (w_1..w_n, x_1..x_n, b): floats or numpy arrays alike."""
    if len(args) % 2 == 0:
        raise TypeError(f"linear expects 2n + 1 inputs (w_1..w_n, x_1..x_n, b), got {len(args)}")
    n = len(args) // 2
    return sum(map(operator.mul, args[:n], args[n:-1]), args[-1])


def _linear_rule(g: Any, out: Any, *args: Any) -> list[Any]:
    # d(b + sum w_i x_i)/dw_i = x_i, /dx_i = w_i, /db = 1
    n = len(args) // 2
    weights, inputs = args[:n], args[n:-1]
    return [g * d for d in (*inputs, *weights, 1)]


# fmt: off
# name                 forward          rule: g = dL/d(out) -> dL/d(inputs)                      numpy forward
add  = defop("+",      operator.add,       lambda g, out, x, y: (g, g),                              np.add)
sub  = defop("-",      operator.sub,       lambda g, out, x, y: (g, -g),                             np.subtract)
mul  = defop("*",      operator.mul,       lambda g, out, x, y: (g * y, g * x),                      np.multiply)
div  = defop("/",      _div,               lambda g, out, x, y: (g / y, -g * out / y),               np.divide)
neg  = defop("neg",    operator.neg,       lambda g, out, x: (-g,),                                  np.negative)
pow  = defop("**",     _pow,               lambda g, out, x, y: (g * _base_partial(x, y), g * out * _log_of_base(x)), np.power)
exp  = defop("exp",    _exp,               lambda g, out, x: (g * out,),                             np.exp)
log  = defop("log",    _log,               lambda g, out, x: (g / x,),                               np.log)
sqrt = defop("sqrt",   _sqrt,              lambda g, out, x: (g / (2 * out),),                       np.sqrt)
sign = defop("sign",   _sign,              lambda g, out, x: (g * 0,),                               np.sign)
abs_ = defop("abs",    abs,                lambda g, out, x: (g * sign(x),),                         np.abs)
sin  = defop("sin",    math.sin,           lambda g, out, x: (g * cos(x),),                          np.sin)  # type: ignore[has-type]
cos  = defop("cos",    math.cos,           lambda g, out, x: (-g * sin(x),),                         np.cos)
tanh = defop("tanh",   math.tanh,          lambda g, out, x: (g * (1 - out * out),),                 np.tanh)
sigmoid = defop("sigmoid", _sigmoid,       lambda g, out, x: (g * out * (1 - out),),                 lambda x: np.exp(-np.logaddexp(0, -x)))
relu = defop("relu",   lambda x: 0.0 if x <= 0 else x, lambda g, out, x: (g * (x > 0),),              lambda x: np.maximum(x, 0.0))
softplus = defop("softplus", _softplus,    lambda g, out, x: (g * sigmoid(x),),                      lambda x: np.logaddexp(0, x))
# The fused neuron b + sum_i w_i x_i, one node instead of 2n; inputs are (w_1..w_n, x_1..x_n, b).
linear = defop("linear", _linear,         _linear_rule,                                             _linear)
# fmt: on


def power(exponent: float) -> Op:
    """x ** c for a constant c: its own operation, so c is not a graph node (drawn as `**c`)."""
    c = _as_float(exponent, "the exponent of **")
    return _power(int(c) if c.is_integer() else c)


@lru_cache(maxsize=256)
def _power(c: float) -> Op:
    return defop(
        f"**{c}",
        lambda x: _pow(x, c),
        lambda g, out, x: (g * _base_partial(x, c),),
        lambda x: np.power(x, c),
    )
