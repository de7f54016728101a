"""engine.take and class labels, on the scalar path and under engine.vectorize.

`take(values, index)` is one row of the table; vectorize runs a group of take nodes as one gather per sample
and a scatter-add back (`take_rows`, checked against the row in tests/test_matrix_forms.py). Here, end to end
against the scalar path: an index chosen per sample from the arguments or computed from them, an
embedding-like table of parameters, integer class labels through `nn.cross_entropy`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import engine
import nn
from engine import Value
from engine.core.ops import take_op

RTOL = 1e-12


def assert_close(actual: Any, expected: Any) -> None:
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    scale = max(1.0, float(np.max(np.abs(expected)))) if expected.size else 1.0
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=RTOL * scale)


# --- engine.take on the scalar path -----------------------------------------------------------------------------


def test_take_with_an_int_returns_the_entry_and_with_a_value_records_a_node() -> None:
    a, b, c = Value(1.5, label="a"), Value(-2.0, label="b"), Value(4.0, label="c")
    assert engine.take([a, b, c], 1) is b and engine.take([a, b, c], np.int64(2)) is c
    index = Value(2.0, label="i")
    chosen = engine.take([a, b, c], index)
    assert chosen.data == 4.0 and chosen.op is take_op and chosen.parents == (index, a, b, c)
    (chosen * chosen).backward()
    assert (a.grad, b.grad, c.grad, index.grad) == (0.0, 0.0, 8.0, 0.0)  # the chosen entry only
    assert engine.take([1.0, 2.0, 3.0], Value(0.0)).data == 1.0  # numbers become constant entries


def test_take_of_a_table_gives_a_row_whose_gradient_goes_to_that_row() -> None:
    """microgpt.py's `state_dict['wte'][token_id]`, written `engine.take(wte, token_id)` with a Value token id."""
    wte = [[Value(0.1 * r + 0.01 * d, label=f"wte[{r},{d}]") for d in range(3)] for r in range(4)]
    assert engine.take(wte, 2) == wte[2] and engine.take(wte, 2) is not wte[2]  # an int: the row itself, no node
    token = Value(2.0, label="token")
    row = engine.take(wte, token)
    assert [v.data for v in row] == [v.data for v in wte[2]] and all(v.op is take_op for v in row)
    (row[0] * 2 + row[2] * row[2]).backward()
    grads = [[v.grad for v in r] for r in wte]
    assert grads == [[0.0] * 3, [0.0] * 3, [2.0, 0.0, 2 * wte[2][2].data], [0.0] * 3]
    assert token.grad == 0.0


def test_a_table_lookup_batches_as_the_scalar_path_computes_it() -> None:
    wte = [[Value(float(np.sin(r + 3 * d)), label=f"wte[{r},{d}]") for d in range(2)] for r in range(5)]
    fn = lambda token: sum(x * x for x in engine.take(wte, token))  # noqa: E731
    tokens = np.array([0.0, 3.0, 4.0, 3.0])
    batched = engine.vectorize(fn)(tokens)
    assert_close(batched, [fn(Value(t)).data for t in tokens])
    engine.vectorize(fn).backward(tokens, reduce="sum")
    batched_grads = [v.grad for r in wte for v in r]
    for r in wte:
        for v in r:
            v.grad = 0.0
    for t in tokens:
        fn(Value(t)).backward()
    assert_close(batched_grads, [v.grad for r in wte for v in r])


@pytest.mark.parametrize(
    ("values", "index", "error", "message"),
    [
        ([Value(1.0)] * 3, 3, ValueError, r"take: index 3 is out of range for 3 entries; expected 0 to 2"),
        ([Value(1.0)] * 3, -1, ValueError, r"take: index -1 is out of range"),
        ([Value(1.0)] * 3, Value(1.5), ValueError,
         r"^take\(1.5, 1.0, 1.0, 1.0\): index 1.5 is not a whole number; expected an integer from 0 to 2"),
        ([Value(1.0)] * 3, Value(5.0), ValueError,
         r"^take\(5.0, 1.0, 1.0, 1.0\): index 5 is out of range for 3 entries"),
        ([Value(1.0)] * 3, 1.0, TypeError, r"take: index must be an int or a Value holding one, got float"),
        ([Value(1.0)] * 3, True, TypeError, r"got bool"),
        ([], 0, ValueError, r"at least one entry"),
        (Value(1.0), 0, TypeError, r"take expects a list or tuple of Values or numbers, got Value; or a table of rows"),
        ([[Value(1.0)], [Value(2.0), Value(3.0)]], 0, ValueError, r"table's rows must be lists of one nonzero length"),
        ([[Value(1.0)], Value(2.0)], 0, ValueError, r"table's rows must be lists of one nonzero length"),
        ([[], []], Value(0.0), ValueError, r"table's rows must be lists of one nonzero length"),
        ([[Value(1.0)], [Value(2.0)]], 2, ValueError, r"take: index 2 is out of range for 2 entries"),
    ],
)  # fmt: skip
def test_a_bad_index_or_sequence_is_an_error_naming_it(values: Any, index: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        engine.take(values, index)


# --- under engine.vectorize -------------------------------------------------------------------------------------------


def embedding_fn(table: list[list[Value]], positions: int) -> Any:
    """A sum over positions of tanh(embedding row of the token at each position . a fixed vector): an embedding."""

    def fn(tokens: list[Value]) -> Value:
        total = Value(0.0)
        for t in range(positions):
            row = [engine.take([table[r][d] for r in range(len(table))], tokens[t]) for d in range(len(table[0]))]
            total = total + engine.linear(*row, *[0.5, -1.0, 2.0][: len(row)], 0.0).tanh() * (t + 1)
        return total

    return fn


def scalar_mean(fn: Any, samples: list[list[Any]], leaves: list[Value]) -> tuple[list[float], list[float]]:
    outs = [fn(*sample) for sample in samples]
    for leaf in leaves:
        leaf.grad = 0.0
    mean = sum(outs[1:], outs[0]) / len(outs)
    mean.backward()
    grads = [leaf.grad for leaf in leaves]
    for leaf in leaves:
        leaf.grad = 0.0
    return [o.data for o in outs], grads


def test_an_embedding_looked_up_per_sample_matches_the_scalar_path_and_is_one_gather() -> None:
    rng = np.random.default_rng(4)
    table = [[Value(float(x)) for x in row] for row in rng.normal(size=(7, 3))]
    leaves = [v for row in table for v in row]
    fn = embedding_fn(table, positions=4)
    tokens = rng.integers(0, 7, size=(9, 4))
    tokens[:3] = 2  # the same row chosen by several samples and positions: its gradients add up
    per_sample = engine.vectorize(fn)
    samples = [[[Value(float(t)) for t in row]] for row in tokens]
    outs, grads = scalar_mean(fn, samples, leaves)
    assert_close(per_sample(tokens), outs)
    per_sample.backward(tokens)
    assert_close([v.grad for v in leaves], grads)
    program = per_sample.program
    assert program is not None
    takes = [node for node in program.computed if node.kind == "take"]
    assert len(takes) == 1 and takes[0].size == 4 * 3  # every position's every coordinate: one gather
    assert takes[0].parents[takes[0].op.source].kind == "shared"  # read from the parameters, not copied first


def test_an_index_computed_from_the_arguments_is_chosen_per_sample() -> None:
    w = [Value(1.0, label="w0"), Value(-2.0, label="w1"), Value(3.0, label="w2")]

    def fn(x: Value) -> Value:
        index = engine.sign(x - 0.5).relu() * 2  # 2 where x > 0.5, else 0
        return engine.take([w[0] * x, w[1] * x, w[2] * x], index)

    xs = np.array([-1.0, 0.0, 1.0, 2.0, 0.25])
    per_sample = engine.vectorize(fn)
    outs, grads = scalar_mean(fn, [[Value(x)] for x in xs], w)
    assert_close(per_sample(xs), outs)
    per_sample.backward(xs)
    assert_close([v.grad for v in w], grads)
    np.testing.assert_array_equal(per_sample(xs), [-1.0, 0.0, 3.0, 6.0, 0.25])


@pytest.mark.parametrize(
    ("tokens", "message"),
    [
        ([[0, 1, 2, 3], [1, 7, 0, 0]],
         r"take\(.*\): index 7 is out of range for 7 entries; expected 0 to 6.*\(engine.vectorize: sample 1 of 2\)$"),
        ([[0, 1, 2, 3], [1, 2, 0, 0], [0, 0, 0, -1]], r"take\(.*\): index -1 is out of range.*sample 2 of 3\)$"),
        ([[0.5, 1, 2, 3]], r"take\(.*\): index 0.5 is not a whole number.*sample 0 of 1\)$"),
    ],
)  # fmt: skip
def test_an_index_out_of_range_or_not_whole_names_it_and_the_sample_and_changes_nothing(
    tokens: list[list[float]], message: str
) -> None:
    rng = np.random.default_rng(5)
    table = [[Value(float(x)) for x in row] for row in rng.normal(size=(7, 3))]
    per_sample = engine.vectorize(embedding_fn(table, positions=4))
    per_sample.backward(np.zeros((2, 4), dtype=int))
    before = [v.grad for row in table for v in row]
    for call in (per_sample, per_sample.backward):
        with pytest.raises(ValueError, match=message):
            call(np.array(tokens))
    assert [v.grad for row in table for v in row] == before


def test_integer_labels_go_through_cross_entropy_as_on_the_scalar_path() -> None:
    rng = np.random.default_rng(6)
    model = nn.MLP(5, [8, 4], activation="relu", seed=6)
    X, labels = rng.normal(size=(12, 5)), rng.integers(0, 4, 12)
    loss = engine.vectorize(lambda x, label: nn.cross_entropy(model(x), label))
    terms = [nn.cross_entropy(model(x), int(label)) for x, label in zip(X.tolist(), labels)]
    assert_close(loss(X, labels), [t.data for t in terms])
    model.zero_grad()
    mean = sum(terms[1:], terms[0]) / 12
    mean.backward()
    expected = [p.grad for p in model.parameters()]
    model.zero_grad()
    assert loss.backward(X, labels) == pytest.approx(mean.data, rel=RTOL)
    assert_close([p.grad for p in model.parameters()], expected)
    one_hot = engine.vectorize(lambda x, target: nn.cross_entropy(model(x), target))
    assert_close(one_hot(X, np.eye(4)[labels]), loss(X, labels))  # the same loss as class probabilities
    with pytest.raises(ValueError, match=r"cross_entropy: target 4\.0 is not a class of the 4 logits.*sample 1 of 2"):
        loss(X[:2], np.array([0, 4]))
