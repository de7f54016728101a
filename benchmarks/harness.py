"""How bench.py measures: each workload in a worker process of its own, driven line by line from the parent.

- A worker sets up one side of one case (a workload: a step to time, or a measurement), then answers one JSON
  line per command read from stdin: `sample` (time one sample of the step), `measure` (run the measurement),
  `quit`. Every engine's garbage stays in its own process.
- A sample is one step for a slow engine; a fast engine repeats its step until the sample lasts about
  SAMPLE_SECONDS, so both sides are timed over comparable stretches and the same garbage collections.
- `compare` alternates one sample of ours with one of the peer (ours first in even pairs, the peer first in odd
  ones), so drift of the machine hits both; the ratio reported is the median over pairs, with the
  interquartile range to show the noise.
- Times are the worker's CPU time (every engine computes on the calling thread, so on an idle machine it equals
  the wall-clock time; on a shared one it leaves out the time other programs hold the core); wall-clock time is
  kept too.
- Every worker runs with one BLAS thread (ONE_THREAD in its environment).
"""

from __future__ import annotations

import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Step = Callable[[], None]
Workload = Callable[[], tuple[Step, dict[str, Any]]]  # sets up a step to time, and facts about it
Measure = Callable[[], dict[str, Any]]  # measures once, in a worker of its own

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(__file__).resolve().with_name("bench.py")  # what a worker process runs: `bench.py --worker ...`
SAMPLE_SECONDS = 0.2
# One BLAS thread everywhere: every engine here computes on one thread, and tiny matrix products only lose
# time to threads on a 2-core machine that is also running the other worker.
ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


class Unavailable(Exception):
    """A workload that cannot run here (a feature not there yet, torch.compile failing): reported, not an error."""


# --- the worker side -----------------------------------------------------------------------------------------------


def page_faults(step: Step, repeats: int = 10) -> float:
    """Minor page faults per step (the kernel handing back memory the allocator returned to it)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(repeats):
        step()
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / repeats


def serve_step(workload: Workload, gc_enabled: bool, count_page_faults: bool = False) -> None:
    """Worker: set up `workload`, size its samples, then answer `sample` commands until `quit`."""
    sys.path.insert(0, str(ROOT))  # measure this working tree, installed or not
    if not gc_enabled:
        gc.disable()
    try:
        step, info = workload()
    except Unavailable as reason:
        _answer({"ready": False, "unavailable": str(reason)})
        return
    step()  # warm up (a vectorized function records now), then size a sample so fast engines are not timed on ms
    start = time.process_time()
    step()
    repeats = max(1, math.ceil(SAMPLE_SECONDS / max(time.process_time() - start, 1e-9)))
    info["repeats"] = repeats
    if count_page_faults:
        info["page_faults"] = page_faults(step)
    _answer({"ready": True, **info})
    for command in _commands():
        if command != "sample":
            _answer({"error": f"unknown command {command!r} for a step"})
            continue
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(repeats):
            step()
        _answer({"cpu": (time.process_time() - cpu) / repeats, "wall": (time.perf_counter() - wall) / repeats})
        if not gc_enabled:
            gc.collect()  # outside the timing, so that memory does not pile up


def serve_measure(measure: Measure) -> None:
    """Worker: answer each `measure` command with one run of `measure` until `quit`."""
    sys.path.insert(0, str(ROOT))
    _answer({"ready": True})
    for command in _commands():
        _answer(measure() if command == "measure" else {"error": f"unknown command {command!r} for a measurement"})


def _commands() -> Any:
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            return
        yield command


def _answer(answer: Mapping[str, Any]) -> None:
    print(json.dumps(answer), flush=True)


# --- the parent side -----------------------------------------------------------------------------------------------


class Worker:
    """A worker process running one side of one case, driven line by line."""

    def __init__(self, case: str, side: str, gc_enabled: bool = True, env: Mapping[str, str] | None = None) -> None:
        command = [sys.executable, str(SCRIPT), "--worker", case, side]
        if not gc_enabled:
            command.append("--no-gc")
        self.name = f"{side} ({case})"
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **ONE_THREAD, **(env or {})},
        )
        self.info = self._read()

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} died (exit code {self.process.wait()}); see its error above")
        return json.loads(line)

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        answer = self._read()
        if "error" in answer:
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


def quartiles(values: list[float]) -> tuple[float, float]:
    """First and third quartile (the extremes when there are fewer than 4 values)."""
    if len(values) < 4:
        return min(values), max(values)
    low, _, high = statistics.quantiles(values, n=4)
    return low, high


@dataclass
class Comparison:
    """Alternating samples of ours and a peer, {"cpu": seconds, "wall": seconds} per step, one per pair; and what
    each worker said about its side when it was ready (`info`, `peer_info`)."""

    ours: list[dict[str, float]] = field(default_factory=list)
    peer: list[dict[str, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    peer_info: dict[str, Any] = field(default_factory=dict)

    def ratios(self, clock: str = "cpu") -> list[float]:
        """Peer time / our time, pair by pair."""
        return [p[clock] / o[clock] for o, p in zip(self.ours, self.peer)]

    def time(self, side: str, clock: str = "cpu") -> float:
        """The median seconds per step of `side` ("ours" or "peer")."""
        return statistics.median(sample[clock] for sample in getattr(self, side))

    @property
    def pairs(self) -> int:
        return len(self.ours)


def compare(case: str, pairs: int, gc_enabled: bool = True) -> Comparison:
    """Alternate samples of the two sides of `case` ("ours" and "peer") for `pairs` pairs.

    Raises Unavailable when either side cannot run here.
    """
    result = Comparison()
    with Worker(case, "ours", gc_enabled) as ours, Worker(case, "peer", gc_enabled) as theirs:
        for worker in (ours, theirs):
            if not worker.info["ready"]:
                raise Unavailable(worker.info["unavailable"])
        theirs.ask("sample")  # one more warm-up each, now that both are set up
        ours.ask("sample")
        for i in range(pairs):
            first, second = (ours, theirs) if i % 2 == 0 else (theirs, ours)
            a, b = first.ask("sample"), second.ask("sample")
            result.ours.append(a if first is ours else b)
            result.peer.append(b if first is ours else a)
    result.info, result.peer_info = ours.info, theirs.info
    return result


def measure(case: str, side: str, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """One run of a measurement, in a fresh worker."""
    with Worker(case, side, env=env) as worker:
        return worker.ask("measure")
