"""What `make bench` measures: a table of cases, each a name, a workload, a peer and a goal, in the report's order.

Two kinds of case:

- `Timed`: our workload and a peer's (micrograd, PyTorch, hand-written numpy, our own scalar path), each
  in a worker process of its own, timed in alternating pairs (harness.py). Its goal bounds the median
  ratio: at least `bound` times as fast (peer time / our time), or at most `bound` times the time
  (our time / peer time); a goal without a bound is reported only.
- `Measured`: measurements that are not a pair of steps (bytes per node, backward through deep chains,
  the cost of recording, moving parameters), each side in a fresh worker; `judge` turns them into rows.

bench.py runs the table; report.py prints and writes what the cases return. The workloads live in
scalar_workloads.py, batch_workloads.py and microgpt_bench.py; the judges of the measured cases in
measured.py.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import batch_workloads as batch
import harness
import measured
import microgpt_bench as microgpt
import scalar_workloads as scalar
from harness import Comparison, Measure, Unavailable, Workload
from report import Outcome, Row, Skipped, ms, spread, times


@dataclass(frozen=True)
class Goal:
    """A bound on a case's ratio: at least `bound` (peer time / our time), or with `at_most` at most `bound` (our
    time / peer time). `bound` None: the ratio is reported, without a goal. `words` say what the ratio is."""

    bound: float | None = None
    at_most: bool = False
    words: str = "faster"

    def text(self) -> str:
        if self.bound is None:
            return "reported"
        return f"{'<=' if self.at_most else '>='} {self.bound:g}x {self.words}"

    def met(self, ratio: float) -> bool | None:
        if self.bound is None:
            return None
        return ratio <= self.bound if self.at_most else ratio >= self.bound


def faster(bound: float | None = None, words: str = "faster") -> Goal:
    return Goal(bound, False, words)


def within(bound: float | None = None) -> Goal:
    return Goal(bound, True, "the time")


def _no_notes(case: Timed, result: Comparison) -> list[str]:
    return []


@dataclass(frozen=True)
class Timed:
    """Our workload against a peer's, in alternating pairs. `per_token`: the figures in real tokens per second
    (the workers' `real_tokens`); `max_pairs`: fewer pairs for slow steps; `gc`: the cyclic collector."""

    name: str
    title: str
    ours: Workload
    peer_title: str
    peer: Workload
    goal: Goal
    gc: bool = True
    max_pairs: int | None = None
    per_token: bool = False
    page_faults: bool = False
    notes: Callable[[Timed, Comparison], list[str]] = _no_notes
    short: str = ""  # how the peer's column names the peer, when its title is long

    @property
    def peer_name(self) -> str:
        return self.short or self.peer_title

    @property
    def benchmark(self) -> str:
        return f"{self.title} vs {self.peer_title}" + ("" if self.gc else ", cyclic collector off in both")

    def run(self, pairs: int, rounds: int) -> Outcome:
        pairs = min(pairs, self.max_pairs or pairs)
        try:
            result = harness.compare(self.name, pairs, self.gc)
        except Unavailable as reason:
            return Outcome([Skipped(self.benchmark, str(reason), self.goal.text())])
        return self.outcome(result)

    def outcome(self, result: Comparison) -> Outcome:
        """The row of alternating samples against the goal, and the notes about them."""
        pairs = result.pairs
        ratios = [1.0 / r for r in result.ratios()] if self.goal.at_most else result.ratios()
        ratio, (low, high) = statistics.median(ratios), harness.quartiles(ratios)
        words = f" {self.goal.words}" if self.goal.at_most else ""
        ours, peer = result.time("ours"), result.time("peer")
        if self.per_token:
            tokens, names = result.info["real_tokens"], result.info["names"]
            ours_text = f"{tokens / ours:,.0f} tokens/s"
            peer_text = f"{tokens / peer:,.0f} tokens/s ({ms(peer / names)} per name)"
        else:
            ours_text, peer_text = ms(ours), ms(peer)
        row = Row(
            self.benchmark,
            ours_text,
            f"{self.peer_name} {peer_text}",
            f"{times(ratio)}{words} [{spread(low, high)}], {pairs} pairs",
            self.goal.text(),
            self.goal.met(ratio),
        )
        return Outcome([row], self.notes(self, result))

    def serve(self, side: str, gc_enabled: bool) -> None:
        if side not in ("ours", "peer"):
            raise ValueError(f"case {self.name!r} has the sides 'ours' and 'peer', not {side!r}")
        harness.serve_step(self.ours if side == "ours" else self.peer, gc_enabled, self.page_faults)


@dataclass(frozen=True)
class Measured:
    """Measurements, one fresh worker per side (`measures`); `repeat`: every side once per round, in a rotating
    order, over the run's rounds; `env`: the workers' environment (VALUEGRAD_INTERPRETED=1: the core's source)."""

    name: str
    measures: Mapping[str, Measure]
    judge: Callable[[dict[str, list[dict[str, Any]]]], Outcome]
    repeat: bool = False
    env: Mapping[str, str] = field(default_factory=dict)

    def run(self, pairs: int, rounds: int) -> Outcome:
        sides = list(self.measures)
        results: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for r in range(rounds if self.repeat else 1):
            for side in sides[r % len(sides) :] + sides[: r % len(sides)]:
                results[side].append(harness.measure(self.name, side, self.env))
        return self.judge(results)

    def serve(self, side: str, gc_enabled: bool) -> None:
        if side not in self.measures:
            raise ValueError(f"case {self.name!r} measures {', '.join(map(repr, self.measures))}, not {side!r}")
        harness.serve_measure(self.measures[side])


Case = Timed | Measured


# --- notes: extra lines about a timed case ---------------------------------------------------------------------


def wall_clock(case: Timed, result: Comparison) -> list[str]:
    ratios = result.ratios("wall")
    low, high = harness.quartiles(ratios)
    return [
        f"wall clock, {case.benchmark}: valuegrad {ms(result.time('ours', 'wall'))}, {case.peer_name} "
        f"{ms(result.time('peer', 'wall'))}, ratio {statistics.median(ratios):.1f}x [{low:.1f}-{high:.1f}], "
        f"{result.pairs} pairs"
    ]


def nodes_and_wall_clock(case: Timed, result: Comparison) -> list[str]:
    nodes = f"elementary graph: {result.info['nodes']:,} nodes per pass (leaves included), {scalar.SAMPLES} samples"
    return [nodes, *wall_clock(case, result)]


def page_faults(case: Timed, result: Comparison) -> list[str]:
    return [
        f"page faults per step, {case.title}: vectorize {result.info['page_faults']:.0f}, "
        f"hand-written numpy {result.peer_info['page_faults']:.0f}"
    ]


def attention_tokens(case: Timed, result: Comparison) -> list[str]:
    tokens = result.info["tokens"]
    return [
        f"{case.title} {tokens} real tokens per step: vectorize {tokens / result.time('ours'):,.0f} tokens/s, "
        f"scalar path (document by document, fused linear) {tokens / result.time('peer'):,.0f} tokens/s"
    ]


# --- the table -----------------------------------------------------------------------------------------------------


def _microgpt(way: str, names: int = microgpt.BATCH_SIZE) -> Workload:
    return partial(microgpt.step, way, names)


def _against(peer: str, title: str, names: int, goal: Goal) -> Timed:
    """demos.microgpt's batched step through vectorize against another way (microgpt_bench.WAYS) on the same names."""
    numpy = peer == "hand-numpy"
    return Timed(
        f"microgpt-{peer}-{names}",
        MICROGPT.format(names),
        _microgpt("vectorize", names),
        title,
        _microgpt(peer, names),
        goal,
        page_faults=numpy,
        notes=page_faults if numpy else _no_notes,
    )


ELEMENTARY = "elementary graph"
NN_STEP = "nn step"
GPT = f"GPT-shaped workload (microgpt's model, {scalar.GPT_NAMES} names one at a time, elementary * and +)"
MICROGPT = "vectorize, microgpt over {} names"
MLPS = {
    "batch1000": "vectorize, 2-16-16-1 over 1,000 samples,",
    "digits": "vectorize, digits 64-32-10 over 1,437 samples, integer labels,",
    "mnist4096": "vectorize, 784-128-10 over 4,096 samples, integer labels,",
    "mnist1024": "vectorize, 784-128-10 over 1,024 samples, integer labels,",
    "mnist256": "vectorize, 784-128-10 over 256 samples, integer labels,",
}
MLP_GOALS = {"batch1000": 2.0, "digits": 2.0, "mnist4096": 1.5, "mnist1024": None, "mnist256": None}


CASES: list[Case] = [
    # the scalar engines (issue 17): the same code on valuegrad, micrograd, PyTorch scalars, a microgpt-style Value;
    # the nn step's goal with the collector on (40x) is retired, as micrograd's collector moves it: reported
    Timed("elementary-micrograd", ELEMENTARY, partial(scalar.elementary_step, "valuegrad"), "micrograd",
          partial(scalar.elementary_step, "micrograd"), faster(10.0), notes=nodes_and_wall_clock),
    Timed("elementary-torch", ELEMENTARY, partial(scalar.elementary_step, "valuegrad"), "torch",
          partial(scalar.elementary_step, "torch"), faster(5.0), notes=wall_clock),
    Timed("nn-micrograd", NN_STEP, scalar.valuegrad_nn_step, "micrograd", scalar.micrograd_nn_step, faster(),
          notes=wall_clock),
    Timed("gpt-tuple-value", GPT, partial(scalar.gpt_step, "valuegrad"), "tuple-value",
          partial(scalar.gpt_step, "tuple-value"), faster(3.0), notes=wall_clock),
    # engine.vectorize (issue 16) against hand-written numpy and against our own scalar path
    *(Timed(f"{name}-numpy", MLPS[name], partial(batch.vectorize_step, name), "hand-written numpy",
            partial(batch.hand_numpy_step, name), within(goal), page_faults=True, notes=page_faults)
      for name, goal in MLP_GOALS.items()),
    Timed("batch50-scalar", "vectorize, 2-16-16-1 over 50 samples,", partial(batch.vectorize_step, "batch50"),
          "scalar path", partial(batch.scalar_path_step, "batch50"), faster(5.0)),
    Timed("attention-scalar", f"vectorize, synthetic attention (attention.py) over {batch.ATTENTION_DOCUMENTS} "
          "documents,", batch.attention_vectorize_step, "scalar path", batch.attention_scalar_step, faster(),
          notes=attention_tokens),
    # microgpt (issues 18 and 24): demos.microgpt's GPT, forward and backward of one batch of names
    Timed("microgpt-scalar-elementary", MICROGPT.format(32) + ", tokens/s,", _microgpt("vectorize"),
          "scalar path as microgpt.py computes (elementary * and +, one name at a time)",
          _microgpt("scalar-elementary"), faster(100.0, "the tokens per second"), max_pairs=7, per_token=True,
          short="elementary"),
    Timed("microgpt-scalar-fused", MICROGPT.format(32) + ", tokens/s,", _microgpt("vectorize"),
          "scalar path with fused linear (one name at a time)", _microgpt("scalar-fused"),
          faster(None, "the tokens per second"), max_pairs=7, per_token=True, short="fused"),
    _against("torch-float64", "PyTorch eager float64", 256, faster(1.0, "as fast")),
    _against("torch-float64", "PyTorch eager float64", 32, faster(0.7, "as fast")),
    _against("torch-float32", "PyTorch eager float32", 256, faster(None, "as fast")),
    _against("torch-float32", "PyTorch eager float32", 32, faster(None, "as fast")),
    _against("hand-numpy", "hand-written numpy", 256, within(None)),  # the PyTorch goal implies <= 1.5x here
    _against("hand-numpy", "hand-written numpy", 32, within(None)),
    Timed("microgpt-elementary-fused", "vectorize, elementary GPT (as microgpt.py writes it) over 32 names",
          _microgpt("vectorize-elementary"), "vectorize on the fused demo model", _microgpt("vectorize"),
          faster(0.8, "the throughput"), short="fused"),
    # issue 25: the vectorized model exported to PyTorch (engine.vectorize(fn).to_torch), against vectorize on the
    # same batches, one thread, reported; the compiled one is skipped, with the reason, where torch.compile fails
    _against("export-float64", "exported to PyTorch (to_torch), float64", 256, faster(None, "as fast")),
    _against("export-float64", "exported to PyTorch (to_torch), float64", 32, faster(None, "as fast")),
    _against("export-float32", "exported to PyTorch (to_torch), float32", 256, faster(None, "as fast")),
    _against("export-float32", "exported to PyTorch (to_torch), float32", 32, faster(None, "as fast")),
    _against("export-compiled", "exported to PyTorch, under torch.compile", 256, faster(None, "as fast")),
    Measured("moving", {"vectorize": partial(batch.moving_parameters, "mnist1024")}, measured.moving_parameters),
    *(Measured(f"microgpt-parameters-{build}", {"valuegrad": microgpt.parameter_traffic},
               partial(measured.parameter_traffic, build), env=env)
      for build, env in (("compiled", {}), ("interpreted", {"VALUEGRAD_INTERPRETED": "1"}))),
    Measured("microgpt-profile", {"vectorize": lambda: {"lines": microgpt.profile()}}, measured.profile),
    Measured("elementary-attention", {"vectorize": batch.elementary_attention}, measured.elementary_attention),
    Measured("record", {name: partial(batch.recording_cost, name) for name in measured.RECORDED},
             measured.recording),
    Measured("memory", {engine: partial(scalar.bytes_per_node, engine) for engine in ("valuegrad", "micrograd")},
             measured.memory),
    Measured("depth", {str(n): partial(scalar.chain_backward, "valuegrad", n) for n in scalar.DEPTHS},
             measured.depth, repeat=True),
    Measured("micrograd-depth", {str(scalar.DEPTHS[0]): partial(scalar.chain_backward, "micrograd", scalar.DEPTHS[0])},
             measured.micrograd_depth),
    # the cost per node without micrograd's cycles: the cyclic collector off in both workers
    Timed("elementary-micrograd-gc-off", ELEMENTARY, partial(scalar.elementary_step, "valuegrad"), "micrograd",
          partial(scalar.elementary_step, "micrograd"), faster(3.0), gc=False, max_pairs=7),
    Timed("nn-micrograd-gc-off", NN_STEP, scalar.valuegrad_nn_step, "micrograd", scalar.micrograd_nn_step,
          faster(6.0), gc=False, max_pairs=7),
    Timed("gpt-tuple-value-gc-off", GPT, partial(scalar.gpt_step, "valuegrad"), "tuple-value",
          partial(scalar.gpt_step, "tuple-value"), faster(), gc=False, max_pairs=7),
]  # fmt: skip
BY_NAME = {case.name: case for case in CASES}


def find(name: str) -> Case:
    if name not in BY_NAME:
        raise ValueError(f"unknown benchmark case {name!r}: expected one of {', '.join(BY_NAME)}")
    return BY_NAME[name]
