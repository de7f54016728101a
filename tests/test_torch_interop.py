"""valuegrad against PyTorch on the same inputs: softmax and cross-entropy, the optimizers on the same gradients,
and MLPs moved to PyTorch (to_torch) and back (from_torch).

These tests skip when torch is missing, and fail instead when the CI environment variable is set (see `torch`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from conftest import as_if_trained

import nn
from engine import Value


def tensor(torch: ModuleType, x: Any, grad: bool = False) -> Any:
    return torch.tensor(x, dtype=torch.float64, requires_grad=grad)


# --- softmax and cross-entropy ---------------------------------------------------------------------------------

LOGITS = [[0.3, -1.2, 2.5, 0.0], [1000.0, -1000.0, 999.0], [-1000.0, -1000.5, -999.0, -1001.0]]


@pytest.mark.parametrize("z", LOGITS)
def test_softmax_matches_torch(torch: ModuleType, z: list[float]) -> None:
    mine = [p.data for p in nn.softmax([Value(x) for x in z])]
    np.testing.assert_allclose(mine, torch.softmax(tensor(torch, z), dim=0).numpy(), rtol=1e-13, atol=0)


@pytest.mark.parametrize("z", LOGITS)
def test_cross_entropy_of_indices_and_probabilities_matches_torch(torch: ModuleType, z: list[float]) -> None:
    rng = np.random.default_rng(len(z))
    weights = rng.uniform(size=len(z))
    probabilities = list(weights / weights.sum())
    probabilities[-1] = 1.0 - sum(probabilities[:-1])
    targets: list[Any] = [*range(len(z)), probabilities]
    for target in targets:
        logits = [Value(x) for x in z]
        loss = nn.cross_entropy(logits, target)
        loss.backward()
        z_t = tensor(torch, [z], grad=True)
        target_t = torch.tensor([target]) if isinstance(target, int) else tensor(torch, [target])
        loss_t = torch.nn.functional.cross_entropy(z_t, target_t)
        loss_t.backward()
        assert loss.data == pytest.approx(loss_t.item(), rel=1e-13, abs=1e-13)
        np.testing.assert_allclose([v.grad for v in logits], z_t.grad[0].numpy(), rtol=1e-12, atol=1e-15)


# --- optimizers on the same gradients ------------------------------------------------------------------------

OPTIMIZERS: list[tuple[str, Callable[[list[Value]], nn.Optimizer], Callable[[ModuleType, list[Any]], Any]]] = [
    (
        "SGD with momentum and weight decay",
        lambda ps: nn.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.05),
        lambda torch, ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=0.05),
    ),
    (
        "SGD with weight decay only",
        lambda ps: nn.SGD(ps, lr=0.3, weight_decay=0.2),
        lambda torch, ps: torch.optim.SGD(ps, lr=0.3, weight_decay=0.2),
    ),
    (
        "AdamW",
        lambda ps: nn.AdamW(ps, lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1),
        lambda torch, ps: torch.optim.AdamW(ps, lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1),
    ),
    ("AdamW, defaults", lambda ps: nn.AdamW(ps), lambda torch, ps: torch.optim.AdamW(ps)),
    ("Adam", lambda ps: nn.Adam(ps, lr=0.05), lambda torch, ps: torch.optim.Adam(ps, lr=0.05)),
]


@pytest.mark.parametrize(("name", "mine", "theirs"), OPTIMIZERS, ids=[o[0] for o in OPTIMIZERS])
def test_optimizer_steps_match_torch_optim_on_the_same_gradients(
    torch: ModuleType, name: str, mine: Callable[..., nn.Optimizer], theirs: Callable[..., Any]
) -> None:
    rng = np.random.default_rng(7)
    start = rng.normal(size=6)
    params = [Value(float(x)) for x in start]
    params_t = [tensor(torch, float(x), grad=True) for x in start]
    optimizer, optimizer_t = mine(params), theirs(torch, params_t)
    for step in range(8):
        gradients = rng.normal(scale=3.0, size=6) if step != 3 else np.zeros(6)
        for p, p_t, g in zip(params, params_t, gradients):
            p.grad = float(g)
            p_t.grad = tensor(torch, float(g))
        optimizer.step()
        optimizer_t.step()
        np.testing.assert_allclose([p.data for p in params], [p.item() for p in params_t], rtol=1e-13, atol=1e-15)


def test_adamw_defaults_are_torchs(torch: ModuleType) -> None:
    defaults = torch.optim.AdamW([tensor(torch, 0.0, grad=True)]).defaults
    mine = nn.AdamW([Value(0.0)])
    assert (mine.lr, (mine.beta1, mine.beta2), mine.eps, mine.weight_decay) == (
        defaults["lr"],
        tuple(defaults["betas"]),
        defaults["eps"],
        defaults["weight_decay"],
    )


# --- to_torch -------------------------------------------------------------------------------------------------

MODELS: dict[str, Callable[[], nn.MLP]] = {
    "relu": lambda: nn.MLP(5, [8, 6, 3], activation="relu", seed=1),
    "tanh": lambda: nn.MLP(4, [7, 1], activation="tanh", seed=2),
    "sigmoid": lambda: nn.MLP(3, [4, 4, 2], activation="sigmoid", seed=3, fused=False),
    "linear": lambda: nn.MLP(3, [4, 2], activation="linear", seed=4),
    "one layer": lambda: nn.MLP(3, [2], seed=5),
    "seed network": lambda: nn.SeedNetwork("sigmoid", seed=6),
}


def outputs(model: nn.MLP, x: np.ndarray) -> np.ndarray:
    rows = []
    for row in x:
        y = model(list(row))
        rows.append([v.data for v in (y if isinstance(y, list) else [y])])
    return np.array(rows)


def gradients_by_layer(model: nn.MLP) -> list[np.ndarray]:
    """Each layer's weight gradients (nout x nin) and bias gradients, in torch's parameter order."""
    arrays = []
    for layer in model.layers:
        arrays.append(np.array([[w.grad for w in n.w] for n in layer.neurons]))
        arrays.append(np.array([n.b.grad for n in layer.neurons]))
    return arrays


@pytest.mark.parametrize("name", list(MODELS))
def test_to_torch_computes_the_same_function_with_the_same_gradients(torch: ModuleType, name: str) -> None:
    model = as_if_trained(MODELS[name]())
    sequential = model.to_torch()
    assert isinstance(sequential, torch.nn.Sequential)
    assert all(p.dtype == torch.float64 for p in sequential.parameters())
    x = np.random.default_rng(0).normal(size=(16, model.nin)) * 2
    np.testing.assert_allclose(sequential(torch.from_numpy(x)).detach().numpy(), outputs(model, x), rtol=0, atol=1e-12)

    # one backward pass of the same loss on one sample: every parameter's gradient
    y = model(list(x[0]))
    out = y if isinstance(y, list) else [y]
    loss = sum((v * v * (k + 1) for k, v in enumerate(out)), Value(0.0))
    loss.backward()
    out_t = sequential(torch.from_numpy(x[:1]))[0]
    (out_t * out_t * torch.arange(1, len(out) + 1, dtype=torch.float64)).sum().backward()
    theirs = [p.grad.numpy() for p in sequential.parameters()]
    for mine, ref in zip(gradients_by_layer(model), theirs, strict=True):
        np.testing.assert_allclose(mine, ref, rtol=1e-10, atol=1e-12)


def test_to_torch_builds_linear_layers_and_activation_modules(torch: ModuleType) -> None:
    before = torch.get_rng_state()
    sequential = nn.MLP(4, [6, 5, 2], activation="tanh", seed=0).to_torch()
    assert [type(m).__name__ for m in sequential] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]
    assert [(m.in_features, m.out_features) for m in sequential if isinstance(m, torch.nn.Linear)] == [
        (4, 6),
        (6, 5),
        (5, 2),
    ]
    assert torch.equal(torch.get_rng_state(), before)  # no random initialisation: torch's global state untouched
    assert [type(m).__name__ for m in nn.MLP(2, [3, 1], activation="linear").to_torch()] == ["Linear", "Linear"]


def test_to_torch_copies_the_parameters(torch: ModuleType) -> None:
    model = as_if_trained(nn.MLP(2, [3, 1], seed=0))
    before = [p.data for p in model.parameters()]
    sequential = model.to_torch()
    with torch.no_grad():
        for p in sequential.parameters():
            p.add_(1.0)
    assert [p.data for p in model.parameters()] == before


# --- from_torch -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(MODELS))
def test_the_round_trip_gives_back_every_parameter_exactly(torch: ModuleType, name: str) -> None:
    model = as_if_trained(MODELS[name]())
    back = type(model).from_torch(model.to_torch())
    assert type(back) is type(model)
    assert [(p.label, p.data) for p in back.parameters()] == [(p.label, p.data) for p in model.parameters()]
    if model.layers[:-1]:
        assert back.activation == model.activation


@pytest.mark.parametrize(
    ("activation", "module"), [("relu", "ReLU"), ("tanh", "Tanh"), ("sigmoid", "Sigmoid"), ("linear", None)]
)
def test_from_torch_reads_a_sequential_made_by_torch(torch: ModuleType, activation: str, module: str | None) -> None:
    torch.manual_seed(0)
    sizes = [6, 9, 7, 3]
    layers: list[Any] = []
    for i, (nin, nout) in enumerate(zip(sizes, sizes[1:])):
        layers.append(torch.nn.Linear(nin, nout))  # torch's own initialisation, float32
        if module is not None and i < len(sizes) - 2:
            layers.append(getattr(torch.nn, module)())
    sequential = torch.nn.Sequential(*layers)
    model = nn.MLP.from_torch(sequential)
    assert (model.nin, [len(layer.neurons) for layer in model.layers], model.activation) == (6, [9, 7, 3], activation)
    x = np.random.default_rng(1).normal(size=(10, 6))
    expected = sequential.double()(torch.from_numpy(x)).detach().numpy()  # float32 weights are exact in float64
    np.testing.assert_allclose(outputs(model, x), expected, rtol=0, atol=1e-12)


def test_from_torch_reads_a_linear_without_bias_as_a_zero_bias(torch: ModuleType) -> None:
    sequential = torch.nn.Sequential(torch.nn.Linear(3, 2, bias=False))
    model = nn.MLP.from_torch(sequential)
    assert list(model.state_dict()["layer1.bias"]) == [0.0, 0.0]
    np.testing.assert_array_equal(model.state_dict()["layer1.weight"], sequential[0].weight.detach().double().numpy())


def test_seed_network_from_torch(torch: ModuleType) -> None:
    net = as_if_trained(nn.SeedNetwork("tanh", widths=(3, 2), nin=2, seed=0))
    back = nn.SeedNetwork.from_torch(net.to_torch())
    assert [(p.label, p.data) for p in back.parameters()] == [(p.label, p.data) for p in net.parameters()]
    with pytest.raises(ValueError, match=r"from_torch: network 1.1 has sizes \[nin, width1, width2, 1\]"):
        nn.SeedNetwork.from_torch(nn.MLP(2, [3, 1]).to_torch())


Modules = Callable[[Any], list[Any]]  # torch.nn -> the modules of a Sequential

BAD_SEQUENTIALS = [
    pytest.param(
        lambda t: [t.Linear(3, 4), t.Dropout(0.5), t.Linear(4, 2)],
        r"module '1' \(Dropout\(p=0.5.*\) is not supported; expected Linear, ReLU, Tanh or Sigmoid modules",
        id="Dropout",
    ),
    pytest.param(
        lambda t: [t.Linear(3, 4), t.ReLU(), t.Linear(4, 2), t.Softmax(dim=1)],
        r"module '3' \(Softmax\(dim=1\)\) is not supported",
        id="Softmax",
    ),
    pytest.param(
        lambda t: [t.Linear(3, 4), t.LeakyReLU(), t.Linear(4, 2)],
        r"module '1' \(LeakyReLU.*not supported",
        id="LeakyReLU",
    ),
    pytest.param(lambda t: [t.Sequential(t.Linear(3, 4)), t.Linear(4, 2)], r"module '0' \(Sequential", id="nested"),
    pytest.param(lambda t: [t.Conv1d(1, 1, 3)], r"module '0' \(Conv1d\(1, 1", id="Conv1d"),
    pytest.param(lambda t: [], r"the Sequential has no Linear layer", id="empty"),
    pytest.param(
        lambda t: [t.ReLU(), t.Linear(3, 2)], r"module '0' \(ReLU\(\)\) comes before any Linear", id="activation first"
    ),
    pytest.param(
        lambda t: [t.Linear(3, 2), t.Sigmoid()],
        r"module '1' \(Sigmoid\(\)\) follows the last Linear; an MLP's output layer is linear",
        id="activation last",
    ),
    pytest.param(
        lambda t: [t.Linear(3, 4), t.ReLU(), t.Tanh(), t.Linear(4, 2)],
        r"module '2' \(Tanh\(\)\) follows another activation",
        id="two activations",
    ),
    pytest.param(
        lambda t: [t.Linear(3, 4), t.ReLU(), t.Linear(4, 4), t.Tanh(), t.Linear(4, 2)],
        r"module '3' \(Tanh\(\)\) differs from the first hidden layer's activation, relu; an MLP has one activation",
        id="mixed activations",
    ),
    pytest.param(
        lambda t: [t.Linear(3, 4), t.ReLU(), t.Linear(4, 4), t.Linear(4, 2)],
        r"module '3' \(Linear.*\) has no activation before it, but the first hidden layer has relu",
        id="an activation missing",
    ),
    pytest.param(
        lambda t: [t.Linear(3, 4), t.ReLU(), t.Linear(5, 2)],
        r"module '2' \(Linear\(in_features=5.*takes 5 inputs, but the Linear before it gives 4",
        id="sizes",
    ),
]


@pytest.mark.parametrize(("modules", "message"), BAD_SEQUENTIALS)
def test_from_torch_refuses_anything_but_an_mlp_naming_the_module(
    torch: ModuleType, modules: Modules, message: str
) -> None:
    with pytest.raises(ValueError, match=f"from_torch: .*{message}"):
        nn.MLP.from_torch(torch.nn.Sequential(*modules(torch.nn)))


def test_from_torch_refuses_non_finite_weights_and_non_sequentials(torch: ModuleType) -> None:
    sequential = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
    with torch.no_grad():
        sequential[2].weight[0, 1] = float("nan")
    with pytest.raises(ValueError, match=r"module '2' \(Linear\(in_features=4.*has non-finite parameters"):
        nn.MLP.from_torch(sequential)
    with pytest.raises(TypeError, match="expects a torch.nn.Sequential, got Linear"):
        nn.MLP.from_torch(torch.nn.Linear(3, 4))
    with pytest.raises(TypeError, match="got list"):
        nn.MLP.from_torch([torch.nn.Linear(3, 4)])


# --- without torch --------------------------------------------------------------------------------------------


def test_without_torch_both_directions_raise_import_error_saying_how_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError, as when it is missing
    model = nn.MLP(2, [1], seed=0)
    with pytest.raises(
        ImportError, match=r"to_torch needs PyTorch, which is not installed; install it with `pip install torch`"
    ):
        model.to_torch()
    with pytest.raises(ImportError, match=r"from_torch needs PyTorch.*pip install torch"):
        nn.MLP.from_torch(object())
