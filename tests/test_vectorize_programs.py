"""The grouped replay against the reference replay on random programs (hypothesis).

engine/batch/reference.py replays a recording one numpy call per scalar node, nothing grouped; the grouped
replay (engine/batch/grouping.py and replay.py) must give the same forward values and the same gradient
for every leaf, on random graphs of the table's operations: elementwise groups, layers applied to one or
several tuples of inputs, contractions with per-sample weights, causal attention (contractions and softmaxes
of every length, padded), dot products of the beginnings of two vectors, takes with per-sample indices, one
node read as several operands of another (its gradients add up), matrix, column and number arguments,
random batch sizes. The reference itself is held against the scalar path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine
from engine import Value
from engine.batch import reference
from engine.batch.arguments import batch_of

UNARY = ["neg", "exp", "log", "sqrt", "sign", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "softplus", "power"]
BINARY = ["add", "sub", "mul", "div", "pow", "where", "logsumexp"]
STRUCTURED = ["layer", "contraction", "take", "take_computed", "reuse", "attention", "prefixes"]
LABELS = 3  # label arguments hold classes 0, 1, 2; takes choose among at least this many entries


def unary(kind: str, a: Value) -> Value:
    """One operation of the table on `a`, with its operand kept inside the domain for every sample."""
    bounded, positive = a.tanh(), a.softplus() + 0.25
    steps: dict[str, Callable[[], Value]] = {
        "neg": lambda: -a,
        "exp": lambda: bounded.exp(),
        "log": lambda: positive.log(),
        "sqrt": lambda: positive.sqrt(),
        "sign": lambda: engine.sign(a) * a,
        "abs": lambda: abs(a),
        "sin": lambda: a.sin(),
        "cos": lambda: a.cos(),
        "tanh": lambda: a.tanh(),
        "sigmoid": lambda: a.sigmoid(),
        "relu": lambda: (a - 0.1).relu(),
        "softplus": lambda: a.softplus(),
        "power": lambda: (1 + bounded) ** 3 + positive**-0.5,
    }
    return steps[kind]()


def binary(kind: str, a: Value, b: Value, c: float) -> Value:
    steps: dict[str, Callable[[], Value]] = {
        "add": lambda: a + b,
        "sub": lambda: a - c,
        "mul": lambda: a * b.tanh(),
        "div": lambda: a / (1 + b * b),
        "pow": lambda: (b.softplus() + 0.25) ** a.tanh(),
        "where": lambda: engine.where(a - 0.2, b, a * c),
        "logsumexp": lambda: engine.logsumexp(a, b, a * c),
    }
    return steps[kind]()


@dataclass
class Step:
    kind: str
    picks: list[int]
    size: tuple[int, int, int]  # neurons, inputs per neuron, tuples (layers); entries (takes); terms (contractions)
    constant: float


@dataclass
class Plan:
    forms: list[str | int]  # per argument: "column", "number", "labels" or the width k of a matrix
    parameters: int
    steps: list[Step]
    samples: int
    seed: int


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    forms = draw(st.lists(st.sampled_from(["column", "number", 1, 2, 4]), min_size=1, max_size=3))
    forms.append("labels")
    steps = draw(
        st.lists(
            st.builds(
                Step,
                st.sampled_from(UNARY + BINARY + STRUCTURED),
                st.lists(st.integers(0, 10**6), min_size=6, max_size=6),
                st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3)),
                st.floats(-2.0, 2.0),
            ),
            min_size=1,
            max_size=12,
        )
    )
    return Plan(forms, draw(st.integers(1, 5)), steps, draw(st.integers(1, 9)), draw(st.integers(0, 2**32 - 1)))


def build(plan: Plan) -> tuple[Callable[..., Value], list[Value], list[Any]]:
    """fn, the leaves it reads (parameters; constants come on top) and the arguments of one call, from a plan."""
    rng = np.random.default_rng(plan.seed)
    parameters = [Value(float(x), label=f"p{i}") for i, x in enumerate(rng.normal(size=plan.parameters))]
    layer_weights: list[list[list[Value]]] = []
    for step in plan.steps:  # a layer's weights are parameters made here, outside fn: shared leaves
        neurons, n, _ = step.size
        weights = [[Value(float(x)) for x in rng.normal(size=n + 1)] for _ in range(neurons)]
        layer_weights.append(weights)
        parameters += [w for row in weights for w in row]
    n = plan.samples
    arguments: list[Any] = []
    for form in plan.forms:
        if form == "column":
            arguments.append(rng.normal(size=n))
        elif form == "number":
            arguments.append(float(rng.normal()))
        elif form == "labels":
            arguments.append(rng.integers(0, LABELS, n))
        else:
            arguments.append(rng.normal(size=(n, int(form))))

    def fn(*received: Any) -> Value:
        pool: list[Value] = [v for r in received for v in (r if isinstance(r, list) else [r])] + parameters[:5]
        label = received[-1]
        results: list[Value] = []
        for step, weights in zip(plan.steps, layer_weights):
            picked = [pool[i % len(pool)] for i in step.picks]
            if step.kind in UNARY:
                result = unary(step.kind, picked[0])
            elif step.kind in BINARY:
                result = binary(step.kind, picked[0], picked[1], step.constant)
            elif step.kind == "layer":
                neurons, inputs, tuples = step.size
                outs = []
                for t in range(tuples):
                    xs = [pool[(step.picks[t] + i) % len(pool)] for i in range(inputs)]
                    outs += [engine.linear(*row[:-1], *xs, row[-1]).tanh() for row in weights]
                result = engine.logsumexp(*outs)
            elif step.kind == "contraction":
                terms = step.size[1]
                ws = [pool[(step.picks[0] + i) % len(pool)] for i in range(terms)]
                xs = [pool[(step.picks[1] + 2 * i) % len(pool)] for i in range(terms)]
                result = engine.linear(*ws, *xs, picked[2]).tanh()
            elif step.kind == "attention":  # position t's scores, softmax and weighted sums read positions 0..t
                positions, dim = step.size[0] + 1, step.size[1]
                vectors = [[pool[(step.picks[0] + t * dim + i) % len(pool)] for i in range(dim)]
                           for t in range(positions)]  # fmt: skip
                outs = []
                for t in range(positions):
                    scores = [engine.linear(*vectors[t], *vectors[s], picked[2]).tanh() for s in range(t + 1)]
                    total = engine.logsumexp(*scores)
                    p = [(z - total).exp() for z in scores]
                    outs += [engine.linear(*p, *(vectors[s][j] for s in range(t + 1)), step.constant)
                             for j in range(dim)]  # fmt: skip
                result = engine.logsumexp(*outs)
            elif step.kind == "prefixes":  # sum_{i<k} x_i y_i for every k: both vectors are beginnings of longer ones
                count = sum(step.size)
                xs = [pool[(step.picks[0] + i) % len(pool)] for i in range(count)]
                ys = [pool[(step.picks[1] + 2 * i) % len(pool)] for i in range(count)]
                result = engine.logsumexp(
                    *(engine.linear(*xs[:k], *ys[:k], step.constant) for k in range(1, count + 1))
                )
            elif step.kind == "reuse":  # y is every operand of the linear node: three gradients into one parent
                y = picked[0] * picked[1]
                result = engine.linear(y, y, y)
            else:
                entries = [pool[(step.picks[0] + 3 * i) % len(pool)] for i in range(LABELS + step.size[0] - 1)]
                index = label if step.kind == "take" else engine.where(picked[1] - 0.2, 0.0, 2.0)
                result = engine.take(entries, index) * step.constant
            pool.append(result)
            results.append(result)
        return sum(results[1:], results[0])

    return fn, parameters, arguments


def replays(plan: Plan) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(grouped forward, reference forward, grouped gradients, reference gradients) of the plan's fn."""
    fn, parameters, arguments = build(plan)
    per_sample = engine.vectorize(fn)
    grouped = per_sample(*arguments)
    before = [p.grad for p in parameters]
    per_sample.backward(*arguments)
    grouped_grads = np.array([p.grad - g for p, g in zip(parameters, before)])
    recording = per_sample.recording
    assert recording is not None
    forms = [len(a) if isinstance(a, list) else None for a in recording.arguments]
    batch = batch_of(arguments, per_sample.names, forms, "test")
    values = reference.forward(recording, batch)
    expected = reference.outputs(recording, values, batch.n)[:, 0]
    gradient = dict(zip(recording.shared, reference.backward(recording, values, 1.0 / batch.n, batch.n)))
    expected_grads = np.array([gradient.get(p, 0.0) for p in parameters])
    return grouped, expected, grouped_grads, expected_grads


def assert_agree(actual: np.ndarray, expected: np.ndarray) -> None:
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10 * scale)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans())
def test_the_grouped_replay_agrees_with_the_reference_replay(plan: Plan) -> None:
    grouped, expected, grouped_grads, expected_grads = replays(plan)
    assert_agree(grouped, expected)
    assert_agree(grouped_grads, expected_grads)


def scalar_path(plan: Plan) -> tuple[np.ndarray, np.ndarray]:
    """The plan's fn on Values, sample by sample: its outputs and the gradient of their mean."""
    fn, parameters, arguments = build(plan)
    n = plan.samples

    def sample(i: int) -> list[Any]:
        received: list[Any] = []
        for a in arguments:
            array = np.asarray(a, dtype=float)
            if array.ndim == 0:
                received.append(Value(float(array)))
            elif array.ndim == 1:
                received.append(Value(float(array[i])))
            else:
                received.append([Value(float(x)) for x in array[i]])
        return received

    outs = [fn(*sample(i)) for i in range(n)]
    for p in parameters:
        p.grad = 0.0
    mean = sum(outs[1:], outs[0]) / n
    mean.backward()
    return np.array([o.data for o in outs]), np.array([p.grad for p in parameters])


@pytest.mark.parametrize("seed", range(6))
def test_the_reference_replay_agrees_with_the_scalar_path(seed: int) -> None:
    rng = np.random.default_rng(seed)
    kinds = UNARY + BINARY + STRUCTURED
    steps = [
        Step(kind, [int(x) for x in rng.integers(0, 10**6, 6)], (2, 3, 2), float(rng.uniform(-2, 2))) for kind in kinds
    ]
    plan = Plan(
        ["column", 2, "number", "labels"], 3, [steps[(i + seed) % len(steps)] for i in range(len(steps))], 7, seed
    )
    grouped, expected, grouped_grads, expected_grads = replays(plan)
    outs, grads = scalar_path(plan)
    assert_agree(expected, outs)
    assert_agree(expected_grads, grads)
    assert_agree(grouped, outs)
    assert_agree(grouped_grads, grads)
