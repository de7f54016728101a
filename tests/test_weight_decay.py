"""Weight decay: SGD(weight_decay=) and AdamW against updates computed by hand from their published formulas.

(Cross-checks against torch.optim on the same gradients are in tests/test_torch_interop.py.)
"""

from __future__ import annotations

import math

import pytest

import nn
from engine import Value

GRADIENTS = [0.8, -1.5, 0.3, 2.0, -0.1]  # dL/dw at each step: the loss is w * g, so w's gradient is exactly g


def run(optimizer: nn.Optimizer, w: Value) -> list[float]:
    """Steps with the gradients above; w after each step."""
    after = []
    for g in GRADIENTS:
        optimizer.zero_grad()
        (w * g).backward()
        optimizer.step()
        after.append(w.data)
    return after


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_weight_decay_adds_decay_times_parameter_to_the_gradient(momentum: float) -> None:
    lr, decay = 0.1, 0.05
    w = Value(1.5)
    got = run(nn.SGD([w], lr=lr, momentum=momentum, weight_decay=decay), w)
    p, velocity, expected = 1.5, 0.0, []
    for g in GRADIENTS:
        velocity = momentum * velocity + (g + decay * p)
        p -= lr * velocity
        expected.append(p)
    assert got == pytest.approx(expected, rel=1e-15)


def test_sgd_without_weight_decay_is_unchanged() -> None:
    w, v = Value(1.5), Value(1.5)
    assert run(nn.SGD([w], lr=0.1, momentum=0.5), w) == run(nn.SGD([v], lr=0.1, momentum=0.5, weight_decay=0.0), v)


def test_sgd_weight_decay_alone_shrinks_a_parameter_geometrically() -> None:
    w = Value(2.0)
    optimizer = nn.SGD([w], lr=0.1, weight_decay=0.5)
    for _ in range(10):
        optimizer.step()  # zero gradient: only the decay acts, w <- w (1 - lr * decay)
    assert w.data == pytest.approx(2.0 * (1 - 0.1 * 0.5) ** 10, rel=1e-14)


def test_adamw_decays_the_parameter_outside_the_moments() -> None:
    lr, beta1, beta2, eps, decay = 0.01, 0.8, 0.95, 1e-8, 0.1
    w = Value(1.5)
    got = run(nn.AdamW([w], lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=decay), w)
    p, m, v, expected = 1.5, 0.0, 0.0, []
    for t, g in enumerate(GRADIENTS, start=1):
        p *= 1 - lr * decay  # decoupled: shrink first, the moments see the gradient alone
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        p -= lr * (m / (1 - beta1**t)) / (math.sqrt(v / (1 - beta2**t)) + eps)
        expected.append(p)
    assert got == pytest.approx(expected, rel=1e-14)


def test_adamw_without_decay_is_adam() -> None:
    w, v = Value(0.7), Value(0.7)
    assert run(nn.AdamW([w], lr=0.05, weight_decay=0.0), w) == run(nn.Adam([v], lr=0.05), v)
    assert isinstance(nn.AdamW([w]), nn.Adam)


def test_adamw_differs_from_adam_with_an_l2_gradient() -> None:
    # With gradient g + decay * w (coupled L2), Adam rescales the decay by its moments; AdamW does not.
    decay, lr = 0.1, 0.01
    w, v = Value(1.5), Value(1.5)
    run(nn.AdamW([w], lr=lr, weight_decay=decay), w)
    coupled = nn.Adam([v], lr=lr)
    for g in GRADIENTS:
        coupled.zero_grad()
        (v * g + decay / 2 * v * v).backward()
        coupled.step()
    assert abs(w.data - v.data) > 1e-4


@pytest.mark.parametrize(
    "make", [lambda w, d: nn.SGD([w], lr=0.1, weight_decay=d), lambda w, d: nn.AdamW([w], weight_decay=d)]
)
def test_weight_decay_is_validated(make) -> None:
    w = Value(1.0)
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match=r"weight_decay must be a finite number in \[0, inf\)"):
            make(w, bad)
    with pytest.raises(TypeError, match="weight_decay.*str"):
        make(w, "0.1")
    assert w.data == 1.0
