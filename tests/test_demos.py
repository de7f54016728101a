"""Tests of the demos: the runner's list (`python -m demos`), and Newton's method on Rosenbrock with its plot.

The runner is checked without running the demos (each has its own test or takes seconds):
every entry must name an importable module with the `main(out)` the runner calls.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import demos
from demos import __main__ as runner
from demos import newton
from engine import Value

DEMO_DIR = Path(demos.__file__).parent
PNG = b"\x89PNG\r\n\x1a\n"


# --- the runner -----------------------------------------------------------------------------------------------


def test_runner_lists_every_demo_once_with_a_description() -> None:
    names = [name for name, _ in runner.DEMOS]
    assert len(names) == len(set(names)), names
    assert all(what.strip() for _, what in runner.DEMOS)
    modules = {p.stem for p in DEMO_DIR.glob("*.py") if not p.stem.startswith("_")}
    assert set(names) == modules  # no demo left out of `python -m demos`, none listed that does not exist


@pytest.mark.parametrize("name", [name for name, _ in runner.DEMOS])
def test_runner_entry_is_a_module_with_main_out(name: str) -> None:
    module = importlib.import_module(f"demos.{name}")
    assert callable(module.main)
    (parameter,) = inspect.signature(module.main).parameters.values()
    assert parameter.name == "out" and parameter.default == Path("out")


def test_runner_calls_each_main_in_order_and_returns_all_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[str] = []

    def fake_main(name: str) -> Callable[[Path], list[Path]]:  # a stand-in demo: records the call, writes a file
        def main(out: Path) -> list[Path]:
            calls.append(name)
            path = out / f"{name}.txt"
            path.write_text(name)
            return [path]

        return main

    for name, _ in runner.DEMOS:
        monkeypatch.setattr(importlib.import_module(f"demos.{name}"), "main", fake_main(name))
    paths = runner.main(tmp_path)
    names = [name for name, _ in runner.DEMOS]
    assert calls == names
    assert paths == [tmp_path / f"{name}.txt" for name in names]
    assert f"All {len(names)} demos finished" in capsys.readouterr().out


# --- Newton's method ------------------------------------------------------------------------------------------


def test_rosenbrock_is_one_function_for_values_and_arrays() -> None:
    xs, ys = np.meshgrid(np.linspace(-2, 2, 7), np.linspace(-1, 3, 5))
    grid = newton.rosenbrock(xs, ys)
    assert grid.shape == xs.shape
    for x, y, f in zip(xs.ravel(), ys.ravel(), grid.ravel()):
        assert newton.rosenbrock(Value(float(x)), Value(float(y))).data == pytest.approx(f, rel=1e-14)
    # Known values: 24.2 at the classic start (-1.2, 1), 0 at the minimum (1, 1), never negative.
    assert newton.rosenbrock(np.array(-1.2), np.array(1.0)) == pytest.approx(24.2, rel=1e-14)
    assert newton.rosenbrock(np.array(1.0), np.array(1.0)) == 0.0
    assert np.all(grid >= 0)


def test_newton_reaches_the_minimum_of_rosenbrock_in_a_few_steps() -> None:
    path = newton.newton((-1.2, 1.0))
    x, y = path[-1]
    assert math.hypot(x - 1.0, y - 1.0) < 1e-6  # Rosenbrock's minimum is (1, 1), where both squares vanish
    assert len(path) - 1 < 20  # quadratic convergence: far below the 100-step cap


def test_gradient_descent_goes_downhill(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(newton, "MAX_DESCENT_STEPS", 300)
    path = newton.gradient_descent((-1.2, 1.0))
    assert len(path) == 301
    values = [newton.rosenbrock(np.array(x), np.array(y)) for x, y in path]
    assert values[-1] < values[0] / 2


def test_main_writes_the_plot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(newton, "MAX_DESCENT_STEPS", 500)  # the full descent (~35 000 steps) is the demo's job
    paths = newton.main(tmp_path / "out")
    assert paths == [tmp_path / "out" / "newton.png"]
    assert paths[0].read_bytes()[:8] == PNG


def test_figure_draws_both_paths_point_by_point_the_minimum_and_the_contours(monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt

    monkeypatch.setattr(newton, "MAX_DESCENT_STEPS", 300)
    newton_path, descent_path = newton.newton(newton.START), newton.gradient_descent(newton.START)
    fig = newton.figure(newton_path, descent_path)
    try:
        (ax,) = fig.axes
        lines = {line.get_label().split(" (")[0]: line for line in ax.get_lines()}
        assert set(lines) == {"Newton", "gradient descent", "minimum"}
        np.testing.assert_array_equal(lines["Newton"].get_xydata(), np.array(newton_path))
        assert lines["Newton"].get_marker() == "o" and lines["Newton"].get_linestyle() == "-"  # every iterate a dot
        np.testing.assert_array_equal(lines["gradient descent"].get_xydata(), np.array(descent_path))
        np.testing.assert_array_equal(lines["minimum"].get_xydata(), [newton.MINIMUM])
        assert lines["minimum"].get_marker() == "*"
        labels = [text.get_text() for text in ax.get_legend().get_texts()]
        assert f"Newton ({len(newton_path) - 1} steps)" in labels
        assert f"gradient descent ({len(descent_path) - 1} steps)" in labels
        assert len(ax.collections) == 1 and len(ax.collections[0].get_paths()) > 1  # Rosenbrock's contour lines
    finally:
        plt.close(fig)
