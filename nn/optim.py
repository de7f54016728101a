"""Optimizers: update parameters in place from their `.grad`."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from engine import Value
from engine.core.numbers import as_float
from engine.core.value import zero_grads


class Optimizer:
    """Holds the parameters; `zero_grad()` clears their gradients, `step()` updates them."""

    def __init__(self, parameters: Iterable[Value], lr: float) -> None:
        if not isinstance(parameters, Iterable):
            raise TypeError(self._pass_parameters(parameters))
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for p in self.parameters:
            if not isinstance(p, Value):
                raise TypeError(self._pass_parameters(p))
        self.lr = self._number("learning rate lr", lr, low=0.0, low_inclusive=False)

    def _pass_parameters(self, given: object) -> str:
        """What to say when given something other than Values to update: a model (e.g. nn.Adam(model)) or else."""
        name = type(self).__name__
        got = type(given).__name__
        if callable(getattr(given, "parameters", None)):
            got = f"the model {got} itself; pass its parameters instead"
        return f"{name} expects the parameters (Values) to update, e.g. {name}(model.parameters(), lr=0.01), got {got}"

    def _number(self, what: str, x: object, low: float, high: float = math.inf, low_inclusive: bool = True) -> float:
        """`x` as a float in the given range, else TypeError (not a number) or ValueError (out of range)."""
        value = as_float(x, f"{type(self).__name__}: {what}")
        above_low = value >= low if low_inclusive else value > low
        if not (above_low and value < high and math.isfinite(value)):
            interval = f"{'[' if low_inclusive else '('}{low:g}, {high:g})"
            raise ValueError(f"{type(self).__name__}: {what} must be a finite number in {interval}, got {x!r}")
        return value

    def zero_grad(self) -> None:
        zero_grads(self.parameters)

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with momentum and weight decay (PyTorch's form):
    g <- grad + weight_decay * p;  v <- momentum * v + g;  p <- p - lr * v.

    `weight_decay` adds the gradient of (weight_decay / 2) * p^2 (L2 regularisation) to every
    parameter's gradient, as `torch.optim.SGD(weight_decay=...)` does.
    """

    def __init__(
        self, parameters: Iterable[Value], lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0
    ) -> None:
        super().__init__(parameters, lr)
        self.momentum = self._number("momentum", momentum, low=0.0, high=1.0)
        self.weight_decay = self._number("weight_decay", weight_decay, low=0.0)
        self.velocity = [0.0] * len(self.parameters)

    def step(self) -> None:
        for i, p in enumerate(self.parameters):
            g = p.grad + self.weight_decay * p.data if self.weight_decay else p.grad
            self.velocity[i] = self.momentum * self.velocity[i] + g
            p.data -= self.lr * self.velocity[i]


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias-corrected first and second moment estimates."""

    def __init__(
        self,
        parameters: Iterable[Value],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(parameters, lr)
        if np.ndim(betas) != 1 or len(betas) != 2:
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas!r}")
        self.beta1, self.beta2 = (self._number("betas", b, low=0.0, high=1.0) for b in betas)
        self.eps = self._number("eps", eps, low=0.0, low_inclusive=False)
        self.steps = 0
        self.m = [0.0] * len(self.parameters)
        self.v = [0.0] * len(self.parameters)

    def step(self) -> None:
        self.steps += 1
        correction1 = 1.0 - self.beta1**self.steps
        correction2 = 1.0 - self.beta2**self.steps
        for i, p in enumerate(self.parameters):
            g = p.grad
            self.m[i] = self.beta1 * self.m[i] + (1.0 - self.beta1) * g
            self.v[i] = self.beta2 * self.v[i] + (1.0 - self.beta2) * g * g
            m_hat = self.m[i] / correction1
            v_hat = self.v[i] / correction2
            p.data -= self.lr * m_hat / (math.sqrt(v_hat) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as `torch.optim.AdamW`.

    Each step first shrinks every parameter, p <- p (1 - lr * weight_decay), then takes
    Adam's step from the gradient alone. The decay is kept out of the moment estimates, so
    it is not rescaled by them as an L2 term in the gradient would be. The defaults are
    PyTorch's, weight_decay=0.01 included.
    """

    def __init__(
        self,
        parameters: Iterable[Value],
        lr: float = 0.001,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(parameters, lr, betas, eps)
        self.weight_decay = self._number("weight_decay", weight_decay, low=0.0)

    def step(self) -> None:
        shrink = 1.0 - self.lr * self.weight_decay
        for p in self.parameters:
            p.data *= shrink
        super().step()
