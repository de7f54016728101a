"""nn.Linear, nn.Embedding and nn.RMSNorm, the building blocks of a small GPT, against independent oracles.

Oracles: the closed forms computed in numpy from the parameters read back (`state_dict`), PyTorch's
functional linear, embedding and rms_norm on the same numbers (the `torch` fixture), central finite
differences (`engine.gradcheck`), the scalar path for engine.vectorize, and sample statistics for the
initialisations.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from conftest import as_if_trained

import engine
import nn
from engine import Value


def weighted_sum_of_squares(outputs: list[Value]) -> Value:
    """sum_k (k + 1) y_k^2: a loss whose gradient differs per output."""
    return sum((y * y * (k + 1) for k, y in enumerate(outputs)), Value(0.0))


# --- Linear ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bias", [True, False])
def test_linear_is_w_x_plus_b(bias: bool) -> None:
    layer = as_if_trained(nn.Linear(4, 3, bias=bias, seed=0))
    state = layer.state_dict()
    assert list(state) == (["weight", "bias"] if bias else ["weight"])
    assert state["weight"].shape == (3, 4)
    x = np.array([0.5, -1.0, 2.0, 0.25])
    expected = state["weight"] @ x + (state["bias"] if bias else 0.0)
    np.testing.assert_allclose([y.data for y in layer(list(x))], expected, rtol=1e-14)
    assert [p.label for p in layer.parameters()][:2] == ["weight[0,0]", "weight[0,1]"]
    assert layer.parameters()[-1].label == ("bias[2]" if bias else "weight[2,3]")


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients_match_torch(torch: ModuleType, bias: bool) -> None:
    layer = as_if_trained(nn.Linear(5, 3, bias=bias, seed=1))
    x = [Value(v) for v in np.random.default_rng(2).normal(size=5)]
    weighted_sum_of_squares(layer(x)).backward()
    state = layer.state_dict()
    w = torch.tensor(state["weight"], requires_grad=True)
    b = torch.tensor(state["bias"], requires_grad=True) if bias else None
    x_t = torch.tensor([v.data for v in x], dtype=torch.float64, requires_grad=True)
    y = torch.nn.functional.linear(x_t, w, b)
    (y * y * torch.arange(1, 4, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose([[p.grad for p in row] for row in layer.weight], w.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose([v.grad for v in x], x_t.grad.numpy(), rtol=1e-12)
    if bias:
        np.testing.assert_allclose([p.grad for p in layer.bias], b.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_records_one_fused_node_per_output_that_vectorize_can_group(bias: bool) -> None:
    # engine.vectorize runs neurons as one matrix product when each is a `linear` node whose weights and bias are
    # leaves and whose inputs are the same Values: that is what a Linear layer must record.
    layer = nn.Linear(3, 4, bias=bias, seed=0)
    x = [Value(1.0), Value(2.0), Value(3.0)]
    outputs = layer(x)
    for row, y in enumerate(outputs):
        assert y.op is engine.linear
        weights, inputs, b = y.parents[:3], y.parents[3:6], y.parents[6]
        assert list(weights) == layer.weight[row] and list(inputs) == x
        assert b.parents == () and (b is layer.bias[row] if bias else b.data == 0.0)
    assert len({id(y.parents[3]) for y in outputs}) == 1


@pytest.mark.parametrize("bias", [True, False])
def test_linear_through_vectorize_equals_the_scalar_path(bias: bool) -> None:
    layer = as_if_trained(nn.Linear(3, 2, bias=bias, seed=4))
    X = np.random.default_rng(5).normal(size=(6, 3))

    def loss(a: Value, b: Value, c: Value) -> Value:
        return weighted_sum_of_squares(layer([a, b, c]))

    batched = engine.vectorize(loss)
    np.testing.assert_allclose(batched(*X.T), [loss(*map(Value, row)).data for row in X], rtol=1e-13)
    layer.zero_grad()
    batched.backward(*X.T)
    vectorized = [p.grad for p in layer.parameters()]
    layer.zero_grad()
    total = sum((loss(*map(Value, row)) for row in X), Value(0.0)) / len(X)
    total.backward()
    np.testing.assert_allclose(vectorized, [p.grad for p in layer.parameters()], rtol=1e-12)


class HoldsALinear(nn.Module):
    def __init__(self) -> None:
        self.head = nn.Linear(3, 2, bias=False, seed=0)


@pytest.mark.parametrize("held", [False, True], ids=["the layer", "a model holding it"])
@pytest.mark.parametrize("batched", [False, True], ids=["scalar path", "vectorize"])
def test_zero_grad_clears_the_constant_zero_of_a_linear_without_bias_which_stays_no_parameter(
    batched: bool, held: bool
) -> None:
    """Each output of a Linear without bias adds the same constant leaf, 0, to which backward adds as to any leaf:
    the model's zero_grad clears it, also from a model holding the layer. It is no parameter: no optimizer moves it,
    no state dict holds it, and an export to PyTorch must keep it a constant (issue 25)."""
    model = HoldsALinear() if held else nn.Linear(3, 2, bias=False, seed=0)
    layer = model.head if isinstance(model, HoldsALinear) else model
    x = np.array([[1.0, -2.0, 0.5], [0.25, 1.5, -1.0]])

    def loss(a: Value, b: Value, c: Value) -> Value:
        y = layer([a, b, c])
        return y[0] * 3.0 + y[1] * 5.0

    if batched:
        engine.vectorize(loss).backward(*x.T)  # the mean over the batch: d/d0 is 3 + 5 as well
    else:
        loss(*map(Value, x[0])).backward()
    zero = layer([1.0, 2.0, 3.0])[0].parents[-1]
    assert zero.op is None and zero.data == 0.0 and zero.grad == 8.0  # 3 + 5: each output adds it once
    assert not any(p is zero for p in model.parameters()) and len(model.parameters()) == 6
    assert list(model.state_dict()) == (["head.weight"] if held else ["weight"])
    model.zero_grad()
    leaves = [v for v in engine.topological_order(loss(*map(Value, x[0]))) if v.op is None]
    assert any(v is zero for v in leaves) and [v.grad for v in leaves] == [0.0] * len(leaves)  # inputs: new leaves


def test_linear_initialisation_uniform_by_default_gaussian_with_std() -> None:
    nin = 50
    uniform = nn.Linear(nin, 200, seed=0).state_dict()
    assert uniform["weight"].var() == pytest.approx(1.0 / nin, rel=0.05)
    assert abs(uniform["weight"]).max() <= math.sqrt(3.0 / nin)
    assert not uniform["bias"].any()
    gaussian = nn.Linear(nin, 200, std=0.08, seed=0).state_dict()["weight"]
    n = gaussian.size
    assert abs(gaussian.mean()) < 4 * 0.08 / math.sqrt(n)  # four standard errors
    assert gaussian.std() == pytest.approx(0.08, rel=0.03)
    assert abs(gaussian).max() > math.sqrt(3.0) * 0.08  # beyond any uniform with this variance: a Gaussian's tails
    assert (nn.Linear(3, 2, seed=7).state_dict()["weight"] == nn.Linear(3, 2, seed=7).state_dict()["weight"]).all()
    rng = np.random.default_rng(1)
    first, second = nn.Linear(3, 2, rng=rng), nn.Linear(3, 2, rng=rng)  # one generator, two different draws
    assert not np.array_equal(first.state_dict()["weight"], second.state_dict()["weight"])


def test_gaussian_initialisation_for_neurons_layers_and_mlps() -> None:
    for weights in (
        nn.MLP(50, [200, 3], std=0.08, seed=0).state_dict()["layer1.weight"],
        nn.Layer(50, 200, "relu", std=0.08, seed=1).state_dict()["weight"],  # std replaces He's uniform for relu too
        np.array([[w.data for w in nn.Neuron(10_000, std=0.08, seed=2).w]]),
    ):
        assert weights.std() == pytest.approx(0.08, rel=0.03)
        assert abs(weights.mean()) < 4 * 0.08 / math.sqrt(weights.size)
        assert abs(weights).max() > math.sqrt(3.0) * 0.08  # beyond any uniform with this variance
    assert not nn.MLP(50, [200, 3], std=0.08, seed=0).state_dict()["layer1.bias"].any()
    with pytest.raises(ValueError, match=r"Neuron: std must be a positive finite number.*got -1"):
        nn.MLP(2, [1], std=-1)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: nn.Linear(0, 2), ValueError, r"Linear needs a positive whole number of inputs, got 0"),
        (lambda: nn.Linear(2, 2.5), ValueError, r"Linear needs a positive whole number of outputs, got 2.5"),
        (lambda: nn.Linear(2, 2, bias="no"), TypeError, r"Linear: bias must be True or False, got 'no'"),
        (lambda: nn.Linear(2, 2, std=0), ValueError, r"Linear: std must be a positive finite number"),
        (lambda: nn.Linear(2, 2, std=float("nan")), ValueError, r"Linear: std must be a positive finite number"),
        (lambda: nn.Linear(2, 2, std="wide"), TypeError, r"Linear: std"),
        (lambda: nn.Linear(2, 2)([1.0]), ValueError, r"Linear expects 2 inputs, got 1"),
        (
            lambda: nn.Linear(2, 2)(3.0),
            TypeError,
            r"Linear expects a list of 2 inputs \(numbers or Values\), got float",
        ),
    ],
)
def test_linear_refuses_bad_arguments_naming_them(make: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        make()


# --- Embedding ------------------------------------------------------------------------------------------------


def test_an_embedding_row_by_an_int_is_that_rows_parameters() -> None:
    emb = nn.Embedding(5, 3, seed=0)
    assert emb.state_dict()["weight"].shape == (5, 3)
    for i in range(5):
        row = emb(i)
        assert all(a is b for a, b in zip(row, emb.weight[i])) and len(row) == 3
    assert emb(np.int64(4))[0] is emb.weight[4][0]
    assert [p.label for p in emb.parameters()][-1] == "weight[4,2]"


def test_an_embedding_row_by_a_value_sends_the_gradient_to_that_row_only() -> None:
    emb = as_if_trained(nn.Embedding(4, 3, seed=0))
    index = Value(2.0)
    row = emb(index)
    assert [v.data for v in row] == [p.data for p in emb.weight[2]]
    assert all(v.op.name == "take" and v.parents[0] is index for v in row)  # one node per entry, reading the index
    weighted_sum_of_squares(row).backward()
    for i, parameters in enumerate(emb.weight):
        for k, p in enumerate(parameters):
            expected = 2 * (k + 1) * p.data if i == 2 else 0.0  # d/dw of (k+1) w^2 for the chosen row
            assert p.grad == pytest.approx(expected, rel=1e-15)
    assert index.grad == 0.0


def test_embedding_gradients_over_a_sequence_match_torch(torch: ModuleType) -> None:
    emb = as_if_trained(nn.Embedding(6, 4, seed=1))
    tokens = [3, 0, 3, 5, 1]
    outputs = [v for token in tokens for v in emb(Value(float(token)))]
    weighted_sum_of_squares(outputs).backward()
    table = torch.tensor(emb.state_dict()["weight"], requires_grad=True)
    rows = torch.nn.functional.embedding(torch.tensor(tokens), table).reshape(-1)
    (rows * rows * torch.arange(1, len(outputs) + 1, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose([[p.grad for p in row] for row in emb.weight], table.grad.numpy(), rtol=1e-13)


def test_embedding_through_vectorize_picks_each_samples_row_and_scatters_gradients_back() -> None:
    emb = as_if_trained(nn.Embedding(4, 2, seed=3))
    tokens = np.array([1, 3, 1, 0, 1])

    def loss(token: Value) -> Value:
        return weighted_sum_of_squares(emb(token))

    batched = engine.vectorize(loss)
    np.testing.assert_allclose(batched(tokens), [loss(Value(float(t))).data for t in tokens], rtol=1e-14)
    emb.zero_grad()
    batched.backward(tokens, reduce="sum")
    vectorized = [p.grad for p in emb.parameters()]
    emb.zero_grad()
    sum((loss(Value(float(t))) for t in tokens), Value(0.0)).backward()
    np.testing.assert_allclose(vectorized, [p.grad for p in emb.parameters()], rtol=1e-13)
    assert emb.weight[2][0].grad == 0.0  # a row no sample chose


@pytest.mark.parametrize(
    ("index", "error", "message"),
    [
        (4, ValueError, r"Embedding\(4, 2\): take: index 4 is out of range for 4 entries; expected 0 to 3"),
        (-1, ValueError, r"Embedding\(4, 2\): take: index -1 is out of range"),
        (Value(7.0), ValueError, r"Embedding\(4, 2\): .*index 7 is out of range"),
        (Value(1.5), ValueError, r"Embedding\(4, 2\): .*index 1.5 is not a whole number"),
        (1.0, TypeError, r"Embedding\(4, 2\): take: index must be an int or a Value holding one, got float"),
        (True, TypeError, r"Embedding\(4, 2\): take: index must be an int .*got bool"),
    ],
)
def test_an_embedding_index_out_of_range_or_not_whole_is_named(
    index: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        nn.Embedding(4, 2, seed=0)(index)


def test_embedding_initialisation_and_bad_arguments() -> None:
    table = nn.Embedding(100, 100, seed=0).state_dict()["weight"]
    assert table.std() == pytest.approx(1.0, rel=0.03) and abs(table.mean()) < 4 / math.sqrt(table.size)
    assert nn.Embedding(100, 100, std=0.08, seed=0).state_dict()["weight"].std() == pytest.approx(0.08, rel=0.03)
    with pytest.raises(ValueError, match=r"Embedding needs a positive whole number of rows \(num_embeddings\), got 0"):
        nn.Embedding(0, 3)
    with pytest.raises(ValueError, match=r"Embedding needs a positive whole number of dimensions \(dim\), got -2"):
        nn.Embedding(3, -2)
    with pytest.raises(ValueError, match=r"Embedding: std must be a positive finite number"):
        nn.Embedding(3, 2, std=0.0)


# --- RMSNorm --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("x", [[1.0, -2.0, 3.0, 0.5], [1e-3, 0.0, -2e-3], [1e6, -3e6], [0.0, 0.0]])
def test_rmsnorm_is_x_over_its_root_mean_square_with_eps_1e_5(x: list[float]) -> None:
    array = np.array(x)
    expected = array / np.sqrt(np.mean(array**2) + 1e-5)  # microgpt's eps
    np.testing.assert_allclose([y.data for y in nn.RMSNorm()(x)], expected, rtol=1e-13, atol=0)
    np.testing.assert_allclose(
        [y.data for y in nn.RMSNorm(eps=0.5)(x)], array / np.sqrt(np.mean(array**2) + 0.5), rtol=1e-13
    )


def test_rmsnorm_output_has_root_mean_square_one_and_no_parameters() -> None:
    x = list(np.random.default_rng(0).normal(scale=30.0, size=16))
    y = np.array([v.data for v in nn.RMSNorm()(x)])
    assert np.sqrt(np.mean(y**2)) == pytest.approx(1.0, abs=1e-6)
    assert nn.RMSNorm().parameters() == [] and nn.RMSNorm().state_dict() == {}


def test_rmsnorm_gradients_match_finite_differences_and_torch(torch: ModuleType) -> None:
    point = [0.7, -1.3, 0.2, 2.1, -0.4]
    norm = nn.RMSNorm()
    assert engine.gradcheck(lambda *x: weighted_sum_of_squares(norm(list(x))) + norm(list(x))[1], point)
    xs = [Value(v) for v in point]
    out = norm(xs)
    (weighted_sum_of_squares(out) + out[1]).backward()
    x_t = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    y_t = torch.nn.functional.rms_norm(x_t, (len(point),), eps=1e-5)
    ((y_t * y_t * torch.arange(1, 6, dtype=torch.float64)).sum() + y_t[1]).backward()
    np.testing.assert_allclose([y.data for y in out], y_t.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose([x.grad for x in xs], x_t.grad.numpy(), rtol=1e-11)


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: nn.RMSNorm(eps=0.0), ValueError, r"RMSNorm: eps must be a positive finite number, got 0.0"),
        (lambda: nn.RMSNorm(eps=float("inf")), ValueError, r"RMSNorm: eps must be a positive finite number"),
        (lambda: nn.RMSNorm(eps="small"), TypeError, r"RMSNorm: eps"),
        (lambda: nn.RMSNorm()([]), ValueError, r"RMSNorm expects at least one input, got none"),
        (lambda: nn.RMSNorm()(np.ones((4, 3))), ValueError, r"RMSNorm expects inputs, one sample, .*engine.vectorize"),
    ],
)
def test_rmsnorm_refuses_bad_arguments(make: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        make()


def test_embedding_rmsnorm_and_linear_together_through_vectorize_equal_the_scalar_path() -> None:
    # A small GPT's first and last steps: a token's row, normalised, to logits, with the token id per sample.
    emb = as_if_trained(nn.Embedding(5, 4, seed=0), seed=1)
    norm = nn.RMSNorm()
    head = as_if_trained(nn.Linear(4, 5, bias=False, seed=2), seed=3)
    tokens = np.array([4, 0, 2, 2, 1, 3])

    def loss(token: Value) -> Value:
        return weighted_sum_of_squares(head(norm(emb(token))))

    batched = engine.vectorize(loss)
    np.testing.assert_allclose(batched(tokens), [loss(Value(float(t))).data for t in tokens], rtol=1e-13)
    parameters = [*emb.parameters(), *head.parameters()]
    for p in parameters:
        p.grad = 0.0
    batched.backward(tokens)
    vectorized = [p.grad for p in parameters]
    for p in parameters:
        p.grad = 0.0
    (sum((loss(Value(float(t))) for t in tokens), Value(0.0)) / len(tokens)).backward()
    np.testing.assert_allclose(vectorized, [p.grad for p in parameters], rtol=1e-12, atol=1e-15)
