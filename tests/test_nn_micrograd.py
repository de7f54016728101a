"""nn.micrograd: micrograd's Neuron, Layer and MLP, checked against micrograd's own stored results.

The facts come from karpathy/micrograd at commit c911406 (micrograd 0.1.0): the losses and accuracies that
demo.ipynb printed, and gout.svg, the diagram trace_graph.ipynb rendered of a seeded Neuron(2). They are
copied here as data (a fresh clone has no copy of micrograd to read them from); the code that reproduces
them below is ours. Every other expectation is computed independently: by hand from Values, by central
differences, or from the documented rules (draw order of `random`, micrograd's repr text).
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pytest
from conftest import central_differences, import_optional
from test_diagram import Dot, Node, parse_dot

import engine
import nn
import nn.micrograd
from engine import Value, draw_dot
from nn import micrograd


@pytest.fixture(autouse=True)
def _global_random_restored() -> Iterator[None]:
    """These tests seed Python's global `random`, as micrograd's notebooks do; other tests get its state back."""
    state = random.getstate()
    yield
    random.setstate(state)


# --- micrograd's demo.ipynb ------------------------------------------------------------------------------

# karpathy/micrograd, demo.ipynb at commit c911406: the output of its training cell, "step k loss ..., accuracy ...%",
# for k = 0 ... 9 (100 moons, so the accuracy in percent is the number of points classified correctly).
DEMO_LOSSES_AND_ACCURACIES = [
    (0.8958441028683222, 50),
    (1.7235905336972022, 81),
    (0.7429006313851131, 77),
    (0.7705641260584198, 82),
    (0.3692793385976538, 84),
    (0.313545481918522, 86),
    (0.2814234349772435, 89),
    (0.26888733313983904, 91),
    (0.2567147286057417, 91),
    (0.2704862551637922, 91),
]
# What the notebook printed for its model: 16 ReLU neurons of 2 inputs, 16 of 16 inputs, one linear neuron.
DEMO_MODEL_REPR = (
    f"MLP of [Layer of [{', '.join(['ReLUNeuron(2)'] * 16)}], "
    f"Layer of [{', '.join(['ReLUNeuron(16)'] * 16)}], Layer of [LinearNeuron(16)]]"
)
DEMO_PARAMETER_COUNT = 337


def test_micrograd_demo_notebook_first_ten_steps_give_its_stored_losses_and_accuracies() -> None:
    datasets = import_optional("sklearn.datasets", ".venv/bin/pip install scikit-learn (the demos extra)")
    # The notebook seeds numpy's global generator with 1337 and calls make_moons without a random_state, which
    # then draws from that generator: a RandomState(1337) of its own gives the same points without the global.
    X, y = datasets.make_moons(n_samples=100, noise=0.1, random_state=np.random.RandomState(1337))
    labels = [1.0 if label == 1 else -1.0 for label in y]
    random.seed(1337)
    model = micrograd.MLP(2, [16, 16, 1])
    assert repr(model) == DEMO_MODEL_REPR
    assert len(model.parameters()) == DEMO_PARAMETER_COUNT

    parameters = model.parameters()
    sgd = nn.SGD(parameters, lr=1.0)
    for step, (stored_loss, stored_correct) in enumerate(DEMO_LOSSES_AND_ACCURACIES):
        scores = [model([float(a), float(b)]) for a, b in X]
        # The demo's loss: the mean hinge loss plus 1e-4 times the sum of the squared parameters.
        loss = nn.hinge_loss(scores, labels) + 1e-4 * sum(p * p for p in parameters)
        correct = sum((score.data > 0) == (label > 0) for score, label in zip(scores, labels))
        model.zero_grad()
        loss.backward()
        sgd.lr = 1.0 - 0.9 * step / 100  # the demo's learning rate falls linearly from 1
        sgd.step()
        assert loss.data == pytest.approx(stored_loss, rel=1e-12, abs=0), f"step {step}"
        assert correct == stored_correct, f"step {step}"


# --- micrograd's trace_graph.ipynb -------------------------------------------------------------------------


@dataclass
class Term:
    """A Value in a drawn graph: the operation that made it ("" for a leaf), its data and grad, its inputs."""

    op: str
    data: float
    grad: float
    inputs: tuple[Term, ...] = ()

    def shape(self) -> str:
        """The operations alone, inputs in sorted order: `relu(+(+(leaf, *(leaf, leaf)), *(leaf, leaf)))`."""
        if not self.op:
            return "leaf"
        return f"{self.op}({', '.join(sorted(term.shape() for term in self.inputs))})"


def leaf(data: float, grad: float) -> Term:
    return Term("", data, grad)


def drawn_term(dot: Dot, node: Node) -> Term:
    """The Value box `node` of a drawn graph as a Term, read back from the DOT text's boxes, ovals and edges."""
    data, grad = float(dot.field(node, "data")), float(dot.field(node, "grad"))
    made_by = [tail for tail, head in dot.edges if head == node.name]  # an op oval, or nothing for a leaf
    if not made_by:
        return leaf(data, grad)
    (op,) = made_by
    inputs = [dot.nodes[tail] for tail, head in dot.edges if head == op]
    return Term(dot.nodes[op].label, data, grad, tuple(drawn_term(dot, box) for box in inputs))


def same_graph(drawn: Term, expected: Term) -> bool:
    """Equal operations, data and grad to the 4 digits micrograd's picture shows; inputs in any order.

    micrograd keeps a node's inputs in a set, so its picture has no order of inputs to compare.
    """
    if drawn.op != expected.op or len(drawn.inputs) != len(expected.inputs):
        return False
    shown = (drawn.data, drawn.grad)
    if any(abs(a - b) > 5e-5 + 5e-4 * abs(b) for a, b in zip(shown, (expected.data, expected.grad))):
        return False
    return any(
        all(same_graph(a, b) for a, b in zip(order, expected.inputs)) for order in itertools.permutations(drawn.inputs)
    )


# karpathy/micrograd, gout.svg at commit c911406: trace_graph.ipynb's picture of nn.Neuron(2) after random.seed(1337),
# applied to x = [1.0, -2.0], after backward(). micrograd's Neuron sums from its bias: relu((b + w1*x1) + w2*x2).
# Each box shows data and grad to 4 decimals (micrograd names the relu node "ReLU", we name it "relu").
W1, W2, X1, X2 = 0.2355, 0.0665, 1.0, -2.0
TRACE_GRAPH_NEURON = Term(
    "relu",
    0.1024,
    1.0,
    (
        Term(
            "+",
            0.1024,
            1.0,
            (
                Term("+", 0.2355, 1.0, (leaf(0.0, 1.0), Term("*", 0.2355, 1.0, (leaf(W1, X1), leaf(X1, W1))))),
                Term("*", -0.1331, 1.0, (leaf(W2, X2), leaf(X2, W2))),
            ),
        ),
    ),
)


def test_trace_graph_neuron_is_drawn_as_micrograds_chain_with_its_numbers() -> None:
    random.seed(1337)
    neuron = micrograd.Neuron(2)
    out = neuron([Value(X1), Value(X2)])
    out.backward()
    dot = parse_dot(draw_dot(out).source)
    assert sorted(op.label for op in dot.ops()) == ["*", "*", "+", "+", "relu"]
    assert len(dot.values()) == 10  # 2 inputs, 2 weights, the bias, 2 products, 2 sums, the output
    assert len(dot.edges) == 2 + 2 + 2 + 2 + 1 + 5  # into each op from its inputs, then each op to its result
    (root,) = [box for box in dot.values() if not any(tail == box.name for tail, _ in dot.edges)]
    assert same_graph(drawn_term(dot, root), TRACE_GRAPH_NEURON)


def test_a_linear_neuron_is_the_same_chain_without_the_relu() -> None:
    neuron = micrograd.Neuron(2, nonlin=False)
    x = [Value(0.5), Value(-1.5)]
    out = neuron(x)
    out.backward()
    dot = parse_dot(draw_dot(out).source)
    (root,) = [box for box in dot.values() if not any(tail == box.name for tail, _ in dot.edges)]
    assert drawn_term(dot, root).shape() == "+(*(leaf, leaf), +(*(leaf, leaf), leaf))"
    (w1, w2), b = neuron.w, neuron.b
    assert out.data == pytest.approx(b.data + w1.data * 0.5 + w2.data * -1.5, rel=1e-15)
    assert [w1.grad, w2.grad, b.grad, x[0].grad, x[1].grad] == [0.5, -1.5, 1.0, w1.data, w2.data]
    assert repr(neuron) == "LinearNeuron(2)"


def test_the_neuron_adds_from_its_bias_in_micrograds_order() -> None:
    """b + w1*x1 first, then + w2*x2, ...: the same float additions as micrograd, so the same rounding."""
    neuron = micrograd.Neuron(3)
    x = [0.1, 0.7, -0.3]
    out = neuron(x)
    sums = [out.parents[0]]  # the relu's input, then each sum's first input
    while sums[-1].op is engine.add:
        sums.append(sums[-1].parents[0])
    assert sums[-1] is neuron.b and len(sums) == 4
    products = [s.parents[1] for s in reversed(sums[:-1])]
    assert [p.op for p in products] == [engine.mul] * 3
    assert [p.parents[0] for p in products] == neuron.w
    assert [p.parents[1].data for p in products] == x


# --- initialisation, parameters, repr --------------------------------------------------------------------


def test_weights_are_the_global_random_draws_in_parameter_order_and_biases_are_zero() -> None:
    random.seed(7)
    model = micrograd.MLP(3, [4, 2, 1])
    random.seed(7)
    draws = [random.uniform(-1, 1) for _ in range(3 * 4 + 4 * 2 + 2 * 1)]  # nin weights per neuron, no bias draws
    weights = [w for layer in model.layers for neuron in layer.neurons for w in neuron.w]
    assert [w.data for w in weights] == draws
    assert all(neuron.b.data == 0.0 for layer in model.layers for neuron in layer.neurons)


def test_parameters_are_each_neurons_weights_then_bias_layer_by_layer_and_named_like_nn_mlp() -> None:
    model = micrograd.MLP(2, [3, 2])
    expected = [p for layer in model.layers for neuron in layer.neurons for p in (*neuron.w, neuron.b)]
    assert model.parameters() == expected and len(expected) == 3 * 3 + 2 * 4
    assert model.layers[0].parameters() == expected[:9]
    assert model.layers[1].neurons[1].parameters() == expected[-4:]
    names = [name for name, _ in model.named_parameters()]
    assert [p for _, p in model.named_parameters()] == expected
    assert names == [name for name, _ in nn.MLP(2, [3, 2], seed=0).named_parameters()]
    assert all(p.label == "" for p in expected)  # micrograd's Values have no labels, and so none are written
    assert isinstance(model, nn.Module)


@pytest.mark.parametrize(
    ("build", "text"),
    [
        (lambda: micrograd.Neuron(3), "ReLUNeuron(3)"),
        (lambda: micrograd.Neuron(1, nonlin=False), "LinearNeuron(1)"),
        (lambda: micrograd.Layer(2, 2), "Layer of [ReLUNeuron(2), ReLUNeuron(2)]"),
        (lambda: micrograd.Layer(4, 1, nonlin=False), "Layer of [LinearNeuron(4)]"),
        (
            lambda: micrograd.MLP(3, [2, 1]),
            "MLP of [Layer of [ReLUNeuron(3), ReLUNeuron(3)], Layer of [LinearNeuron(2)]]",
        ),
        (lambda: micrograd.MLP(1, [1]), "MLP of [Layer of [LinearNeuron(1)]]"),
    ],
)
def test_repr_is_micrograds_text(build, text: str) -> None:
    assert repr(build()) == text and str(build()) == text


def test_a_layer_of_one_gives_a_value_of_several_a_list() -> None:
    assert isinstance(micrograd.Layer(2, 1)([1.0, 2.0]), Value)
    out = micrograd.Layer(2, 3)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 3 and all(isinstance(v, Value) for v in out)
    assert isinstance(micrograd.MLP(2, [3, 2])([1.0, 2.0]), list)


def test_zero_grad_zeroes_every_parameter() -> None:
    model = micrograd.MLP(2, [3, 1])
    out = model([0.3, -0.8]) * 2.0
    (out + sum(p * p for p in model.parameters())).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_imports() -> None:
    assert nn.micrograd is micrograd
    assert "micrograd" in nn.__all__
    assert micrograd.MLP is not nn.MLP


# --- gradients -------------------------------------------------------------------------------------------


def by_hand(weights: list[list[list[float]]], biases: list[list[float]], x: list[float]) -> tuple[Value, list[Value]]:
    """The MLP written out with fresh Values: relu(sum_k w_jk h_k + b_j) per hidden neuron, no relu at the end.

    Returns the sum of the outputs times (1, 2, 3, ...) and the parameters, each neuron's weights then its bias.
    """
    h = [Value(xi) for xi in x]
    parameters: list[Value] = []
    for i, (layer_w, layer_b) in enumerate(zip(weights, biases)):
        outputs = []
        for neuron_w, bias in zip(layer_w, layer_b):
            w = [Value(v) for v in neuron_w]
            b = Value(bias)
            parameters += [*w, b]
            z = engine.linear(*w, *h, b)  # one fused node: another order of additions than the chain under test
            outputs.append(engine.relu(z) if i < len(weights) - 1 else z)
        h = outputs
    return sum(((k + 1) * out for k, out in enumerate(h)), Value(0.0)), parameters


def test_gradients_equal_the_same_network_written_by_hand_and_central_differences() -> None:
    random.seed(3)
    model = micrograd.MLP(3, [5, 4, 2])
    x = [0.4, -1.2, 0.9]
    weights = [[[w.data for w in n.w] for n in layer.neurons] for layer in model.layers]
    biases = [[0.1 * (j - 2) for j in range(len(layer.neurons))] for layer in model.layers]
    for layer, layer_b in zip(model.layers, biases):
        for neuron, b in zip(layer.neurons, layer_b):
            neuron.b.data = b  # nonzero biases, so their gradients are tested too

    out = model(x)
    assert isinstance(out, list)
    objective = sum(((k + 1) * v for k, v in enumerate(out)), Value(0.0))
    objective.backward()
    expected, hand_parameters = by_hand(weights, biases, x)
    expected.backward()

    assert objective.data == pytest.approx(expected.data, rel=1e-13)
    got = [p.grad for p in model.parameters()]
    assert got == pytest.approx([p.grad for p in hand_parameters], rel=1e-12, abs=1e-15)
    assert any(g == 0 for g in got) and any(g != 0 for g in got)  # some relus are off, some on

    def f(*values: float) -> float:
        for p, v in zip(model.parameters(), values):
            p.data = v
        result = model(x)
        assert isinstance(result, list)
        return sum((k + 1) * r.data for k, r in enumerate(result))

    point = [p.data for p in model.parameters()]
    assert got == pytest.approx(central_differences(f, point), rel=1e-6, abs=1e-8)


def test_a_hidden_layer_of_one_neuron_works_where_micrograd_breaks() -> None:
    """micrograd's MLP hands the next layer the lone Value, which it cannot iterate; here it is a list of one."""
    model = micrograd.MLP(2, [1, 3])
    out = model([0.5, 1.0])
    assert isinstance(out, list) and len(out) == 3
    hidden = model.layers[0].neurons[0]
    h = max(0.0, hidden.w[0].data * 0.5 + hidden.w[1].data * 1.0)
    for v, neuron in zip(out, model.layers[1].neurons):
        assert v.data == pytest.approx(neuron.w[0].data * h, rel=1e-15)


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: micrograd.Neuron(0), ValueError, "Neuron needs a positive whole number of inputs, got 0"),
        (lambda: micrograd.Neuron(2.0), ValueError, "Neuron needs a positive whole number of inputs, got 2.0"),
        (lambda: micrograd.Neuron(True), ValueError, "Neuron needs a positive whole number of inputs, got True"),
        (
            lambda: micrograd.Neuron(2, nonlin="tanh"),
            TypeError,
            "nonlin must be True .ReLU. or False .linear., got 'tanh'",
        ),
        (lambda: micrograd.Layer(0, 2), ValueError, "Layer needs a positive whole number of inputs"),
        (lambda: micrograd.Layer(2, -1), ValueError, "Layer needs a positive whole number of outputs, got -1"),
        (lambda: micrograd.Layer(2, 3, activation="tanh"), TypeError, "unexpected keyword argument 'activation'"),
        (lambda: micrograd.MLP(2, []), TypeError, "non-empty list of layer sizes"),
        (lambda: micrograd.MLP(2, 16), TypeError, "non-empty list of layer sizes, e.g. .16, 16, 1., got 16"),
        (lambda: micrograd.MLP(2, [16, 0]), ValueError, "MLP needs a positive whole number of outputs in each layer"),
        (lambda: micrograd.MLP(0, [1]), ValueError, "MLP needs a positive whole number of inputs, got 0"),
    ],
)
def test_bad_sizes_raise_naming_the_problem_and_draw_no_random_numbers(build, error, message: str) -> None:
    random.seed(11)
    with pytest.raises(error, match=message):
        build()
    assert random.random() == random.Random(11).random()  # the failed call left the global generator alone


def test_wrong_inputs_raise_instead_of_being_cut_short() -> None:
    neuron = micrograd.Neuron(3)
    with pytest.raises(ValueError, match="Neuron expects 3 inputs, got 2"):
        neuron([1.0, 2.0])  # micrograd's zip would silently use two of the three weights
    with pytest.raises(ValueError, match="Neuron expects 3 inputs, got 4"):
        micrograd.MLP(3, [2, 1])([1.0, 2.0, 3.0, 4.0])
    with pytest.raises(TypeError, match="Neuron expects a list of 3 numbers or Values, got float"):
        neuron(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="Neuron expects a list of 1 numbers or Values, got Value"):
        micrograd.MLP(1, [2])(Value(1.0))  # type: ignore[arg-type]
