"""The explorer demo, the seed's formulas it shows, and the demo report (out/index.html), read as files.

The pages in a browser: tests/test_explorer_browser.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from demos import __main__ as runner
from demos import explorer as explorer_demo
from demos import report
from engine import explain, topological_order
from seed import formulas_1_1

REPO = Path(__file__).resolve().parents[1]
ERRATA = REPO / "docs" / "seed-errata.md"


# ---------------------------------------------------------------- the seed's formulas


def errata_row(row: int) -> list[str]:
    (line,) = [line for line in ERRATA.read_text(encoding="utf-8").splitlines() if line.startswith(f"| {row} |")]
    return [cell.strip() for cell in line.strip().strip("|").split(" | ")]


@pytest.mark.parametrize("parameter", ["w3", "b3", "w2", "b2", "w1", "b1"])
def test_formulas_are_the_errata_rows_as_written(parameter: str) -> None:
    formula = formulas_1_1.FORMULAS[parameter]
    number, written, verdict, correction, _ = errata_row(formula.row)
    assert number == str(formula.row)
    assert formula.written == written and formula.written.startswith(f"∂L/∂{parameter} = ")
    assert formula.verdict in verdict and verdict.startswith("**no**")
    assert formula.corrected == correction


def test_a_note_gives_the_formula_as_written_and_the_correction() -> None:
    assert formulas_1_1.note("w3").splitlines() == [
        "the seed writes ∂L/∂w3 = −(2/N) Σ ŷ (y − ŷ) h2",
        "  wrong (docs/seed-errata.md, row 20): spurious factor ŷ (its only error)",
        "  corrected: ∂L/∂w3 = −(2/N) Σ (y − ŷ) h2",
    ]
    assert "as row 22: spurious factor ŷ; otherwise right" in formulas_1_1.note("b2")


def test_notes_are_keyed_by_the_six_parameters_of_network_1_1() -> None:
    loss = explorer_demo.seed_network_loss()
    notes = explorer_demo.seed_notes(loss)
    assert sorted(v.label for v in notes) == sorted(["w1", "b1", "w2", "b2", "w3", "b3"])
    text = explain(loss, notes)
    assert "dL/dw3 += dL/dŷ · ∂ŷ/∂w3 = -3.241 · 0.3904 = -1.265" in text  # the example line
    assert text.count("the seed writes") == 6


# ---------------------------------------------------------------- the explorer demo


def test_explorer_demo_writes_the_pages_and_the_transcript(dot_program: str, tmp_path: Path) -> None:
    written = explorer_demo.main(tmp_path)
    assert [p.name for p in written] == [
        "seed_network_explorer.html",
        "seed_network_elementary_explorer.html",
        "mlp_2_3_1_explorer.html",
        "mlp_2_16_16_1_explorer.html",
        "seed_network_transcript.txt",
    ]
    seed_page = (tmp_path / "seed_network_explorer.html").read_text(encoding="utf-8")
    assert "the seed writes ∂L/∂w1" in seed_page and "corrected: ∂L/∂b1" in seed_page
    elementary = (tmp_path / "seed_network_elementary_explorer.html").read_text(encoding="utf-8")
    assert "the seed writes ∂L/∂w1" in elementary
    assert "the seed writes" not in (tmp_path / "mlp_2_3_1_explorer.html").read_text(encoding="utf-8")
    loss = explorer_demo.seed_network_loss()
    transcript = (tmp_path / "seed_network_transcript.txt").read_text(encoding="utf-8")
    assert transcript == explain(loss, explorer_demo.seed_notes(loss)) + "\n"
    assert {"u1", "u2", "h1", "h2", "ŷ", "L"} <= {v.label for v in topological_order(loss)}


# ---------------------------------------------------------------- the report


def test_report_has_an_entry_for_every_demo() -> None:
    demos = [name for name, _ in runner.DEMOS]
    assert demos[-1] == "report"  # last: it shows what the others wrote
    assert sorted(s.demo for s in report.SECTIONS) == sorted(demos[:-1])
    files = [name for s in report.SECTIONS for name in (*s.files, *s.optional, *s.linked)]
    assert len(files) == len(set(files))


def test_report_of_an_empty_folder_names_what_to_run(tmp_path: Path) -> None:
    (index,) = report.main(tmp_path)
    page = index.read_text(encoding="utf-8")
    assert index == tmp_path / "index.html"
    for section in report.SECTIONS:
        assert f'id="{section.demo}"' in page
        for name in section.files:
            assert f"{name}: not written yet (run <code>python -m demos.{section.demo}</code>)" in page
    assert "<h3>The seed's errata, section 1.1" in page and "spurious factor ŷ (its only error)" in page


def test_report_shows_each_kind_of_file_with_relative_links(tmp_path: Path) -> None:
    (tmp_path / "newton.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "seed_gradients.csv").write_text("activation,parameter,autograd\nsigmoid,w1,0.123456789\n")
    (tmp_path / "seed_network_transcript.txt").write_text("dL/dL = 1\n<script>\n")
    (tmp_path / "mlp_2_3_1_explorer.html").write_text("<title>A small MLP</title>")
    (tmp_path / "unknown_demo.png").write_bytes(b"\x89PNG\r\n\x1a\n")  # a file no section claims
    page = report.main(tmp_path)[0].read_text(encoding="utf-8")
    assert '<img src="./newton.png"' in page
    assert "<td>sigmoid</td><td>w1</td><td>0.123457</td>" in page
    assert "<pre>dL/dL = 1\n&lt;script&gt;</pre>" in page
    assert '<a href="./mlp_2_3_1_explorer.html">A small MLP</a>' in page
    assert '<h2 id="others">Other files</h2>' in page and 'href="./unknown_demo.png"' in page
    links = re.findall(r'(?:href|src)="([^"]*)"', page)
    assert links and all(link.startswith(("./", "#", "data:", "../")) for link in links), links
    assert not re.search(r"(?i)https?:", page)
