"""nn: parameter order and names, seeds, shapes, losses and optimizers against hand computations."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import import_order, package_imports

import nn
from engine import Value, no_grad, topological_order

# --- modules ---------------------------------------------------------------------------------------


def test_parameters_are_listed_layer_by_layer_neuron_by_neuron_weights_then_bias() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    expected = []
    for layer in model.layers:
        for neuron in layer.neurons:
            expected += [*neuron.w, neuron.b]
    assert model.parameters() == expected
    assert len(expected) == 3 * (2 + 1) + 1 * (3 + 1)
    names = [p.label for p in model.parameters()]
    assert names[:3] == ["layer1.neuron1.w1", "layer1.neuron1.w2", "layer1.neuron1.b"]
    assert names[-1] == "layer2.neuron1.b"
    assert [name for name, _ in model.named_parameters()] == names


def test_seed_gives_identical_weights_and_different_seeds_differ() -> None:
    a = [p.data for p in nn.MLP(2, [4, 1], seed=7).parameters()]
    b = [p.data for p in nn.MLP(2, [4, 1], seed=7).parameters()]
    c = [p.data for p in nn.MLP(2, [4, 1], seed=8).parameters()]
    assert a == b and a != c


@pytest.mark.parametrize(("activation", "variance"), [("relu", 2.0), ("tanh", 1.0), ("sigmoid", 1.0), ("linear", 1.0)])
def test_default_initialisation_has_the_documented_variance(activation: str, variance: float) -> None:
    nin = 50
    layer = nn.Layer(nin, 200, activation, seed=1)
    weights = np.array([w.data for n in layer.neurons for w in n.w])
    assert weights.var() == pytest.approx(variance / nin, rel=0.05)
    assert abs(weights).max() <= math.sqrt(3 * variance / nin)
    assert all(n.b.data == 0.0 for n in layer.neurons)


def test_mlp_output_shapes_and_activations() -> None:
    single = nn.MLP(3, [4, 1], activation="relu", seed=0)
    assert isinstance(single([1, 2, 3]), Value)
    multi = nn.MLP(3, [4, 2], seed=0)
    out = multi([1.0, Value(2.0), 3])
    assert isinstance(out, list) and len(out) == 2
    assert [layer.neurons[0].activation for layer in multi.layers] == ["tanh", "linear"]


def test_mlp_forward_matches_numpy() -> None:
    model = nn.MLP(3, [4, 2], activation="sigmoid", seed=5)
    x = np.array([0.5, -1.0, 2.0])
    h = x
    for i, layer in enumerate(model.layers):
        w = np.array([[v.data for v in n.w] for n in layer.neurons])
        b = np.array([n.b.data for n in layer.neurons])
        z = w @ h + b
        h = 1 / (1 + np.exp(-z)) if i == 0 else z
    np.testing.assert_allclose([v.data for v in model(list(x))], h, rtol=1e-13)  # type: ignore[union-attr]


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "linear"])
def test_fused_and_elementary_neurons_give_the_same_gradients(activation: str) -> None:
    fused = nn.MLP(3, [4, 4, 1], activation=activation, seed=2)
    plain = nn.MLP(3, [4, 4, 1], activation=activation, seed=2, fused=False)
    for model in (fused, plain):
        nn.mse_loss([model([0.2, -0.7, 1.1]), model([1.0, 0.5, -0.3])], [0.3, -0.4]).backward()
    for p, q in zip(fused.parameters(), plain.parameters()):
        assert p.label == q.label
        assert p.grad == pytest.approx(q.grad, rel=1e-12, abs=1e-15)


def test_module_nodes_carry_their_scope() -> None:
    model = nn.MLP(2, [2, 1], seed=0, fused=False)
    out = model([1.0, 2.0])
    assert out.scope == "layer2.neuron1"  # type: ignore[union-attr]
    assert out.parents[0].scope == "layer2.neuron1"  # type: ignore[union-attr]


def test_zero_grad_clears_every_parameter() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    model([1.0, -1.0]).backward()  # type: ignore[union-attr]
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())


def test_bad_configuration_and_inputs_raise_value_error() -> None:
    with pytest.raises(ValueError, match="unknown activation 'gelu'.*'relu'"):
        nn.MLP(2, [3, 1], activation="gelu")
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises(ValueError, match="expects 2 inputs, got 3"):
        model([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="positive whole number of inputs"):
        nn.MLP(0, [1])
    with pytest.raises(ValueError, match="at least one layer"):
        nn.MLP(2, [])
    with pytest.raises(TypeError, match="list of 2"):
        model(3.0)  # type: ignore[arg-type]


# --- the seed's network 1.1 ----------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu"])
def test_seed_network_is_the_seeds_formula_with_seed_names(activation: str) -> None:
    net = nn.SeedNetwork(activation, seed=4)
    p = {name: v.data for name, v in net.named_parameters()}
    assert list(p) == ["w1", "b1", "w2", "b2", "w3", "b3"]
    assert [v.label for v in net.parameters()] == list(p)
    g = {"sigmoid": lambda u: 1 / (1 + math.exp(-u)), "tanh": math.tanh, "relu": lambda u: max(u, 0.0)}[activation]
    x = 0.8
    h1 = g(p["w1"] * x + p["b1"])
    h2 = g(p["w2"] * h1 + p["b2"])
    assert net(x).data == pytest.approx(p["w3"] * h2 + p["b3"], rel=1e-14)


def test_wider_seed_network_names_entries_by_unit_and_input() -> None:
    net = nn.SeedNetwork("tanh", widths=(2, 3), seed=0)
    names = [name for name, _ in net.named_parameters()]
    assert names[:3] == ["w1[1,1]", "b1[1]", "w1[2,1]"]
    assert "w2[3,2]" in names and names[-1] == "b3"
    assert len(names) == len(net.parameters()) == 2 * 2 + 3 * 3 + 4
    with pytest.raises(ValueError, match="two hidden layers"):
        nn.SeedNetwork("tanh", widths=(2,))


G = {"sigmoid": lambda u: 1 / (1 + math.exp(-u)), "tanh": math.tanh, "relu": lambda u: max(u, 0.0), "linear": float}


def labelled(root: Value) -> dict[str, Value]:
    """The graph's labelled Values by label; each label names one Value."""
    values = [v for v in topological_order(root) if v.label]
    named = {v.label: v for v in values}
    assert len(named) == len(values), "a label names two Values"
    return named


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "linear"])
def test_seed_network_labels_what_it_computes_with_the_seeds_symbols(activation: str, fused: bool) -> None:
    net = nn.SeedNetwork(activation, seed=4, fused=fused)
    p = {name: v.data for name, v in net.named_parameters()}
    g, x, y = G[activation], -0.7, 0.3
    u1 = p["w1"] * x + p["b1"]
    u2 = p["w2"] * g(u1) + p["b2"]
    y_hat = p["w3"] * g(u2) + p["b3"]
    expected = {**p, "x": x, "u1": u1, "h1": g(u1), "u2": u2, "h2": g(u2), "ŷ": y_hat, "y": y, "L": (y - y_hat) ** 2}
    expected["e"] = y - y_hat  # the residual, named as the tutorial names it
    if not fused:  # each unit a multiply and an add: the products, named as the tutorial names them
        expected.update({"w1x": p["w1"] * x, "w2h1": p["w2"] * g(u1), "w3h2": p["w3"] * g(u2)})
    if activation == "linear":  # h = g(u) = u: one Value, called h
        del expected["u1"], expected["u2"]
    loss = net.loss(x, y)
    named = labelled(loss)
    assert set(named) == set(expected)  # every name on a Value, and no other names
    assert all(v.label for v in topological_order(loss))  # and every Value has one
    for name, value in expected.items():
        assert named[name].data == pytest.approx(value, rel=1e-14, abs=1e-15), name
    assert labelled(net(x)).keys() == expected.keys() - {"y", "e", "L"}  # calling it names ŷ and what leads to it


def test_seed_network_names_each_samples_residual() -> None:
    net = nn.SeedNetwork("tanh", seed=4)
    xs, ys = [0.5, -1.0, 2.0], [1.0, 0.0, 0.5]
    named = labelled(net.loss(xs, ys))
    for n, (x, y) in enumerate(zip(xs, ys), start=1):
        assert named[f"e_{n}"].data == pytest.approx(y - net(x).data, rel=1e-14)
        assert [p.label for p in named[f"e_{n}"].parents] == [f"y_{n}", f"ŷ_{n}"]


def test_wider_seed_network_labels_each_units_values_by_its_number() -> None:
    net = nn.SeedNetwork("tanh", widths=(2, 3), nin=2, seed=0, fused=False)
    p = {name: v.data for name, v in net.named_parameters()}
    x = [0.5, -1.0]
    u1 = [p[f"w1[{j},1]"] * x[0] + p[f"w1[{j},2]"] * x[1] + p[f"b1[{j}]"] for j in (1, 2)]
    h1 = [math.tanh(u) for u in u1]
    u2 = [sum(p[f"w2[{j},{k}]"] * h1[k - 1] for k in (1, 2)) + p[f"b2[{j}]"] for j in (1, 2, 3)]
    h2 = [math.tanh(u) for u in u2]
    expected = {**p, "x[1]": x[0], "x[2]": x[1], "ŷ": sum(p[f"w3[1,{k}]"] * h2[k - 1] for k in (1, 2, 3)) + p["b3"]}
    for layer, us, hs in ((1, u1, h1), (2, u2, h2)):
        for j, (u, h) in enumerate(zip(us, hs), start=1):
            expected[f"u{layer}[{j}]"], expected[f"h{layer}[{j}]"] = u, h
    named = labelled(net(x))
    assert set(named) == set(expected)
    for name, value in expected.items():
        assert named[name].data == pytest.approx(value, rel=1e-14, abs=1e-15), name
    assert all(p.note == "" for p in net.parameters())  # the seed's formulas are for one unit a layer


def test_seed_network_loss_over_n_samples_names_each_samples_values() -> None:
    net = nn.SeedNetwork("tanh", seed=1)
    p = {name: v.data for name, v in net.named_parameters()}
    xs, ys = [0.5, -1.0, 2.0], [1.0, 0.0, -0.5]
    y_hats = [p["w3"] * math.tanh(p["w2"] * math.tanh(p["w1"] * x + p["b1"]) + p["b2"]) + p["b3"] for x in xs]
    loss = net.loss(xs, ys)
    assert loss.data == pytest.approx(sum((y - f) ** 2 for y, f in zip(ys, y_hats)) / 3, rel=1e-14)
    named = labelled(loss)
    for n, (x, y, y_hat) in enumerate(zip(xs, ys, y_hats), start=1):
        assert (named[f"x_{n}"].data, named[f"y_{n}"].data) == (x, y)
        assert named[f"ŷ_{n}"].data == pytest.approx(y_hat, rel=1e-14)
        assert {f"u1_{n}", f"h1_{n}", f"u2_{n}", f"h2_{n}"} <= named.keys()
    assert named["L"] is loss and not {"x", "y", "ŷ"} & named.keys()
    # The names change no number: the gradients are those of nn.mse_loss over model(x), bit for bit.
    loss.backward()
    grads = [v.grad for v in net.parameters()]
    net.zero_grad()
    nn.mse_loss([net(x) for x in xs], ys).backward()
    assert [v.grad for v in net.parameters()] == grads


def test_seed_network_names_no_value_it_did_not_make() -> None:
    net = nn.SeedNetwork("tanh", seed=1)
    x, y = Value(0.5), Value(1.0, label="target")
    named = labelled(net.loss(x, y))
    assert x.label == "" and y.label == "target" and "target" in named and not {"x", "y"} & named.keys()
    with no_grad():  # no graph: ŷ has no inputs to name
        out = net(0.5)
    assert out.label == "ŷ" and out.parents == ()


def test_seed_network_loss_refuses_mismatched_samples_and_targets() -> None:
    net = nn.SeedNetwork("tanh", seed=1)
    with pytest.raises(ValueError, match=r"SeedNetwork.loss: 2 samples but 1 targets"):
        net.loss([0.5, 1.0], [1.0])
    with pytest.raises(TypeError, match=r"y holds 2 targets, so x must be a list of 2 samples, got float"):
        net.loss(0.5, [1.0, 2.0])
    with pytest.raises(ValueError, match="expected at least one sample, got none"):
        net.loss([], [])
    with pytest.raises(TypeError, match="SeedNetwork.loss: each target expects a real number .* got str"):
        net.loss(0.5, "1.0")
    with pytest.raises(TypeError, match="SeedNetwork.loss: each target expects a real number .* got NoneType"):
        net.loss([0.5, 1.0], [1.0, None])
    with pytest.raises(ValueError, match="SeedNetwork expects 2 inputs, got 1"):
        nn.SeedNetwork("tanh", nin=2).loss([0.5], 1.0)


# --- losses ----------------------------------------------------------------------------------------


def test_mse_loss_is_the_seeds_mean_and_its_gradient() -> None:
    preds = [Value(1.0), Value(2.0), Value(-1.0)]
    targets = [0.5, 2.5, 1.0]
    loss = nn.mse_loss(preds, targets)
    assert loss.data == pytest.approx((0.25 + 0.25 + 4.0) / 3)
    loss.backward()
    for p, y in zip(preds, targets):
        assert p.grad == pytest.approx(-2 / 3 * (y - p.data))  # dL/dyhat_i = -(2/N)(y_i - yhat_i)


def test_hinge_loss() -> None:
    scores = [Value(0.3), Value(-2.0), Value(1.5)]
    labels = [1, -1, -1]
    loss = nn.hinge_loss(scores, labels)
    assert loss.data == pytest.approx((0.7 + 0.0 + 2.5) / 3)
    loss.backward()
    assert [s.grad for s in scores] == pytest.approx([-1 / 3, 0.0, 1 / 3])
    with pytest.raises(ValueError, match="-1 or \\+1"):
        nn.hinge_loss([Value(1.0)], [0])


def test_binary_cross_entropy_and_logits_version_agree() -> None:
    logits = [Value(0.4), Value(-1.3), Value(2.2)]
    targets = [1.0, 0.0, 1.0]
    probs = [z.sigmoid() for z in logits]
    bce = nn.binary_cross_entropy(probs, targets)
    expected = (
        -sum(
            y * math.log(1 / (1 + math.exp(-z.data))) + (1 - y) * math.log(1 - 1 / (1 + math.exp(-z.data)))
            for z, y in zip(logits, targets)
        )
        / 3
    )
    assert bce.data == pytest.approx(expected, rel=1e-12)
    with_logits = nn.binary_cross_entropy_with_logits(logits, targets)
    assert with_logits.data == pytest.approx(expected, rel=1e-12)
    with_logits.backward()
    for z, y in zip(logits, targets):  # d/dz = (sigmoid(z) - y) / N
        assert z.grad == pytest.approx((1 / (1 + math.exp(-z.data)) - y) / 3, rel=1e-12)
    assert nn.binary_cross_entropy_with_logits([Value(-800.0)], [1.0]).data == pytest.approx(800.0)


LOSSES = [nn.mse_loss, nn.hinge_loss, nn.binary_cross_entropy, nn.binary_cross_entropy_with_logits]


@pytest.mark.parametrize("loss", LOSSES)
def test_losses_reject_mismatched_lengths_and_empty_input(loss: Callable[..., Value]) -> None:
    with pytest.raises(ValueError, match="2 predictions but 1 targets"):
        loss([Value(0.5), Value(0.5)], [1.0])
    with pytest.raises(ValueError, match="at least one"):
        loss([], [])


def test_binary_cross_entropy_rejects_probabilities_outside_the_open_interval() -> None:
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        nn.binary_cross_entropy([Value(1.0)], [1.0])
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 1\]"):
        nn.binary_cross_entropy([Value(0.5)], [2.0])


# --- optimizers ------------------------------------------------------------------------------------


def test_sgd_with_momentum_matches_hand_computed_updates() -> None:
    w = Value(1.0)
    opt = nn.SGD([w], lr=0.1, momentum=0.9)
    grads = [2.0, -1.0, 0.5]
    expected, velocity = 1.0, 0.0
    for g in grads:
        opt.zero_grad()
        (w * g).backward()  # d(w g)/dw = g
        opt.step()
        velocity = 0.9 * velocity + g
        expected -= 0.1 * velocity
        assert w.data == pytest.approx(expected, rel=1e-15)


def test_adam_matches_hand_computed_updates() -> None:
    w = Value(0.5)
    opt = nn.Adam([w], lr=0.01, betas=(0.8, 0.9), eps=1e-8)
    m = v = 0.0
    expected = 0.5
    for t in range(1, 5):
        opt.zero_grad()
        (w * w).backward()
        g = 2 * expected
        m = 0.8 * m + 0.2 * g
        v = 0.9 * v + 0.1 * g * g
        expected -= 0.01 * (m / (1 - 0.8**t)) / (math.sqrt(v / (1 - 0.9**t)) + 1e-8)
        opt.step()
        assert w.data == pytest.approx(expected, rel=1e-14)


def test_training_reduces_the_loss() -> None:
    model = nn.MLP(1, [8, 1], seed=0)
    xs = [[x / 5] for x in range(-5, 6)]
    ys = [x[0] ** 2 for x in xs]
    opt = nn.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(60):
        loss = nn.mse_loss([model(x) for x in xs], ys)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.data)
    assert losses[-1] < 0.1 * losses[0]


def test_optimizers_validate_their_arguments() -> None:
    w = Value(1.0)
    with pytest.raises(ValueError, match="empty parameter list"):
        nn.SGD([], lr=0.1)
    with pytest.raises(ValueError, match=r"learning rate lr must be a finite number in \(0, inf\), got -1"):
        nn.SGD([w], lr=-1)
    with pytest.raises(ValueError, match="momentum"):
        nn.SGD([w], lr=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="betas"):
        nn.Adam([w], betas=(0.9, 1.0))
    with pytest.raises(TypeError, match="float"):
        nn.Adam([1.0])  # type: ignore[list-item]


def test_losses_take_any_iterable_and_numbers_and_always_return_a_value() -> None:
    expected = (1.0 + 4.0) / 2
    for preds, targets in [
        (np.array([1.0, 2.0]), np.array([0.0, 0.0])),
        ((p for p in [Value(1.0), Value(2.0)]), [0, 0]),
        ([1.0, 2.0], (0.0, 0.0)),
    ]:
        loss = nn.mse_loss(preds, targets)
        assert isinstance(loss, Value) and loss.data == pytest.approx(expected)
    assert nn.hinge_loss([0.5], [1]).data == pytest.approx(0.5)
    assert nn.mse_loss(Value(3.0), 1.0).data == 4.0


def test_losses_reject_non_numbers_naming_the_type() -> None:
    with pytest.raises(TypeError, match="targets.*str"):
        nn.hinge_loss([0.5], ["a"])
    with pytest.raises(TypeError, match="predictions.*str"):
        nn.mse_loss("ab", [1.0, 2.0])
    with pytest.raises(TypeError, match="NoneType"):
        nn.mse_loss([None], [1.0])


def test_sizes_and_hyperparameters_are_validated() -> None:
    with pytest.raises(TypeError, match="list of layer sizes"):
        nn.MLP(2, 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whole number"):
        nn.MLP(True, [1])
    with pytest.raises(ValueError, match="whole number"):
        nn.MLP(2, [4, 0])
    assert nn.SGD([Value(1.0)], lr=np.float32(0.5)).lr == 0.5
    with pytest.raises(TypeError, match="momentum.*str"):
        nn.SGD([Value(1.0)], lr=0.1, momentum="a")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="eps"):
        nn.Adam([Value(1.0)], eps=float("inf"))


def test_losses_refuse_unordered_collections_and_adam_takes_any_pair_of_betas() -> None:
    with pytest.raises(TypeError, match="sequence.*set"):
        nn.mse_loss({0.1, 0.2}, [1.0, 2.0])
    with pytest.raises(TypeError, match="sequence.*dict"):
        nn.mse_loss({"a": 1.0}, [1.0])
    with pytest.raises(TypeError, match="ndarray"):
        nn.mse_loss(0.5, np.array(1.0))
    assert nn.mse_loss((p for p in [Value(1.0), Value(3.0)]), [0.0, 1.0]).data == pytest.approx(2.5)
    assert nn.Adam([Value(1.0)], betas=np.array([0.8, 0.99])).beta2 == 0.99


@pytest.mark.parametrize(
    "module",
    [
        nn.Neuron(3, seed=0),
        nn.Layer(3, 4, seed=0),
        nn.MLP(3, [4, 2], seed=0),
        nn.SeedNetwork("tanh", widths=(2, 3)),
        nn.Linear(3, 2, seed=0),
        nn.Linear(3, 2, bias=False, seed=0),
        nn.Embedding(4, 3, seed=0),
    ],
    ids=repr,
)
def test_parameters_are_the_named_parameters_in_the_same_order(module: nn.Module) -> None:
    named = module.named_parameters()
    assert module.parameters() == [p for _, p in named] and len({id(p) for _, p in named}) == len(named)


class Assorted(nn.Module):
    """Parameters in every place Module looks, nested: a Value, a matrix, a tuple, dicts, lists of Modules."""

    def __init__(self) -> None:
        self.scale = Value(1.0)
        self.blocks = [nn.Linear(2, 3, seed=0), {"head": nn.Linear(3, 1, bias=False, seed=1), "gain": [Value(2.0)]}]
        self.weights = {"wte": [[Value(3.0), Value(4.0)], [Value(5.0), Value(6.0)]], "pair": (Value(7.0), Value(8.0))}
        self.mlp = nn.MLP(2, [2, 1], seed=2)


class NamedItsOwnWay(nn.Module):
    """A class that overrides named_parameters only: parameters() lists what it names, in its order."""

    def __init__(self) -> None:
        self.a, self.b = Value(1.0), Value(2.0)

    def named_parameters(self) -> list[tuple[str, Value]]:
        return [("second", self.b), ("first", self.a)]


@pytest.mark.parametrize("module", [Assorted(), NamedItsOwnWay(), nn.micrograd.MLP(2, [3, 1])], ids=repr)
def test_parameters_of_any_module_are_its_named_parameters_in_the_same_order(module: nn.Module) -> None:
    named = module.named_parameters()
    assert [id(p) for p in module.parameters()] == [id(p) for _, p in named] and len(named) > 1


def test_parameters_are_found_afresh_at_every_call_so_none_is_ever_missed() -> None:
    """Nothing is cached: what a learner appends, sets or replaces after building is listed at the next call."""
    model = Assorted()
    count = len(model.parameters())
    extra, row, entry = Value(9.0), [Value(10.0), Value(11.0)], Value(12.0)
    model.weights["pair"] = (*model.weights["pair"], extra)  # a tuple replaced by a longer one
    model.weights["wte"].append(row)  # a row appended to a matrix
    model.blocks[1]["gain"].append(entry)  # type: ignore[index,union-attr]
    model.mlp.layers[0].neurons[0].w[0] = replaced = Value(13.0)
    parameters = model.parameters()
    assert len(parameters) == count + 4 and [id(p) for p in parameters] == [id(p) for _, p in model.named_parameters()]
    assert all(any(p is v for p in parameters) for v in (extra, *row, entry, replaced))
    for v in (extra, *row, entry, replaced):
        v.grad = 1.0
    model.zero_grad()  # and zero_grad clears what is there now
    assert [p.grad for p in parameters] == [0.0] * len(parameters)


# --- errors a learner meets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("batch", "given"),
    [(np.zeros((5, 3)), r"an array of shape \(5, 3\)"), ([[0.0, 1.0, 2.0]] * 5, r"a list of 5 rows")],
)
def test_a_batch_given_to_a_model_says_how_to_run_one(batch: object, given: str) -> None:
    model = nn.MLP(3, [4, 1], seed=0)
    message = rf"MLP expects 3 inputs, one sample, and got {given}: a batch of 5 samples\? .*engine.vectorize.*"
    with pytest.raises(ValueError, match=message + r"engine.vectorize\(model\)\(X\).*for row in X"):
        model(batch)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"Layer expects 3 inputs, one sample, .*engine.vectorize"):
        nn.Layer(3, 2)(batch)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"MLP expects 3 inputs, one sample, and got an array of shape \(3, 3\)"):
        model(np.zeros((3, 3)))  # a batch as long as one sample is still a batch
    assert isinstance(model(list(np.zeros((5, 3))[0])), Value)  # one row is one sample


@pytest.mark.parametrize("optimizer", [nn.SGD, nn.Adam, nn.AdamW])
def test_an_optimizer_given_the_model_says_to_pass_its_parameters(optimizer: type[nn.Optimizer]) -> None:
    model = nn.MLP(3, [4, 1], seed=0)
    name = optimizer.__name__
    expected = rf"{name} expects the parameters \(Values\) to update, e\.g\. {name}\(model\.parameters\(\), lr=0\.01\)"
    with pytest.raises(TypeError, match=expected + r", got the model MLP itself; pass its parameters instead"):
        optimizer(model, lr=0.01)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"got the model MLP itself"):
        optimizer([model], lr=0.01)  # type: ignore[list-item]
    with pytest.raises(TypeError, match=expected + r", got int$"):
        optimizer(3, lr=0.01)  # type: ignore[arg-type]
    assert optimizer(model.parameters(), lr=0.01).parameters == model.parameters()


@pytest.mark.parametrize(
    "method", ["state_dict", "parameters", "named_parameters", "zero_grad", "save", "config", "load_state_dict"]
)
def test_an_attribute_that_would_hide_a_module_method_is_refused_naming_it(method: str) -> None:
    class Careless(nn.Module):
        def __init__(self) -> None:
            setattr(self, method, {"wte": [[Value(1.0)]]})  # microgpt.py calls its dict of weights state_dict

    expected = rf"Careless: the attribute '{method}' would hide the method Module\.{method}\(\): model\.{method}\(\), "
    with pytest.raises(AttributeError, match=expected + r"and whatever calls it, would fail with 'dict' object is not"):
        Careless()


def test_a_refused_attribute_changes_nothing_and_other_attributes_are_set() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    before = model.parameters()
    with pytest.raises(AttributeError, match=r"MLP: the attribute 'parameters' would hide the method MLP\.parameters"):
        model.parameters = before  # type: ignore[assignment,method-assign]
    with pytest.raises(AttributeError, match=r"the method MLP\.to_torch\(\)"):
        model.to_torch = nn.Linear(2, 1)  # a Module is callable, but not in a method's place
    assert "parameters" not in vars(model) and model.parameters() == before

    class Own(nn.Module):
        def __init__(self) -> None:
            self.w = Value(1.0)

        def loss(self) -> Value:
            return self.w * self.w

    own = Own()
    with pytest.raises(AttributeError, match=r"Own: the attribute 'loss' would hide the method Own\.loss\(\)"):
        own.loss = 0.5  # type: ignore[assignment,method-assign]
    own.zero_grad = lambda: None  # type: ignore[method-assign]  # a function may stand in for a method (a mock)
    own.nin, own._state_dict = 3, {}  # other names, and private ones, are set as usual
    assert (own.nin, own._state_dict, own.loss().data) == (3, {}, 1.0)


# --- the package's layout ---------------------------------------------------------------------------


def test_nn_modules_import_one_way_and_the_file_format_knows_no_model() -> None:
    graph = package_imports(Path(nn.__file__).parent, "nn")
    graph.pop("", None)  # nn/__init__.py, which imports them all
    import_order(graph)
    models = {"module", "neurons", "mlp", "layers", "seed_network", "checkpoint"}
    for low in (
        "state_dicts",
        "checkpoint_format",
        "torch_bridge",
        "activations",
        "arguments",
        "arrays",
        "stray_values",
    ):
        assert not graph[low] & models, low
    assert "checkpoint" not in graph["module"] and "module" in graph["checkpoint"]
    assert not graph["module"] & models, "Module knows none of the models built on it"


@pytest.mark.parametrize(
    "build",
    [lambda: nn.Neuron(2, nonlin=False), lambda: nn.Layer(2, 3, nonlin=True), lambda: nn.MLP(2, [3, 1], nonlin=True)],
)
def test_micrograds_nonlin_says_to_use_nn_micrograd(build: Callable[[], object]) -> None:
    """Arriving from micrograd, `nonlin=` is what one writes: the error says what nn takes and where micrograd's are."""
    with pytest.raises(TypeError, match=r"takes activation= .* not micrograd's nonlin=; .* write nn\.micrograd\.\w+"):
        build()
