"""The text of the seed's six final formulas that nn.SeedNetwork notes beside its parameters (nn/seed_formulas.py).

Held to two things outside it: the rows of docs/seed-errata.md it copies (word for word), and the numbers.
seed.formulas_1_1 reads every formula as arithmetic: as written, it must give what
seed.network_1_1.seed_formulas_as_written gives (pinned to hand-written oracles in
tests/test_seed_network_1_1.py), under both readings of u; corrected, the engine's gradients.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import nn
from engine import explain, topological_order
from nn import seed_formulas
from seed import formulas_1_1
from seed import network_1_1 as sm
from seed.compare import relative_error

REPO = Path(__file__).resolve().parents[1]
ERRATA = REPO / "docs" / "seed-errata.md"
ACTIVATIONS = ["sigmoid", "tanh", "relu"]
SEEDS = [0, 1, 2, 3]


def errata_row(row: int) -> list[str]:
    (line,) = [line for line in ERRATA.read_text(encoding="utf-8").splitlines() if line.startswith(f"| {row} |")]
    return [cell.strip() for cell in line.strip().strip("|").split(" | ")]


# ---------------------------------------------------------------- the text: the errata's rows


@pytest.mark.parametrize("parameter", ["w3", "b3", "w2", "b2", "w1", "b1"])
def test_formulas_are_the_errata_rows_as_written(parameter: str) -> None:
    formula = seed_formulas.FORMULAS[parameter]
    number, written, verdict, correction, _ = errata_row(formula.row)
    assert number == str(formula.row)
    assert formula.written == written and formula.written.startswith(f"∂L/∂{parameter} = ")
    assert formula.verdict in verdict and verdict.startswith("**no**")
    assert formula.corrected == correction


def test_a_note_gives_the_formula_as_written_and_the_correction() -> None:
    assert seed_formulas.note("w3").splitlines() == [
        "the seed writes ∂L/∂w3 = −(2/N) Σ ŷ (y − ŷ) h2",
        "  wrong (docs/seed-errata.md, row 20): spurious factor ŷ (its only error)",
        "  corrected: ∂L/∂w3 = −(2/N) Σ (y − ŷ) h2",
    ]
    assert "as row 22: spurious factor ŷ; otherwise right" in seed_formulas.note("b2")


# ---------------------------------------------------------------- the text: the numbers


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("u", ["u1", "u2"])
def test_the_notes_formulas_as_written_evaluate_to_the_seeds_formulas(activation: str, seed: int, u: str) -> None:
    x, y, params = sm.random_case(activation, seed)
    from_text = formulas_1_1.written_values(x, y, params, activation, u)  # type: ignore[arg-type]
    expected = sm.seed_formulas_as_written(x, y, params, activation, u=u)  # type: ignore[arg-type]
    for name in sm.PARAMETERS:
        assert from_text[name] == pytest.approx(expected[name], rel=1e-12, abs=1e-15), name


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_the_notes_corrections_evaluate_to_the_engines_gradients(activation: str, seed: int) -> None:
    x, y, params = sm.random_case(activation, seed)
    from_text = formulas_1_1.corrected_values(x, y, params, activation)
    as_written = formulas_1_1.written_values(x, y, params, activation)
    engine_values = sm.autograd_gradients(x, y, params, activation, fused=seed % 2 == 0)
    for name in sm.PARAMETERS:
        assert relative_error(from_text[name], engine_values[name]) < 1e-10, name
        # and the formula as written does not: each note that says "wrong" is about a formula that is
        assert relative_error(as_written[name], engine_values[name]) > 1e-2, name


@pytest.mark.parametrize(
    "formula",
    [
        "∂L/∂w3 = −(2/N) Σ (y − ŷ) h3",  # no h3 in network 1.1
        "∂L/∂w3 = −(2/N) Σ (y − ŷ) h2 + 1",  # more than a product
        "∂L/∂w3 = (2/N) Σ (y − ŷ) h2",  # another sign
        "∂L/∂w3 = −(2/N) Σ (y − ŷ)h2",  # factors run together
    ],
)
def test_a_formula_is_read_whole_or_refused(formula: str) -> None:
    x, y, params = sm.random_case("tanh", 0)
    with pytest.raises(ValueError, match="formula of network 1.1|cannot read"):
        formulas_1_1.evaluate(formula, x, y, params, "tanh")
    with pytest.raises(ValueError, match="'u1' or 'u2'"):
        formulas_1_1.evaluate("−(2/N) Σ ŷ", x, y, params, "tanh", u="u3")  # type: ignore[arg-type]


# ---------------------------------------------------------------- the text travels with nn.SeedNetwork


@pytest.mark.parametrize("fused", [True, False])
def test_the_seeds_network_notes_each_parameter_with_its_own_formula(fused: bool) -> None:
    model = nn.SeedNetwork("sigmoid", seed=0, fused=fused)
    notes = {name: p.note for name, p in model.named_parameters()}
    assert notes == {name: seed_formulas.note(name) for name in sm.PARAMETERS}
    for name, note in notes.items():
        assert f"∂L/∂{name} = " in note.splitlines()[0]  # w1's note is about w1, not another parameter
    text = explain(model.loss(0.5, 1.0))  # nothing passed: the notes come with the network
    assert text.count("the seed writes") == 6
    for name in sm.PARAMETERS:
        line = next(i for i, line in enumerate(text.splitlines()) if line.startswith(f"dL/d{name} += "))
        assert text.splitlines()[line + 1] == f"    the seed writes {seed_formulas.FORMULAS[name].written}"


@pytest.mark.parametrize(
    "build",
    [
        lambda: nn.SeedNetwork("tanh", widths=(2, 1)),
        lambda: nn.SeedNetwork("tanh", nin=2),
        lambda: nn.MLP(1, [1, 1, 1]),
    ],
)
def test_no_note_where_the_seeds_formulas_do_not_apply(build: object) -> None:
    model = build()  # type: ignore[operator]
    assert all(p.note == "" for p in model.parameters())
    loss = nn.mse_loss(model([0.5] * model.nin), 1.0)
    assert all(v.note == "" for v in topological_order(loss))
    assert "the seed writes" not in explain(loss)
