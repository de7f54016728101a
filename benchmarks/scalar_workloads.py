"""The scalar engines' workloads of `make bench`: the same Python code on valuegrad, micrograd, PyTorch scalars and a
minimal microgpt-style Value, only the leaf constructor differing.

- the elementary graph: micrograd's demo network 2-16-16-1 (ReLU) written with `+`, `*` and `relu` only,
  forward over 50 samples, sum of squared errors, backward;
- the nn step: each library's own MLP(2, [16, 16, 1]) with ReLU, one training step (forward, loss,
  zero_grad, backward, SGD update) on the same data;
- the GPT-shaped workload: microgpt's model on a few names one at a time (gpt_workload.py);
- memory: bytes per graph node (tracemalloc) of a long chain `a = a * x + y`;
- depth: backward through chains of 10^5, 4*10^5 and 10^6 operations.

user_step.py times some of them again in one process.
"""

from __future__ import annotations

import gc
import math
import random
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import gpt_workload

SAMPLES = 50  # training points
GPT_NAMES = 4  # the gpt case: names per step
LEARNING_RATE = 0.001  # on a sum (not mean) of 50 squared errors: both MLPs train stably for 1000s of steps
CHAIN_STEPS = 100_000  # memory: iterations of a = a * x + y, two nodes each
DEPTHS = (100_000, 400_000, 1_000_000)
Step = Callable[[], None]


def moons(n: int = SAMPLES, seed: int = 0) -> list[tuple[list[float], float]]:
    """Two interleaved noisy half circles labelled -1 and +1 (micrograd's demo data, without sklearn)."""
    rng = random.Random(seed)
    data = []
    for i in range(n):
        t = math.pi * rng.random()
        if i % 2:
            x, y, label = 1.0 - math.cos(t), 0.5 - math.sin(t), 1.0
        else:
            x, y, label = math.cos(t), math.sin(t), -1.0
        data.append(([x + rng.gauss(0.0, 0.1), y + rng.gauss(0.0, 0.1)], label))
    return data


def _valuegrad_leaf() -> Callable[[float], Any]:
    from engine import Value

    return Value


def _micrograd_leaf() -> Callable[[float], Any]:
    from micrograd.engine import Value as MicrogradValue

    return MicrogradValue


def _torch_leaf() -> Callable[[float], Any]:
    import torch

    return lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True)


def _tuple_value_leaf() -> Callable[[float], Any]:
    from tuple_value import TupleValue

    return TupleValue


LEAVES = {  # each engine's way to make a scalar leaf that gets a gradient
    "valuegrad": _valuegrad_leaf,
    "micrograd": _micrograd_leaf,
    "torch": _torch_leaf,
    "tuple-value": _tuple_value_leaf,
}


def leaf_maker(engine: str) -> Callable[[float], Any]:
    if engine not in LEAVES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(LEAVES)}")
    return LEAVES[engine]()


def elementary_loss(layers: list, inputs: list, minus_targets: list) -> Any:
    """Sum of squared errors of the 2-16-16-1 ReLU network, written with +, * and relu only."""
    loss = None
    for x, minus_y in zip(inputs, minus_targets):
        h = x
        for depth, layer in enumerate(layers):
            last = depth == len(layers) - 1
            outputs = []
            for weights, bias in layer:
                act = bias
                for w, xi in zip(weights, h):
                    act = act + w * xi
                outputs.append(act if last else act.relu())
            h = outputs
        error = h[0] + minus_y
        loss = error * error if loss is None else loss + error * error
    return loss


def elementary_step(engine: str) -> tuple[Step, dict[str, Any]]:
    leaf = leaf_maker(engine)
    rng = random.Random(0)
    sizes = [2, 16, 16, 1]
    layers = [
        [([leaf(rng.uniform(-1.0, 1.0)) for _ in range(nin)], leaf(0.0)) for _ in range(nout)]
        for nin, nout in zip(sizes, sizes[1:])
    ]
    data = moons()
    inputs = [[leaf(v) for v in x] for x, _ in data]
    minus_targets = [leaf(-y) for _, y in data]
    leaves = [p for layer in layers for weights, bias in layer for p in (*weights, bias)]
    leaves += [v for x in inputs for v in x] + minus_targets
    no_grad = None if engine == "torch" else 0.0

    def step() -> None:
        for p in leaves:
            p.grad = no_grad
        elementary_loss(layers, inputs, minus_targets).backward()

    info = {}
    if engine == "valuegrad":
        from engine import topological_order

        info["nodes"] = len(topological_order(elementary_loss(layers, inputs, minus_targets)))
    return step, info


def squared_errors(model: Callable, data: list) -> Any:
    return sum((model(x) - y) ** 2 for x, y in data)


def valuegrad_nn_step() -> tuple[Step, dict[str, Any]]:
    import nn

    data = moons()
    model = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
    optimizer = nn.SGD(model.parameters(), lr=LEARNING_RATE)

    def step() -> None:
        loss = squared_errors(model, data)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step, {}


def micrograd_nn_step() -> tuple[Step, dict[str, Any]]:
    from micrograd.nn import MLP

    data = moons()
    random.seed(0)
    model = MLP(2, [16, 16, 1])  # ReLU hidden layers, linear output
    parameters = model.parameters()

    def step() -> None:
        loss = squared_errors(model, data)
        model.zero_grad()
        loss.backward()
        for p in parameters:
            p.data -= LEARNING_RATE * p.grad

    return step, {}


def gpt_step(engine: str) -> tuple[Step, dict[str, Any]]:
    """microgpt's model on GPT_NAMES names, one at a time as microgpt.py trains (gpt_workload.py): each name's
    forward pass in elementary operations and its backward pass, on `engine`'s Values (valuegrad or tuple-value)."""
    import microgpt_bench

    from demos.microgpt import encode

    weights = gpt_workload.parameters(leaf_maker(engine), seed=0)
    parameters = [p for matrix in weights.values() for row in matrix for p in row]
    documents = [encode(name) for name in microgpt_bench.bench_names(GPT_NAMES)]

    def step() -> None:
        for p in parameters:
            p.grad = 0.0
        for ids in documents:
            gpt_workload.document_loss(weights, ids).backward()

    return step, {"names": len(documents)}


def bytes_per_node(engine: str) -> dict[str, Any]:
    """Traced Python memory of a chain a = a * x + y, per node (two nodes per step)."""
    leaf = leaf_maker(engine)
    x, y, a = leaf(0.999), leaf(0.001), leaf(1.0)
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(CHAIN_STEPS):
        a = a * x + y
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return {"bytes_per_node": (after - before) / (2 * CHAIN_STEPS)}


def chain_backward(engine: str, operations: int) -> dict[str, Any]:
    """CPU seconds to build a chain of `operations` nodes and to run one backward through it."""
    leaf = leaf_maker(engine)
    x, y, a = leaf(0.999), leaf(0.001), leaf(1.0)
    start = time.process_time()
    for _ in range(operations // 2):
        a = a * x + y
    built = time.process_time()
    try:
        a.backward()
    except RecursionError:
        return {"failed": "RecursionError"}
    done = time.process_time()
    return {"build": built - start, "backward": done - built}  # freeing the chain is in neither time
