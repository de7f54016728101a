"""The second harness: every library in one process, timed with the wall clock, as a user times in a notebook.

    benchmarks/.venv/bin/python benchmarks/user_step.py [--quick]

`make bench` (bench.py) runs each engine in a worker process of its own and
measures CPU time. Here everything runs in this one process, one library after
the other, each timed with `time.perf_counter` over rounds of steps. The nn step
is written as in micrograd's demo notebook, with numpy arrays as scikit-learn's
make_moons gives them:

    preds = [model(list(x)) for x in X]
    loss = sum(((p - y) ** 2 for p, y in zip(preds, Y)), Value(0.0))
    model.zero_grad(); loss.backward()
    for p in model.parameters(): p.data -= 0.001 * p.grad

Garbage: micrograd's graphs are reference cycles that only Python's cyclic
collector frees, and in one process a collection runs whenever it is due,
often while the *other* library is being timed. So once everything is set up,
`gc.freeze()` takes the libraries' own modules and models out of every
collection, and each timed round starts with `gc.collect()` outside the timing
(the other library's leftovers) and ends with `gc.collect()` inside it (this
library's own): every library pays for the garbage it made, and no library
pays for another's. `--naive` leaves that out, as a quick
notebook comparison would; benchmarks/README.md ("Two harnesses") shows what
that does to the numbers.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure this working tree
sys.path.insert(0, str(ROOT / "benchmarks"))

from scalar_workloads import DEPTHS, bytes_per_node, chain_backward, elementary_step, moons  # noqa: E402

LEARNING_RATE = 0.001
GOALS: dict[str, float | None] = {  # as in make bench: at least this many times faster (or fewer bytes); None: reported
    "elementary graph vs micrograd": 10.0,
    "elementary graph vs torch": 5.0,
    "nn step vs micrograd": None,  # the 40x goal is retired: micrograd's collector moves the ratio (issue 21)
    "memory per node vs micrograd": 4.0,
}


def notebook_data() -> tuple[np.ndarray, np.ndarray]:
    """micrograd's 50 points as numpy arrays, as scikit-learn's make_moons would give them."""
    points = moons()
    return np.array([x for x, _ in points]), np.array([y for _, y in points])


def nn_step(library: str) -> Callable[[], None]:
    """One training step of `nn.MLP(2, [16, 16, 1], "relu")` (or micrograd's MLP), written as in micrograd's demo."""
    X, Y = notebook_data()
    if library == "valuegrad":
        import nn
        from engine import Value

        model: Any = nn.MLP(2, [16, 16, 1], activation="relu")
    else:
        from micrograd.engine import Value  # type: ignore[no-redef]
        from micrograd.nn import MLP

        random.seed(0)
        model = MLP(2, [16, 16, 1])

    def step() -> None:
        preds = [model(list(x)) for x in X]
        loss = sum(((p - y) ** 2 for p, y in zip(preds, Y)), Value(0.0))
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= LEARNING_RATE * p.grad

    return step


def timed_rounds(steps: dict[str, Callable[[], None]], rounds: int, per_round: int, naive: bool) -> dict[str, list]:
    """Seconds per step of each library, one value per round; libraries alternate their order round by round."""
    for step in steps.values():
        step()
    if not naive:
        gc.collect()
        gc.freeze()  # the libraries' modules and models are not garbage: no collection needs to look at them
    times: dict[str, list[float]] = {name: [] for name in steps}
    names = list(steps)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            if not naive:
                gc.collect()  # the other library's garbage is collected now, not on this one's clock
            start = time.perf_counter()
            for _ in range(per_round):
                steps[name]()
            if not naive:
                gc.collect()  # ... and this library's own garbage on its own clock
            times[name].append((time.perf_counter() - start) / per_round)
    if not naive:
        gc.unfreeze()
    return times


def ratio(times: dict[str, list[float]], ours: str, peer: str) -> float:
    return statistics.median(p / o for o, p in zip(times[ours], times[peer]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--naive", action="store_true", help="no gc.collect() in the timing (see the docstring)")
    args = parser.parse_args()
    rounds, per_round = (3, 5) if args.quick else (7, 10)
    print(f"One process, wall clock, {rounds} rounds of {per_round} steps{' (naive: no gc.collect)' * args.naive}")
    results: dict[str, tuple[float, str]] = {}
    elementary = {lib: elementary_step(lib)[0] for lib in ("valuegrad", "micrograd", "torch")}  # as make bench runs it
    times = timed_rounds(elementary, rounds, per_round, args.naive)
    for peer in ("micrograd", "torch"):
        results[f"elementary graph vs {peer}"] = (
            ratio(times, "valuegrad", peer),
            f"valuegrad {statistics.median(times['valuegrad']) * 1e3:.1f} ms, "
            f"{peer} {statistics.median(times[peer]) * 1e3:.1f} ms",
        )
    times = timed_rounds({lib: nn_step(lib) for lib in ("valuegrad", "micrograd")}, rounds, per_round, args.naive)
    results["nn step vs micrograd"] = (
        ratio(times, "valuegrad", "micrograd"),
        f"valuegrad {statistics.median(times['valuegrad']) * 1e3:.1f} ms, "
        f"micrograd {statistics.median(times['micrograd']) * 1e3:.1f} ms",
    )
    ours, theirs = (bytes_per_node(lib)["bytes_per_node"] for lib in ("valuegrad", "micrograd"))
    results["memory per node vs micrograd"] = (theirs / ours, f"valuegrad {ours:.0f} B, micrograd {theirs:.0f} B")
    for name, (value, detail) in results.items():
        goal = GOALS[name]
        verdict = "INFO" if goal is None else "PASS" if value >= goal else "FAIL"
        print(f"{verdict}  {name}: {detail}; {value:.1f}x (goal {'reported' if goal is None else f'>= {goal:g}x'})")
    depth = {n: min(chain_backward("valuegrad", n)["backward"] for _ in range(3)) for n in DEPTHS[:2]}
    small, large = depth[DEPTHS[0]], depth[DEPTHS[1]]
    verdict = "PASS" if large / small <= 5.0 else "FAIL"
    print(f"{verdict}  backward depth 4*10^5 vs 10^5: {large * 1e3:.0f} ms vs {small * 1e3:.0f} ms, "
          f"{large / small:.1f}x the time for 4x the depth (goal <= 5x)")  # fmt: skip


if __name__ == "__main__":
    main()
