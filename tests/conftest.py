"""Helpers and fixtures the tests share: finite differences, g' written out by hand, and the optional tools.

Oracles. `central_differences` differentiates a function of floats numerically and `g_prime` states the
slopes of sigmoid, tanh and relu by hand: neither reads the engine's derivative rules, so a test that
takes its expected values from them fails when a rule is wrong. (`engine.gradcheck` is the engine's
own finite-difference check; a test that only wants "the gradient of this function of Values agrees
with central differences" calls it instead.)

Optional tools. PyTorch (for cross-checks) and Graphviz's `dot` (for rendered diagrams) may be
missing on a developer's machine: the `torch` and `dot_program` fixtures then skip the test. Under
CI every test must run, so there they fail instead (`running_in_ci`). Tests import the helpers with
`from conftest import ...`.
"""

from __future__ import annotations

import ast
import importlib
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import NoReturn, TypeVar

import numpy as np
import pytest
from numpy.typing import ArrayLike

from engine import Value, topological_order

# Values of the CI environment variable that mean "not CI" (compared lower-cased, spaces stripped).
NOT_CI = frozenset({"", "0", "false", "no", "off"})


def running_in_ci() -> bool:
    """True when the CI environment variable is set to a true value.

    Unset, empty, 0, false, no and off (in any case) mean a developer's machine; anything else
    (true, 1, yes, the name of a CI service ...) means CI, where no test may skip for want of a tool.
    """
    return os.environ.get("CI", "").strip().lower() not in NOT_CI


def missing_tool(message: str) -> NoReturn:
    """Skip the calling test because an optional tool is missing; under CI, where every tool must be there, fail it."""
    if running_in_ci():
        ci = os.environ.get("CI")
        pytest.fail(f"{message}; CI is set (CI={ci!r}), so this test must run, not skip", pytrace=False)
    pytest.skip(message)


def import_optional(name: str, install: str) -> ModuleType:
    """Import an optional module, or skip (fail under CI) saying how to install it."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        missing_tool(f"{name} is not installed ({error}); install it with: {install}")


@pytest.fixture(scope="session")
def torch() -> ModuleType:
    """PyTorch, for cross-checks: skips the test when torch is not installed, fails it under CI."""
    # A bare `pip install torch` downloads gigabytes; this pinned version is a local CPU build.
    return import_optional("torch", ".venv/bin/pip install torch==2.13.0")


@pytest.fixture(scope="session")
def dot_program() -> str:
    """The path of Graphviz's `dot` program: skips the test when it is not installed, fails it under CI."""
    path = shutil.which("dot")
    if path is None:
        missing_tool("Graphviz's `dot` program is not installed (apt-get install graphviz / brew install graphviz)")
    return path


def central_differences(f: Callable[..., float], point: Sequence[float], h: float = 1e-6) -> list[float]:
    """The gradient of `f` at `point` by central differences: (f(x + h e_i) - f(x - h e_i)) / 2h for each i.

    `f` takes the coordinates as separate floats and returns a float; its error is O(h^2).
    """
    gradient = []
    for i in range(len(point)):
        up, down = [float(p) for p in point], [float(p) for p in point]
        up[i] += h
        down[i] -= h
        gradient.append((f(*up) - f(*down)) / (2 * h))
    return gradient


def g_prime(activation: str, u: ArrayLike) -> np.ndarray:
    """g'(u) of sigmoid, tanh or relu, elementwise, written out by hand (never from engine/core/ops.py).

    sigmoid: s (1 - s) with s = 1 / (1 + e^-u); tanh: 1 - tanh(u)^2; relu: 1 for u > 0, else 0
    (0 at the kink u = 0, as in PyTorch).
    """
    u = np.asarray(u, dtype=float)
    if activation == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-u))
        return s * (1.0 - s)
    if activation == "tanh":
        return 1.0 - np.tanh(u) ** 2
    if activation == "relu":
        return np.where(u > 0, 1.0, 0.0)
    raise ValueError(f"g_prime knows sigmoid, tanh and relu, got {activation!r}")


def micrograd_expression() -> Value:
    """micrograd's example: L = (a*b + c) * f, with every Value labelled (no backward yet)."""
    a, b, c, f = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c"), Value(-2.0, label="f")
    e = a * b
    d = e + c
    L = d * f
    e.label, d.label, L.label = "e", "d", "L"
    return L


def backward_gradients(root: Value) -> dict[Value, float]:
    """Every Value's .grad after zero_grad() and one backward(): the oracle the step-by-step views must end at."""
    order = topological_order(root)
    for v in order:
        v.grad = 0.0
    root.backward()
    return {v: v.grad for v in order}


Model = TypeVar("Model")


def as_if_trained(model: Model, seed: int = 9) -> Model:
    """`model` with every parameter (biases too) set to its own draw from N(0, 1), as after training, so that a
    parameter lost or swapped on the way (a bias left at 0, a row in the wrong place) shows in the results."""
    parameters = model.parameters()  # type: ignore[attr-defined]
    for p, value in zip(parameters, np.random.default_rng(seed).normal(size=len(parameters))):
        p.data = float(value)
    return model


def package_imports(folder: Path, package: str, types_only: bool = False) -> dict[str, set[str]]:
    """Each module of `folder` (the package `package`, subfolders included, dotted: "core.value") and the modules
    of the package it imports, read from the source: those it imports to run, or with `types_only` those it
    imports under `if TYPE_CHECKING:` only (for its annotations)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        name = ".".join(path.relative_to(folder).with_suffix("").parts).removesuffix("__init__").rstrip(".")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for_types = [
            node
            for statement in ast.walk(tree)
            if isinstance(statement, ast.If) and ast.unparse(statement.test).endswith("TYPE_CHECKING")
            for node in ast.walk(statement)
        ]
        nodes = for_types if types_only else [node for node in ast.walk(tree) if node not in for_types]
        imported: set[str] = set()
        for node in nodes:
            if isinstance(node, ast.ImportFrom) and node.module == package:
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(package + "."):
                module = node.module.removeprefix(package + ".")
                where = folder.joinpath(*module.split("."))
                for alias in node.names:  # `from engine.core import ops` imports the module core.ops
                    imported.add(f"{module}.{alias.name}" if (where / f"{alias.name}.py").is_file() else module)
            elif isinstance(node, ast.Import):
                imported |= {a.name.removeprefix(package + ".") for a in node.names if a.name.startswith(package + ".")}
        graph[name] = imported - {name}
    return graph


def import_order(graph: dict[str, set[str]]) -> list[str]:
    """The modules in an order where each comes after every module it imports; AssertionError on a cycle."""
    order: list[str] = []
    while len(order) < len(graph):
        ready = sorted(m for m in graph if m not in order and graph[m] & set(graph) <= set(order))
        assert ready, f"import cycle among {sorted(set(graph) - set(order))}"
        order += ready
    return order
