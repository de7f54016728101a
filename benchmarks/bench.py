"""valuegrad against micrograd 0.1.0 and PyTorch scalar tensors: what `make bench` runs.

1. elementary graph: micrograd's demo network 2-16-16-1 (ReLU) written with `+`, `*`
   and `relu` only, forward over 50 samples, sum of squared errors, backward. The
   same Python code runs on every engine; only the leaf constructor differs.
2. nn step: each library's own MLP(2, [16, 16, 1]) with ReLU, one training step
   (forward, loss, zero_grad, backward, SGD update) on the same data.
3. memory: bytes per graph node (tracemalloc) of a long chain `a = a * x + y`.
4. depth: backward through chains of 10^5, 4*10^5 and 10^6 operations.
5. engine.vectorize against hand-written numpy (benchmarks/hand_numpy.py), forward and
   backward: micrograd's 2-16-16-1 ReLU net with squared error over 1,000 samples, the
   digits net 64-32-10 and an MNIST-sized 784-128-10 net with softmax cross-entropy of
   integer labels (over 1,437 and over 4,096, 1,024 and 256 samples); the time spent
   moving the 784-128-10 net's parameters between Values and arrays; against our own
   scalar path at 50 samples and on a synthetic attention model (benchmarks/attention.py);
   and the cost of recording once.
6. microgpt (benchmarks/microgpt_bench.py): demos.microgpt's GPT over 32 names, forward and
   backward through engine.vectorize against the scalar path one name at a time (as
   microgpt.py computes, and with fused linear), in real tokens per second.

Every engine runs in a worker process of its own, so one engine's garbage never
burdens another's timings. The parent alternates one sample of ours with one of
the peer (ours first in even pairs, the peer first in odd ones), so machine drift
hits both, and reports the median over pairs of peer time / our time. Times are
the worker's CPU time (all engines compute on the calling thread, so on an idle
machine it equals the wall-clock time; on a shared one it leaves out the time
other programs hold the core); wall-clock ratios are printed too. The cyclic
garbage collector stays on, as users run it; numbers with it off are extra info.

Usage: python benchmarks/bench.py [--quick] [--output benchmarks/results.md]
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gpt_workload
import hand_numpy
import microgpt_bench
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_SECONDS = 0.2  # a fast engine repeats its step until one sample lasts about this long
SAMPLES = 50  # training points
GPT_NAMES = 4  # the gpt case: names per step
LEARNING_RATE = 0.001  # on a sum (not mean) of 50 squared errors: both MLPs train stably for 1000s of steps
CHAIN_STEPS = 100_000  # memory: iterations of a = a * x + y, two nodes each
DEPTHS = (100_000, 400_000, 1_000_000)


# ---------------------------------------------------------------------------
# What the workers run
# ---------------------------------------------------------------------------


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


def leaf_maker(engine: str) -> Callable[[float], Any]:
    """The engine's way to make a scalar leaf that gets a gradient."""
    if engine == "valuegrad":
        from engine import Value

        return Value
    if engine == "micrograd":
        from micrograd.engine import Value as MicrogradValue

        return MicrogradValue
    if engine == "torch":
        import torch

        return lambda x: torch.tensor(x, dtype=torch.float64, requires_grad=True)
    if engine == "tuple-value":
        from tuple_value import TupleValue

        return TupleValue
    raise ValueError(f"unknown engine {engine!r}: expected valuegrad, micrograd, torch or tuple-value")


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


def elementary_step(engine: str) -> tuple[Callable[[], None], dict]:
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


def nn_step(engine: str) -> tuple[Callable[[], None], dict]:
    data = moons()
    if engine == "valuegrad":
        import nn

        model = nn.MLP(2, [16, 16, 1], activation="relu", seed=0)
        optimizer = nn.SGD(model.parameters(), lr=LEARNING_RATE)

        def step() -> None:
            loss = squared_errors(model, data)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

        return step, {}
    if engine == "micrograd":
        from micrograd.nn import MLP

        random.seed(0)
        micro_model = MLP(2, [16, 16, 1])  # ReLU hidden layers, linear output
        parameters = micro_model.parameters()

        def micro_step() -> None:
            loss = squared_errors(micro_model, data)
            micro_model.zero_grad()
            loss.backward()
            for p in parameters:
                p.data -= LEARNING_RATE * p.grad

        return micro_step, {}
    raise ValueError(f"nn step compares valuegrad with micrograd only, not {engine!r}")


def gpt_step(engine: str) -> tuple[Callable[[], None], dict]:
    """microgpt's model on GPT_NAMES names, one at a time as microgpt.py trains (gpt_workload.py): each name's
    forward pass in elementary operations and its backward pass, on `engine`'s Values (valuegrad or tuple-value)."""
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


def bytes_per_node(engine: str) -> dict:
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


def chain_backward(engine: str, operations: int) -> dict:
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
        return {"error": "RecursionError"}
    done = time.process_time()
    return {"build": built - start, "backward": done - built}  # freeing the chain is in neither time


# The batched cases: (samples, sizes of the network's layers, its input first, loss).
BATCH_CASES = {
    "batch1000": (1000, (2, 16, 16, 1), "squared error"),
    "batch50": (SAMPLES, (2, 16, 16, 1), "squared error"),
    "digits": (1437, (64, 32, 10), "cross-entropy"),
    "mnist4096": (4096, (784, 128, 10), "cross-entropy"),
    "mnist1024": (1024, (784, 128, 10), "cross-entropy"),
    "mnist256": (256, (784, 128, 10), "cross-entropy"),
}
ATTENTION_DOCUMENTS = 32  # the synthetic attention model (benchmarks/attention.py): documents per batch


def batch_problem(case: str) -> tuple[Any, list[np.ndarray], Callable[..., Any]]:
    """The model, the arguments and the per-sample loss of a batched case (data are fixed by seeds).

    batch1000 and batch50: micrograd's moons with targets -1/+1, `nn.MLP(2, [16, 16, 1], "relu")`, squared error.
    digits and mnist: inputs uniform in [0, 1] and random integer classes in the shape of the digits (64 pixels,
    10 classes) and of MNIST (784 pixels; the time does not depend on the values), `nn.MLP` with one ReLU hidden
    layer, softmax cross-entropy of the logits against the class label.
    """
    import nn

    n, sizes, loss = BATCH_CASES[case]
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


def batched_step(case: str, engine: str) -> tuple[Callable[[], None], dict]:
    """One forward and backward pass over the whole batch: through engine.vectorize, by hand in numpy, or
    sample by sample on the scalar path (the mean of the per-sample losses, then backward())."""
    if case == "attention":
        return attention_step(engine)
    model, arguments, loss = batch_problem(case)
    if engine == "vectorize":
        import engine as valuegrad

        per_sample = valuegrad.vectorize(loss)

        def vectorized() -> None:
            model.zero_grad()
            per_sample.backward(*arguments)

        return vectorized, {}
    if engine == "numpy":
        layers = hand_numpy.layers_of(model)
        X, y = arguments
        if BATCH_CASES[case][2] == "cross-entropy":
            return lambda: hand_numpy.relu_cross_entropy_labels_step(layers, X, y) and None, {}
        return lambda: hand_numpy.relu_squared_error_step(layers, X, y) and None, {}
    if engine == "valuegrad":
        from engine import Value

        X, y = arguments
        samples = list(zip(X.tolist(), y.tolist()))

        def scalar_path() -> None:
            model.zero_grad()
            total = sum((loss([Value(v) for v in x], Value(t)) for x, t in samples), Value(0.0))
            (total / len(samples)).backward()

        return scalar_path, {}
    raise ValueError(f"unknown engine {engine!r} for {case}: expected vectorize, numpy or valuegrad")


def attention_step(engine: str) -> tuple[Callable[[], None], dict]:
    """The synthetic attention model over ATTENTION_DOCUMENTS documents, through vectorize or document by document
    on the scalar path (as microgpt.py trains, with our fused `linear`)."""
    import attention

    import engine as valuegrad
    from engine import Value

    weights = attention.parameters()
    leaves = [v for matrix in weights.values() for row in matrix for v in row]
    loss = attention.document_loss(weights)
    tokens, targets, mask = attention.documents(ATTENTION_DOCUMENTS)
    info = {"tokens": int(mask.sum())}
    if engine == "vectorize":
        per_sample = valuegrad.vectorize(loss)

        def vectorized() -> None:
            for v in leaves:
                v.grad = 0.0
            per_sample.backward(tokens, targets, mask)

        return vectorized, info
    if engine == "valuegrad":
        documents = [[[Value(float(x)) for x in row[i]] for row in (tokens, targets, mask)] for i in range(len(mask))]

        def scalar_path() -> None:
            for v in leaves:
                v.grad = 0.0
            total = sum((loss(*document) for document in documents), Value(0.0))
            (total / len(documents)).backward()

        return scalar_path, info
    raise ValueError(f"unknown engine {engine!r} for attention: expected vectorize or valuegrad")


def recording_cost(case: str) -> dict:
    """Seconds to record and lower fn once (a first call minus a later one), and one scalar forward pass.

    The scalar forward pass is fn on Values, sample by sample, over the same batch, as the scalar path runs
    it every step; `one_sample` is a single sample's forward pass.
    """
    import engine as valuegrad
    from engine import Value

    if case == "attention":
        import attention

        weights = attention.parameters()
        loss = attention.document_loss(weights)
        arguments: list[np.ndarray] = list(attention.documents(ATTENTION_DOCUMENTS))
        samples = [[[Value(float(x)) for x in a[i]] for a in arguments] for i in range(ATTENTION_DOCUMENTS)]
    else:
        _, arguments, loss = batch_problem(case)
        samples = [[[Value(v) for v in x], Value(t)] for x, t in zip(arguments[0].tolist(), arguments[1].tolist())]
    per_sample = valuegrad.vectorize(loss)
    start = time.process_time()
    per_sample(*arguments)
    first = time.process_time() - start
    replays = []
    for _ in range(5):
        start = time.process_time()
        per_sample(*arguments)
        replays.append(time.process_time() - start)
    start = time.process_time()
    with valuegrad.no_grad():
        for sample in samples:
            loss(*sample)
    scalar_pass = time.process_time() - start
    program = per_sample.program
    return {
        "record": first - min(replays),
        "scalar_pass": scalar_pass,
        "one_sample": scalar_pass / len(samples),
        "nodes": len(valuegrad.topological_order(loss(*samples[0]))),
        "batched_nodes": len(program.computed) if program is not None else 0,
    }


def elementary_attention(replays: int = 5, documents: int = 3) -> dict:
    """The synthetic attention model with every dot product a sum of products, as microgpt.py writes them:
    seconds to record and group it, its batched nodes, one vectorize step over ATTENTION_DOCUMENTS documents
    (median of `replays`) and one document on the scalar path (forward and backward, median of `documents`)."""
    import attention

    import engine as valuegrad
    from engine import Value

    weights = attention.parameters()
    loss = attention.document_loss(weights, elementary=True)
    arguments = attention.documents(ATTENTION_DOCUMENTS)
    per_sample = valuegrad.vectorize(loss)
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
        "step": statistics.median(steps),
        "document": statistics.median(scalar),
        "nodes": len(valuegrad.topological_order(root)),
        "batched_nodes": len(program.computed) if program is not None else 0,
        "tokens": float(arguments[2].sum()),
    }


def moving_parameters(case: str, rounds: int = 21) -> dict:
    """Nanoseconds per parameter per step to move the parameters of a vectorized case between their Values and
    arrays: `model.zero_grad()`, reading every `.data`, adding every gradient back to `.grad` (medians of rounds);
    and, as a training loop clears them, an optimizer's `zero_grad()`."""
    import engine as valuegrad
    import nn
    from engine.batch import replay

    model, arguments, loss = batch_problem(case)
    optimizer = nn.SGD(model.parameters(), lr=LEARNING_RATE)

    per_sample = valuegrad.vectorize(loss)
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
    result = {key: statistics.median(values) / count * 1e9 for key, values in times.items()}
    result["parameters"] = count
    return result


def page_faults(step: Callable[[], None], repeats: int = 10) -> float:
    """Minor page faults per step (the kernel handing back memory the allocator returned to it)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / repeats


def serve(case: str, engine: str, gc_enabled: bool) -> None:
    """Worker: set up `case` for `engine`, then answer one JSON line per command read from stdin.

    Commands: `sample` (time one sample of the step), `measure [n]` (memory or depth), `quit`.
    """
    sys.path.insert(0, str(ROOT))  # measure this working tree, installed or not
    if not gc_enabled:
        gc.disable()
    info: dict = {}
    step = None
    repeats = 1
    if case in ("elementary", "nn", "gpt", "attention", "microgpt", *BATCH_CASES):
        if case == "microgpt":
            step, info = microgpt_bench.step(engine)
        elif case == "gpt":
            step, info = gpt_step(engine)
        elif case in BATCH_CASES or case == "attention":
            step, info = batched_step(case, engine)
        else:
            step, info = (elementary_step if case == "elementary" else nn_step)(engine)
        step()  # warm up, then size a sample so that fast engines are not timed on a few ms
        start = time.process_time()
        step()
        repeats = max(1, math.ceil(SAMPLE_SECONDS / (time.process_time() - start)))
        info["repeats"] = repeats
        if case in BATCH_CASES:
            info["page_faults"] = page_faults(step)
    print(json.dumps({"ready": True, **info}), flush=True)
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "quit":
            break
        if command == "sample" and step is not None:
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(repeats):
                step()
            answer: dict = {
                "cpu": (time.process_time() - cpu) / repeats,
                "wall": (time.perf_counter() - wall) / repeats,
            }
            if not gc_enabled:
                gc.collect()  # outside the timing, so that memory does not pile up
        elif command == "measure" and case == "memory":
            answer = bytes_per_node(engine)
        elif command == "measure" and case == "depth":
            answer = chain_backward(engine, int(argument))
        elif command == "measure" and case == "record":
            answer = recording_cost(argument)
        elif command == "measure" and case == "moving":
            answer = moving_parameters(argument)
        elif command == "measure" and case == "elementary-attention":
            answer = elementary_attention()
        else:
            answer = {"error": f"unknown command {line.strip()!r} for case {case!r}"}
        print(json.dumps(answer), flush=True)


# ---------------------------------------------------------------------------
# The parent: alternate workers, compute ratios, report
# ---------------------------------------------------------------------------


class Worker:
    """A worker process running one case on one engine, driven line by line."""

    def __init__(self, case: str, engine: str, gc_enabled: bool = True) -> None:
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", case, engine]
        if not gc_enabled:
            command.append("--no-gc")
        self.name = f"{engine} ({case})"
        # One BLAS thread everywhere: every engine here computes on one thread, and tiny matrix products only
        # lose time to threads on a 2-core machine that is also running the other worker.
        single = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, **single}
        )
        self.info = self._read()

    def _read(self) -> dict:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} died (exit code {self.process.wait()}); see its error above")
        return json.loads(line)

    def ask(self, command: str) -> dict:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self._read()
        if "error" in answer and answer["error"].startswith("unknown command"):
            raise RuntimeError(f"worker {self.name}: {answer['error']}")
        return answer

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.write("quit\n")
            self.process.stdin.close()
            self.process.wait()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass
class Comparison:
    """Alternating samples of ours and a peer: {"cpu": seconds, "wall": seconds} per step, one per pair."""

    ours: list[dict[str, float]]
    peer: list[dict[str, float]]

    def ratios(self, clock: str = "cpu") -> list[float]:
        return [p[clock] / o[clock] for o, p in zip(self.ours, self.peer)]

    def ratio(self, clock: str = "cpu") -> float:
        return statistics.median(self.ratios(clock))

    def spread(self, clock: str = "cpu") -> str:
        """Interquartile range of the pair ratios: how much the machine's noise moved them."""
        low, high = quartiles(self.ratios(clock))
        return f"{low:.1f}-{high:.1f}"

    def time(self, side: str, clock: str = "cpu") -> float:
        return statistics.median(sample[clock] for sample in getattr(self, side))

    def summary(self, peer: str, clock: str = "cpu") -> str:
        return (
            f"valuegrad {ms(self.time('ours', clock))}, {peer} {ms(self.time('peer', clock))}, "
            f"ratio {self.ratio(clock):.1f}x [{self.spread(clock)}], {len(self.ours)} pairs"
        )


def quartiles(values: list[float]) -> tuple[float, float]:
    """First and third quartile (the extremes when there are fewer than 4 values)."""
    if len(values) < 4:
        return min(values), max(values)
    low, _, high = statistics.quantiles(values, n=4)
    return low, high


def compare(
    case: str, peer: str, pairs: int, gc_enabled: bool = True, ours_engine: str = "valuegrad"
) -> tuple[Comparison, dict, dict]:
    """Alternate samples of ours (valuegrad, or its `vectorize`) and `peer` on `case` for `pairs` pairs."""
    result = Comparison([], [])
    with Worker(case, ours_engine, gc_enabled) as ours, Worker(case, peer, gc_enabled) as theirs:
        theirs.ask("sample")  # one more warm-up each, now that both are set up
        ours.ask("sample")
        for i in range(pairs):
            first, second = (ours, theirs) if i % 2 == 0 else (theirs, ours)
            a, b = first.ask("sample"), second.ask("sample")
            result.ours.append(a if first is ours else b)
            result.peer.append(b if first is ours else a)
    return result, ours.info, theirs.info


def measure_once(case: str, engine: str, argument: str = "") -> dict:
    with Worker(case, engine) as worker:
        return worker.ask(f"measure {argument}".strip())


def depth_scaling(rounds: int) -> dict[int, dict[str, float]]:
    """Fastest build and backward seconds per depth over `rounds` rounds (timing noise only ever adds).

    A round measures every depth once, each in a fresh worker, in a rotating order.
    """
    runs: dict[int, list[dict]] = {n: [] for n in DEPTHS}
    for r in range(rounds):
        for n in DEPTHS[r % len(DEPTHS) :] + DEPTHS[: r % len(DEPTHS)]:
            runs[n].append(measure_once("depth", "valuegrad", str(n)))
    return {n: {key: min(run[key] for run in runs[n]) for key in ("build", "backward")} for n in DEPTHS}


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(terse=True),
    }


def core_build() -> str:
    """Which build of engine/core the workers run (engine.COMPILED): compiled by mypyc, or its Python source."""
    check = "import engine; print(engine.COMPILED)"
    compiled = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    return "core compiled (mypyc)" if compiled == "True" else "core interpreted"


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git_revision() -> str:
    """The commit measured, and whether engine/ or nn/ differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "engine", "nn")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} (engine/ or nn/ modified)" if dirty else commit


def verdict(passed: bool | None) -> str:
    return "INFO" if passed is None else "PASS" if passed else "FAIL"


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


GOALS = (  # (case, peer, at least this many times faster)
    ("elementary", "micrograd", 10.0),
    ("elementary", "torch", 5.0),
    ("nn", "micrograd", 40.0),
    ("gpt", "tuple-value", 3.0),
)
# The same with the cyclic garbage collector off in both workers: the cost per node, without micrograd's cycles.
GC_OFF_GOALS = (
    ("elementary", "micrograd", 3.0),
    ("nn", "micrograd", 6.0),
    ("gpt", "tuple-value", None),
)
MEMORY_GOAL = 160.0  # bytes per node
TITLES = {
    "elementary": "elementary graph",
    "nn": "nn step",
    "gpt": f"GPT-shaped workload (microgpt's model, {GPT_NAMES} names one at a time, elementary * and +)",
    "batch1000": "vectorize, 2-16-16-1 over 1,000 samples,",
    "digits": "vectorize, digits 64-32-10 over 1,437 samples, integer labels,",
    "mnist4096": "vectorize, 784-128-10 over 4,096 samples, integer labels,",
    "mnist1024": "vectorize, 784-128-10 over 1,024 samples, integer labels,",
    "mnist256": "vectorize, 784-128-10 over 256 samples, integer labels,",
    "batch50": "vectorize, 2-16-16-1 over 50 samples,",
    "attention": f"vectorize, synthetic attention (attention.py) over {ATTENTION_DOCUMENTS} documents,",
}
# (case, peer, goal): engine.vectorize's time at most `goal` times the peer's (hand-written numpy), or, against
# our own scalar path, at least `goal` times faster; None: the ratio is reported, without a goal.
BATCH_GOALS: tuple[tuple[str, str, float | None], ...] = (
    ("batch1000", "numpy", 2.0),
    ("digits", "numpy", 2.0),
    ("mnist4096", "numpy", 1.5),
    ("mnist1024", "numpy", None),
    ("mnist256", "numpy", None),
    ("batch50", "valuegrad", 5.0),
    ("attention", "valuegrad", None),
)
MOVING_GOAL = 100.0  # ns per parameter per step: zero_grad, reading .data and adding the gradients back, together
RECORDED = (
    ("batch1000", "2-16-16-1, 1,000 samples"),
    ("digits", "digits 64-32-10, 1,437 samples"),
    ("attention", f"synthetic attention, {ATTENTION_DOCUMENTS} documents"),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer pairs, for trying the benchmark out")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results.md")
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "ENGINE"), help=argparse.SUPPRESS)
    parser.add_argument("--no-gc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        case, engine = args.worker
        serve(case, engine, gc_enabled=not args.no_gc)
        return

    missing = [peer for peer in ("micrograd", "torch") if importlib.util.find_spec(peer) is None]
    if missing:
        sys.exit(f"bench.py needs {' and '.join(missing)}: run `make bench`, which installs them into benchmarks/.venv")
    pairs, info_pairs, depth_rounds = (5, 3, 1) if args.quick else (21, 7, 7)
    host = machine()
    versions = {p: version(p) for p in ("valuegrad", "micrograd", "torch")}
    versions["valuegrad"] = f"{versions['valuegrad']}, git {git_revision()}, {core_build()}"
    print(f"Machine: {host['cpu']}, {host['cores']} cores, {host['python']}, {host['os']}")
    print("Versions: " + ", ".join(f"{p} {v}" for p, v in versions.items()))
    print("Ratios: peer CPU time / our CPU time, median of alternating pairs [interquartile range].\n")
    started = time.perf_counter()
    rows: list[list[str]] = []  # benchmark, valuegrad, peer, ratio, goal, result
    extra: list[str] = []

    def report(benchmark: str, ours: str, peer: str, ratio: str, goal: str, passed: bool | None) -> None:
        rows.append([benchmark, ours, peer, ratio, goal, verdict(passed)])
        print(f"{verdict(passed)}  {benchmark}: valuegrad {ours}, {peer}; ratio {ratio} (goal {goal})", flush=True)

    for case, peer, goal in GOALS:
        result, info, _ = compare(case, peer, pairs)
        report(
            f"{TITLES[case]} vs {peer}",
            ms(result.time("ours")),
            f"{peer} {ms(result.time('peer'))}",
            f"{result.ratio():.1f}x [{result.spread()}], {pairs} pairs",
            f">= {goal:g}x faster",
            result.ratio() >= goal,
        )
        extra.append(f"wall clock, {TITLES[case]} vs {peer}: {result.summary(peer, 'wall')}")
        if "nodes" in info and case == "elementary" and peer == "micrograd":
            extra.insert(0, f"elementary graph: {info['nodes']:,} nodes per pass (leaves included), {SAMPLES} samples")

    for case, peer, goal in BATCH_GOALS:
        result, info, peer_info = compare(case, peer, pairs, ours_engine="vectorize")
        vectorize_time, peer_time = result.time("ours"), result.time("peer")
        if peer == "numpy":  # at most `goal` times the time of hand-written numpy
            times = [1.0 / r for r in result.ratios()]  # our time / numpy's, pair by pair
            ratio, (low, high) = statistics.median(times), quartiles(times)
            passed = None if goal is None else ratio <= goal
            goal_text = "reported" if goal is None else f"<= {goal:g}x the time"
            ratio_text = f"{ratio:.2f}x the time [{low:.2f}-{high:.2f}], {pairs} pairs"
            extra.append(
                f"page faults per step, {TITLES[case]}: vectorize {info['page_faults']:.0f}, "
                f"hand-written numpy {peer_info['page_faults']:.0f}"
            )
        else:
            ratio = result.ratio()
            passed = None if goal is None else ratio >= goal
            goal_text = "reported" if goal is None else f">= {goal:g}x faster"
            ratio_text = f"{ratio:.1f}x faster [{result.spread()}], {pairs} pairs"
        if case == "attention":
            tokens = info["tokens"]
            extra.append(
                f"{TITLES[case]} {tokens} real tokens per step: vectorize {tokens / vectorize_time:,.0f} tokens/s, "
                f"scalar path (document by document, fused linear) {tokens / peer_time:,.0f} tokens/s"
            )
        peer_name = "hand-written numpy" if peer == "numpy" else "scalar path"
        report(f"{TITLES[case]} vs {peer_name}", ms(vectorize_time), f"{peer_name} {ms(peer_time)}", ratio_text,
               goal_text, passed)  # fmt: skip
    microgpt_bench.report_goals(compare, report, extra, pairs)
    moving = measure_once("moving", "vectorize", "mnist1024")
    per_parameter = moving["zero_grad"] + moving["read"] + moving["add"]
    report(
        "vectorize, moving the parameters of 784-128-10 (zero_grad, reading .data, adding gradients back)",
        f"{per_parameter:.0f} ns per parameter",
        f"{moving['parameters']:,} parameters: {ms(per_parameter * moving['parameters'] * 1e-9)} per step",
        f"{per_parameter:.0f} ns",
        f"<= {MOVING_GOAL:g} ns per parameter",
        per_parameter <= MOVING_GOAL,
    )
    extra.append(
        f"moving the parameters, per parameter per step: model.zero_grad() {moving['zero_grad']:.0f} ns, "
        f"reading .data {moving['read']:.0f} ns, adding the gradients to .grad {moving['add']:.0f} ns; "
        f"an optimizer's zero_grad() (nn.SGD's list of the parameters) {moving['optimizer_zero_grad']:.0f} ns"
    )
    microgpt_style = measure_once("elementary-attention", "vectorize")
    speedup = microgpt_style["document"] * ATTENTION_DOCUMENTS / microgpt_style["step"]
    extra.append(
        f"synthetic attention with every dot product a sum of products (as microgpt.py): "
        f"{microgpt_style['nodes']:,} scalar nodes per document became {microgpt_style['batched_nodes']} batched "
        f"nodes; first call (recording, grouping, one replay) {microgpt_style['first_call']:.1f} s; a vectorize step "
        f"over {ATTENTION_DOCUMENTS} documents {ms(microgpt_style['step'])}, one document on the scalar path "
        f"{ms(microgpt_style['document'])}: {speedup:.0f}x the tokens per second"
    )
    for case, net in RECORDED:
        cost = measure_once("record", "vectorize", case)
        share = cost["record"] / cost["scalar_pass"]
        report(
            f"vectorize, recording fn once ({net}) vs one scalar forward pass over the batch",
            ms(cost["record"]),
            f"scalar forward pass {ms(cost['scalar_pass'])}",
            f"{share:.3f}x the time",
            "<= 1x the time",
            share <= 1.0,
        )
        extra.append(
            f"recording ({net}): {ms(cost['record'])}, a single sample's scalar forward pass "
            f"{ms(cost['one_sample'])}; {cost['nodes']:,} scalar nodes (leaves included) became "
            f"{cost['batched_nodes']} batched nodes"
        )

    ours_bytes = measure_once("memory", "valuegrad")["bytes_per_node"]
    micro_bytes = measure_once("memory", "micrograd")["bytes_per_node"]
    report(
        "memory per node vs micrograd",
        f"{ours_bytes:.0f} B",
        f"micrograd {micro_bytes:.0f} B",
        f"{micro_bytes / ours_bytes:.1f}x",
        ">= 4x fewer bytes",
        micro_bytes / ours_bytes >= 4.0,
    )
    report(
        "memory per node",
        f"{ours_bytes:.0f} B",
        "no peer",
        f"{ours_bytes:.0f} B",
        f"<= {MEMORY_GOAL:g} B",
        ours_bytes <= MEMORY_GOAL,
    )

    depth = depth_scaling(depth_rounds)
    small, middle, large = (depth[n]["backward"] for n in DEPTHS)
    report(
        "backward depth 4*10^5 vs 10^5",
        f"{ms(middle)} vs {ms(small)}",
        "no peer",
        f"{middle / small:.1f}x the time for 4x the depth (fastest of {depth_rounds})",
        "<= 5x",
        middle / small <= 5.0,
    )
    for n in DEPTHS:
        d = depth[n]
        extra.append(
            f"chain of {n:,} operations: backward {ms(d['backward'])} ({d['backward'] / n * 1e9:.0f} ns/node), "
            f"build {ms(d['build'])} ({d['build'] / n * 1e9:.0f} ns/node), fastest of {depth_rounds}"
        )
    extra.append(f"10^6 vs 10^5 backward: {large / small:.1f}x the time for 10x the depth")
    micro_depth = measure_once("depth", "micrograd", str(DEPTHS[0]))
    extra.append(f"micrograd backward on a chain of {DEPTHS[0]:,}: {micro_depth.get('error', 'ran')}")
    for case, peer, off_goal in GC_OFF_GOALS:
        off, _, _ = compare(case, peer, info_pairs, gc_enabled=False)
        report(
            f"{TITLES[case]} vs {peer}, cyclic collector off in both",
            ms(off.time("ours")),
            f"{peer} {ms(off.time('peer'))}",
            f"{off.ratio():.1f}x [{off.spread()}], {info_pairs} pairs",
            "reported" if off_goal is None else f">= {off_goal:g}x faster",
            None if off_goal is None else off.ratio() >= off_goal,
        )

    print("\nExtra information:")
    for line in extra:
        print("  " + line)
    print(f"\nTotal time {time.perf_counter() - started:.0f} s")
    write_results(args.output, host, versions, rows, extra, quick=args.quick)
    print(f"Wrote {args.output}")


def write_results(path: Path, host: dict, versions: dict, rows: list[list[str]], extra: list[str], quick: bool) -> None:
    header = ["benchmark", "valuegrad", "peer", "ratio", "goal", "result"]
    table = [header, ["---"] * len(header), *rows]
    command = "`python benchmarks/bench.py --quick`" if quick else "`make bench` (`python benchmarks/bench.py`)"
    lines = [
        "# Benchmark results",
        "",
        f"Produced by {command} on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        "",
        f"- Machine: {host['cpu']}, {host['cores']} cores, {host['os']}",
        f"- Python: {host['python']}",
        "- Versions: " + ", ".join(f"{p} {v}" for p, v in versions.items()),
        "- Ratios: peer CPU time / valuegrad CPU time, median over alternating pairs of samples, each engine in",
        "  its own process, garbage collector on; interquartile range of the pair ratios in brackets.",
        "",
        *("| " + " | ".join(row) + " |" for row in table),
        "",
        "## Extra information",
        "",
        *(f"- {line}" for line in extra),
        "",
    ]
    path.write_text("\n".join(lines))


if __name__ == "__main__":
    main()
