"""What bench.py prints and writes: one line per row as it is measured, then benchmarks/results.md.

A row is one goal or one reported figure: what was measured, valuegrad's figure, the peer's, the ratio,
the goal, and PASS, FAIL, INFO (reported, no goal) or SKIP (could not run here, with the reason). Extra
lines carry what explains the rows (wall-clock ratios, page faults, where the time goes).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Row:
    benchmark: str
    valuegrad: str
    peer: str
    ratio: str
    goal: str
    passed: bool | None  # None: reported, no goal

    @property
    def verdict(self) -> str:
        return "INFO" if self.passed is None else "PASS" if self.passed else "FAIL"

    def cells(self) -> list[str]:
        return [self.benchmark, self.valuegrad, self.peer, self.ratio, self.goal, self.verdict]


@dataclass(frozen=True)
class Skipped:
    """A case that could not run here, and why."""

    benchmark: str
    reason: str
    goal: str

    def cells(self) -> list[str]:
        return [self.benchmark, "not run", self.reason, "", self.goal, "SKIP"]


@dataclass(frozen=True)
class Outcome:
    """What one case adds to the report."""

    rows: list[Row | Skipped] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def times(ratio: float) -> str:
    """A ratio with as many decimals as it needs: 0.47x, 4.36x, 16.2x, 161x."""
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:.1f}x" if ratio < 100 else f"{ratio:.0f}x"


def spread(low: float, high: float) -> str:
    """An interquartile range, with the decimals `times` gives its ends."""
    return f"{times(low)[:-1]}-{times(high)[:-1]}"


class Report:
    """The rows and extra lines of a run, printed as they come."""

    def __init__(self) -> None:
        self.rows: list[Row | Skipped] = []
        self.extra: list[str] = []

    def add(self, outcome: Outcome) -> None:
        for row in outcome.rows:
            self.rows.append(row)
            if isinstance(row, Skipped):
                print(f"SKIP  {row.benchmark}: {row.reason} (goal {row.goal})", flush=True)
            else:
                print(f"{row.verdict}  {row.benchmark}: valuegrad {row.valuegrad}, {row.peer}; ratio {row.ratio} "
                      f"(goal {row.goal})", flush=True)  # fmt: skip
        self.extra.extend(outcome.extra)

    def print_extra(self) -> None:
        print("\nExtra information:")
        for line in self.extra:
            print("  " + line)

    def write(self, path: Path, host: dict[str, str], versions: dict[str, str], quick: bool) -> None:
        header = ["benchmark", "valuegrad", "peer", "ratio", "goal", "result"]
        table = [header, ["---"] * len(header), *(row.cells() for row in self.rows)]
        command = "`python benchmarks/bench.py --quick`" if quick else "`make bench` (`python benchmarks/bench.py`)"
        lines = [
            "# Benchmark results",
            "",
            f"Produced by {command} on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
            "",
            f"- Machine: {host['cpu']}, {host['cores']} cores, {host['os']}",
            f"- Python: {host['python']}",
            "- Versions: " + ", ".join(f"{p} {v}" for p, v in versions.items()),
            "- Ratios: median over alternating pairs of samples, each engine in its own process, one BLAS thread,",
            "  CPU time, garbage collector on unless the row says otherwise; interquartile range of the pair",
            "  ratios in brackets. Where the goal is a speed-up the ratio is peer time / valuegrad time; where it",
            "  is `the time`, valuegrad time / peer time.",
            "",
            *("| " + " | ".join(cells) + " |" for cells in table),
            "",
            "## Extra information",
            "",
            *(f"- {line}" for line in self.extra),
            "",
        ]
        path.write_text("\n".join(lines))


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(terse=True),
    }


def core_build() -> str:
    """Which build of engine/core the workers run (engine.COMPILED): compiled by mypyc, or its Python source."""
    check = "import engine; print(engine.COMPILED)"
    compiled = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    return "core compiled (mypyc)" if compiled == "True" else "core interpreted"


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def git_revision() -> str:
    """The commit measured, and whether engine/ or nn/ differ from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()

    try:
        commit, dirty = git("rev-parse", "--short", "HEAD"), git("status", "--porcelain", "engine", "nn")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{commit} (engine/ or nn/ modified)" if dirty else commit


def versions() -> dict[str, str]:
    found = {p: version(p) for p in ("valuegrad", "micrograd", "torch")}
    found["valuegrad"] = f"{found['valuegrad']}, git {git_revision()}, {core_build()}"
    return found
