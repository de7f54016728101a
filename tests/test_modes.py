"""no_grad() and detect_anomaly() are per thread, as grad mode is in PyTorch.

Each test runs two threads whose work overlaps in time (a barrier holds one
thread inside its mode while the other computes), so a process-global switch
would make them fail.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import pytest

import engine
from engine import Value


def run_overlapping(inside_mode: Callable[[], Any], outside: Callable[[], Any], mode: Any) -> tuple[Any, Any]:
    """Run `inside_mode` in one thread within `mode` and `outside` in another while the first is still inside."""
    entered, finished = threading.Barrier(2, timeout=10), threading.Barrier(2, timeout=10)
    results: dict[str, Any] = {}
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with mode():
                entered.wait()  # the other thread starts its work only now, while this one is inside the mode
                finished.wait()  # ... and this one stays inside until the other is done
                results["inside"] = inside_mode()
        except BaseException as error:
            errors.append(error)

    def second() -> None:
        try:
            entered.wait()
            results["outside"] = outside()
            finished.wait()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results["inside"], results["outside"]


def test_no_grad_in_one_thread_does_not_stop_another_from_recording() -> None:
    x = Value(2.0, label="x")

    def compute() -> Value:
        return (x * 3).tanh()

    inside, outside = run_overlapping(compute, compute, engine.no_grad)
    assert inside.parents == ()  # no graph inside no_grad
    assert outside.parents != () and outside.parents[0].parents[0] is x
    outside.backward()
    assert x.grad == pytest.approx(3 * (1 - math.tanh(6.0) ** 2), rel=1e-12)


def test_detect_anomaly_in_one_thread_does_not_check_another() -> None:
    def overflow() -> float:
        return (Value(1e200) * 1e200).data

    def overflow_caught() -> str:
        with pytest.raises(FloatingPointError, match="forward pass") as caught:
            overflow()
        return str(caught.value)

    inside, outside = run_overlapping(overflow_caught, overflow, engine.detect_anomaly)
    assert "1e+200" in inside
    assert outside == math.inf  # the other thread is not checked


def test_a_new_thread_starts_recording_even_when_its_parent_is_inside_no_grad() -> None:
    results: list[Value] = []
    with engine.no_grad():
        thread = threading.Thread(target=lambda: results.append(Value(1.0) + 1))
        thread.start()
        thread.join()
        assert (Value(1.0) + 1).parents == ()
    assert results[0].parents != ()
