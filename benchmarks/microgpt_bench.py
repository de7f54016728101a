"""microgpt's workloads: demos.microgpt's GPT over a batch of names, forward and backward, every way we compare.

Every way runs the same model on the same parameters (demos.microgpt's `MicroGPT()`, its initial weights) over
the same names, drawn with a fixed seed from the demo's training names; each step zeroes the gradients (as the
demo's training loop does, with its optimizer's `zero_grad`; PyTorch sets them to None), then computes every
name's loss and the gradient of their mean; no optimizer step. `step(way, names)` builds one:

- vectorize: `engine.vectorize(model.document_loss).backward(...)` on the names padded to the block size (16
  positions), as the demo trains (every dot product one fused `engine.linear`);
- vectorize-elementary: the elementary GPT (gpt_workload.padded_document_loss: every dot product a Python
  `sum` of products, microgpt.py's rmsnorm and softmax) through `engine.vectorize`, on the same weights;
- torch-float64, torch-float32: gpt_torch.py, the model batched in PyTorch with a causal mask;
- hand-numpy: hand_numpy_gpt.py, the batched step with every gradient derived by hand;
- scalar-elementary, scalar-fused: the scalar path one name at a time, as microgpt.py computes (elementary `*`
  and `+`) and as the demo's `scalar_loss` does (fused `linear`): vectorize against scalar-fused is the demo's
  two paths timed;
- export-float64, export-float32, export-compiled: the vectorized model exported to a PyTorch module (issue 25),
  in float64, float32 and under `torch.compile` (harness.Unavailable, with the reason, where it fails).

All of them process the same real (unpadded) tokens, so a ratio of times is a ratio of tokens per second.
tests/test_benchmarks_gpt.py and tests/test_benchmarks_microgpt.py check that they compute the same losses and
gradients. bench.py times them against each other in workers of their own; gpt_speed.py times the batched ones
in one process. `parameter_traffic` measures `model.parameters()` and `model.zero_grad()` per parameter.

`python benchmarks/microgpt_bench.py` prints where the time of a vectorize step goes (`profile`).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gpt_workload
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # demos/ lives beside engine/ and nn/

from demos.microgpt import (  # noqa: E402
    BATCH_SIZE,
    BETAS,
    LEARNING_RATE,
    Batch,
    MicroGPT,
    batched_loss,
    encode,
    load_names,
    padded_batch,
    scalar_loss,
    split_names,
)

NAMES_SEED = 1
Step = Callable[[], None]


def bench_names(count: int = BATCH_SIZE, seed: int = NAMES_SEED) -> list[str]:
    """`count` training names of demos.microgpt, drawn without replacement with `seed`: the benchmark's batch."""
    names, _ = split_names(load_names())
    return [names[i] for i in np.random.default_rng(seed).choice(len(names), count, replace=False)]


# --- the model as microgpt.py writes it (gpt_workload.py), on the demo model's parameters -------------------------


def elementary_weights(model: MicroGPT) -> dict[str, list[list[Any]]]:
    """The demo model's weight matrices (its own Values, not copies) under gpt_workload.py's names."""
    return {
        "token": model.token_embedding.weight,
        "position": model.position_embedding.weight,
        "query": model.query.weight,
        "key": model.key.weight,
        "value": model.value.weight,
        "attention_output": model.attention_output.weight,
        "mlp_hidden": model.mlp_hidden.weight,
        "mlp_output": model.mlp_output.weight,
        "lm_head": model.lm_head.weight,
    }


def elementary_name_loss(model: MicroGPT, name: str) -> Any:
    """The same model as `model.document_loss` on one name, in elementary operations, on the same parameters."""
    return gpt_workload.document_loss(elementary_weights(model), encode(name)[: model.block_size + 1], model.heads)


def elementary_document_loss(model: MicroGPT) -> Callable[..., Any]:
    """fn(tokens, targets, weights) of one padded name in elementary operations: the elementary GPT to vectorize."""
    return gpt_workload.padded_document_loss(elementary_weights(model), model.heads)


# --- one step of each way ------------------------------------------------------------------------------------------


def _optimizer_zero_grad(model: MicroGPT) -> Step:
    """How the demo's training loop clears the gradients: its optimizer's `zero_grad` (a list it keeps)."""
    import nn

    return nn.Adam(model.parameters(), lr=LEARNING_RATE, betas=BETAS).zero_grad


Build = Callable[[MicroGPT, list[str], Batch], Step]  # (model, the names, the names padded) -> one step


def _vectorized(fn: Callable[[MicroGPT], Callable[..., Any]]) -> Build:
    def build(model: MicroGPT, names: list[str], batch: Batch) -> Step:
        import engine

        loss, zero_grad = engine.vectorize(fn(model)), _optimizer_zero_grad(model)

        def vectorized() -> None:
            zero_grad()
            loss.backward(batch.tokens, batch.targets, batch.weights)

        return vectorized

    return build


def _torch(dtype_name: str) -> Build:
    def build(model: MicroGPT, names: list[str], batch: Batch) -> Step:
        import gpt_torch
        import torch

        torch.set_num_threads(1)
        dtype = getattr(torch, dtype_name)
        module = gpt_torch.TorchGPT(model.state_dict(), model.heads, dtype)
        tensors = gpt_torch.batch_tensors(batch.tokens, batch.targets, batch.weights, dtype)
        return lambda: gpt_torch.step(module, *tensors) and None

    return build


def _hand_numpy(model: MicroGPT, names: list[str], batch: Batch) -> Step:
    import hand_numpy_gpt

    weights = hand_numpy_gpt.weights_of(model)
    return lambda: hand_numpy_gpt.step(weights, batch.tokens, batch.targets, batch.weights, model.heads) and None


def _scalar_path(name_loss: Callable[[MicroGPT, str], Any]) -> Build:
    def build(model: MicroGPT, names: list[str], batch: Batch) -> Step:
        zero_grad = _optimizer_zero_grad(model)

        def one_name_at_a_time() -> None:
            zero_grad()
            for name in names:
                name_loss(model, name).backward()

        return one_name_at_a_time

    return build


def _exported(dtype_name: str, compiled: bool = False) -> Build:
    """Issue 25's export, `engine.vectorize(fn).to_torch(*example_args, parameters=...)`, run as PyTorch runs a
    module (gradients set to None, the mean of its per-name losses, backward), on the same numpy arrays."""

    def build(model: MicroGPT, names: list[str], batch: Batch) -> Step:
        import torch
        from harness import Unavailable

        import engine

        torch.set_num_threads(1)
        arrays = (batch.tokens, batch.targets, batch.weights)
        module = engine.vectorize(model.document_loss).to_torch(*arrays, parameters=model.parameters())
        module = module.float() if dtype_name == "float32" else module
        if compiled:
            try:  # "if it compiles on this machine" (issue 25): whatever torch.compile raises says why not
                module = torch.compile(module)
                module(*arrays)
            except Exception as error:
                raise Unavailable(f"torch.compile failed: {type(error).__name__}: {error}") from None

        def exported() -> None:
            module.zero_grad(set_to_none=True)
            module(*arrays).mean().backward()

        return exported

    return build


WAYS: dict[str, Build] = {
    "vectorize": _vectorized(lambda model: model.document_loss),
    "vectorize-elementary": _vectorized(elementary_document_loss),
    "torch-float64": _torch("float64"),
    "torch-float32": _torch("float32"),
    "hand-numpy": _hand_numpy,
    "scalar-elementary": _scalar_path(elementary_name_loss),
    "scalar-fused": _scalar_path(scalar_loss),
    "export-float64": _exported("float64"),
    "export-float32": _exported("float32"),
    "export-compiled": _exported("float64", compiled=True),
}


def step(way: str, count: int = BATCH_SIZE) -> tuple[Step, dict[str, Any]]:
    """One step of `way` over the benchmark's `count` names, and facts about it (names, real tokens)."""
    if way not in WAYS:
        raise ValueError(f"unknown way {way!r} to compute microgpt: expected one of {', '.join(WAYS)}")
    model = MicroGPT()
    names = bench_names(count)
    batch = padded_batch(names, model.block_size)
    return WAYS[way](model, names, batch), {"names": len(names), "real_tokens": batch.real_tokens}


def per_name_losses(count: int = BATCH_SIZE) -> dict[str, np.ndarray]:
    """Each batched way's loss of every name of the benchmark's `count` names, on the demo's initial weights."""
    import gpt_torch
    import hand_numpy_gpt
    import torch

    import engine

    model = MicroGPT()
    batch = padded_batch(bench_names(count), model.block_size)
    arrays = (batch.tokens, batch.targets, batch.weights)
    losses = {
        "vectorize": engine.vectorize(model.document_loss)(*arrays),
        "vectorize-elementary": engine.vectorize(elementary_document_loss(model))(*arrays),
        "hand-numpy": hand_numpy_gpt.step(hand_numpy_gpt.weights_of(model), *arrays, model.heads)[0],
    }
    for dtype in (torch.float64, torch.float32):
        module = gpt_torch.TorchGPT(model.state_dict(), model.heads, dtype)
        with torch.no_grad():
            losses[f"torch-{str(dtype).split('.')[1]}"] = (
                module(*gpt_torch.batch_tensors(*arrays, dtype)).double().numpy()
            )
    return losses


def parameter_traffic(rounds: int = 11, calls: int = 10) -> dict[str, Any]:
    """Nanoseconds per parameter of MicroGPT's `model.parameters()` and `model.zero_grad()` (medians over rounds of
    `calls` calls each), and which build of the core ran them."""
    import engine

    model = MicroGPT()
    count = len(model.parameters())
    times: dict[str, list[float]] = {"parameters": [], "zero_grad": []}
    for _ in range(rounds):
        for name, call in (("parameters", model.parameters), ("zero_grad", model.zero_grad)):
            start = time.process_time()
            for _ in range(calls):
                call()
            times[name].append((time.process_time() - start) / calls)
    result: dict[str, Any] = {name: statistics.median(t) / count * 1e9 for name, t in times.items()}
    return {**result, "count": count, "compiled": engine.COMPILED}


# --- where a vectorize step's time goes --------------------------------------------------------------------------


def profile(repeats: int = 20) -> list[str]:
    """The recording's size and the replay's time per kind of batched node, forward and backward, in lines."""
    from engine import backward_pass
    from engine.batch import replay

    model = MicroGPT()
    batch = padded_batch(bench_names(), model.block_size)
    loss = batched_loss(model)
    arguments = (batch.tokens, batch.targets, batch.weights)
    start = time.perf_counter()
    loss.backward(*arguments)
    first = time.perf_counter() - start
    program, recording = loss.program, loss.recording
    assert program is not None and recording is not None
    checked = loss.prepare(*arguments)
    forward: dict[str, float] = defaultdict(float)
    backward: dict[str, float] = defaultdict(float)
    clock = [0.0]  # when the last backward step ended

    def timed(node: Any, *_: Any) -> None:  # backward_pass's on_step: the time since the last step is this node's
        now = time.perf_counter()
        backward[node.kind] += now - clock[0]
        clock[0] = now

    for _ in range(repeats):
        values = replay.forward(program, checked)
        for node in program.computed:
            start = time.perf_counter()
            node.op.forward(*[values[p] for p in node.parents])
            forward[node.kind] += time.perf_counter() - start
        root_grad = np.full((1, values[program.outputs].shape[1]), 1.0 / checked.n)
        clock[0] = time.perf_counter()
        backward_pass(program.walk, root_grad, values.__getitem__, timed)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        loss.backward(*arguments)
        times.append(time.perf_counter() - start)
    scalar_nodes = sum(v.op is not None for v in recording.order)
    counts = Counter(node.kind for node in program.computed)

    def table(timings: dict[str, float]) -> str:
        slowest_first = sorted(timings.items(), key=lambda item: -item[1])
        return ", ".join(f"{kind} {t / repeats * 1e3:.2f} ms ({counts[kind]})" for kind, t in slowest_first)

    return [
        f"microgpt, {checked.n} names ({batch.real_tokens} real tokens, {batch.weights.size} padded positions): "
        f"one name's recording has {scalar_nodes:,} scalar nodes and {len(recording.shared):,} shared leaves "
        f"({len(model.parameters()):,} parameters), grouped into {len(program.computed)} batched nodes",
        f"microgpt, first vectorize call (recording, grouping, replay): {first * 1e3:.0f} ms; "
        f"later calls {np.median(times) * 1e3:.1f} ms (median of {repeats})",
        f"microgpt replay, forward per kind of batched node (how many): {table(forward)}",
        f"microgpt replay, backward per kind of batched node (how many): {table(backward)}",
    ]


if __name__ == "__main__":
    for line in profile():
        print(line)
