"""Optimizers: update parameters in place from their `.grad`."""

from __future__ import annotations

import math
from collections.abc import Iterable

from engine import Value


class Optimizer:
    """Holds the parameters; `zero_grad()` clears their gradients, `step()` updates them."""

    def __init__(self, parameters: Iterable[Value], lr: float) -> None:
        self.parameters = list(parameters)
        if not self.parameters:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        for p in self.parameters:
            if not isinstance(p, Value):
                raise TypeError(f"{type(self).__name__} expects Values as parameters, got {type(p).__name__}")
        if not (isinstance(lr, (int, float)) and lr > 0 and math.isfinite(lr)):
            raise ValueError(f"{type(self).__name__}: learning rate must be a positive number, got {lr!r}")
        self.lr = float(lr)

    def zero_grad(self) -> None:
        for p in self.parameters:
            p.grad = 0.0

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Stochastic gradient descent with momentum (PyTorch's form):
    v <- momentum * v + grad;  p <- p - lr * v.
    """

    def __init__(self, parameters: Iterable[Value], lr: float = 0.01, momentum: float = 0.0) -> None:
        super().__init__(parameters, lr)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"SGD: momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)
        self.velocity = [0.0] * len(self.parameters)

    def step(self) -> None:
        for i, p in enumerate(self.parameters):
            self.velocity[i] = self.momentum * self.velocity[i] + p.grad
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
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"Adam: betas must be two numbers in [0, 1), got {betas!r}")
        if not eps > 0:
            raise ValueError(f"Adam: eps must be positive, got {eps!r}")
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)
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
