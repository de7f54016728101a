"""The judges of bench.py's measured cases: each turns its workers' measurements into report rows and extra lines.

A judge receives {side: [one result per round]} (cases.Measured) and returns a report.Outcome.
"""

from __future__ import annotations

from typing import Any

from report import Outcome, Row, ms

Results = dict[str, list[dict[str, Any]]]
MOVING_GOAL = 100.0  # ns per parameter per step: zero_grad, reading .data and adding the gradients back, together
PARAMETER_GOAL = 300.0  # ns per parameter: MicroGPT's model.parameters(), and model.zero_grad(), each (issue 24)
MEMORY_GOAL = 160.0  # bytes per node
MEMORY_RATIO_GOAL = 4.0  # times fewer bytes per node than micrograd
DEPTH_GOAL = 5.0  # backward through 4x the depth: at most this many times the time
RECORDED = {  # the recording cases: what each one records
    "batch1000": "2-16-16-1, 1,000 samples",
    "digits": "digits 64-32-10, 1,437 samples",
    "attention": "synthetic attention, 32 documents",
}


def moving_parameters(results: Results) -> Outcome:
    moving = results["vectorize"][0]
    per_parameter = moving["zero_grad"] + moving["read"] + moving["add"]
    row = Row(
        "vectorize, moving the parameters of 784-128-10 (zero_grad, reading .data, adding gradients back)",
        f"{per_parameter:.0f} ns per parameter",
        f"{moving['parameters']:,} parameters: {ms(per_parameter * moving['parameters'] * 1e-9)} per step",
        f"{per_parameter:.0f} ns",
        f"<= {MOVING_GOAL:g} ns per parameter",
        per_parameter <= MOVING_GOAL,
    )
    extra = (
        f"moving the parameters, per parameter per step: model.zero_grad() {moving['zero_grad']:.0f} ns, "
        f"reading .data {moving['read']:.0f} ns, adding the gradients to .grad {moving['add']:.0f} ns; "
        f"an optimizer's zero_grad() (nn.SGD's list of the parameters) {moving['optimizer_zero_grad']:.0f} ns"
    )
    return Outcome([row], [extra])


def parameter_traffic(build: str, results: Results) -> Outcome:
    """MicroGPT's `model.parameters()` and `model.zero_grad()`, per parameter, on one build of the core."""
    traffic = results["valuegrad"][0]
    ran = "compiled" if traffic["compiled"] else "interpreted"
    if ran != build:  # the environment asked for one build and the worker ran the other: say so, judge nothing
        return Outcome(extra=[f"MicroGPT parameter traffic: asked for the {build} core, the worker ran the {ran} one"])
    rows = [
        Row(
            f"MicroGPT's model.{call}() per parameter, core {build}",
            f"{traffic[call]:.0f} ns per parameter",
            f"{traffic['count']:,} parameters: {ms(traffic[call] * traffic['count'] * 1e-9)} a call",
            f"{traffic[call]:.0f} ns",
            f"<= {PARAMETER_GOAL:g} ns per parameter",
            traffic[call] <= PARAMETER_GOAL,
        )
        for call in ("parameters", "zero_grad")
    ]
    return Outcome(rows)


def profile(results: Results) -> Outcome:
    return Outcome(extra=results["vectorize"][0]["lines"])


def elementary_attention(results: Results) -> Outcome:
    style = results["vectorize"][0]
    documents = style["documents"]
    speedup = style["document"] * documents / style["step"]
    return Outcome(
        extra=[
            f"synthetic attention with every dot product a sum of products (as microgpt.py): "
            f"{style['nodes']:,} scalar nodes per document became {style['batched_nodes']} batched "
            f"nodes; first call (recording, grouping, one replay) {style['first_call']:.1f} s; a vectorize step "
            f"over {documents} documents {ms(style['step'])}, one document on the scalar path "
            f"{ms(style['document'])}: {speedup:.0f}x the tokens per second"
        ]
    )


def recording(results: Results) -> Outcome:
    outcome = Outcome()
    for name, net in RECORDED.items():
        cost = results[name][0]
        share = cost["record"] / cost["scalar_pass"]
        outcome.rows.append(
            Row(
                f"vectorize, recording fn once ({net}) vs one scalar forward pass over the batch",
                ms(cost["record"]),
                f"scalar forward pass {ms(cost['scalar_pass'])}",
                f"{share:.3f}x the time",
                "<= 1x the time",
                share <= 1.0,
            )
        )
        outcome.extra.append(
            f"recording ({net}): {ms(cost['record'])}, a single sample's scalar forward pass "
            f"{ms(cost['one_sample'])}; {cost['nodes']:,} scalar nodes (leaves included) became "
            f"{cost['batched_nodes']} batched nodes"
        )
    return outcome


def memory(results: Results) -> Outcome:
    ours, micrograd = (results[engine][0]["bytes_per_node"] for engine in ("valuegrad", "micrograd"))
    fewer = micrograd / ours
    return Outcome(
        [
            Row(
                "memory per node vs micrograd",
                f"{ours:.0f} B",
                f"micrograd {micrograd:.0f} B",
                f"{fewer:.1f}x",
                f">= {MEMORY_RATIO_GOAL:g}x fewer bytes",
                fewer >= MEMORY_RATIO_GOAL,
            ),
            Row(
                "memory per node",
                f"{ours:.0f} B",
                "no peer",
                f"{ours:.0f} B",
                f"<= {MEMORY_GOAL:g} B",
                ours <= MEMORY_GOAL,
            ),
        ]
    )


def depth(results: Results) -> Outcome:
    """Backward through chains of each depth: the fastest of the rounds (timing noise only ever adds), since this
    is about how the algorithm scales, not a comparison with a peer."""
    rounds = len(next(iter(results.values())))
    fastest = {int(n): {key: min(run[key] for run in runs) for key in ("build", "backward")}
               for n, runs in results.items()}  # fmt: skip
    small, middle, large = (fastest[n]["backward"] for n in sorted(fastest))
    row = Row(
        "backward depth 4*10^5 vs 10^5",
        f"{ms(middle)} vs {ms(small)}",
        "no peer",
        f"{middle / small:.1f}x the time for 4x the depth (fastest of {rounds})",
        f"<= {DEPTH_GOAL:g}x",
        middle / small <= DEPTH_GOAL,
    )
    extra = [
        f"chain of {n:,} operations: backward {ms(d['backward'])} ({d['backward'] / n * 1e9:.0f} ns/node), "
        f"build {ms(d['build'])} ({d['build'] / n * 1e9:.0f} ns/node), fastest of {rounds}"
        for n, d in sorted(fastest.items())
    ]
    extra.append(f"10^6 vs 10^5 backward: {large / small:.1f}x the time for 10x the depth")
    return Outcome([row], extra)


def micrograd_depth(results: Results) -> Outcome:
    (length,) = results
    run = results[length][0]
    return Outcome(extra=[f"micrograd backward on a chain of {int(length):,}: {run.get('failed', 'ran')}"])
