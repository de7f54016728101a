"""Cross-checks against PyTorch (float64): micrograd's own test expressions and random graphs.

Skipped when torch is not installed, and failed under CI (the `torch` fixture of conftest.py); `make test`
installs it (torch==2.13.0).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

import nn
from engine import Value

try:
    import torch
except ImportError:  # every test below needs the `torch` fixture, which then skips it (fails it under CI)
    torch = None

pytestmark = pytest.mark.usefixtures("torch")


def leaf(x: float) -> Any:
    return torch.tensor(x, dtype=torch.float64, requires_grad=True)


def test_micrograd_sanity_check_matches_torch() -> None:
    def expression(x: Any) -> Any:  # runs unchanged on Values and on tensors
        z = 2 * x + 2 + x
        q = z.relu() + z * x
        h = (z * z).relu()
        return h + q + q * x

    x = Value(-4.0)
    y = expression(x)
    y.backward()
    xt = leaf(-4.0)
    yt = expression(xt)
    yt.backward()
    assert y.data == yt.item()
    assert x.grad == xt.grad.item()


def test_micrograd_in_place_operators_match_torch() -> None:
    a, b = Value(-4.0), Value(2.0)
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    g = (c - d) ** 2 / 2.0
    g += 10.0 / ((c - d) ** 2)
    g.backward()
    at, bt = leaf(-4.0), leaf(2.0)
    ct = at + bt
    dt = at * bt + bt**3
    ct = ct + (ct + 1)
    ct = ct + (1 + ct + (-at))
    dt = dt + (dt * 2 + (bt + at).relu())
    dt = dt + (3 * dt + (bt - at).relu())
    gt = (ct - dt) ** 2 / 2.0
    gt = gt + 10.0 / ((ct - dt) ** 2)
    gt.backward()
    assert g.data == pytest.approx(gt.item(), rel=1e-12)
    assert a.grad == pytest.approx(at.grad.item(), rel=1e-12)
    assert b.grad == pytest.approx(bt.grad.item(), rel=1e-12)


def test_micrograd_expressions_match_torch() -> None:
    def expression(a: Any, b: Any) -> Any:  # runs unchanged on Values and on tensors
        c = a + b
        d = a * b + b**3
        c = c + c + 1
        c = c + 1 + c + (-a)
        d = d + d * 2 + (b + a).relu()
        d = d + 3 * d + (b - a).relu()
        e = c - d
        f = e**2
        g = f / 2.0
        return g + 10.0 / f

    a, b = Value(-4.0), Value(2.0)
    g = expression(a, b)
    g.backward()
    at, bt = leaf(-4.0), leaf(2.0)
    gt = expression(at, bt)
    gt.backward()
    assert g.data == pytest.approx(gt.item(), rel=1e-12)
    assert a.grad == pytest.approx(at.grad.item(), rel=1e-12)
    assert b.grad == pytest.approx(bt.grad.item(), rel=1e-12)


# Operations that are smooth and defined everywhere on the reals, as (on Values, on tensors).
UNARY: list[tuple[Callable[[Any], Any], Callable[[Any], Any]]] = [
    (lambda x: x.tanh(), lambda x: torch.tanh(x)),
    (lambda x: x.sigmoid(), lambda x: torch.sigmoid(x)),
    (lambda x: x.tanh().exp(), lambda x: torch.exp(torch.tanh(x))),
    (lambda x: (x * x + 1).log(), lambda x: torch.log(x * x + 1)),
    (lambda x: (x * x + 1).sqrt(), lambda x: torch.sqrt(x * x + 1)),
    (lambda x: x.sin(), lambda x: torch.sin(x)),
    (lambda x: x.cos(), lambda x: torch.cos(x)),
    (lambda x: x.relu(), lambda x: torch.relu(x)),
    (lambda x: abs(x), lambda x: torch.abs(x)),
    (lambda x: x.softplus(), lambda x: torch.nn.functional.softplus(x)),
    (lambda x: x**2, lambda x: x**2),
    (lambda x: -x, lambda x: -x),
    (lambda x: 1.5 ** x.tanh(), lambda x: 1.5 ** torch.tanh(x)),
]
BINARY: list[Callable[[Any, Any], Any]] = [
    lambda x, y: x + y,
    lambda x, y: x - y,
    lambda x, y: x * y,
    lambda x, y: x / (y * y + 1),
    lambda x, y: (x * x + 0.5) ** y.tanh(),
    lambda x, y: 2.0 * x - y * 0.5,
]


def random_graph(seed: int, n_leaves: int = 4, n_ops: int = 40) -> tuple[list[float], list[tuple[int, ...]]]:
    """A recipe: leaf values, then (kind, operand indices) steps that reuse earlier results."""
    rng = random.Random(seed)
    leaves = [rng.uniform(-2, 2) for _ in range(n_leaves)]
    steps = []
    for k in range(n_ops):
        available = n_leaves + k
        if rng.random() < 0.5:
            steps.append((0, rng.randrange(len(UNARY)), rng.randrange(available)))
        else:
            steps.append((1, rng.randrange(len(BINARY)), rng.randrange(available), rng.randrange(available)))
    return leaves, steps


def evaluate(nodes: list[Any], steps: list[tuple[int, ...]], squash: Callable[[Any], Any]) -> Any:
    for step in steps:
        if step[0] == 0:
            result = UNARY[step[1]][0 if isinstance(nodes[0], Value) else 1](nodes[step[2]])
        else:
            result = BINARY[step[1]](nodes[step[2]], nodes[step[3]])
        nodes.append(squash(result))  # keep magnitudes moderate so nothing overflows
    total = nodes[-1]
    for node in nodes[-6:-1]:  # several outputs feed the root: more sharing
        total = total + node
    return total


@pytest.mark.parametrize("seed", range(25))
def test_random_graphs_with_shared_subexpressions_match_torch(seed: int) -> None:
    leaves, steps = random_graph(seed)
    ours = [Value(x, label=f"x{i}") for i, x in enumerate(leaves)]
    out = evaluate(list(ours), steps, lambda v: v.tanh() * 3)
    out.backward()
    theirs = [leaf(x) for x in leaves]
    out_t = evaluate(list(theirs), steps, lambda v: torch.tanh(v) * 3)
    out_t.backward()
    assert out.data == pytest.approx(out_t.item(), rel=1e-10, abs=1e-12)
    for mine, ref in zip(ours, theirs):
        expected = 0.0 if ref.grad is None else ref.grad.item()
        assert mine.grad == pytest.approx(expected, rel=1e-9, abs=1e-10)


def test_mlp_gradients_match_torch() -> None:
    model = nn.MLP(3, [5, 4, 1], activation="tanh", seed=3)
    x = [0.3, -1.2, 0.8]
    loss = nn.mse_loss([model(x)], [0.5])
    loss.backward()
    params = [leaf(p.data) for p in model.parameters()]
    h: Any = [torch.tensor(v, dtype=torch.float64) for v in x]
    k = 0
    for i, layer in enumerate(model.layers):
        outputs = []
        for neuron in layer.neurons:
            n = len(neuron.w)
            z = params[k + n] + sum(params[k + j] * h[j] for j in range(n))
            k += n + 1
            outputs.append(torch.tanh(z) if i < len(model.layers) - 1 else z)
        h = outputs
    loss_t = (0.5 - h[0]) ** 2
    loss_t.backward()
    assert loss.data == pytest.approx(loss_t.item(), rel=1e-12)
    for p, pt in zip(model.parameters(), params):
        assert p.grad == pytest.approx(pt.grad.item(), rel=1e-10, abs=1e-14)
