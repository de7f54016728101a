"""engine.vectorize(fn).to_torch: a model trained in PyTorch and loaded back, held to valuegrad's own numbers.

The oracles: vectorize's outputs and `backward` (numpy), the steps of valuegrad's own optimizers on its own
gradients, PyTorch's own modules and losses (an MLP's `to_torch` Sequential and `cross_entropy`), and the
errors vectorize raises. tests/test_to_torch_rows.py holds every row of the table; tests/test_to_torch_ddp.py
trains under DistributedDataParallel.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import engine
import nn
from demos import microgpt
from demos.microgpt import MicroGPT
from engine import Value

try:
    import torch
except ImportError:  # every test below needs the `torch` fixture, which then skips it (fails it under CI)
    torch = None

pytestmark = pytest.mark.usefixtures("torch")


@pytest.fixture(scope="module")
def names() -> tuple[list[str], list[str]]:
    return microgpt.split_names(microgpt.load_names())


def batch_of(names: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    batch = microgpt.padded_batch(names)
    return batch.tokens, batch.targets, batch.weights


def values(model: nn.Module) -> np.ndarray:
    return np.array([p.data for p in model.parameters()])


def gradients(model: nn.Module) -> np.ndarray:
    return np.array([p.grad for p in model.parameters()])


def exported_gradients(tm: Any, parameters: list[Value]) -> np.ndarray:
    """The gradients PyTorch holds, in the order of `parameters`, through `tm.source` (which Values each holds)."""
    named = dict(tm.program.named_parameters())
    by_value = {}
    for tensor in tm.source.parameters:
        by_value.update(zip(tensor.values, named[tensor.name].grad.numpy().ravel().tolist()))
    return np.array([by_value[p] for p in parameters])


# -- MicroGPT ------------------------------------------------------------------------------------------------------


def test_microgpt_exported_gives_vectorizes_per_name_losses(names: tuple[list[str], list[str]]) -> None:
    train, held_out = names
    model = MicroGPT()
    loss = microgpt.batched_loss(model)
    tm = loss.to_torch(*batch_of(train[:32]), parameters=model.parameters())
    for batch in (train[:32], held_out[:5], held_out[100:400], ["bo"]):
        arguments = batch_of(batch)
        expected = loss(*arguments)
        got = tm(*arguments)
        assert got.dtype == torch.float64 and tuple(got.shape) == expected.shape
        np.testing.assert_allclose(got.detach().numpy(), expected, rtol=1e-10, atol=0)
        as_tensors = tm(*(torch.as_tensor(a) for a in arguments))  # tensors (integer token ids) as well as arrays
        np.testing.assert_allclose(as_tensors.detach().numpy(), expected, rtol=1e-10, atol=0)


def test_microgpt_parameters_are_exactly_the_values_passed(names: tuple[list[str], list[str]]) -> None:
    model = MicroGPT()
    tm = microgpt.batched_loss(model).to_torch(*batch_of(names[0][:8]), parameters=model.parameters())
    assert sum(p.numel() for p in tm.parameters()) == len(model.parameters()) == 4192
    assert {v for t in tm.source.parameters for v in t.values} == set(model.parameters())
    shapes = {name.removeprefix("program."): tuple(p.shape) for name, p in tm.named_parameters()}
    assert shapes["token_embedding_weight"] == (27, 16)  # from the labels `token_embedding.weight[i,j]`
    assert shapes["mlp_hidden_weight"] == (64, 16)
    constants = torch.cat([b.reshape(-1) for b in tm.buffers() if b.is_floating_point()])
    # the program's constants, buffers, not trained (and -inf, which pads a logsumexp of fewer inputs)
    assert set(constants.tolist()) - {-np.inf} == {0.0, 0.5, 16.0, 1e-05}


def test_microgpt_one_sgd_step_lands_where_valuegrads_step_does(names: tuple[list[str], list[str]]) -> None:
    train, _ = names
    model = MicroGPT(seed=1)
    loss = microgpt.batched_loss(model)
    arguments = batch_of(train[64:96])
    tm = loss.to_torch(*arguments, parameters=model.parameters())

    model.zero_grad()
    loss.backward(*arguments)
    optimizer = nn.SGD(model.parameters(), lr=0.5)
    optimizer.step()
    expected = values(model)

    torch_optimizer = torch.optim.SGD(tm.parameters(), lr=0.5)
    tm(*arguments).mean().backward()
    torch_optimizer.step()
    loss.load_torch(tm)
    np.testing.assert_allclose(values(model), expected, rtol=0, atol=1e-10)
    assert np.abs(values(model) - values(MicroGPT(seed=1))).max() > 1e-3  # the step moved them


def test_microgpt_trained_by_adam_in_pytorch_loads_back(names: tuple[list[str], list[str]], tmp_path: Path) -> None:
    train, held_out = names
    model = MicroGPT()
    loss = microgpt.batched_loss(model)
    tm = loss.to_torch(*batch_of(train[:32]), parameters=model.parameters())
    optimizer = torch.optim.Adam(tm.parameters(), lr=microgpt.LEARNING_RATE, betas=microgpt.BETAS)
    rng = np.random.default_rng(0)
    for _ in range(30):
        batch = [train[i] for i in rng.choice(len(train), 32, replace=False)]
        optimizer.zero_grad()
        tm(*batch_of(batch)).mean().backward()
        optimizer.step()
    evaluation = batch_of(held_out[:300])
    with torch.no_grad():
        torch_loss = float(tm(*evaluation).mean())
    before = float(loss(*evaluation).mean())

    loss.load_torch(tm)
    after = float(loss(*evaluation).mean())
    assert after == pytest.approx(torch_loss, rel=1e-10)
    assert after < before - 0.05  # it learned: 30 steps of Adam lower the held-out loss
    scalar = np.mean([microgpt.scalar_loss(model, name).data for name in held_out[:3]])  # the scalar path too
    assert scalar == pytest.approx(float(loss(*batch_of(held_out[:3])).mean()), rel=1e-12)

    loaded = nn.load(model.save(tmp_path / "trained.npz"), MicroGPT)
    np.testing.assert_array_equal(values(loaded), values(model))
    trained = {t.name: t for t in tm.source.parameters}
    for name, parameter in tm.program.named_parameters():
        np.testing.assert_array_equal(parameter.detach().numpy().ravel(), [v.data for v in trained[name].values])


def test_microgpt_runs_in_float32(names: tuple[list[str], list[str]]) -> None:
    model = MicroGPT()
    loss = microgpt.batched_loss(model)
    arguments = batch_of(names[0][:32])
    tm = loss.to_torch(*arguments, parameters=model.parameters()).float()
    out = tm(*arguments)
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.detach().numpy(), loss(*arguments), rtol=1e-5)
    out.mean().backward()
    assert all(p.grad.dtype == torch.float32 for p in tm.parameters())


def test_microgpt_code_has_a_line_per_batched_operation(names: tuple[list[str], list[str]]) -> None:
    model = MicroGPT()
    loss = microgpt.batched_loss(model)
    tm = loss.to_torch(*batch_of(names[0][:4]), parameters=model.parameters())
    code = tm.code
    compile(code, "tm.code", "exec")  # Python
    assert code.startswith("def forward(self, tokens, targets, weights):\n")
    assert "token_embedding = self.token_embedding(token_embedding_weight, " in code
    assert "lm_head = self.lm_head(" in code and "= None" not in code
    # one fx node that computes per batched node that computes (a `linear` of one input is its input)
    computing = [n for n in tm.program.graph.nodes if _computes(tm.program, n)]
    assert len(computing) == len(loss.program.computing())


def _computes(program: Any, node: Any) -> bool:
    from engine.batch import torch_forms

    if node.op == "call_module":
        return not isinstance(program.get_submodule(node.target), torch_forms.Columns)
    return node.op == "call_function" and node.target is not torch.cat


# -- an MLP with integer labels, and a model of one's own -------------------------------------------------------


def test_mlp_with_integer_labels_is_pytorchs_own_cross_entropy() -> None:
    model = nn.MLP(4, [8, 8, 3], seed=2)
    loss = engine.vectorize(lambda x, label: nn.cross_entropy(model(x), label))
    rng = np.random.default_rng(1)
    X, labels = rng.normal(size=(50, 4)), rng.integers(0, 3, size=50)
    tm = loss.to_torch(X, labels, parameters=model.parameters())
    assert sum(p.numel() for p in tm.parameters()) == len(model.parameters())
    sequential = model.to_torch()  # PyTorch's own layers and loss: an oracle that shares nothing with the export
    logits = sequential(torch.as_tensor(X))
    expected = torch.nn.functional.cross_entropy(logits, torch.as_tensor(labels), reduction="none")
    got = tm(torch.as_tensor(X), torch.as_tensor(labels))
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(got.detach().numpy(), loss(X, labels), rtol=1e-12)
    shapes = sorted(tuple(p.shape) for p in tm.parameters())
    assert shapes == sorted([(8, 4), (8,), (8, 8), (8,), (3, 8), (3,)])  # a layer's weights and its biases

    model.zero_grad()
    loss.backward(X, labels)
    got.mean().backward()
    np.testing.assert_allclose(exported_gradients(tm, model.parameters()), gradients(model), rtol=1e-10, atol=1e-14)


class Tiny(nn.Module):
    """A model of one's own: a matrix as lists of Values, a scalar, a `where` and a `take`."""

    def __init__(self) -> None:
        rng = np.random.default_rng(5)
        self.weight = [[Value(float(rng.normal())) for _ in range(3)] for _ in range(2)]
        self.scale = Value(0.8)
        self._name_parameters()

    def __call__(self, x: list[Value], label: Value) -> Value:
        hidden = [engine.linear(*row, *x, 0.0).tanh() for row in self.weight]
        gate = engine.where(x[0], hidden[0], hidden[1] * self.scale)
        return (engine.take(hidden, label) - gate) ** 2 + self.scale.sigmoid()


def test_a_model_of_ones_own_exports_and_loads_back() -> None:
    model = Tiny()
    loss = engine.vectorize(model)
    rng = np.random.default_rng(6)
    X, labels = rng.normal(size=(20, 3)), rng.integers(0, 2, size=20)
    X[::3, 0] = 0.0  # the gate's condition is 0 at some samples
    tm = loss.to_torch(X, labels, parameters=model.parameters())
    shapes = {name.removeprefix("program."): tuple(p.shape) for name, p in tm.named_parameters()}
    assert shapes == {"weight": (2, 3), "scale": ()}  # from the labels nn gives: weight[i,j], scale
    out = tm(X, labels)
    np.testing.assert_allclose(out.detach().numpy(), loss(X, labels), rtol=1e-12)
    model.zero_grad()
    loss.backward(X, labels)
    out.mean().backward()
    np.testing.assert_allclose(exported_gradients(tm, model.parameters()), gradients(model), rtol=1e-10, atol=1e-14)

    with torch.no_grad():
        for p in tm.parameters():
            p.mul_(2.0)
    expected = 2.0 * values(model)
    loss.load_torch(tm)
    np.testing.assert_array_equal(values(model), expected)


# -- what the module does differently, and bad input ----------------------------------------------------------------


def test_pytorch_gives_nan_where_vectorize_raises_a_math_error() -> None:
    a = Value(1.0, label="a")
    loss = engine.vectorize(lambda x: (a * x).log())
    tm = loss.to_torch(np.array([1.0, 2.0]), parameters=[a])
    with pytest.raises(ValueError, match="log"):
        loss(np.array([1.0, -1.0]))
    assert torch.isnan(tm(np.array([1.0, -1.0]))[1])


def test_to_torch_before_any_example_asks_for_one() -> None:
    model = nn.MLP(2, [1], seed=0)
    loss = engine.vectorize(lambda x: model(x))
    with pytest.raises(TypeError, match="pass an example batch"):
        loss.to_torch(parameters=model.parameters())
    loss(np.ones((3, 2)))  # recorded by a call: no example needed now
    tm = loss.to_torch(parameters=model.parameters())
    np.testing.assert_allclose(tm(np.ones((3, 2))).detach().numpy(), loss(np.ones((3, 2))), rtol=1e-12)


def test_parameters_are_checked_each_named() -> None:
    model = nn.MLP(2, [2, 1], seed=0)
    loss = engine.vectorize(lambda x: model(x))
    X = np.ones((3, 2))
    unread = Value(3.0, label="unread")
    with pytest.raises(ValueError, match=r"parameters\[9\] \(.*unread.*\) is never read by fn"):
        loss.to_torch(X, parameters=[*model.parameters(), unread])
    with pytest.raises(ValueError, match=r"listed twice"):
        loss.to_torch(X, parameters=[*model.parameters(), model.parameters()[0]])
    with pytest.raises(TypeError, match=r"parameters\[1\] is float"):
        loss.to_torch(X, parameters=[model.parameters()[0], 1.5])
    with pytest.raises(TypeError, match="must be a list of Values"):
        loss.to_torch(X, parameters=model.parameters()[0])
    computed = model.parameters()[0] * 2
    with pytest.raises(ValueError, match="computed by an operation, not a leaf"):
        loss.to_torch(X, parameters=[computed])


def test_the_leaves_fn_reads_are_counted_without_vectorizes_own_constants() -> None:
    """Sums that are no neuron's become linear nodes reading constants of vectorize's making (a 0 bias, 1 weights):
    the program reads them, fn does not, and the error counts what fn reads (here a and b)."""
    a, b = Value(0.5, label="a"), Value(2.0, label="b")
    loss = engine.vectorize(lambda x: (x[0] * x[1] + x[1] * x[1] + x[0]).exp() * a + b)
    X = np.ones((3, 2))
    loss(X)
    assert len(loss.program.shared) > 2  # vectorize's constants among them
    with pytest.raises(ValueError, match=r"parameters\[1\] \(.*unread.*\) is never read by fn.*fn reads 2 such Values"):
        loss.to_torch(X, parameters=[a, Value(3.0, label="unread")])


def test_a_value_not_passed_as_a_parameter_is_a_constant() -> None:
    """A parameter left out of `parameters` is a buffer of the module: it gets no gradient and is not trained."""
    model = nn.MLP(2, [2, 1], seed=0)
    loss = engine.vectorize(lambda x: model(x))
    X = np.random.default_rng(3).normal(size=(4, 2))
    tm = loss.to_torch(X, parameters=model.parameters()[:3])
    assert sum(p.numel() for p in tm.parameters()) == 3
    np.testing.assert_allclose(tm(X).detach().numpy(), loss(X), rtol=1e-12)
    before = values(model)
    torch.optim.SGD(tm.parameters(), lr=1.0).zero_grad()
    tm(X).sum().backward()
    torch.optim.SGD(tm.parameters(), lr=1.0).step()
    loss.load_torch(tm)
    changed = values(model) != before
    assert changed[:3].all() and not changed[3:].any()


BAD_ARGUMENTS = [
    ("a matrix of other width", lambda X, y: (X[:, :3], y)),
    ("too few arguments", lambda X, y: (X,)),
    ("different lengths", lambda X, y: (X, y[:-1])),
    ("a string", lambda X, y: ("abc", y)),
    ("three dimensions", lambda X, y: (X[None], y)),
    ("a vector for a matrix", lambda X, y: (X[:, 0], y)),
    ("an empty batch", lambda X, y: (X[:0], y[:0])),
    ("complex numbers", lambda X, y: (X.astype(complex), y)),
    ("integers beyond 2**53", lambda X, y: (X, y + 2**60)),
    ("a NaN", lambda X, y: (np.where(np.arange(X.size).reshape(X.shape) == 9, np.nan, X), y)),
]


@pytest.mark.parametrize("case", [c[0] for c in BAD_ARGUMENTS])
@pytest.mark.parametrize("as_tensors", [False, True])
def test_arguments_of_the_wrong_shape_raise_what_vectorize_raises(case: str, as_tensors: bool) -> None:
    model = nn.MLP(4, [3], seed=0)
    loss = engine.vectorize(lambda x, label: nn.cross_entropy(model(x), label))
    X, labels = np.ones((5, 4)), np.array([0, 1, 2, 0, 1])
    tm = loss.to_torch(X, labels, parameters=model.parameters())
    bad = dict(BAD_ARGUMENTS)[case](X, labels)
    with pytest.raises((TypeError, ValueError)) as expected:
        loss(*bad)
    given = [torch.as_tensor(a) if as_tensors and not isinstance(a, str) else a for a in bad]
    with pytest.raises(expected.type) as got:
        tm(*given)
    assert str(got.value) == str(expected.value)


def test_labels_out_of_range_are_refused_before_the_program_runs() -> None:
    model = MicroGPT()
    loss = microgpt.batched_loss(model)
    tokens, targets, weights = batch_of(["emma", "olivia", "ava", "mia"])
    tm = loss.to_torch(tokens, targets, weights, parameters=model.parameters())

    def refuse(*_: Any) -> None:
        raise AssertionError("the program ran")

    tm.program.forward = refuse  # the checks run on the arguments, before it
    targets, tokens = targets.copy(), tokens.copy()
    targets[2, 1] = 27
    tokens[3, 0] = -1
    out_of_range = r"index 27 is out of range for 27 entries.*argument targets\[1\].*sample 2 of 4"
    with pytest.raises(ValueError, match=out_of_range):
        tm(tokens, targets, weights)
    with pytest.raises(ValueError, match=r"out of range.*sample 2 of 4"):
        loss(tokens, targets, weights)  # vectorize names the same sample
    targets = targets.astype(float)
    targets[1, 1] = 3.5
    with pytest.raises(ValueError, match=r"index 3.5 is not a whole number.*argument targets\[1\].*sample 1 of 4"):
        tm(tokens, targets, weights)


def test_an_index_the_program_computes_is_checked_in_the_program() -> None:
    table = [Value(1.0, label="t[0]"), Value(2.0, label="t[1]")]
    loss = engine.vectorize(lambda i: engine.take(table, i + 1))
    tm = loss.to_torch(np.array([0.0, 0.0]), parameters=table)
    np.testing.assert_array_equal(tm(np.array([0.0, -1.0])).detach().numpy(), [2.0, 1.0])
    with pytest.raises(ValueError, match=r"index 2 is out of range for 2 entries.*computes, sample 1 of 3"):
        tm(np.array([0.0, 1.0, 0.0]))


def test_load_torch_of_another_function_changes_nothing() -> None:
    model = nn.MLP(2, [2, 1], seed=0)
    mine = engine.vectorize(lambda x: model(x))
    other = engine.vectorize(lambda x: model(x) * 2)
    tm = other.to_torch(np.ones((3, 2)), parameters=model.parameters())
    with torch.no_grad():
        for p in tm.parameters():
            p.add_(1.0)
    before = values(model)
    with pytest.raises(ValueError, match="exported from engine.vectorize.*another function"):
        mine.load_torch(tm)
    np.testing.assert_array_equal(values(model), before)
    with pytest.raises(TypeError, match="expects a module made by to_torch, got Linear"):
        mine.load_torch(torch.nn.Linear(2, 1))


def test_load_torch_of_changed_shapes_or_values_changes_nothing() -> None:
    model = nn.MLP(2, [3, 1], seed=0)
    loss = engine.vectorize(lambda x: model(x))
    tm = loss.to_torch(np.ones((3, 2)), parameters=model.parameters())
    names = [name for name, _ in tm.program.named_parameters()]
    with torch.no_grad():
        for p in tm.parameters():
            p.add_(1.0)
    before = values(model)
    changed = copy.deepcopy(tm)
    setattr(changed.program, names[-1], torch.nn.Parameter(torch.zeros(5, dtype=torch.float64)))
    with pytest.raises(ValueError, match=rf"parameter '{names[-1]}' has shape \(5,\), expected"):
        loss.load_torch(changed)
    np.testing.assert_array_equal(values(model), before)
    with torch.no_grad():
        dict(tm.program.named_parameters())[names[-1]].view(-1)[0] = float("nan")
    with pytest.raises(ValueError, match=rf"parameter '{names[-1]}' holds nan at flat position 0"):
        loss.load_torch(tm)
    np.testing.assert_array_equal(values(model), before)


def test_a_copy_of_the_module_loads_into_the_same_values() -> None:
    model = nn.MLP(2, [2, 1], seed=0)
    loss = engine.vectorize(lambda x: model(x))
    tm = copy.deepcopy(loss.to_torch(np.ones((3, 2)), parameters=model.parameters()))
    with torch.no_grad():
        for p in tm.parameters():
            p.fill_(0.25)
    engine.vectorize(loss.fn).load_torch(tm)  # another vectorize of the same function: the same Values
    assert set(values(model)) == {0.25}


def test_without_torch_the_error_names_the_pinned_version(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    monkeypatch.delitem(sys.modules, "engine.batch.to_torch", raising=False)
    monkeypatch.delattr(engine.batch, "to_torch", raising=False)  # imported afresh, as in a process without torch
    model = nn.MLP(2, [1], seed=0)
    loss = engine.vectorize(lambda x: model(x))
    with pytest.raises(ImportError, match=r"needs PyTorch.*make setup.*torch==2\.13\.0"):
        loss.to_torch(np.ones((2, 2)), parameters=model.parameters())


def test_a_state_dict_holds_the_parameters_and_constants_and_loads_into_a_new_export() -> None:
    """What a training script saves (`tm.state_dict()`) loads into the module exported afresh in another run."""
    model = nn.MLP(3, [4, 2], seed=0)
    loss = engine.vectorize(lambda x, label: nn.cross_entropy(model(x), label))
    X, labels = np.random.default_rng(2).normal(size=(6, 3)), np.array([0, 1, 1, 0, 1, 0])
    tm = loss.to_torch(X, labels, parameters=model.parameters())
    state = tm.state_dict()
    assert sum(v.numel() for k, v in state.items() if v.is_floating_point()) == sum(
        p.numel() for p in tm.parameters()
    ) + sum(b.numel() for b in tm.buffers() if b.is_floating_point())
    assert all(v.is_floating_point() for v in state.values())  # the program's column and take tables are not state
    with torch.no_grad():
        for p in tm.parameters():
            p.mul_(-1.0)
    fresh = loss.to_torch(X, labels, parameters=model.parameters())
    fresh.load_state_dict(tm.state_dict())
    torch.testing.assert_close(fresh(X, labels), tm(X, labels), rtol=0, atol=0)
    loss.load_torch(fresh)
    assert values(model).tolist() == [-v for v in values(nn.MLP(3, [4, 2], seed=0))]


def test_the_gpt_written_as_microgpt_writes_it_exports() -> None:
    """benchmarks/gpt_workload.py's GPT: sums of products (which vectorize collapses into linear nodes), a softmax
    of exp, sum and /, weights as lists of lists of unlabelled Values."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import gpt_workload

    weights = gpt_workload.parameters(Value, seed=1)
    parameters = [v for matrix in weights.values() for row in matrix for v in row]
    loss = engine.vectorize(gpt_workload.padded_document_loss(weights))
    arguments = batch_of(["emma", "olivia", "bo", "christopher"])
    tm = loss.to_torch(*arguments, parameters=parameters)
    assert sum(p.numel() for p in tm.parameters()) == len(parameters)
    out = tm(*arguments)
    np.testing.assert_allclose(out.detach().numpy(), loss(*arguments), rtol=1e-10)
    for p in parameters:
        p.grad = 0.0
    loss.backward(*arguments)
    out.mean().backward()
    expected = np.array([p.grad for p in parameters])
    np.testing.assert_allclose(exported_gradients(tm, parameters), expected, rtol=1e-10, atol=1e-14)
