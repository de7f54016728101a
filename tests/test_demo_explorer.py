"""The explorer demo, the seed's network it shows, and the demo report (out/index.html), read as files.

The pages in a browser: tests/test_explorer_browser.py.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from demos import __main__ as runner
from demos import explorer as explorer_demo
from demos import report
from engine import explain, topological_order
from engine.pictures.naming import format_number

# ---------------------------------------------------------------- the seed's network, as the demo builds it


def test_the_demos_network_names_its_values_and_brings_the_seeds_formulas() -> None:
    loss = explorer_demo.seed_network_loss()
    labels = [v.label for v in topological_order(loss)]
    assert {"x", "y", "u1", "h1", "u2", "h2", "ŷ", "L", "w1", "b1", "w2", "b2", "w3", "b3"} <= set(labels)
    assert sorted(v.label for v in topological_order(loss) if v.note) == sorted(["w1", "b1", "w2", "b2", "w3", "b3"])
    text = explain(loss)  # no notes passed: the network's parameters carry them
    assert "dL/dw3 += dL/dŷ · ∂ŷ/∂w3 = -3.241 · 0.3904 = -1.265" in text  # the example line
    assert "\ndL/dh2 += dL/dŷ · ∂ŷ/∂h2 = " in text and "\ndL/du2 += dL/dh2 · ∂h2/∂u2 = " in text
    assert text.count("the seed writes") == 6
    # Every node has a name from the seed or the tutorial: the residual y - ŷ is e, and no v<i> is left.
    assert "\ndL/de += dL/dL · ∂L/∂e = " in text and "\ndL/dŷ += dL/de · ∂e/∂ŷ = " in text
    assert not re.search(r"\bv\d+\b", text)


# ---------------------------------------------------------------- the explorer demo


def test_explorer_demo_writes_the_pages_and_the_transcript(dot_program: str, tmp_path: Path) -> None:
    written = explorer_demo.main(tmp_path)
    assert [p.name for p in written] == [
        "seed_network_explorer.html",
        "seed_network_forward_mode_explorer.html",
        "seed_network_elementary_explorer.html",
        "mlp_2_3_1_explorer.html",
        "mlp_2_16_16_1_explorer.html",
        "seed_network_transcript.txt",
        "seed_network_forward_mode_transcript.txt",
    ]
    seed_page = (tmp_path / "seed_network_explorer.html").read_text(encoding="utf-8")
    assert "the seed writes ∂L/∂w1" in seed_page and "corrected: ∂L/∂b1" in seed_page
    elementary = (tmp_path / "seed_network_elementary_explorer.html").read_text(encoding="utf-8")
    assert "the seed writes ∂L/∂w1" in elementary
    assert "the seed writes" not in (tmp_path / "mlp_2_3_1_explorer.html").read_text(encoding="utf-8")
    loss = explorer_demo.seed_network_loss()
    transcript = (tmp_path / "seed_network_transcript.txt").read_text(encoding="utf-8")
    assert transcript == explain(loss) + "\n"
    assert "dL/du1 += dL/dh1 · ∂h1/∂u1" in transcript and "the seed writes ∂L/∂b1" in transcript
    # Forward mode along w1: its transcript reaches the backward pass's dL/dw1, and so does its page.
    loss.backward()
    (w1,) = [v for v in topological_order(loss) if v.label == "w1"]
    forward = (tmp_path / "seed_network_forward_mode_transcript.txt").read_text(encoding="utf-8")
    assert forward == explain(loss, mode="forward", wrt=w1) + "\n"
    assert f"\nforward mode: dL/dw1 = {format_number(w1.grad)} in 1 sweep" in forward
    forward_page = html.unescape((tmp_path / "seed_network_forward_mode_explorer.html").read_text(encoding="utf-8"))
    assert f">d/dw1 {format_number(w1.grad)}</text>" in forward_page and "reverse mode: dL/d(leaf)" in forward_page
    assert ">d/dw1 " not in html.unescape(seed_page)  # the page without forward mode has no tangent cell


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
