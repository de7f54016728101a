"""valuegrad against micrograd, PyTorch and hand-written numpy: what `make bench` runs.

    python benchmarks/bench.py [--quick] [--output benchmarks/results.md]

The cases are a table (cases.py: each a name, a workload, a peer and a goal); harness.py runs each workload
in a worker process of its own and alternates ours with the peer's; report.py prints a line per row as it
is measured and writes benchmarks/results.md. benchmarks/README.md describes every case and its goal.

`bench.py --worker CASE SIDE` is how the harness starts a worker: it serves one side of one case.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import cases
import report

PAIRS = {"full": 21, "quick": 5}  # alternating pairs per timed case (fewer for slow steps: cases.Timed.max_pairs)
ROUNDS = {"full": 7, "quick": 1}  # rounds of the repeated measurements (backward through deep chains)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer pairs, for trying the benchmark out")
    parser.add_argument("--output", type=Path, help="where to write the results (default benchmarks/results.md)")
    parser.add_argument("--only", nargs="+", metavar="CASE", help="run these cases only (names in cases.py); "
                        "results.md is then written only with --output")  # fmt: skip
    parser.add_argument("--worker", nargs=2, metavar=("CASE", "SIDE"), help=argparse.SUPPRESS)
    parser.add_argument("--no-gc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        name, side = args.worker
        cases.find(name).serve(side, gc_enabled=not args.no_gc)
        return

    missing = [peer for peer in ("micrograd", "torch") if importlib.util.find_spec(peer) is None]
    if missing:
        sys.exit(f"bench.py needs {' and '.join(missing)}: run `make bench`, which installs them into benchmarks/.venv")
    selected = [cases.find(name) for name in args.only] if args.only else cases.CASES
    size = "quick" if args.quick else "full"
    host, versions = report.machine(), report.versions()
    print(f"Machine: {host['cpu']}, {host['cores']} cores, {host['python']}, {host['os']}")
    print("Versions: " + ", ".join(f"{p} {v}" for p, v in versions.items()))
    print("Ratios: CPU time, median of alternating pairs [interquartile range].\n")
    started = time.perf_counter()
    results = report.Report()
    for case in selected:
        results.add(case.run(PAIRS[size], ROUNDS[size]))
    results.print_extra()
    print(f"\nTotal time {time.perf_counter() - started:.0f} s")
    output = args.output or (None if args.only else report.ROOT / "benchmarks" / "results.md")
    if output is not None:
        results.write(output, host, versions, quick=args.quick)
        print(f"Wrote {output}")


if __name__ == "__main__":
    main()
