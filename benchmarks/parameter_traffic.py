"""Listing and clearing a model's parameters: `model.parameters()` and `model.zero_grad()` on demos.microgpt's MicroGPT.

    .venv/bin/python benchmarks/parameter_traffic.py               # the compiled core
    VALUEGRAD_INTERPRETED=1 .venv/bin/python benchmarks/parameter_traffic.py   # the core's Python source

A PyTorch habit calls both at every training step, so each must cost little beside the step itself: the
goal (issue 24) is at most 0.3 microseconds per parameter for each, in both builds. The time is CPU time
(`time.process_time`), the median over rounds, divided by the number of parameters (4,192).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # measure this working tree

GOAL = 0.3  # microseconds per parameter, for parameters() and for zero_grad() each


def parameter_traffic(rounds: int = 51, calls: int = 10) -> dict[str, float]:
    """Microseconds per parameter of `model.parameters()` and of `model.zero_grad()` on MicroGPT (medians of
    `rounds` rounds of `calls` calls each), and the number of parameters."""
    from demos.microgpt import MicroGPT

    model = MicroGPT(seed=0)
    count = len(model.parameters())

    def per_parameter(call: Callable[[], object]) -> float:
        times = []
        for _ in range(rounds):
            start = time.process_time()
            for _ in range(calls):
                call()
            times.append(time.process_time() - start)
        return statistics.median(times) / calls / count * 1e6

    return {
        "parameters_us": per_parameter(model.parameters),
        "zero_grad_us": per_parameter(model.zero_grad),
        "parameters": float(count),
    }


if __name__ == "__main__":
    import engine

    result = parameter_traffic()
    build = "compiled" if engine.COMPILED else "interpreted"
    print(
        f"MicroGPT, {result['parameters']:.0f} parameters, {build} core: "
        f"parameters() {result['parameters_us']:.3f} us, zero_grad() {result['zero_grad_us']:.3f} us per parameter "
        f"(goal: at most {GOAL:g} us each)"
    )
