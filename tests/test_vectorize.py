"""engine.vectorize against its oracle, the scalar path: the same fn run sample by sample on Values.

Values and gradients must agree to 1e-12 relative (with an absolute floor of 1e-12 times the
largest magnitude, for entries that cancel to near 0), on random expression graphs over every
operation of the table, nn models, a user's defop, and after optimizer steps. Every error has a
test of its type, its message, and that nothing changed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytest

import engine
import nn
from engine import Value

RTOL = 1e-12


def assert_close(actual: Any, expected: Any) -> None:
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * scale)


def scalar_outputs(fn: Callable[..., Any], columns: Sequence[np.ndarray]) -> np.ndarray:
    """fn on the scalar path, sample by sample: shape (N,) or (N, m)."""
    rows = []
    for sample in zip(*columns):
        out = fn(*[Value(float(x)) for x in sample])
        rows.append([v.data for v in out] if isinstance(out, list) else out.data)
    return np.array(rows)


def scalar_gradients(
    fn: Callable[..., Value], columns: Sequence[np.ndarray], leaves: list[Value], reduce: str = "mean"
) -> tuple[float, list[float]]:
    """mean (or sum) over the samples of fn, backpropagated on the scalar path: (value, each leaf's gradient)."""
    before = [leaf.grad for leaf in leaves]
    for leaf in leaves:
        leaf.grad = 0.0
    terms = [fn(*[Value(float(x)) for x in sample]) for sample in zip(*columns)]
    total = sum(terms[1:], terms[0])
    result = total / len(terms) if reduce == "mean" else total
    result.backward()
    grads = [leaf.grad for leaf in leaves]
    for leaf, g in zip(leaves, before):
        leaf.grad = g
    return result.data, grads


def vectorized_gradients(
    per_sample: engine.Vectorized, columns: Sequence[np.ndarray], leaves: list[Value], reduce: str = "mean"
) -> tuple[float, list[float]]:
    before = [leaf.grad for leaf in leaves]
    total = per_sample.backward(*columns, reduce=reduce)
    grads = [leaf.grad - g for leaf, g in zip(leaves, before)]
    return total, grads


def assert_matches_the_scalar_path(
    fn: Callable[..., Any], columns: Sequence[Any], leaves: list[Value]
) -> engine.Vectorized:
    """vectorize(fn) against fn on the scalar path: its values, and the mean and the leaves' gradients of backward."""
    per_sample = engine.vectorize(fn)
    assert_close(per_sample(*columns), scalar_outputs(fn, columns))
    total, grads = vectorized_gradients(per_sample, columns, leaves)
    expected_total, expected_grads = scalar_gradients(fn, columns, leaves)
    assert total == pytest.approx(expected_total, rel=RTOL)
    assert_close(grads, expected_grads)
    return per_sample


# --- random expression graphs over every operation -----------------------------------------------------------


def apply(kind: str, a: Value, b: Value, d: Value, e: Value, c: float) -> Value:
    """One step of a random program: operation `kind` on operands kept inside its domain for every sample."""
    bounded = a.tanh()  # keeps exp and pow from overflowing
    positive = b.softplus() + 0.25
    steps: dict[str, Callable[[], Value]] = {
        "add": lambda: a + b,
        "sub": lambda: a - c,
        "mul": lambda: a * b,
        "div": lambda: a / (1 + b * b),
        "neg": lambda: -a,
        "pow": lambda: positive**bounded,  # a Value exponent
        "power": lambda: (1 + bounded) ** 3 + positive**-0.5,
        "exp": lambda: bounded.exp(),
        "log": lambda: positive.log(),
        "sqrt": lambda: positive.sqrt(),
        "sign": lambda: engine.sign(a) * b,
        "abs": lambda: abs(a),
        "sin": lambda: a.sin(),
        "cos": lambda: b.cos(),
        "tanh": lambda: a.tanh(),
        "sigmoid": lambda: b.sigmoid(),
        "relu": lambda: (a - 0.1).relu(),
        "softplus": lambda: a.softplus(),
        "where": lambda: engine.where(a - 0.2, b, d),  # the branch differs from sample to sample
        "logsumexp": lambda: engine.logsumexp(a, b, d),
        "linear": lambda: engine.linear(a, b, d, e, 0.5),
    }
    return steps[kind]()


def random_program(rng: np.random.Generator, arguments: int, parameters: list[Value], steps: int = 40) -> Callable:
    """A random fn of `arguments` Values using every operation of the table, with shared subexpressions.

    Each step applies one operation to operands drawn from everything computed so far (arguments,
    parameters, constants, earlier results), wrapped so that every sample stays in the operation's domain.
    """
    kinds = [
        "add", "sub", "mul", "div", "neg", "pow", "power", "exp", "log", "sqrt", "sign", "abs", "sin",
        "cos", "tanh", "sigmoid", "relu", "softplus", "where", "logsumexp", "linear",
    ]  # fmt: skip
    plan = []
    for step in range(steps):
        kind = kinds[step] if step < len(kinds) else str(rng.choice(kinds))
        operands = [int(rng.integers(0, arguments + len(parameters) + step)) for _ in range(4)]
        plan.append((kind, operands, float(rng.uniform(-2.0, 2.0))))

    def fn(*xs: Value) -> Value:
        pool: list[Any] = [*xs, *parameters]
        for kind, picks, c in plan:
            result = apply(kind, *(pool[i % len(pool)] for i in picks), c)
            pool.append(result.tanh() * 2 if kind in ("exp", "power", "div", "pow") else result)
        results = pool[len(xs) + len(parameters) :]
        return sum(results[1:], results[0])  # every step reaches the output

    return fn


@pytest.mark.parametrize("n", [1, 2, 7, 100])
@pytest.mark.parametrize("seed", range(4))
def test_random_graphs_over_every_operation_match_the_scalar_path(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    parameters = [Value(float(x), label=f"p{i}") for i, x in enumerate(rng.normal(size=5))]
    fn = random_program(rng, 3, parameters)
    columns = [rng.normal(size=n) for _ in range(3)]
    per_sample = engine.vectorize(fn)
    assert_close(per_sample(*columns), scalar_outputs(fn, columns))
    total, grads = vectorized_gradients(per_sample, columns, parameters)
    expected_total, expected_grads = scalar_gradients(fn, columns, parameters)
    assert total == pytest.approx(expected_total, rel=RTOL, abs=RTOL)
    assert_close(grads, expected_grads)


def test_every_operation_appears_in_the_random_graphs() -> None:
    rng = np.random.default_rng(0)
    fn = random_program(rng, 3, [Value(0.5)])
    out = fn(*[Value(0.3), Value(-0.7), Value(1.1)])
    used = {v.op.name for v in engine.topological_order(out) if v.op is not None}
    table = {op.name for op in vars(engine).values() if isinstance(op, engine.Op)}
    assert table <= used | {"**"} and "**" in used


# --- nn models -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("sizes", [[5, 4, 1], [4, 4, 4, 1]])  # layers of one shape: each keeps arrays of its own
def test_nn_models_match_the_scalar_path(activation: str, fused: bool, sizes: list[int]) -> None:
    rng = np.random.default_rng(1)
    model = nn.MLP(3, sizes, activation=activation, seed=2, fused=fused)

    def fn(x1: Value, x2: Value, x3: Value, y: Value) -> Value:
        return (model([x1, x2, x3]) - y) ** 2

    columns = [rng.normal(size=30) for _ in range(4)]
    per_sample = engine.vectorize(fn)
    assert_close(per_sample(*columns), scalar_outputs(fn, columns))
    total, grads = vectorized_gradients(per_sample, columns, model.parameters())
    expected_total, expected_grads = scalar_gradients(fn, columns, model.parameters())
    assert total == pytest.approx(expected_total, rel=RTOL)
    assert_close(grads, expected_grads)


def test_a_list_valued_fn_gives_one_column_per_value() -> None:
    model = nn.MLP(2, [4, 3], activation="tanh", seed=0)
    per_sample = engine.vectorize(lambda a, b: model([a, b]))
    columns = [np.linspace(-1, 1, 9), np.linspace(2, 0, 9)]
    out = per_sample(*columns)
    assert out.shape == (9, 3)
    assert_close(out, scalar_outputs(lambda a, b: model([a, b]), columns))
    with pytest.raises(ValueError, match="returns 3 Values, which cannot be reduced"):
        per_sample.backward(*columns)


def test_optimizer_steps_between_calls_are_seen() -> None:
    rng = np.random.default_rng(3)
    model = nn.MLP(2, [8, 1], activation="relu", seed=3)
    optimizer = nn.Adam(model.parameters(), lr=0.05)

    def fn(a: Value, b: Value, y: Value) -> Value:
        return (model([a, b]) - y) ** 2

    columns = [rng.normal(size=20) for _ in range(3)]
    per_sample = engine.vectorize(fn)
    for _ in range(3):
        optimizer.zero_grad()
        total, grads = vectorized_gradients(per_sample, columns, model.parameters())
        expected_total, expected_grads = scalar_gradients(fn, columns, model.parameters())
        assert total == pytest.approx(expected_total, rel=RTOL)
        assert_close(grads, expected_grads)
        optimizer.step()
    assert_close(per_sample(*columns), scalar_outputs(fn, columns))


def test_reduce_sum_adds_the_sum_and_gradients_accumulate_across_calls() -> None:
    w, b = Value(0.7, label="w"), Value(-0.2, label="b")

    def fn(x: Value) -> Value:
        return (w * x + b).tanh() ** 2

    columns = [np.linspace(-2, 2, 11)]
    per_sample = engine.vectorize(fn)
    total, grads = vectorized_gradients(per_sample, columns, [w, b], reduce="sum")
    expected_total, expected_grads = scalar_gradients(fn, columns, [w, b], reduce="sum")
    assert total == pytest.approx(expected_total, rel=RTOL)
    assert_close(grads, expected_grads)
    per_sample.backward(*columns, reduce="sum")  # leaves accumulate, as after two scalar backward() calls
    assert_close([w.grad, b.grad], [2 * g for g in expected_grads])


def test_a_users_defop_works_with_and_without_a_numpy_forward() -> None:
    calls = []

    def cube_forward(x: float) -> float:
        calls.append(x)
        return x**3

    cube = engine.defop("cube", cube_forward, lambda g, out, x: (3 * g * x * x,))
    cube_numpy = engine.defop("cube", lambda x: x**3, lambda g, out, x: (3 * g * x * x,), lambda x: x**3)
    w = Value(0.4, label="w")
    columns = [np.linspace(-1.5, 1.5, 13)]
    for op in (cube, cube_numpy):
        w.grad = 0.0

        def fn(x: Value, op: engine.Op = op) -> Value:
            return op(w * x) + op(x)

        per_sample = engine.vectorize(fn)
        assert_close(per_sample(*columns), scalar_outputs(fn, columns))
        total, grads = vectorized_gradients(per_sample, columns, [w])
        assert_close([total, *grads], [*(lambda t, g: [t, *g])(*scalar_gradients(fn, columns, [w]))])
    assert len(calls) > len(columns[0])  # the defop without a numpy forward ran element by element


def test_numbers_count_for_every_sample_and_leaves_can_be_outputs() -> None:
    w = Value(1.5, label="w")
    per_sample = engine.vectorize(lambda x, y: [x * y + w, x, w])
    out = per_sample(np.array([1.0, 2.0, 3.0]), 2.0)
    np.testing.assert_array_equal(out, [[3.5, 1.0, 1.5], [5.5, 2.0, 1.5], [7.5, 3.0, 1.5]])
    just_w = engine.vectorize(lambda x: w)
    assert just_w.backward(np.zeros(4), reduce="sum") == 4 * 1.5
    assert w.grad == 4.0  # d(sum over 4 samples of w)/dw
    assert engine.vectorize(lambda x: x * 2)(3.0).tolist() == [6.0]  # all numbers: one sample


def test_calling_changes_no_grad_and_backward_changes_only_the_leaves_fn_reads() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    other = Value(2.0, label="other")
    other.grad = 0.25
    per_sample = engine.vectorize(lambda a, b: model([a, b]) ** 2)
    per_sample(np.ones(5), np.zeros(5))
    assert all(p.grad == 0.0 for p in model.parameters())
    per_sample.backward(np.ones(5), np.zeros(5))
    assert any(p.grad != 0.0 for p in model.parameters()) and other.grad == 0.25


def test_recording_works_inside_no_grad() -> None:
    w = Value(3.0, label="w")
    with engine.no_grad():
        per_sample = engine.vectorize(lambda x: w * x * x)
        assert per_sample.backward(np.array([1.0, 2.0])) == pytest.approx(7.5)
    assert w.grad == pytest.approx(2.5)


def test_reading_data_inside_fn_sees_the_first_sample_only() -> None:
    per_sample = engine.vectorize(lambda x: x * x.data)
    np.testing.assert_array_equal(per_sample(np.array([2.0, 3.0, 4.0])), [4.0, 6.0, 8.0])  # x * 2, not x * x


# --- bad input ------------------------------------------------------------------------------------------------------


def recorded() -> tuple[engine.Vectorized, Value]:
    w = Value(0.5, label="w")
    per_sample = engine.vectorize(lambda x, y: (w * x - y) ** 2)
    per_sample.backward(np.array([1.0, 2.0]), np.array([0.0, 1.0]))
    w.grad = 0.125
    return per_sample, w


@pytest.mark.parametrize(
    ("columns", "error", "message"),
    [
        ((np.ones(3),), TypeError, "recorded with 2 argument"),
        ((np.ones(3), np.ones(4)), ValueError, r"same number of samples, got x: 3, y: 4"),
        (
            (np.ones((3, 2)), np.ones(3)),
            ValueError,
            r"argument x was recorded as one Value.*got an array of shape \(3, 2\)",
        ),
        ((np.ones(3), "abc"), TypeError, "argument y must be numbers, got str"),
        ((np.ones(3), [object(), object(), object()]), TypeError, "argument y must hold real numbers.*object"),
        ((np.array([], dtype=float), np.array([], dtype=float)), ValueError, "argument x is empty"),
        ((Value(1.0), np.ones(3)), TypeError, "argument x is a Value"),
        ((np.ones(3), np.ones(3) + 1j), TypeError, "argument y must hold real numbers.*complex"),
    ],
)
def test_bad_arguments_are_refused_naming_the_argument_and_change_nothing(
    columns: tuple[Any, ...], error: type[Exception], message: str
) -> None:
    per_sample, w = recorded()
    with pytest.raises(error, match=message):
        per_sample.backward(*columns)
    with pytest.raises(error, match=message):
        per_sample(*columns)
    assert w.grad == 0.125 and w.data == 0.5


def test_bad_reduce_and_bad_fn_are_refused() -> None:
    per_sample, w = recorded()
    with pytest.raises(ValueError, match="reduce must be 'mean' or 'sum', got 'max'"):
        per_sample.backward(np.ones(2), np.ones(2), reduce="max")
    assert w.grad == 0.125
    with pytest.raises(TypeError, match="expects a function of Values, got int"):
        engine.vectorize(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="fn must be a Value, got float"):
        engine.vectorize(lambda x: 2.0)(np.ones(2))
    with pytest.raises(TypeError, match="at least one argument"):
        engine.vectorize(lambda: Value(1.0))()


BAD_MATH = [
    (lambda x, w: (x * w).log(), [1.0, 2.0, -1.0, 0.0], ValueError, r"^log\(-0\.5\): .*sample 2 of 4"),
    (lambda x, w: 1 / (x - 1) + w, [3.0, 1.0, 2.0], ZeroDivisionError, r"^/\(1\.0, 0\.0\): .*sample 1 of 3"),
    (lambda x, w: (x * w).exp(), [1.0, 3000.0, 4000.0], OverflowError, r"^exp\(1500\.0\): .*sample 1 of 3"),
    (lambda x, w: (x - 3).sqrt() * w, [5.0, 4.0, 2.0], ValueError, r"^sqrt\(-1\.0\): .*sample 2 of 3"),
    (lambda x, w: (x * w) ** -1.0, [1.0, 0.0], ZeroDivisionError, r"^\*\*-1\(0\.0\): .*sample 1 of 2"),
]


@pytest.mark.parametrize(("fn", "xs", "error", "message"), BAD_MATH)
def test_bad_math_raises_the_scalar_paths_error_with_the_first_failing_sample(
    fn: Callable[[Value, Value], Value], xs: list[float], error: type[Exception], message: str
) -> None:
    w = Value(0.5, label="w")
    w.grad = 0.25
    per_sample = engine.vectorize(lambda x: fn(x, w))
    for call in (per_sample, per_sample.backward):
        with pytest.raises(error, match=message):
            call(np.array(xs))
    assert w.grad == 0.25
    first_bad = int(message.split("sample ")[1].split(" ")[0])
    with pytest.raises(error):  # the oracle: the scalar path fails at that sample too
        fn(Value(xs[first_bad]), w)


def test_an_infinite_derivative_raises_from_backward_with_the_sample_and_changes_nothing() -> None:
    w = Value(1.0, label="w")
    per_sample = engine.vectorize(lambda x: (x * w).sqrt())
    with pytest.raises(ZeroDivisionError, match=r"^derivative of sqrt\(0\.0\).*sample 2 of 3"):
        per_sample.backward(np.array([1.0, 4.0, 0.0]))
    assert w.grad == 0.0
    with pytest.raises(ZeroDivisionError, match="derivative of sqrt"):
        (Value(0.0) * w).sqrt().backward()  # the scalar path's error for that sample


def test_overflow_of_plus_minus_times_gives_inf_as_on_the_scalar_path() -> None:
    w = Value(1e200, label="w")
    per_sample = engine.vectorize(lambda x: x * w - w + x)
    out = per_sample(np.array([1.0, 1e200, -1e200]))
    assert out[0] == 1.0 and out[1] == math.inf and out[2] == -math.inf
    assert (Value(1e200) * w - w + 1e200).data == math.inf


def test_detect_anomaly_names_the_operation_the_pass_and_the_sample() -> None:
    w = Value(1e200, label="w")
    per_sample = engine.vectorize(lambda x: x * w + 1)
    overflow = r"^\*\(x = 1e\+200, w = 1e\+200\): gave inf in the forward pass.*sample 1 of 3"
    with pytest.raises(FloatingPointError, match=overflow), engine.detect_anomaly():
        per_sample(np.array([1.0, 1e200, 2.0]))
    inputs = engine.vectorize(lambda x: x + w)
    infinite_input = r"^\+\(x = inf, w = 1e\+200\).*forward pass.*sample 2 of 3"
    with pytest.raises(FloatingPointError, match=infinite_input), engine.detect_anomaly():
        inputs(np.array([1.0, 2.0, math.inf]))
    # The value (w x) 1e10 is finite; its derivative x 1e10 is not (1e310) at the second sample.
    small = Value(1e-300, label="small")
    grows = engine.vectorize(lambda x: (small * x) * 1e10)
    small.grad = 0.5
    with pytest.raises(FloatingPointError, match=r"^derivative of \*.*backward pass.*sample 1 of 2"):
        with engine.detect_anomaly():
            grows.backward(np.array([1.0, 1e300]))
    assert small.grad == 0.5
    grows.backward(np.array([1.0, 1e300]))  # outside the context: no check, as on the scalar path
    assert small.grad == math.inf


# --- control flow ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "shown", "depends"),
    [
        (lambda x, y: x.relu() if x > 0 else -x, "`x > 0`", "the argument x"),
        (lambda x, y: max(x, y), "`y > x`", "the argument y"),
        (lambda x, y: sorted([x, y])[0], "`y < x`", "the argument y"),
        (lambda x, y: x if (x * 2 + 1) <= 3.0 else y, "`a Value <= 3.0`", "the argument x"),
    ],
)
def test_control_flow_that_depends_on_a_sample_is_refused_while_recording(
    fn: Callable[..., Value], shown: str, depends: str
) -> None:
    per_sample = engine.vectorize(fn)
    with pytest.raises(TypeError) as caught:
        per_sample(np.array([1.0, -1.0]), np.array([0.5, 0.5]))
    message = str(caught.value)
    assert f"{shown} compares a Value that depends on {depends}" in message
    assert "recorded once, from the first sample" in message
    assert "relu, abs, or engine.where(condition, a, b)" in message


def test_the_suggested_condition_works_per_sample() -> None:
    # The refusal's advice for `a > b`: engine.sign(a - b).relu() is 1 where a > b and 0 elsewhere.
    per_sample = engine.vectorize(lambda a, b: engine.where(engine.sign(a - b).relu(), a, b))
    np.testing.assert_array_equal(per_sample(np.array([1.0, 3.0, 2.0]), np.array([2.0, 1.0, 2.0])), [2.0, 3.0, 2.0])


def test_comparisons_of_parameters_are_refused_too_since_an_optimizer_changes_them() -> None:
    w = Value(0.5, label="w")
    per_sample = engine.vectorize(lambda x: x * w if w > 0 else x)
    with pytest.raises(TypeError, match="`w > 0` compares a Value of the parameters or constants"):
        per_sample(np.array([2.0, 4.0]))
    assert Value(1.0) < Value(2.0)  # outside a recording, comparisons are as before


def test_a_derivative_rule_that_compares_inside_fn_is_refused_naming_rules() -> None:
    w = Value(0.5, label="w")
    per_sample = engine.vectorize(lambda x: engine.grad((w * x).relu(), [w], create_graph=True)[0])
    with pytest.raises(TypeError, match="in a derivative rule run by engine.grad inside it"):
        per_sample(np.array([1.0, -1.0]))


def test_backward_inside_no_grad_raises_the_scalar_paths_error() -> None:
    w = Value(1.0, label="w")
    per_sample = engine.vectorize(lambda x: (x * w).sqrt())
    with engine.no_grad(), pytest.raises(ZeroDivisionError, match="derivative of sqrt.*sample 1 of 2"):
        per_sample.backward(np.array([1.0, 0.0]))
    assert w.grad == 0.0


def test_a_derivative_toward_an_argument_is_evaluated_as_on_the_scalar_path() -> None:
    w = Value(1.0, label="w")
    per_sample = engine.vectorize(lambda x: x.sqrt() * w)
    with pytest.raises(ZeroDivisionError, match="derivative of sqrt.*sample 1 of 2"):
        per_sample.backward(np.array([1.0, 0.0]))
    with pytest.raises(ZeroDivisionError):  # the oracle: the scalar path's backward fails there too
        (Value(0.0).sqrt() * w).backward()
    assert w.grad == 0.0


def test_detect_anomaly_catches_a_gradient_that_overflows_only_summed_over_the_batch() -> None:
    w = Value(1.0, label="w")
    per_sample = engine.vectorize(lambda x: w * x)
    with pytest.raises(FloatingPointError, match="gradient of w = 1.0, summed over the batch"), engine.detect_anomaly():
        per_sample.backward(np.array([1e308, 1e308]), reduce="sum")
    assert w.grad == 0.0


def test_a_rule_with_too_few_gradients_is_refused_everywhere() -> None:
    bad = engine.defop("bad", lambda x, y: x * y, lambda g, out, x, y: (g * y,))
    x, y = Value(2.0), Value(3.0)
    with pytest.raises(TypeError, match="rule of bad gave 1 gradient"):
        engine.grad(bad(x, y), [x, y])
    with pytest.raises(TypeError, match="rule of bad gave 1 gradient"), engine.detect_anomaly():
        bad(x, y).backward()
    with pytest.raises(TypeError, match="rule of bad gave 1 gradient"):
        engine.vectorize(lambda a: bad(a, y)).backward(np.array([1.0, 2.0]))


def test_two_threads_can_use_one_vectorized_function() -> None:
    import threading

    w = Value(2.0, label="w")
    per_sample = engine.vectorize(lambda x: x * w)
    model = nn.MLP(3, [8, 2], activation="relu", seed=4)
    through_layers = engine.vectorize(model)  # the layers write into arrays they keep, one set per thread
    wrong: list[int] = []

    def work(offset: float) -> None:
        rng = np.random.default_rng(int(offset))
        for i in range(100):
            xs = np.full(50, offset + i)
            X = rng.normal(size=(7 + int(offset) % 5, 3))
            expected = np.array([[v.data for v in model(list(x))] for x in X.tolist()])
            if not np.array_equal(per_sample(xs), 2.0 * xs) or not np.allclose(through_layers(X), expected):
                wrong.append(i)

    threads = [threading.Thread(target=work, args=(1000.0 * k + k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def test_a_zero_base_and_a_negative_base_replay_as_on_the_scalar_path() -> None:
    x0, minus = Value(0.0, label="x0"), Value(-2.0, label="minus")

    def fn(e: Value) -> Value:
        return x0**e + minus**3 + x0**0 * e

    columns = [np.array([1.0, 2.0, 3.0])]
    per_sample = engine.vectorize(fn)
    assert_close(per_sample(*columns), scalar_outputs(fn, columns))
    total, grads = vectorized_gradients(per_sample, columns, [x0, minus])
    assert_close([total, *grads], [*(lambda t, g: [t, *g])(*scalar_gradients(fn, columns, [x0, minus]))])


# --- how scalar nodes are grouped -----------------------------------------------------------------------------------


def test_a_layer_applied_at_every_position_is_one_product_and_matches_the_scalar_path() -> None:
    rng = np.random.default_rng(8)
    weights = [[Value(float(x)) for x in row] for row in rng.normal(size=(5, 3))]
    leaves = [w for row in weights for w in row]
    positions = 4

    def fn(x: list[Value]) -> Value:
        # A bias-free layer as a user may write it: a constant 0 bias made anew at each call.
        outs = [engine.linear(*row, *x[3 * t : 3 * t + 3], 0.0).tanh() for t in range(positions) for row in weights]
        return engine.logsumexp(*[out * (i + 1) for i, out in enumerate(outs)])  # each output weighed differently

    X = rng.normal(size=(6, 3 * positions))
    per_sample = engine.vectorize(fn)
    expected = [fn([Value(float(v)) for v in x]) for x in X]
    assert_close(per_sample(X), [e.data for e in expected])
    total, grads = vectorized_gradients(per_sample, [X], leaves)
    mean = sum(expected[1:], expected[0]) / len(expected)
    for leaf in leaves:
        leaf.grad = 0.0
    mean.backward()
    assert total == pytest.approx(mean.data, rel=RTOL)
    assert_close(grads, [leaf.grad for leaf in leaves])
    program = per_sample.program
    assert program is not None
    layers = [node for node in program.computed if node.kind == "linear layer"]
    assert len(layers) == 1 and (layers[0].op.neurons, layers[0].op.tuples) == (5, positions)


def test_the_same_operation_on_operands_from_different_nodes_is_one_group() -> None:
    w = Value(0.5, label="w")

    def fn(a: Value, b: Value) -> Value:
        products = [a * w, b * 2.0, a * b]  # operands from two arguments, a parameter and a constant
        return engine.logsumexp(*[p.tanh() for p in products])

    per_sample = assert_matches_the_scalar_path(fn, [np.linspace(-1, 1, 5), np.linspace(2, -2, 5)], [w])
    program = per_sample.program
    assert program is not None
    kinds = [node.kind for node in program.computed]
    assert kinds.count("tanh") == 1 and kinds.count("*") == 1  # three products at the same depth, one group


def test_a_rule_giving_one_number_for_every_member_is_spread_over_them() -> None:
    # A user's rule may return a plain number; the operand here is read from two nodes (a product, a halving).
    halve = engine.defop("halve", lambda x: x / 2, lambda g, out, x: (g * 0.5,))
    flat = engine.defop("flat", lambda x: 1.0, lambda g, out, x: (0.0,))
    w = Value(3.0, label="w")

    def fn(a: Value, b: Value) -> Value:
        return flat(a * w) * w + flat(halve(b)) * a + halve(b) * w

    per_sample = assert_matches_the_scalar_path(fn, [np.array([1.0, 2.0, -1.0]), np.array([0.5, 0.0, 4.0])], [w])
    program = per_sample.program
    assert program is not None
    flats = [node for node in program.computed if node.kind == "flat"]
    assert len(flats) == 1 and len(flats[0].parents) == 2  # one group reading from two nodes


def test_softmax_normalisers_at_the_same_depth_are_one_stacked_reduction() -> None:
    w = Value(0.3, label="w")

    def fn(a: Value, b: Value) -> Value:
        return engine.logsumexp(a, b, w) + 3 * engine.logsumexp(w, 2.0, a) - engine.logsumexp(b, b, a) ** 2

    per_sample = assert_matches_the_scalar_path(fn, [np.linspace(-2, 2, 7), np.linspace(1, -3, 7)], [w])
    program = per_sample.program
    assert program is not None
    assert sum(node.kind == "logsumexp" for node in program.computed) == 1  # three nodes of three inputs, one group


def causal_attention(x: list[Value], weights: list[list[Value]], positions: int, dim: int) -> list[Value]:
    """One head of causal self-attention over `positions` vectors of `dim` (x holds them one after another),
    dot products as `engine.linear`, the softmax as nn.softmax: each position's output vector."""
    rows = [x[t * dim : (t + 1) * dim] for t in range(positions)]

    def project(k: int, row: list[Value]) -> list[Value]:
        return [engine.linear(*w, *row, 0.0) for w in weights[k * dim : (k + 1) * dim]]

    queries, keys, values = ([project(k, row) for row in rows] for k in range(3))
    outputs = []
    for t in range(positions):
        probabilities = nn.softmax([engine.linear(*queries[t], *keys[s], 0.0) for s in range(t + 1)])
        outputs += [engine.linear(*probabilities, *[values[s][j] for s in range(t + 1)], 0.0) for j in range(dim)]
    return outputs


def test_causal_attention_is_one_contraction_per_product_and_one_stacked_softmax() -> None:
    rng = np.random.default_rng(12)
    positions, dim = 5, 3
    weights = [[Value(float(w)) for w in row] for row in rng.normal(size=(3 * dim, dim))]
    leaves = [w for row in weights for w in row]

    def fn(*x: Value) -> Value:
        return engine.logsumexp(*causal_attention(list(x), weights, positions, dim))

    per_sample = assert_matches_the_scalar_path(fn, list(rng.normal(size=(positions * dim, 7))), leaves)
    program = per_sample.program
    assert program is not None
    kinds = [node.kind for node in program.computed]
    # q.k of every position and key, and the weighted sums of every position: one contraction each, whatever the
    # number of keys; the softmax normalisers of every position one reduction
    assert kinds.count("linear") == 2 and kinds.count("logsumexp") == 2


def test_a_value_that_padding_meets_changes_nothing_it_does_not_reach() -> None:
    """Position t reads the values of positions 0..t only; padded to every position, its weighted sum must not
    turn nan where a later position's value is inf (0 * inf), in either pass."""
    rng = np.random.default_rng(13)
    positions, dim = 4, 2
    weights = [[Value(float(w)) for w in row] for row in rng.normal(size=(3 * dim, dim))]
    leaves = [w for row in weights for w in row]

    def fn(*x: Value) -> list[Value]:
        return causal_attention(list(x), weights, positions, dim)

    X = rng.normal(size=(3, positions * dim))
    X[1, -dim:] = [np.inf, 1.0]  # the last position's value and key are inf for sample 1
    per_sample = engine.vectorize(fn)
    outputs = per_sample(*X.T)
    expected = scalar_outputs(fn, list(X.T))
    assert np.isfinite(outputs[1, : dim * (positions - 1)]).all()
    np.testing.assert_array_equal(np.isnan(outputs), np.isnan(expected))
    finite = np.isfinite(expected)
    assert_close(outputs[finite], expected[finite])

    def first_position(*x: Value) -> Value:
        return sum(fn(*x)[:dim], Value(0.0))

    total, grads = vectorized_gradients(engine.vectorize(first_position), list(X.T), leaves)
    expected_total, expected_grads = scalar_gradients(first_position, list(X.T), leaves)
    assert total == pytest.approx(expected_total, rel=RTOL)
    assert_close(grads, expected_grads)

    values = [[Value(float(v)) for v in row] for row in rng.normal(size=(positions, dim))]

    def first_gradient_inf(*x: Value) -> Value:
        """Attention over values that are parameters; the first position's weighted sums get an inf gradient,
        which padding must not hand the later positions' values (as 0 * inf)."""
        outputs = []
        for t in range(positions):
            p = nn.softmax([x[t] * x[s] for s in range(t + 1)])
            outputs += [engine.linear(*p, *[values[s][j] for s in range(t + 1)], 0.0) for j in range(dim)]
        return outputs[0] * 1e200 * 1e200 + sum(outputs[dim:], Value(0.0))

    later = [v for row in values[1:] for v in row]
    X = rng.normal(size=(3, positions))
    _, grads = vectorized_gradients(engine.vectorize(first_gradient_inf), list(X.T), later)
    _, expected_grads = scalar_gradients(first_gradient_inf, list(X.T), later)
    assert np.isfinite(expected_grads).all()
    assert_close(grads, expected_grads)


def elementary_attention(weights: list[list[Value]], positions: int, dim: int) -> Callable[..., Value]:
    """fn of positions x dim Values written as microgpt.py writes it: dot products as Python sums of products,
    a residual connection, a softmax from exp, sum and /, weighted sums of the values at every prefix."""

    def fn(*x: Value) -> Value:
        rows = [list(x[t * dim : (t + 1) * dim]) for t in range(positions)]
        hidden = [[sum(w * xi for w, xi in zip(row, r)) for row in weights] for r in rows]  # a layer, as sums
        residual = [[h + xi for h, xi in zip(hs, r)] for hs, r in zip(hidden, rows)]
        outputs = []
        for t in range(positions):
            exps = [sum(q * k for q, k in zip(residual[t], residual[s])).tanh().exp() for s in range(t + 1)]
            total = sum(exps)
            outputs += [sum(e / total * residual[s][j] for s, e in enumerate(exps)) for j in range(dim)]
        return sum(o * o for o in outputs)

    return fn


def test_sums_of_products_group_as_linear_nodes_at_every_position() -> None:
    """A Python sum is a chain of `+` that puts each node after it one depth deeper, so nodes alike at different
    positions would not group; collapsed into linear nodes, they do: the program has as many nodes for 6
    positions as for 3, a layer written as sums of products is one product, the residual an add after it."""
    rng = np.random.default_rng(14)
    dim = 3
    weights = [[Value(float(w)) for w in row] for row in rng.normal(size=(dim, dim))]
    leaves = [w for row in weights for w in row]
    sizes = []
    for positions in (3, 6):
        fn = elementary_attention(weights, positions, dim)
        per_sample = assert_matches_the_scalar_path(fn, list(rng.normal(size=(positions * dim, 5))), leaves)
        program = per_sample.program
        assert program is not None
        kinds = [node.kind for node in program.computed]
        assert kinds.count("linear layer") == 1  # the residual stays out of it, an add after (the `+` nodes)
        assert any(node.kind == "+" and node.size == positions * dim for node in program.computed)
        sizes.append(len(program.computed))
    assert sizes[0] == sizes[1] < 20


def test_a_product_or_sum_that_fn_returns_stays_a_node_of_its_own() -> None:
    w = Value(0.7, label="w")

    def fn(a: Value, b: Value) -> list[Value]:
        product = a * w  # read by one `+` only, but returned too: it cannot dissolve into the sum
        partial = product + b
        return [product, partial, partial + a * b + 1.0]

    columns = [np.linspace(-1, 1, 4), np.linspace(2, 0, 4)]
    assert_close(engine.vectorize(fn)(*columns), scalar_outputs(fn, columns))


def test_a_layer_whose_neurons_come_in_another_order_at_each_position_is_one_product() -> None:
    rng = np.random.default_rng(15)
    weights = [[Value(float(x)) for x in row] for row in rng.normal(size=(4, 2))]

    def fn(*x: Value) -> Value:
        outs = []
        for t in range(3):
            rows = weights if t % 2 else weights[::-1]  # the same neurons, recorded in another order
            outs += [engine.linear(*row, *x[2 * t : 2 * t + 2], 0.0).tanh() * (t + 1) for row in rows]
        return engine.logsumexp(*outs)

    per_sample = assert_matches_the_scalar_path(fn, list(rng.normal(size=(6, 5))), [w for row in weights for w in row])
    program = per_sample.program
    assert program is not None
    layers = [node for node in program.computed if node.kind == "linear layer"]
    assert len(layers) == 1 and (layers[0].op.neurons, layers[0].op.tuples) == (4, 3)
