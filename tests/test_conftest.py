"""The shared test helpers of conftest.py: what counts as CI, skipping or failing for a missing tool, the oracles."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import numpy as np
import pytest
from conftest import central_differences, g_prime, import_optional, missing_tool, running_in_ci


@pytest.mark.parametrize("value", ["", "0", "false", "False", "FALSE", "no", "No", "off", "OFF", " false ", "0\n"])
def test_false_values_of_ci_are_not_ci(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", value)
    assert running_in_ci() is False


def test_unset_ci_is_not_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert running_in_ci() is False


@pytest.mark.parametrize("value", ["true", "True", "1", "yes", "on", "github-actions", "2"])
def test_any_other_value_of_ci_is_ci(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", value)
    assert running_in_ci() is True


def outcome(call: Callable[[], object]) -> tuple[str, str]:
    """("skip" | "fail" | "return", message) of a call that may skip or fail the test.

    Caught here, so that a wrong skip fails this test instead of skipping it.
    """
    try:
        call()
    except pytest.skip.Exception as skipped:
        return "skip", str(skipped)
    except pytest.fail.Exception as failed:
        return "fail", str(failed)
    return "return", ""


def test_a_missing_tool_skips_outside_ci_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "false")
    assert outcome(lambda: missing_tool("no such tool")) == ("skip", "no such tool")
    monkeypatch.setenv("CI", "true")
    kind, message = outcome(lambda: missing_tool("no such tool"))
    assert kind == "fail" and message == "no such tool; CI is set (CI='true'), so this test must run, not skip"


def test_import_optional_returns_the_module_or_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert import_optional("math", "nothing to do") is math
    monkeypatch.delenv("CI", raising=False)
    kind, message = outcome(lambda: import_optional("valuegrad_no_such_module", "pip install it"))
    assert kind == "skip" and re.match("valuegrad_no_such_module is not installed .*with: pip install it$", message)
    monkeypatch.setenv("CI", "1")
    kind, message = outcome(lambda: import_optional("valuegrad_no_such_module", "pip install it"))
    assert kind == "fail" and "valuegrad_no_such_module is not installed" in message and "CI is set" in message


def test_central_differences_match_a_gradient_known_in_closed_form() -> None:
    # f = sin(x) y^2 + 3 z: grad = (cos(x) y^2, 2 y sin(x), 3)
    x, y, z = 0.7, -1.3, 2.0
    numeric = central_differences(lambda x, y, z: math.sin(x) * y**2 + 3 * z, [x, y, z])
    assert numeric == pytest.approx([math.cos(x) * y**2, 2 * y * math.sin(x), 3.0], rel=1e-8)


@pytest.mark.parametrize(
    "activation, g",
    [("sigmoid", lambda u: 1 / (1 + np.exp(-u))), ("tanh", np.tanh), ("relu", lambda u: np.maximum(u, 0.0))],
)
def test_g_prime_matches_finite_differences_of_g(activation: str, g: object) -> None:
    u = np.concatenate([np.linspace(-4.0, -0.05, 20), np.linspace(0.05, 4.0, 20)])  # off relu's kink
    h = 1e-6
    central = (g(u + h) - g(u - h)) / (2 * h)  # type: ignore[operator]
    np.testing.assert_allclose(g_prime(activation, u), central, rtol=1e-7, atol=1e-10)


def test_g_prime_of_relu_is_0_at_the_kink_and_unknown_activations_are_refused() -> None:
    assert g_prime("relu", 0.0) == 0.0 and g_prime("relu", -0.0) == 0.0
    with pytest.raises(ValueError, match="'softsign'"):
        g_prime("softsign", 0.0)
