"""demos.microgpt's batched step against PyTorch and hand-written numpy, in one process: issue 24's ratios.

    benchmarks/.venv/bin/python benchmarks/gpt_speed.py [--quick] [--sizes 32 256]

(`make bench` creates benchmarks/.venv; `.venv/bin/python`, from `make setup`, has torch too.)

One forward and backward of one batch of names (the gradients zeroed first, no optimizer step), at 32 and
256 names, five ways (microgpt_bench.py): engine.vectorize on the demo's fused model, the same model in
PyTorch eager float64 and float32 (gpt_torch.py), the batched step written by hand in numpy
(hand_numpy_gpt.py), and engine.vectorize on the elementary GPT (gpt_workload.py, microgpt.py's way of
writing the model). All on the demo's initial weights and the same names, one BLAS and one PyTorch thread.

Before timing, every way's per-name losses are compared with vectorize's on the fused model (the tests pin
losses and gradients; this guards the run). Then the ways take turns, round by round in a rotating order, each
timed in CPU seconds over repeats that last about 0.2 s; each ratio is the median over rounds of that round's
ratio. bench.py measures the same ratios with each way in a worker process of its own.
"""

from __future__ import annotations

import os

# One thread for every library, set before numpy or torch start their thread pools: each side computes on
# one core, and the other core of a 2-core machine runs other work.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

# ruff: noqa: E402 (the imports below come after the thread settings above)
import argparse
import math
import statistics
import time
from collections.abc import Callable

import microgpt_bench
import numpy as np

WAYS = {  # microgpt_bench's name: what the report calls it
    "vectorize": "vectorize, fused demo model",
    "torch-float64": "PyTorch eager float64",
    "torch-float32": "PyTorch eager float32",
    "hand-numpy": "hand-written numpy",
    "vectorize-elementary": "vectorize, elementary GPT",
}
TOLERANCES = {  # per-name losses against vectorize on the fused model, relative
    "torch-float64": 1e-10,
    "torch-float32": 1e-4,
    "hand-numpy": 1e-12,
    "vectorize-elementary": 1e-12,
}
# (numerator way, denominator way, what the ratio says, issue 24's goal at 32 and at 256 names; None: reported)
RATIOS: tuple[tuple[str, str, str, tuple[float | None, float | None]], ...] = (
    ("torch-float64", "vectorize", "PyTorch float64 time / vectorize time (>= means as fast)", (0.7, 1.0)),
    ("torch-float32", "vectorize", "PyTorch float32 time / vectorize time", (None, None)),
    ("vectorize", "hand-numpy", "vectorize time / hand-written numpy time", (None, None)),
    ("vectorize", "vectorize-elementary", "elementary GPT / fused model, throughput", (0.8, 0.8)),
)
SAMPLE_SECONDS = 0.2


def check_losses(count: int) -> list[str]:
    """Every way's per-name losses against vectorize's on the fused model; raises when one is beyond tolerance."""
    losses = microgpt_bench.per_name_losses(count)
    reference = losses["vectorize"]
    lines = []
    for way, tolerance in TOLERANCES.items():
        difference = float(np.max(np.abs(losses[way] - reference) / np.abs(reference)))
        if not difference <= tolerance:
            raise SystemExit(
                f"{WAYS[way]}: per-name losses differ from vectorize's by {difference:.1e} (> {tolerance})"
            )
        lines.append(f"{WAYS[way]} {difference:.0e}")
    return lines


def sample(step: Callable[[], None], repeats: int) -> float:
    """CPU seconds per step over `repeats` steps."""
    start = time.process_time()
    for _ in range(repeats):
        step()
    return (time.process_time() - start) / repeats


def time_ways(count: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per step of every way at `count` names, one sample per round, the ways in a rotating order."""
    steps = {way: microgpt_bench.step(way, count)[0] for way in WAYS}
    repeats = {}
    for way, step in steps.items():
        step()  # the first call records (vectorize) or warms up
        repeats[way] = max(1, math.ceil(SAMPLE_SECONDS / sample(step, 1)))
    times: dict[str, list[float]] = {way: [] for way in WAYS}
    order = list(WAYS)
    for r in range(rounds):
        for way in order[r % len(order) :] + order[: r % len(order)]:
            times[way].append(sample(steps[way], repeats[way]))
    return times


def report(count: int, real_tokens: int, times: dict[str, list[float]]) -> list[str]:
    rounds = len(times["vectorize"])
    lines = [f"{count} names ({real_tokens} real tokens), CPU time per step, median of {rounds} rounds [min-max]:"]
    for way, title in WAYS.items():
        t = times[way]
        lines.append(f"  {title:<28} {statistics.median(t) * 1e3:8.1f} ms [{min(t) * 1e3:.1f}-{max(t) * 1e3:.1f}]")
    for top, bottom, what, goals in RATIOS:
        ratios = [a / b for a, b in zip(times[top], times[bottom])]
        goal = goals[0] if count <= 32 else goals[1]
        verdict = (
            "reported"
            if goal is None
            else f"goal >= {goal:g}: {'PASS' if statistics.median(ratios) >= goal else 'FAIL'}"
        )
        lines.append(f"  {what}: {statistics.median(ratios):.2f}x [{min(ratios):.2f}-{max(ratios):.2f}] ({verdict})")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 rounds instead of 7")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 256], help="names per batch (default 32 256)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    rounds = 3 if args.quick else 7
    print("One process, one thread (BLAS and PyTorch), CPU time; forward and backward of one batch, zeroed first.")
    for count in args.sizes:
        print(f"per-name losses at {count} names against vectorize's (largest relative difference): "
              + ", ".join(check_losses(count)))  # fmt: skip
        real_tokens = microgpt_bench.step("vectorize", count)[1]["real_tokens"]
        for line in report(count, real_tokens, time_ways(count, rounds)):
            print(line, flush=True)


if __name__ == "__main__":
    main()
