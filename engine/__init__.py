"""valuegrad's engine: scalar Values that record their computation graph and backpropagate.

>>> from engine import Value
>>> x = Value(2.0, label="x")
>>> y = x * x + 1
>>> y.backward()
>>> x.grad
4.0

The folders say what may change without touching what:

- core/: the Value node, the operation table (engine/core/ops.py: every operation's forward
  function and derivative rule on one row) and the chain rule; see engine/core/__init__.py;
- pictures/: what learners look at: `draw_dot`, `save_diagram`, `backward_steps`, `explain`, `explore`;
- derivatives/: `hessian`, `gradcheck`, `gradgradcheck`, built on `grad`; `jvp` and `jacobian` (forward mode);
- batch/: `vectorize`, one sample's graph replayed over a batch.

Imports go one way: core imports nothing above it; the other folders import the core (and,
within pictures/, the modules listed before them) and never each other, except that pictures/
imports derivatives/ (forward mode's sweep, which the transcript and the explorer show).

engine/core may run compiled by mypyc (setup.py builds it where a C compiler is available) or from its
Python source, the same files: `engine.COMPILED` says which, and VALUEGRAD_INTERPRETED=1 runs the source
(engine/build.py).
"""

from engine import build

build.choose()  # before anything imports engine/core

# ruff: noqa: E402 (the core is imported after the choice above)

from engine.batch.vectorize import Vectorized, vectorize
from engine.core.anomaly import detect_anomaly
from engine.core.backprop import backward, backward_pass, topological_order
from engine.core.grad import grad
from engine.core.modes import no_grad
from engine.core.op import Op, defop
from engine.core.ops import (
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
    take,
    tanh,
    where,
)
from engine.core.value import COMPILED, Value
from engine.derivatives.forward import jacobian, jvp
from engine.derivatives.gradcheck import GradcheckError, gradcheck, gradgradcheck
from engine.derivatives.hessian import hessian
from engine.pictures.diagram import draw_dot
from engine.pictures.explorer import Explorer, explore
from engine.pictures.files import save_diagram
from engine.pictures.steps import backward_steps, explain

build.documented(Value)  # the compiled class has no docstrings: help(engine.Value) reads them from the source

pow = pow_  # engine.pow names the row `**` too; left out of __all__ so `import *` keeps the built-in

__all__ = [
    "COMPILED",
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
    "jacobian",
    "jvp",
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
    "take",
    "tanh",
    "topological_order",
    "vectorize",
    "where",
]
