"""microgpt in `make bench`: forward and backward over a batch of names, in real tokens per second.

Three ways to compute demos.microgpt's model over the same 32 names (drawn with a fixed seed from its
training names), on the same parameters:

- vectorize: one `engine.vectorize(model.document_loss).backward` call on the names padded to the
  block size (16 positions), as the demo trains;
- elementary: the scalar path computed the way microgpt.py computes it, one name at a time, every
  dot product a chain of `*` and `+` (Python's `sum`), the softmax as exp, sum and division;
- fused: the demo's scalar path (`demos.microgpt.scalar_loss`), one name at a time, every dot
  product one fused `engine.linear` node.

Each step zeroes the gradients, then computes every name's loss and its gradient. All three process
the same real (unpadded) tokens, so the ratio of their times is the ratio of tokens per second.
bench.py runs each in a worker of its own (`step`) and compares them in alternating pairs.

`python benchmarks/microgpt_bench.py` prints where the time of a vectorize step goes: the size of the
recording in scalar nodes, the batched nodes it became, and the replay's time per kind of batched node.
"""

from __future__ import annotations

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
    MicroGPT,
    batched_loss,
    encode,
    load_names,
    padded_batch,
    scalar_loss,
    split_names,
)

NAMES_SEED = 1
ENGINES = ("vectorize", "elementary", "fused")


def bench_names(count: int = BATCH_SIZE, seed: int = NAMES_SEED) -> list[str]:
    """`count` training names of demos.microgpt, drawn without replacement with `seed`: the benchmark's batch."""
    names, _ = split_names(load_names())
    return [names[i] for i in np.random.default_rng(seed).choice(len(names), count, replace=False)]


# --- the scalar path the way microgpt.py computes it --------------------------------------------------------------


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


# --- what a worker times, and what bench.py reports -----------------------------------------------------------


def step(engine: str) -> tuple[Callable[[], None], dict]:
    """One step of `engine` (vectorize, elementary or fused) over the benchmark's names, and facts about it.

    For vectorize the facts include `profile`, the lines `profile()` gives (measured before the timing).
    """
    model = MicroGPT()
    names = bench_names()
    parameters = model.parameters()

    def zero_grad() -> None:
        for p in parameters:
            p.grad = 0.0

    batch = padded_batch(names, model.block_size)
    info: dict[str, Any] = {"names": len(names), "real_tokens": batch.real_tokens}
    if engine == "vectorize":
        loss = batched_loss(model)
        info["profile"] = profile()

        def vectorized() -> None:
            zero_grad()
            loss.backward(batch.tokens, batch.targets, batch.weights)

        return vectorized, info
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r} for microgpt: expected one of {', '.join(ENGINES)}")
    name_loss = elementary_name_loss if engine == "elementary" else scalar_loss

    def one_name_at_a_time() -> None:
        zero_grad()
        for name in names:
            name_loss(model, name).backward()

    return one_name_at_a_time, info


PEERS = (  # (scalar path, at least this many times the real tokens per second through vectorize; None: reported)
    ("elementary", 100.0),
    ("fused", None),
)
TITLES = {
    "elementary": "scalar path as microgpt.py computes (elementary * and +, one name at a time)",
    "fused": "scalar path with fused linear (one name at a time)",
}
MAX_PAIRS = 7  # a sample of the elementary path lasts seconds; its ratio is far from the goal


def report_goals(compare: Callable[..., Any], report: Callable[..., None], extra: list[str], pairs: int) -> None:
    """bench.py's microgpt rows: vectorize against each scalar path, in real tokens per second.

    `compare`, `report` and `extra` are bench.py's (its alternating pairs, its table row, its extra lines).
    """
    pairs = min(pairs, MAX_PAIRS)
    for peer, goal in PEERS:
        result, info, _ = compare("microgpt", peer, pairs, ours_engine="vectorize")
        tokens = info["real_tokens"]
        ours, theirs = tokens / result.time("ours"), tokens / result.time("peer")
        ratio = result.ratio()
        report(
            f"vectorize, microgpt over {info['names']} names ({tokens} real tokens) vs {TITLES[peer]}, tokens/s",
            f"{ours:,.0f} tokens/s",
            f"{peer} {theirs:,.0f} tokens/s ({result.time('peer') / info['names'] * 1e3:.0f} ms per name)",
            f"{ratio:.0f}x [{result.spread()}], {pairs} pairs",
            "reported" if goal is None else f">= {goal:g}x the tokens per second",
            None if goal is None else ratio >= goal,
        )
        if peer == PEERS[0][0]:
            extra.extend(info["profile"])


# --- where a vectorize step's time goes --------------------------------------------------------------------------


def profile(repeats: int = 20) -> list[str]:
    """The recording's size and the replay's time per kind of batched node, forward and backward, in lines."""
    from engine.batch import replay
    from engine.core.backprop import backward_pass

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
