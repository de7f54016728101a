"""engine.vectorize's workloads of `make bench`: MLPs over whole batches, a synthetic attention model, recording.

- MLPs (PROBLEMS): micrograd's 2-16-16-1 ReLU net with squared error over 1,000 and 50 samples, the digits net
  64-32-10 and an MNIST-sized 784-128-10 net with softmax cross-entropy of integer labels (over 1,437 and over
  4,096, 1,024 and 256 samples). Each step is one forward and backward pass over the whole batch: through
  engine.vectorize, by hand in numpy (hand_numpy.py), or sample by sample on the scalar path.
- the synthetic attention model (attention.py) over ATTENTION_DOCUMENTS documents, vectorized or document by
  document on the scalar path; and the same with every dot product a sum of products (as microgpt.py writes).
- what vectorize costs beside the replay: recording fn once, and moving the parameters between their Values and
  arrays at every step.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import hand_numpy
import numpy as np
from scalar_workloads import LEARNING_RATE, SAMPLES, moons

Step = Callable[[], None]
PROBLEMS = {  # (samples, sizes of the network's layers, its input first, loss)
    "batch1000": (1000, (2, 16, 16, 1), "squared error"),
    "batch50": (SAMPLES, (2, 16, 16, 1), "squared error"),
    "digits": (1437, (64, 32, 10), "cross-entropy"),
    "mnist4096": (4096, (784, 128, 10), "cross-entropy"),
    "mnist1024": (1024, (784, 128, 10), "cross-entropy"),
    "mnist256": (256, (784, 128, 10), "cross-entropy"),
}
ATTENTION_DOCUMENTS = 32  # the synthetic attention model (benchmarks/attention.py): documents per batch


def problem(name: str) -> tuple[Any, list[np.ndarray], Callable[..., Any]]:
    """The model, the arguments and the per-sample loss of a batched MLP case (data are fixed by seeds).

    batch1000 and batch50: micrograd's moons with targets -1/+1, `nn.MLP(2, [16, 16, 1], "relu")`, squared error.
    digits and mnist: inputs uniform in [0, 1] and random integer classes in the shape of the digits (64 pixels,
    10 classes) and of MNIST (784 pixels; the time does not depend on the values), `nn.MLP` with one ReLU hidden
    layer, softmax cross-entropy of the logits against the class label.
    """
    import nn

    n, sizes, loss = PROBLEMS[name]
    model = nn.MLP(sizes[0], list(sizes[1:]), activation="relu", seed=0)
    if loss == "cross-entropy":
        rng = np.random.default_rng(0)
        X = rng.uniform(0.0, 1.0, (n, sizes[0]))
        labels = rng.integers(0, sizes[-1], n)
        return model, [X, labels], lambda x, label: nn.cross_entropy(model(x), label)
    data = moons(n)
    X = np.array([x for x, _ in data])
    y = np.array([label for _, label in data])
    return model, [X, y], lambda x, target: (model(x) - target) ** 2


def vectorize_step(name: str) -> tuple[Step, dict[str, Any]]:
    """`model.zero_grad()` and `engine.vectorize(loss).backward(...)` over the whole batch."""
    import engine

    model, arguments, loss = problem(name)
    per_sample = engine.vectorize(loss)

    def vectorized() -> None:
        model.zero_grad()
        per_sample.backward(*arguments)

    return vectorized, {}


def hand_numpy_step(name: str) -> tuple[Step, dict[str, Any]]:
    """The same network's step written with numpy matrices, its gradients derived by hand."""
    model, (X, y), _ = problem(name)
    layers = hand_numpy.layers_of(model)
    if PROBLEMS[name][2] == "cross-entropy":
        return lambda: hand_numpy.relu_cross_entropy_labels_step(layers, X, y) and None, {}
    return lambda: hand_numpy.relu_squared_error_step(layers, X, y) and None, {}


def scalar_path_step(name: str) -> tuple[Step, dict[str, Any]]:
    """Sample by sample on the scalar path: the mean of the per-sample losses, then backward()."""
    from engine import Value

    model, (X, y), loss = problem(name)
    samples = list(zip(X.tolist(), y.tolist()))

    def scalar_path() -> None:
        model.zero_grad()
        total = sum((loss([Value(v) for v in x], Value(t)) for x, t in samples), Value(0.0))
        (total / len(samples)).backward()

    return scalar_path, {}


def _attention(elementary: bool = False) -> tuple[list[Any], Callable[..., Any], tuple[np.ndarray, ...]]:
    import attention

    weights = attention.parameters()
    leaves = [v for matrix in weights.values() for row in matrix for v in row]
    return leaves, attention.document_loss(weights, elementary), attention.documents(ATTENTION_DOCUMENTS)


def attention_vectorize_step() -> tuple[Step, dict[str, Any]]:
    """The synthetic attention model over ATTENTION_DOCUMENTS documents through engine.vectorize."""
    import engine

    leaves, loss, (tokens, targets, mask) = _attention()
    per_sample = engine.vectorize(loss)

    def vectorized() -> None:
        for v in leaves:
            v.grad = 0.0
        per_sample.backward(tokens, targets, mask)

    return vectorized, {"tokens": int(mask.sum())}


def attention_scalar_step() -> tuple[Step, dict[str, Any]]:
    """The same documents one by one on the scalar path (as microgpt.py trains, with our fused `linear`)."""
    from engine import Value

    leaves, loss, arrays = _attention()
    documents = [[[Value(float(x)) for x in row[i]] for row in arrays] for i in range(ATTENTION_DOCUMENTS)]

    def scalar_path() -> None:
        for v in leaves:
            v.grad = 0.0
        total = sum((loss(*document) for document in documents), Value(0.0))
        (total / len(documents)).backward()

    return scalar_path, {"tokens": int(arrays[2].sum())}


def recording_cost(name: str) -> dict[str, Any]:
    """Seconds to record and lower fn once (a first call minus a later one), and one scalar forward pass.

    The scalar forward pass is fn on Values, sample by sample, over the same batch, as the scalar path runs
    it every step; `one_sample` is a single sample's forward pass. `name` is an MLP problem or "attention".
    """
    import engine
    from engine import Value

    if name == "attention":
        _, loss, documents = _attention()
        arguments = list(documents)
        samples = [[[Value(float(x)) for x in a[i]] for a in arguments] for i in range(ATTENTION_DOCUMENTS)]
    else:
        _, arguments, loss = problem(name)
        samples = [[[Value(v) for v in x], Value(t)] for x, t in zip(arguments[0].tolist(), arguments[1].tolist())]
    per_sample = engine.vectorize(loss)
    start = time.process_time()
    per_sample(*arguments)
    first = time.process_time() - start
    replays = []
    for _ in range(5):
        start = time.process_time()
        per_sample(*arguments)
        replays.append(time.process_time() - start)
    start = time.process_time()
    with engine.no_grad():
        for sample in samples:
            loss(*sample)
    scalar_pass = time.process_time() - start
    program = per_sample.program
    return {
        "record": first - min(replays),
        "scalar_pass": scalar_pass,
        "one_sample": scalar_pass / len(samples),
        "nodes": len(engine.topological_order(loss(*samples[0]))),
        "batched_nodes": len(program.computed) if program is not None else 0,
    }


def elementary_attention(replays: int = 5, documents: int = 3) -> dict[str, Any]:
    """The synthetic attention model with every dot product a sum of products, as microgpt.py writes them:
    seconds to record and group it, its batched nodes, one vectorize step over ATTENTION_DOCUMENTS documents
    (median of `replays`) and one document on the scalar path (forward and backward, median of `documents`)."""
    import engine
    from engine import Value

    _, loss, arguments = _attention(elementary=True)
    per_sample = engine.vectorize(loss)
    start = time.process_time()
    per_sample.backward(*arguments)
    first = time.process_time() - start
    steps = []
    for _ in range(replays):
        start = time.process_time()
        per_sample.backward(*arguments)
        steps.append(time.process_time() - start)
    scalar = []
    for i in range(documents):
        start = time.process_time()
        loss(*[[Value(float(x)) for x in a[i]] for a in arguments]).backward()
        scalar.append(time.process_time() - start)
    program = per_sample.program
    root = loss(*[[Value(float(x)) for x in a[0]] for a in arguments])
    return {
        "first_call": first,
        "documents": ATTENTION_DOCUMENTS,
        "step": statistics.median(steps),
        "document": statistics.median(scalar),
        "nodes": len(engine.topological_order(root)),
        "batched_nodes": len(program.computed) if program is not None else 0,
    }


def moving_parameters(name: str, rounds: int = 21) -> dict[str, Any]:
    """Nanoseconds per parameter per step to move the parameters of a vectorized case between their Values and
    arrays: `model.zero_grad()`, reading every `.data`, adding every gradient back to `.grad` (medians of rounds);
    and, as a training loop clears them, an optimizer's `zero_grad()`."""
    import engine
    import nn
    from engine.batch import replay

    model, arguments, loss = problem(name)
    optimizer = nn.SGD(model.parameters(), lr=LEARNING_RATE)
    per_sample = engine.vectorize(loss)
    per_sample.backward(*arguments)
    program = per_sample.program
    assert program is not None
    shared = program.shared
    gradient = np.random.default_rng(0).normal(size=len(shared))
    times: dict[str, list[float]] = {"zero_grad": [], "read": [], "add": [], "optimizer_zero_grad": []}
    for _ in range(rounds):
        start = time.process_time()
        optimizer.zero_grad()
        times["optimizer_zero_grad"].append(time.process_time() - start)
        start = time.process_time()
        model.zero_grad()
        middle = time.process_time()
        replay.shared_values(shared)
        read = time.process_time()
        replay.add_shared_gradients(shared, gradient)
        times["zero_grad"].append(middle - start)
        times["read"].append(read - middle)
        times["add"].append(time.process_time() - read)
    count = len(model.parameters())
    result: dict[str, Any] = {key: statistics.median(values) / count * 1e9 for key, values in times.items()}
    result["parameters"] = count
    return result
