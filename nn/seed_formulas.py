"""The seed's six final formulas of network 1.1, as written and corrected: rows 20-25 of docs/seed-errata.md.

`nn.SeedNetwork` puts `note(name)` into the `note` of each of its parameters w1 .. b3, so
`engine.explain` and `engine.explore` show the seed's formula at the steps that reach it. This is
text only: `seed.formulas_1_1` (in the repository, not installed) evaluates it on numbers, and the
tests check it against the errata's rows and against the engine's gradients.
"""

from __future__ import annotations

from typing import NamedTuple


class SeedFormula(NamedTuple):
    """One row of the errata: the seed's formula as written, whether it holds and why not, the correction."""

    row: int  # the row of docs/seed-errata.md, section 1.1
    written: str
    verdict: str
    corrected: str | None  # None where the seed is right


# The loss's derivative for each of network 1.1's parameters, in the seed's order of derivation.
FORMULAS: dict[str, SeedFormula] = {
    "w3": SeedFormula(
        20,
        "∂L/∂w3 = −(2/N) Σ ŷ (y − ŷ) h2",
        "spurious factor ŷ (its only error)",
        "−(2/N) Σ (y − ŷ) h2",
    ),
    "b3": SeedFormula(
        21,
        "∂L/∂b3 = −(2/N) Σ ŷ (y − ŷ)",
        "spurious factor ŷ (its only error)",
        "−(2/N) Σ (y − ŷ)",
    ),
    "w2": SeedFormula(
        22,
        "∂L/∂w2 = −(2/N) Σ ŷ (y − ŷ) w3 h1 ∂g(u)/∂u",
        "spurious factor ŷ; otherwise right if u = u2, wrong again if u = u1",
        "−(2/N) Σ (y − ŷ) w3 g'(u2) h1",
    ),
    "b2": SeedFormula(
        23,
        "∂L/∂b2 = −(2/N) Σ ŷ (y − ŷ) w3 ∂g(u)/∂u",
        "as row 22",
        "−(2/N) Σ (y − ŷ) w3 g'(u2)",
    ),
    "w1": SeedFormula(
        24,
        "∂L/∂w1 = −(2/N) Σ ŷ (y − ŷ) w3 w2 x [∂g(u)/∂u]²",
        "spurious factor ŷ, and [g'(u)]² where the chain rule (row 18) gives g'(u2) g'(u1), under either reading of u",
        "−(2/N) Σ (y − ŷ) w3 g'(u2) w2 g'(u1) x",
    ),
    "b1": SeedFormula(
        25,
        "∂L/∂b1 = −(2/N) Σ ŷ (y − ŷ) w3 w2 [∂g(u)/∂u]²",
        "as row 24",
        "−(2/N) Σ (y − ŷ) w3 g'(u2) w2 g'(u1)",
    ),
}


def note(parameter: str) -> str:
    """The note for one parameter (w1 .. b3): the seed's formula as written and, when it is wrong, the correction."""
    formula = FORMULAS[parameter]
    lines = [f"the seed writes {formula.written}"]
    if formula.corrected is None:
        lines.append(f"  which holds (docs/seed-errata.md, row {formula.row})")
    else:
        verdict = formula.verdict
        if verdict.startswith("as row "):  # spell out the row it refers to
            (same,) = [f for f in FORMULAS.values() if f.row == int(verdict.removeprefix("as row "))]
            verdict = f"{verdict}: {same.verdict}"
        lines.append(f"  wrong (docs/seed-errata.md, row {formula.row}): {verdict}")
        lines.append(f"  corrected: ∂L/∂{parameter} = {formula.corrected}")
    return "\n".join(lines)
