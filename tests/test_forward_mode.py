"""Forward mode (`engine.jvp`, `engine.jacobian`) against PyTorch's own and against reverse mode.

Oracles: `torch.func.jvp` and `torch.autograd.functional.jacobian` (float64) on random programs that use every
row of the table; the reverse-mode Jacobian (`engine.grad`, one backward pass per output); closed forms.
"""

from __future__ import annotations

import gc
import math
import random
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

import engine
from engine import Value

try:
    import torch
except ImportError:  # the tests that need it take the `torch` fixture, which skips them (fails them under CI)
    torch = None


def smooth(x: Any) -> Any:
    """A positive number away from 0, on Values and tensors alike: a safe argument for log, sqrt, /, **."""
    return x * x + 0.5


def t_where(c: Any, a: Any, b: Any) -> Any:
    return torch.where(c != 0, a, b)


def t_take(index: Any, *entries: Any) -> Any:
    chosen = index.detach()  # as the row `take`: no gradient to the index
    return sum(e * (chosen == k).to(e.dtype) for k, e in enumerate(entries))


# Every row of the table, as (name, inputs, on Values, on tensors); domains kept where the partials are finite.
OPERATIONS: list[tuple[str, int, Callable[..., Any], Callable[..., Any]]] = [
    ("+", 2, lambda x, y: x + y, lambda x, y: x + y),
    ("-", 2, lambda x, y: x - y, lambda x, y: x - y),
    ("*", 2, lambda x, y: x * y, lambda x, y: x * y),
    ("/", 2, lambda x, y: x / smooth(y), lambda x, y: x / smooth(y)),
    ("neg", 1, lambda x: -x, lambda x: -x),
    ("**", 2, lambda x, y: smooth(x) ** y.tanh(), lambda x, y: smooth(x) ** torch.tanh(y)),
    ("**c", 1, lambda x: x**3, lambda x: x**3),
    ("exp", 1, lambda x: x.tanh().exp(), lambda x: torch.exp(torch.tanh(x))),
    ("log", 1, lambda x: smooth(x).log(), lambda x: torch.log(smooth(x))),
    ("sqrt", 1, lambda x: smooth(x).sqrt(), lambda x: torch.sqrt(smooth(x))),
    ("sign", 2, lambda x, y: engine.sign(x) * y, lambda x, y: torch.sign(x) * y),
    ("abs", 1, lambda x: abs(x), lambda x: torch.abs(x)),
    ("sin", 1, lambda x: x.sin(), lambda x: torch.sin(x)),
    ("cos", 1, lambda x: x.cos(), lambda x: torch.cos(x)),
    ("tanh", 1, lambda x: x.tanh(), lambda x: torch.tanh(x)),
    ("sigmoid", 1, lambda x: x.sigmoid(), lambda x: torch.sigmoid(x)),
    ("relu", 1, lambda x: x.relu(), lambda x: torch.relu(x)),
    ("softplus", 1, lambda x: x.softplus(), lambda x: torch.nn.functional.softplus(x)),
    ("where", 3, lambda c, a, b: engine.where(engine.sign(c), a, b), lambda c, a, b: t_where(torch.sign(c), a, b)),
    ("logsumexp", 3, lambda *xs: engine.logsumexp(*xs), lambda *xs: torch.logsumexp(torch.stack(xs), 0)),
    ("linear", 5, lambda w1, w2, x1, x2, b: engine.linear(w1, w2, x1, x2, b),
     lambda w1, w2, x1, x2, b: w1 * x1 + w2 * x2 + b),
    ("take", 3, lambda i, a, b: engine.take([a, b, a * b], engine.where(engine.sign(i).relu(), 2.0, 1.0)),
     lambda i, a, b: t_take(torch.where(torch.relu(torch.sign(i)) != 0, 2.0, 1.0), a, b, a * b)),
]  # fmt: skip


def random_program(seed: int, n_inputs: int = 3, steps: int = 30) -> tuple[list[float], Callable[[Any, bool], Any]]:
    """A point and a program that uses every operation at least once, its results reused, with two outputs."""
    rng = random.Random(seed)
    point = [rng.uniform(-1.5, 1.5) for _ in range(n_inputs)]
    plan = [rng.randrange(len(OPERATIONS)) for _ in range(steps)] + list(range(len(OPERATIONS)))
    rng.shuffle(plan)
    picks = [[rng.randrange(n_inputs + k) for _ in range(OPERATIONS[op][1])] for k, op in enumerate(plan)]

    def program(xs: Any, on_tensors: bool) -> Any:
        pool = list(xs)
        for op, chosen in zip(plan, picks):
            _, _, on_values, on_tensors_fn = OPERATIONS[op]
            result = (on_tensors_fn if on_tensors else on_values)(*[pool[i] for i in chosen])
            pool.append((torch.tanh(result) if on_tensors else result.tanh()) * 1.5)  # keep magnitudes moderate
        return [pool[-1] + pool[-4], pool[-2] * pool[-7]]

    return point, program


def torch_function(program: Callable[[Any, bool], Any]) -> Callable[..., Any]:
    return lambda *xs: tuple(program(list(xs), True))


@pytest.mark.parametrize("seed", range(12))
def test_jvp_is_torchs_on_random_programs_of_every_operation(seed: int, torch: Any) -> None:
    point, program = random_program(seed)
    direction = [random.Random(seed + 100).uniform(-1, 1) for _ in point]
    values, tangents = engine.jvp(lambda *xs: program(xs, False), point, direction)
    primals = tuple(torch.tensor(x, dtype=torch.float64) for x in point)
    directions = tuple(torch.tensor(t, dtype=torch.float64) for t in direction)
    their_values, their_tangents = torch.func.jvp(torch_function(program), primals, directions)
    assert values == pytest.approx([v.item() for v in their_values], rel=1e-12, abs=1e-14)
    assert tangents == pytest.approx([t.item() for t in their_tangents], rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("seed", range(12))
def test_jacobians_forward_and_reverse_are_torchs(seed: int, torch: Any) -> None:
    point, program = random_program(seed, steps=20)
    fn = lambda *xs: program(xs, False)  # noqa: E731
    forward = engine.jacobian(fn, point, mode="forward")
    reverse = engine.jacobian(fn, point, mode="reverse")
    theirs = torch.autograd.functional.jacobian(
        torch_function(program), tuple(torch.tensor(x, dtype=torch.float64) for x in point)
    )
    expected = [[theirs[j][i].item() for i in range(len(point))] for j in range(2)]
    for row_f, row_r, row_t in zip(forward, reverse, expected):
        assert row_f == pytest.approx(row_t, rel=1e-10, abs=1e-12)
        assert row_r == pytest.approx(row_t, rel=1e-10, abs=1e-12)
        assert row_f == pytest.approx(row_r, rel=1e-12, abs=1e-14)


def test_a_partial_that_is_not_finite_spoils_only_its_own_column() -> None:
    """x ** y at x < 0 has a nan partial in y: the column of y is nan in both modes, the others are exact."""
    fn = lambda x, y, z: [x**y * z, x * z]  # noqa: E731
    point = [-2.0, 3.0, 0.5]
    forward, reverse = engine.jacobian(fn, point, "forward"), engine.jacobian(fn, point, "reverse")
    # d(x^y z)/dx = y x^(y-1) z = 3 * 4 * 0.5; d/dz = x^y = -8
    assert forward[0][0] == reverse[0][0] == 6.0 and forward[0][2] == reverse[0][2] == -8.0
    assert math.isnan(forward[0][1]) and math.isnan(reverse[0][1])
    assert forward[1] == reverse[1] == [0.5, 0.0, -2.0]
    value, tangent = engine.jvp(fn, point, [1.0, 0.0, 0.0])  # along x only: finite
    assert value == [-4.0, -1.0] and tangent == [6.0, 0.5]
    with pytest.raises(ValueError, match=r"jvp\(\): at fn\(-2.0, 3.0, 0.5\) the derivative along .* is nan"):
        engine.jvp(fn, point, [0.0, 1.0, 0.0])


def test_an_operation_of_ones_own_gets_forward_mode_from_its_rule() -> None:
    cube = engine.defop("cube", lambda x: x**3, lambda g, out, x: (3 * g * x * x,))
    value, tangent = engine.jvp(lambda x, y: cube(x) * y, [2.0, 0.5], [1.0, 2.0])
    assert value == 4.0 and tangent == 3 * 4.0 * 0.5 + 8.0 * 2.0
    assert engine.jacobian(lambda x: cube(cube(x)), [1.5], "forward") == engine.jacobian(lambda x: cube(cube(x)), [1.5])


def test_forward_mode_keeps_no_graph_and_touches_no_grad() -> None:
    w = Value(0.7, label="w")
    w.grad = 5.0
    seen: list[Value] = []

    def fn(x: Value) -> Value:
        y = (x * w).tanh()
        seen.append(y)
        return y * x

    with engine.no_grad():
        value, tangent = engine.jvp(fn, [0.3], [1.0])
    t = math.tanh(0.21)
    assert value == pytest.approx(t * 0.3, rel=1e-15)
    assert tangent == pytest.approx((1 - t * t) * 0.7 * 0.3 + t, rel=1e-14)
    assert seen[0].parents == () and seen[0].op is None and w.grad == 5.0 and seen[0].grad == 0.0


def test_memory_does_not_grow_with_the_length_of_the_computation() -> None:
    def chain(x: Value, y: Value) -> Value:
        for _ in range(300_000):
            x = x * 0.999999 + y * 1e-6
        return x

    gc.collect()
    tracemalloc.start()
    try:
        value, tangent = engine.jvp(chain, [1.0, 2.0], [1.0, 0.0])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000, f"{peak:,} bytes"  # the graph would take 300,000 x 2 nodes x 112 bytes
    assert tangent == pytest.approx(0.999999**300_000, rel=1e-9)
    assert value == pytest.approx(0.999999**300_000 + 2.0 * (1 - 0.999999**300_000), rel=1e-9)


def test_the_walks_back_are_refused_inside_jvp_never_a_silent_zero() -> None:
    def with_backward(x: Value) -> Value:
        y = x * x
        y.backward()
        return y

    def with_grad(x: Value) -> Value:
        return engine.grad(x * x, [x])[0] * x

    for fn in (with_backward, with_grad):
        with pytest.raises(RuntimeError, match="not supported inside engine.jvp"):
            engine.jvp(fn, [3.0], [1.0])
    assert engine.jacobian(lambda x: engine.grad(x * x * x, [x], create_graph=True)[0], [2.0]) == [[12.0]]


@pytest.mark.parametrize(
    ("inputs", "tangents", "error", "message"),
    [
        ([1.0, 2.0], [1.0], ValueError, r"jvp\(\) got 2 inputs and 1 tangents"),
        ([1.0, 2.0], [1.0, 2.0, 3.0], ValueError, r"jvp\(\) got 2 inputs and 3 tangents"),
        ([1.0, 2.0], [1.0, "x"], TypeError, r"jvp\(\) tangents\[1\] expects a real number"),
        ([1.0, "2"], [1.0, 1.0], TypeError, r"jvp\(\) inputs\[1\] expects a real number"),
        ([1.0, 2.0], 1.0, TypeError, r"tangents as a list of numbers"),
        ([1.0, math.inf], [1.0, 1.0], ValueError, r"finite inputs, got inputs\[1\] = inf"),
        ([1.0, 2.0], [math.nan, 1.0], ValueError, r"finite tangents, got tangents\[0\] = nan"),
    ],
)
def test_bad_arguments_are_named(inputs: Any, tangents: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        engine.jvp(lambda x, y: x * y, inputs, tangents)


def test_math_errors_and_bad_results_are_raised_as_elsewhere() -> None:
    with pytest.raises(ValueError, match=r"^log\(inputs\[0\] = -1.0\): log needs a positive number"):
        engine.jvp(lambda x: x.log(), [-1.0], [1.0])
    with pytest.raises(ValueError, match=r"jvp\(\): fn\(0.0\) = inf; derivatives need a finite value"):
        engine.jvp(lambda x: x + 1e308 * 10.0, [0.0], [1.0])
    with pytest.raises(TypeError, match=r"fn must return a Value or a list of Values, got 3.0"):
        engine.jvp(lambda x: 3.0, [0.0], [1.0])
    with pytest.raises(ValueError, match=r"mode must be 'forward' or 'reverse', got 'sideways'"):
        engine.jacobian(lambda x: x, [1.0], mode="sideways")


def test_an_output_that_does_not_depend_on_the_inputs_has_tangent_zero() -> None:
    c = Value(4.0)
    assert engine.jvp(lambda x: [c, x * c], [2.0], [1.0]) == ([4.0, 8.0], [0.0, 4.0])
    assert engine.jacobian(lambda x: [c, x * c], [2.0], "forward") == engine.jacobian(lambda x: [c, x * c], [2.0])


def test_forward_tangents_replays_jvp_on_a_recorded_graph() -> None:
    from engine.derivatives.forward import forward_tangents

    x, y = Value(0.4, label="x"), Value(-1.3, label="y")
    out = (x * y).sin() + x.exp() / (y * y + 1)
    steps: list[tuple[Value, list[float], float]] = []
    tangents = forward_tangents(engine.topological_order(out), {x: 1.0}, lambda n, i, t: steps.append((n, i, t)))
    assert tangents[out] == engine.jvp(lambda a, b: (a * b).sin() + a.exp() / (b * b + 1), [0.4, -1.3], [1.0, 0.0])[1]
    assert tangents[out] == pytest.approx(engine.grad(out, [x])[0], rel=1e-14)
    assert [n for n, _, _ in steps] == [v for v in engine.topological_order(out) if v.op is not None]
