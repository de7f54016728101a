"""bench.py's table of cases and its harness: a ratio is read the way its goal says, every goal of the issues is in
the table, and a worker serves one side of one case by name.

No timing is asserted: the samples below are made up (Comparison), or only checked to be times.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
import cases  # noqa: E402
import harness  # noqa: E402
from report import Row  # noqa: E402


def samples(ours: list[float], peer: list[float], **info: object) -> harness.Comparison:
    """Made-up alternating samples: CPU seconds per step of each side, pair by pair (wall clock the same)."""
    return harness.Comparison(
        [{"cpu": t, "wall": t} for t in ours], [{"cpu": t, "wall": t} for t in peer], dict(info), dict(info)
    )


def case(goal: cases.Goal, **fields: object) -> cases.Timed:
    def step() -> tuple[harness.Step, dict]:
        return lambda: None, {}

    return cases.Timed("made-up", "a step", step, "a peer", step, goal, **fields)  # type: ignore[arg-type]


def row(outcome: object) -> Row:
    (only,) = outcome.rows  # type: ignore[attr-defined]
    assert isinstance(only, Row)
    return only


def test_a_speed_up_is_peer_time_over_ours_and_its_median_over_pairs() -> None:
    result = samples([0.001, 0.001, 0.002], [0.010, 0.012, 0.010])  # pair ratios 10, 12, 5: median 10
    assert row(case(cases.faster(9.0)).outcome(result)).cells() == [
        "a step vs a peer",
        "1.0 ms",
        "a peer 10.0 ms",
        "10.0x [5.00-12.0], 3 pairs",
        ">= 9x faster",
        "PASS",
    ]
    assert row(case(cases.faster(11.0)).outcome(result)).verdict == "FAIL"
    assert row(case(cases.faster()).outcome(result)).verdict == "INFO"


def test_a_time_goal_is_our_time_over_the_peers() -> None:
    result = samples([0.003, 0.004, 0.005], [0.002, 0.002, 0.002])  # ours / peer: 1.5, 2, 2.5
    judged = row(case(cases.within(2.2)).outcome(result))
    assert judged.ratio == "2.00x the time [1.50-2.50], 3 pairs" and judged.goal == "<= 2.2x the time"
    assert judged.verdict == "PASS"
    assert row(case(cases.within(1.8)).outcome(result)).verdict == "FAIL"


def test_per_token_figures_are_tokens_per_second() -> None:
    result = samples([0.01], [1.0], real_tokens=240, names=32)
    judged = row(case(cases.faster(100.0, "the tokens per second"), per_token=True, short="slow").outcome(result))
    assert judged.valuegrad == "24,000 tokens/s" and judged.peer == "slow 240 tokens/s (31.2 ms per name)"
    assert judged.ratio.startswith("100x") and judged.verdict == "PASS"


def test_the_issues_goals_are_in_the_table() -> None:
    """Issue 17's and 16's goals, and issue 24's; the collector-on nn step against micrograd is reported only."""
    goals = {c.name: (c.goal.bound, c.goal.at_most) for c in cases.CASES if isinstance(c, cases.Timed)}
    assert goals["elementary-micrograd"] == (10.0, False) and goals["elementary-torch"] == (5.0, False)
    assert goals["gpt-tuple-value"] == (3.0, False)
    assert goals["elementary-micrograd-gc-off"] == (3.0, False) and goals["nn-micrograd-gc-off"] == (6.0, False)
    assert goals["nn-micrograd"] == (None, False)
    assert goals["batch1000-numpy"] == goals["digits-numpy"] == (2.0, True)
    assert goals["mnist4096-numpy"] == (1.5, True) and goals["batch50-scalar"] == (5.0, False)
    assert goals["microgpt-scalar-elementary"] == (100.0, False)
    assert goals["microgpt-torch-float64-256"] == (1.0, False) and goals["microgpt-torch-float64-32"] == (0.7, False)
    assert goals["microgpt-torch-float32-256"] == goals["microgpt-torch-float32-32"] == (None, False)
    assert goals["microgpt-hand-numpy-256"] == goals["microgpt-hand-numpy-32"] == (None, True)
    assert goals["microgpt-elementary-fused"] == (0.8, False)
    assert {c.name for c in cases.CASES} >= {"moving", "record", "memory", "depth"}
    builds = {c.name: dict(c.env) for c in cases.CASES if c.name.startswith("microgpt-parameters")}
    interpreted = {"VALUEGRAD_INTERPRETED": "1"}
    assert builds == {"microgpt-parameters-compiled": {}, "microgpt-parameters-interpreted": interpreted}
    assert len(cases.BY_NAME) == len(cases.CASES)  # a worker finds its case by name


def test_a_case_or_a_side_that_does_not_exist_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown benchmark case 'nope': expected one of elementary-micrograd, "):
        cases.find("nope")
    with pytest.raises(ValueError, match=r"case 'batch50-scalar' has the sides 'ours' and 'peer', not 'theirs'"):
        cases.find("batch50-scalar").serve("theirs", gc_enabled=True)
    with pytest.raises(ValueError, match=r"case 'memory' measures 'valuegrad', 'micrograd', not 'torch'"):
        cases.find("memory").serve("torch", gc_enabled=True)


def test_a_worker_serves_one_side_of_a_case_by_name() -> None:
    worker = subprocess.run(
        [sys.executable, str(BENCHMARKS / "bench.py"), "--worker", "batch50-scalar", "ours"],
        input="sample\nquit\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert worker.returncode == 0, worker.stderr
    ready, sample = (json.loads(line) for line in worker.stdout.splitlines())
    assert ready["ready"] and ready["repeats"] >= 1
    assert sample.keys() == {"cpu", "wall"} and 0 < sample["cpu"] < 1 and 0 < sample["wall"] < 10


def test_microgpts_parameter_traffic_is_judged_per_parameter_on_the_build_that_ran() -> None:
    import measured
    import microgpt_bench

    import engine

    traffic = microgpt_bench.parameter_traffic(rounds=1, calls=1)
    assert traffic["count"] == 4192 and traffic["compiled"] == engine.COMPILED
    assert traffic["parameters"] > 0 and traffic["zero_grad"] > 0
    made_up = {"parameters": 250.0, "zero_grad": 350.0, "count": 4192, "compiled": True}
    rows = measured.parameter_traffic("compiled", {"valuegrad": [made_up]}).rows
    assert [(r.benchmark, r.verdict) for r in rows] == [  # type: ignore[union-attr]
        ("MicroGPT's model.parameters() per parameter, core compiled", "PASS"),
        ("MicroGPT's model.zero_grad() per parameter, core compiled", "FAIL"),
    ]
    mismatch = measured.parameter_traffic("interpreted", {"valuegrad": [made_up]})
    assert not mismatch.rows and "asked for the interpreted core, the worker ran the compiled one" in mismatch.extra[0]


def test_the_export_cases_wait_for_to_torch_with_their_reason() -> None:
    """Issue 25's place in the table: until engine.vectorize(fn).to_torch exists, its cases are skipped, saying why."""
    import microgpt_bench

    import engine

    if hasattr(engine.Vectorized, "to_torch"):  # the export exists: its step runs
        step, info = microgpt_bench.step("export-float64", 4)
        step()
        assert info["names"] == 4
        return
    with pytest.raises(harness.Unavailable, match=r"to_torch is not there yet \(issue 25\)"):
        microgpt_bench.step("export-float64", 4)
    (skipped,) = cases.find("microgpt-export-float32-32").run(pairs=1, rounds=1).rows
    assert skipped.cells()[-1] == "SKIP" and "issue 25" in skipped.cells()[2]
