"""valuegrad's engine: scalar Values that record their computation graph and backpropagate.

>>> from engine import Value
>>> x = Value(2.0, label="x")
>>> y = x * x + 1
>>> y.backward()
>>> x.grad
4.0
"""

from engine.anomaly import detect_anomaly
from engine.backprop import backward, grad, topological_order
from engine.checks import GradcheckError, gradcheck, gradgradcheck
from engine.derivatives import hessian
from engine.diagram import draw_dot, save_diagram
from engine.ops import (
    abs_,
    add,
    cos,
    div,
    exp,
    linear,
    log,
    mul,
    neg,
    power,
    relu,
    sigmoid,
    sign,
    sin,
    softplus,
    sqrt,
    sub,
    tanh,
)
from engine.ops import pow as pow  # engine.pow; left out of __all__ so `import *` keeps the built-in
from engine.value import Op, Value, defop, no_grad

__all__ = [
    "GradcheckError",
    "Op",
    "Value",
    "abs_",
    "add",
    "backward",
    "cos",
    "defop",
    "detect_anomaly",
    "div",
    "draw_dot",
    "exp",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "hessian",
    "linear",
    "log",
    "mul",
    "neg",
    "no_grad",
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
]
