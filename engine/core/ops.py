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

import functools
import math
import operator
from collections.abc import Sequence
from typing import Any, SupportsFloat

import numpy as np

from engine.core.numbers import Number, as_float
from engine.core.value import OPERATIONS, Op, Value, defop


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


def _where(condition: float, a: float, b: float) -> float:
    return a if condition else b


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


# The row `logsumexp` below for M nodes of k inputs each, as engine.vectorize runs them (a softmax's normaliser,
# a cross-entropy's): the k inputs stacked on a first axis, one numpy call per step instead of k. Not a row of the
# table; tests check both against the row's forward and rule, node by node and sample by sample.
def logsumexp_stacked(xs: Any) -> Any:
    """`_logsumexp` along the first axis: xs (k, M, N) -> (M, N), the largest input subtracted before exponentiating."""
    top = xs.max(axis=0)
    shift = np.where(np.isfinite(top), top, 0.0)
    e = xs - shift
    np.exp(e, out=e)  # in place: one array of the stacked inputs' size, not two
    return shift + np.log(e.sum(axis=0))


def logsumexp_stacked_rule(g: Any, out: Any, xs: Any) -> Any:
    """The row's rule for `logsumexp_stacked`: input i gets g e^(x_i - out), the softmax, for every i at once."""
    d = xs - out
    np.exp(d, out=d)
    d *= g
    return d


def _index(index: float, count: int) -> int:
    """`index` as a position among `count` entries: a whole number from 0 to count - 1, else ValueError."""
    if not float(index).is_integer():
        raise ValueError(f"take: index {index!r} is not a whole number; expected an integer from 0 to {count - 1}")
    k = int(index)
    if not 0 <= k < count:
        raise ValueError(f"take: index {k} is out of range for {count} entries; expected 0 to {count - 1}")
    return k


def _take(index: float, *entries: float) -> float:
    """The entry at position `index`: entries[index]."""
    return entries[_index(index, len(entries))]


def _take_of_arrays(index: Any, *entries: Any) -> Any:
    """`_take` element by element: a gather, each element's entry chosen by its own index."""
    index, *arrays = np.broadcast_arrays(np.asarray(index, dtype=float), *entries)
    valid = np.isin(index, np.arange(len(entries)))
    if not valid.all():
        _index(float(index[~valid].flat[0]), len(entries))  # raises, naming the index
    return np.take_along_axis(np.stack(arrays), index.astype(np.intp)[None], axis=0)[0]


def _take_rule(g: Any, out: Any, index: Any, *entries: Any) -> list[Any]:
    # The gradient goes to the entry chosen, none to the others or to the index: where(index == k, g, 0).
    return [g * 0] + [where(_nonzero(index - k), 0, g) for k in range(len(entries))]


# The row `take` below for M take nodes whose entries are rows of one array, as engine.vectorize runs them (an
# embedding's lookups, a class's logit): one gather per sample and a scatter-add back. Not a row of the table (its
# inputs are matrices); tests check both against the row's forward and rule, node by node and sample by sample.
def _chosen_rows(rows: Any, index: Any) -> Any:
    """rows[m, index[m, s]] for every node m and sample s; an index not whole or out of range: `_index`'s ValueError."""
    count = rows.shape[1]
    valid = (index >= 0) & (index < count) & (index == np.floor(index))
    if not valid.all():
        _index(float(index[~valid][0]), count)  # raises, naming the index
    return np.take_along_axis(rows, index.astype(np.intp), axis=1)


def take_rows(source: Any, rows: Any, index: Any) -> Any:
    """`_take` for M nodes: node m's entry k is row rows[m, k] of `source` (R, N), or (R, 1) for entries the same
    at every sample, and `index` (M, N), or (M, 1), chooses per sample: out[m, s] = source[rows[m, index[m, s]], s]."""
    chosen = _chosen_rows(rows, index)
    columns = np.arange(source.shape[1]) if source.shape[1] > 1 else 0
    return source[chosen, columns]


def take_rows_rule(g: Any, out: Any, source: Any, rows: Any, index: Any) -> tuple[Any, Any]:
    """`_take_rule` for `take_rows`: each sample's g goes to the row it chose, added up where rows are chosen
    more than once (and over the samples for a source of one column); the index gets none (g * 0)."""
    g = np.broadcast_to(g, out.shape)
    chosen = np.broadcast_to(_chosen_rows(rows, index), out.shape)
    width = source.shape[1]
    flat = chosen if width == 1 else chosen * width + np.arange(width)
    d_source = np.bincount(flat.ravel(), weights=g.ravel(), minlength=source.size).reshape(source.shape)
    return d_source, g * 0


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


# The row `linear` below for a layer over a batch, as engine.vectorize runs one sample's neurons that read the same
# inputs: in matrix form, with its rule summed over the samples and the neurons. Not a row of the table (its
# inputs are matrices); tests check both against the row's forward and rule, sample by sample and neuron by neuron.
def linear_layer(weights: Any, inputs: Any, bias: Any, out: Any = None) -> Any:
    """`_linear` for G neurons that read the same n inputs: weights (G, n), inputs (n, N), bias (G, 1) -> (G, N).
    A bias (G, N) gives each sample a bias of its own. `out`: an array (G, N) to write the result into."""
    product = np.matmul(weights, inputs, out=out)
    product += bias
    return product


def linear_layer_rule(
    g: Any, out: Any, weights: Any, inputs: Any, bias: Any, inputs_wanted: bool = True, into: Any = (None, None)
) -> tuple[Any, Any, Any]:
    """`_linear_rule` for a layer: w_i gets g x_i summed over the samples, x_i gets g w_i summed over the
    neurons that read it, b gets g summed over the samples (g itself for a bias of each sample's own).
    `inputs_wanted=False` leaves out x_i's (None): a product as large as the forward one, which nobody
    reads when the inputs are vectorize's arguments. `into`: arrays to write the weights' and the inputs'
    gradients into (or None)."""
    d_bias = g.sum(axis=1, keepdims=True) if bias.shape[1] == 1 else g
    d_weights = np.matmul(g, inputs.T, out=into[0])
    return d_weights, np.matmul(weights.T, g, out=into[1]) if inputs_wanted else None, d_bias


# The row `linear` below for M nodes that each read their own weights and inputs (attention's q.k, a softmax's
# weights times values), as engine.vectorize runs them: one contraction per sample. A last axis of size 1 stands
# for the same number at every sample. Tests check both against the row's forward and rule, as for the layer.
def linear_stacked(weights: Any, inputs: Any, bias: Any) -> Any:
    """`_linear` for M nodes of n weights and n inputs each: weights, inputs (M, n, N), bias (M, N) -> (M, N)."""
    return np.einsum("mis,mis->ms", weights, inputs) + bias


def linear_stacked_rule(g: Any, out: Any, weights: Any, inputs: Any, bias: Any) -> tuple[Any, Any, Any]:
    """`_linear_rule` for `linear_stacked`, per node and sample: w_i gets g x_i, x_i gets g w_i, b gets g."""
    g_each = g[:, None, :]
    return g_each * inputs, g_each * weights, g


# fmt: off
# name                          forward          rule: g = dL/d(out) -> dL/d(inputs)                   numpy forward
add: Op  = defop("+",           operator.add,    lambda g, out, x, y: (g, g),                           np.add)
sub: Op  = defop("-",           operator.sub,    lambda g, out, x, y: (g, -g),                          np.subtract)
mul: Op  = defop("*",           operator.mul,    lambda g, out, x, y: (g * y, g * x),                   np.multiply)
div: Op  = defop("/",           _div,            lambda g, out, x, y: (g / y, -g * out / y),            np.divide)
neg: Op  = defop("neg",         operator.neg,    lambda g, out, x: (-g,),                               np.negative)
pow_: Op = defop("**",          _pow,            lambda g, out, x, y: (g * _base_partial(x, y), g * out * _log_of_base(x)), np.power)
exp: Op  = defop("exp",         _exp,            lambda g, out, x: (g * out,),                          np.exp)
log: Op  = defop("log",         _log,            lambda g, out, x: (g / x,),                            np.log)
sqrt: Op = defop("sqrt",        _sqrt,           lambda g, out, x: (g / (2 * out),),                    np.sqrt)
sign: Op = defop("sign",        _sign,           lambda g, out, x: (g * 0,),                            np.sign)
abs_: Op = defop("abs",         abs,             lambda g, out, x: (g * sign(x),),                      np.abs)
sin: Op  = defop("sin",         math.sin,        lambda g, out, x: (g * cos(x),),                       np.sin)
cos: Op  = defop("cos",         math.cos,        lambda g, out, x: (-g * sin(x),),                      np.cos)
tanh: Op = defop("tanh",        math.tanh,       lambda g, out, x: (g * (1 - out * out),),              np.tanh)
sigmoid: Op = defop("sigmoid",  _sigmoid,        lambda g, out, x: (g * out * (1 - out),),              lambda x: np.exp(-np.logaddexp(0, -x)))
relu: Op = defop("relu",        _relu,           lambda g, out, x: (g * (x > 0),),                      lambda x: np.maximum(x, 0.0))
softplus: Op = defop("softplus", _softplus,      lambda g, out, x: (g * sigmoid(x),),                   lambda x: np.logaddexp(0, x))
# where(c, a, b) is a if c is nonzero, else b: the gradient goes to the branch taken, none to the condition.
where: Op = defop("where",      _where,          lambda g, out, c, a, b: (g * 0, where(c, g, 0), where(c, 0, g)), np.where)
# log(sum_i e^x_i) of any number of inputs; its derivative is the softmax e^(x_i - out).
logsumexp: Op = defop("logsumexp", _logsumexp,   lambda g, out, *xs: [g * exp(x - out) for x in xs],    _logsumexp_of_arrays)
# The fused neuron b + sum_i w_i x_i, one node instead of 2n; inputs are (w_1..w_n, x_1..x_n, b).
linear: Op = defop("linear",    _linear,         _linear_rule,                                          _linear)
# entries[index] for inputs (index, entry_0, ..., entry_n-1): an embedding's row, a class's logit. See `take`.
take_op: Op = defop("take",     _take,           _take_rule,                                            _take_of_arrays)
# fmt: on


def take(values: Any, index: Any) -> Any:
    """The entry of `values` at position `index`: `values[index]`, recorded as a node when the index is a Value.

    `index` is an int (the entry itself is returned, no node is recorded) or a Value holding a whole
    number from 0 to len(values) - 1: then the result is a node of the `take` operation, whose gradient
    goes to the chosen entry only (the index gets none). So a token id or a class label can be a Value
    that `engine.vectorize` replays per sample. Anything else, or an index out of range, is an error
    naming it: TypeError for a wrong type, ValueError for a wrong number.
    """
    if not isinstance(values, Sequence) or isinstance(values, (str, bytes)):
        raise TypeError(f"take expects a list or tuple of Values or numbers, got {type(values).__name__}")
    if not values:
        raise ValueError("take expects at least one entry to choose from, got an empty sequence")
    if isinstance(index, Value):
        return take_op(index, *values)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"take: index must be an int or a Value holding one, got {type(index).__name__}: {index!r:.40}")
    return values[_index(int(index), len(values))]


def power(exponent: SupportsFloat) -> Op:
    """x ** c for a constant c: its own operation, so c is not a graph node (drawn as `**c`)."""
    c = as_float(exponent, "the exponent of **")
    return _power(int(c) if c.is_integer() else c)


@functools.lru_cache(maxsize=256)
def _power(c: Number) -> Op:
    return defop(
        f"**{c}",
        lambda x: _pow(x, c),
        lambda g, out, x: (g * _base_partial(x, c),),
        lambda x: np.power(x, c),
        arity=1,
    )


# Value's arithmetic operators and functions record rows of the table above (declared in engine/core/value.py).
OPERATIONS.add, OPERATIONS.sub, OPERATIONS.mul, OPERATIONS.div, OPERATIONS.pow = add, sub, mul, div, pow_
OPERATIONS.neg, OPERATIONS.abs, OPERATIONS.exp, OPERATIONS.log, OPERATIONS.sqrt = neg, abs_, exp, log, sqrt
OPERATIONS.sin, OPERATIONS.cos, OPERATIONS.tanh, OPERATIONS.sigmoid = sin, cos, tanh, sigmoid
OPERATIONS.relu, OPERATIONS.softplus, OPERATIONS.power = relu, softplus, power
