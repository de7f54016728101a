"""benchmarks/to_torch_bench.py runs: it checks the exported module's losses and gradients against vectorize's
before it times them (an export that computes something else stops it), and prints its table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "to_torch_bench.py"


@pytest.mark.usefixtures("torch")
def test_the_timing_script_checks_and_prints_its_table() -> None:
    command = [sys.executable, str(SCRIPT), "--no-compile", "--rounds", "1", "--sizes", "3"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "| batch | vectorize | torch float64 | torch float32 | by hand float64 | by hand float32 |" in done.stdout
    assert "| 3 names |" in done.stdout
