"""Every row of the operation table exported to PyTorch computes and differentiates as engine.vectorize does.

The oracle is vectorize's own replay (numpy, the table's forward functions and rules): for each row, a
function of parameters and a batch that uses it, the exported module's per-sample outputs and the
gradient PyTorch gives the parameters for the mean are held to vectorize's outputs and `backward`, within
1e-10. The points include the ones where a rule is a choice (relu, abs and sign at 0, 0 ** 0, a `where`
whose condition is 0), the row's members grouped (several in one batched node) and not depending on the
batch. An operation of one's own (`engine.defop`) runs its numpy forward and rule, on the CPU only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import engine
from engine import Value

try:
    import torch
except ImportError:  # every test below needs the `torch` fixture, which then skips it (fails it under CI)
    torch = None

pytestmark = pytest.mark.usefixtures("torch")

RNG = np.random.default_rng(25)
N = 7


def parameters(*values: float) -> list[Value]:
    return [Value(v, label=f"p[{i}]") for i, v in enumerate(values)]


def gradients_agree(fn: Callable[..., Value], params: list[Value], *batch: Any, tolerance: float = 1e-10) -> None:
    """The exported module's outputs and mean's gradients against vectorize's, on `batch`."""
    vf = engine.vectorize(fn)
    tm = vf.to_torch(*batch, parameters=params)
    expected = vf(*batch)
    for p in params:
        p.grad = 0.0
    vf.backward(*batch)
    expected_gradient = np.array([p.grad for p in params])

    out = tm(*batch)
    assert out.dtype == torch.float64 and tuple(out.shape) == expected.shape
    np.testing.assert_allclose(out.detach().numpy(), expected, rtol=tolerance, atol=tolerance)
    out.mean().backward()
    by_value = {}
    for tensor in tm.source.parameters:
        grad = dict(tm.program.named_parameters())[tensor.name].grad
        by_value.update(zip(tensor.values, grad.numpy().ravel().tolist()))
    got = np.array([by_value[p] for p in params])
    np.testing.assert_allclose(got, expected_gradient, rtol=tolerance, atol=tolerance)


UNARY: dict[str, tuple[Callable[[Any], Any], np.ndarray]] = {
    # row: (the row applied to a Value, points where it is defined, with the ones where its rule is a choice)
    "neg": (lambda x: -x, RNG.normal(size=N)),
    "exp": (lambda x: x.exp(), RNG.normal(size=N)),
    "log": (lambda x: x.log(), RNG.uniform(0.1, 3, size=N)),
    "sqrt": (lambda x: x.sqrt(), RNG.uniform(0.1, 3, size=N)),
    "sign": (lambda x: engine.sign(x), np.array([-2.0, 0.0, 1.5, 0.0, -0.1, 3.0, 0.0])),
    "abs": (lambda x: abs(x), np.array([-2.0, 0.0, 1.5, 0.0, -0.1, 3.0, 0.0])),
    "sin": (lambda x: x.sin(), RNG.normal(size=N)),
    "cos": (lambda x: x.cos(), RNG.normal(size=N)),
    "tanh": (lambda x: x.tanh(), RNG.normal(size=N)),
    "sigmoid": (lambda x: x.sigmoid(), np.array([-40.0, -3.0, 0.0, 0.5, 3.0, 40.0, 800.0])),
    "relu": (lambda x: x.relu(), np.array([-2.0, 0.0, 1.5, 0.0, -0.1, 3.0, 0.0])),
    "softplus": (lambda x: x.softplus(), np.array([-40.0, -3.0, 0.0, 0.5, 19.0, 21.0, 25.0])),
    "**c": (lambda x: x**3, RNG.normal(size=N)),
    "**c fraction": (lambda x: x**-0.5, RNG.uniform(0.1, 3, size=N)),
    "**c zero": (lambda x: x**0, np.array([-2.0, 0.0, 1.5, 0.0, -0.1, 3.0, 0.0])),
}


@pytest.mark.parametrize("name", UNARY)
def test_each_unary_row_exports_as_vectorize_runs_it(name: str) -> None:
    row, points = UNARY[name]
    a, b, c = parameters(1.0, 0.0, 0.7)

    def fn(x: Value) -> Value:
        # batched (a x + b, exactly x at the first call) and not (c alone), summed by a fused linear
        return row(a * x + b) + row(c) * x

    gradients_agree(fn, [a, b, c], points)


@pytest.mark.parametrize("name", UNARY)
def test_each_unary_row_grouped_over_several_members_exports(name: str) -> None:
    row, points = UNARY[name]
    ws = parameters(1.0, 1.0, 1.0, 0.5)

    def fn(x: list[Value]) -> Value:
        return engine.linear(*(row(w * xi) for w, xi in zip(ws, x)), *ws[:3], ws[3])

    X = np.stack([points, points[::-1], np.roll(points, 2)], axis=1)
    gradients_agree(fn, ws, X)


BINARY: dict[str, tuple[Callable[[Any, Any], Any], np.ndarray, np.ndarray]] = {
    "+": (lambda x, y: x + y, RNG.normal(size=N), RNG.normal(size=N)),
    "-": (lambda x, y: x - y, RNG.normal(size=N), RNG.normal(size=N)),
    "*": (lambda x, y: x * y, RNG.normal(size=N), RNG.normal(size=N)),
    "/": (lambda x, y: x / y, RNG.normal(size=N), RNG.uniform(0.5, 2, size=N) * RNG.choice([-1, 1], size=N)),
    "**": (lambda x, y: x**y, RNG.uniform(0.1, 3, size=N), RNG.normal(size=N)),
    "** at 0": (lambda x, y: x**y, np.array([0.0, 0.0, 0.0, 2.0, 0.0, 1.0, 0.5]), np.array([0, 1, 2, 0, 3, 0, 2.0])),
}


@pytest.mark.parametrize("name", BINARY)
def test_each_binary_row_exports_as_vectorize_runs_it(name: str) -> None:
    row, xs, ys = BINARY[name]
    a, b = parameters(1.0, 1.0)

    def fn(x: Value, y: Value) -> Value:
        return row(a * x, b * y) + row(a, b) * x

    gradients_agree(fn, [a, b], xs, ys)


def test_where_exports_with_no_gradient_for_its_condition() -> None:
    a, b, c = parameters(1.0, 2.0, -0.5)
    conditions = np.array([0.0, 1.0, -2.0, 0.0, 0.5, 0.0, 3.0])

    def fn(condition: Value, x: Value) -> Value:
        return engine.where(condition * c, a * x, b * x * x) + engine.where(c, a, b)

    gradients_agree(fn, [a, b, c], conditions, RNG.normal(size=N))


def test_logsumexp_exports_over_mixed_inputs() -> None:
    a, b, c = parameters(1.0, 0.3, -2.0)

    def fn(x: Value, y: Value) -> Value:
        one = engine.logsumexp(a * x)
        many = engine.logsumexp(a * x, b * y, c, x * y)
        return one + many + engine.logsumexp(a, b)

    gradients_agree(fn, [a, b, c], RNG.normal(size=N) * 30, RNG.normal(size=N))


def test_linear_exports_as_a_layer_a_contraction_and_alone() -> None:
    w = parameters(0.5, -1.0, 2.0, 0.1, 0.3, -0.7)

    def fn(x: list[Value]) -> Value:
        neurons = [engine.linear(w[0], w[1], x[0], x[1], w[2]), engine.linear(w[3], w[4], x[0], x[1], w[5])]
        products = engine.linear(neurons[0], neurons[1], x[1], x[0], 0.0)  # weights that depend on the sample
        return engine.linear(products) + products * w[0]

    gradients_agree(fn, w, RNG.normal(size=(N, 2)))


def test_linear_exports_as_a_layer_applied_to_several_tuples_of_inputs() -> None:
    """3 neurons of 2 inputs applied at 4 positions (a sequence model's layer), a bias of each position's own: one
    layer of vectorize's, its inputs, biases and outputs in its order (position by position), weighted unevenly."""
    p = parameters(*RNG.normal(size=6 + 12))
    w, b = p[:6], p[6:]

    def fn(x: list[Value]) -> Value:
        neurons = [w[2 * g : 2 * g + 2] for g in range(3)]
        outputs = [engine.linear(*neurons[g], *x[2 * t : 2 * t + 2], b[3 * t + g]) for t in range(4) for g in range(3)]
        return sum((k + 1.0) * o.tanh() for k, o in enumerate(outputs))  # type: ignore[return-value]

    X = RNG.normal(size=(N, 8))
    vf = engine.vectorize(fn)
    vf(X)
    layers = [node.op for node in vf.program.computed if node.kind == "linear layer"]
    assert (3, 2, 4) in [(op.neurons, op.n, op.tuples) for op in layers]  # one layer for the 4 positions
    gradients_agree(fn, p, X)


def test_take_exports_from_parameters_from_the_batch_and_with_a_computed_index() -> None:
    table = parameters(0.5, -1.0, 2.0, 0.1)

    def fn(x: Value, label: Value) -> Value:
        from_parameters = engine.take(table, label)
        mixed = engine.take([x * table[0], table[1], x * x, table[3]], label)
        computed = engine.take(table, label * 0 + 1)  # an index the program computes: checked in the program
        unbatched = engine.take([table[0] * table[1], table[2].exp(), table[3]], label * 0 + 2)  # from no argument
        return from_parameters * mixed + computed + unbatched

    gradients_agree(fn, table, RNG.normal(size=N), np.array([0, 1, 2, 3, 3, 0, 1]))


def test_every_row_of_the_table_is_covered() -> None:
    """The table's rows listed here are those engine/core/ops.py defines: a new row needs a test above."""
    from engine.batch.torch_forms import TORCH_ROWS
    from engine.core import ops

    rows = {v.name for v in vars(ops).values() if isinstance(v, engine.Op)}
    covered = {name.split()[0] for name in UNARY} | {name.split()[0] for name in BINARY}
    covered |= {"where", "logsumexp", "linear", "take"}
    assert rows <= covered, f"rows without a test here: {rows - covered}"
    assert {op.name for op in TORCH_ROWS} <= rows


# -- an operation of one's own ------------------------------------------------------------------------------------

CUBE = engine.defop("cube", lambda x: x**3, lambda g, out, x: (3 * g * x * x,))
SCALE = engine.defop("scale", lambda x, y: x * y, lambda g, out, x, y: (g * y, g * x), np.multiply)


def test_an_operation_of_ones_own_runs_its_numpy_forward_and_rule() -> None:
    a, b = parameters(0.7, -1.2)

    def fn(x: Value) -> Value:
        return CUBE(a * x) + SCALE(b, x) + CUBE(b)

    gradients_agree(fn, [a, b], RNG.normal(size=N))


def test_an_operation_of_ones_own_runs_in_float32() -> None:
    (a,) = parameters(0.7)
    vf = engine.vectorize(lambda x: CUBE(a * x))
    x = RNG.normal(size=N)
    tm = vf.to_torch(x, parameters=[a]).float()
    out = tm(x)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.detach().numpy(), vf(x), rtol=1e-6)


def test_an_operation_of_ones_own_refuses_another_device_naming_itself() -> None:
    (a,) = parameters(0.7)
    vf = engine.vectorize(lambda x: CUBE(a * x))
    tm = vf.to_torch(np.ones(3), parameters=[a]).to("meta")  # a device without data: no GPU needed
    with pytest.raises(RuntimeError, match=r"'cube' has no PyTorch form.*CPU only.*meta"):
        tm(np.ones(3))  # the module moves the arguments to its device


def test_a_row_named_like_a_power_but_of_ones_own_runs_its_own_rule() -> None:
    """An Op named `**2` that is not the table's row x ** 2 is not exported as x ** 2."""
    twice = engine.defop("**2", lambda x: 2 * x, lambda g, out, x: (2 * g,), arity=1)
    (a,) = parameters(0.7)
    gradients_agree(lambda x: twice(a * x), [a], RNG.normal(size=N))


def test_a_padded_contraction_keeps_an_inf_beyond_a_nodes_terms_out_of_it() -> None:
    """Weighted sums over the first 1, 2, 3 entries of one column (causal attention's shape) are one contraction,
    the shorter ones padded with zeros; a -inf in the column beyond a node's terms must not reach it (0 * inf)."""
    c = parameters(0.5, -1.0, 2.0, 0.3, 0.7, 1.5)

    def fn(v: list[Value]) -> Value:
        weights = [[c[0] * v[0]], [c[1] * v[0], c[2] * v[1]], [c[3] * 1.0, c[4] * 1.0, c[5] * 1.0]]
        sums = [engine.linear(*w, *v[: len(w)], 0.0) for w in weights]  # the last is -inf where v[2] is
        return engine.logsumexp(*sums)

    V = RNG.normal(size=(N, 3))
    V[::2, 2] = -np.inf
    vf = engine.vectorize(fn)
    vf(V)
    padded = [node.op.pairs for node in vf.program.computed if getattr(node.op, "pairs", None) is not None]
    assert [pairs.terms.tolist() for pairs in padded] == [[1, 2, 3]]  # one contraction, the column read whole
    gradients_agree(fn, c, V)


def test_an_operation_of_ones_own_named_like_a_row_runs_its_own_rule() -> None:
    """Rows are told apart by identity: a defop named `linear` with one input is not linear(b) = b."""
    doubled = engine.defop("linear", lambda x: 2 * x, lambda g, out, x: (2 * g,), arity=1)
    (a,) = parameters(0.7)
    gradients_agree(lambda x: doubled(a * x), [a], RNG.normal(size=N))
