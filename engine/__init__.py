"""valuegrad's engine: scalar Values that record their computation graph and backpropagate.

>>> from engine import Value
>>> x = Value(2.0, label="x")
>>> y = x * x + 1
>>> y.backward()
>>> x.grad
4.0

Modules, bottom-up (each imports only those above it in this list):
modes (per-thread flags), value (the node and recording), ops (the operation
table, which also gives Value its operators), anomaly, backprop (the graph walk,
which gives Value `backward`), derivatives, checks, diagram, steps (the backward
pass step by step: `backward_steps`, `explain`), explorer (the interactive page,
which gives `save_diagram` its .html files), vectorize (a function of one sample
replayed over a batch).
"""

from engine.anomaly import detect_anomaly
from engine.backprop import backward, backward_pass, grad, topological_order
from engine.checks import GradcheckError, gradcheck, gradgradcheck
from engine.derivatives import hessian
from engine.diagram import draw_dot, save_diagram
from engine.explorer import Explorer, explore
from engine.modes import no_grad
from engine.ops import (
    abs_,
    add,
    cos,
    div,
    exp,
    linear,
    log,
    logsumexp,
    mul,
    neg,
    pow_,
    power,
    relu,
    sigmoid,
    sign,
    sin,
    softplus,
    sqrt,
    sub,
    tanh,
    where,
)
from engine.steps import backward_steps, explain
from engine.value import Op, Value, defop
from engine.vectorize import Vectorized, vectorize

pow = pow_  # engine.pow, as before; left out of __all__ so `import *` keeps the built-in

__all__ = [
    "Explorer",
    "GradcheckError",
    "Op",
    "Value",
    "Vectorized",
    "abs_",
    "add",
    "backward",
    "backward_pass",
    "backward_steps",
    "cos",
    "defop",
    "detect_anomaly",
    "div",
    "draw_dot",
    "exp",
    "explain",
    "explore",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "hessian",
    "linear",
    "log",
    "logsumexp",
    "mul",
    "neg",
    "no_grad",
    "pow_",
    "power",
    "relu",
    "save_diagram",
    "sigmoid",
    "sign",
    "sin",
    "softplus",
    "sqrt",
    "sub",
    "tanh",
    "topological_order",
    "vectorize",
    "where",
]
