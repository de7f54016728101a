"""One page with every demo's results: out/index.html, written last by `python -m demos`.

python -m demos.report      # (re)writes out/index.html from whatever the demos wrote into out/

Each demo is one entry of `SECTIONS`: a title, what it shows, and the files it
writes, each shown by its kind: pictures inline, CSV files as tables, text as
text, explorer pages as links. A picture too large to show whole with readable
text (the 2-16-16-1 MLP's diagram) is shown at a readable size in a frame that
scrolls, with a link to the full picture, rather than shrunk to a strip. A file that is not there yet is named with the
command that writes it; files in out/ that no entry names are listed at the end,
so a new demo's results show up even before it has an entry. Every link is
relative and nothing is fetched from a server, so the page works opened from
the file system, offline, and out/ can be moved as a whole.
"""

from __future__ import annotations

import csv
import html
import os
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ERRATA = REPO / "docs" / "seed-errata.md"
INDEX = "index.html"
PICTURES = (".png", ".svg", ".jpg", ".jpeg", ".gif")
MAX_TABLE_ROWS = 30
MAX_TEXT_LINES = 40
# Pictures: shown whole when they fit FIGURE_WIDTH x FIGURE_HEIGHT CSS pixels with readable text, else in a frame.
FIGURE_WIDTH, FIGURE_HEIGHT = 1060, 640
READABLE_TEXT_PX = 11  # an SVG's smallest text, in CSS pixels, when shown
READABLE_PNG_SCALE = 0.5  # a PNG's least scale: the demos' plots and screenshots have 13-17 pixel text
CSS_PX = {"": 1.0, "px": 1.0, "pt": 4 / 3, "pc": 16.0, "in": 96.0, "cm": 96 / 2.54, "mm": 96 / 25.4}


@dataclass(frozen=True)
class Section:
    """One demo's part of the page."""

    demo: str  # the module under demos/ that writes the files
    title: str
    about: str
    files: tuple[str, ...]
    optional: tuple[str, ...] = ()  # shown when present, not missed when absent (e.g. written by a test)
    linked: tuple[str, ...] = ()  # only linked, when present (e.g. the same picture in another format)
    extra: Callable[[Path], str] | None = field(default=None, compare=False)  # more HTML, given out/


def errata_table(out: Path) -> str:
    """The seed's errata for network 1.1: the table of docs/seed-errata.md's section 1.1, as HTML."""
    link = html.escape(os.path.relpath(ERRATA, out))
    if not ERRATA.is_file():
        return "<p>The errata table is in <code>docs/seed-errata.md</code> (not found beside the demos).</p>"
    text = ERRATA.read_text(encoding="utf-8")
    section = text.split("## Section 1.1", 1)[1].split("\n## ", 1)[0]
    rows = [_cells(line)[:4] for line in section.splitlines() if line.startswith("|")]  # the tests: see the file
    header, body = rows[0], rows[2:]  # rows[1] is the |---| line
    head = "".join(f"<th>{_markdown(c)}</th>" for c in header)
    lines = "".join("<tr>" + "".join(f"<td>{_markdown(c)}</td>" for c in row) + "</tr>" for row in body)
    return (
        f'<h3>The seed\'s errata, section 1.1 (from <a href="{link}">docs/seed-errata.md</a>, which also names '
        "the test that shows each row)</h3>"
        f'<table class="errata"><thead><tr>{head}</tr></thead><tbody>{lines}</tbody></table>'
    )


# Watching backpropagation first, then in the order of `python -m demos`. A new demo is one more entry.
SECTIONS: list[Section] = [
    Section(
        "explorer",
        "Watch backpropagation",
        "Interactive pages: the forward pass value by value, then the backward pass one chain-rule step at a time, "
        "with the transcript of each step. Network 1.1's pages show the seed's formula (as written, and corrected) "
        "at the steps that reach w1, b1, ..., b3; its forward-mode page computes each value's derivative along w1 "
        "with the value, and says how many sweeps each mode takes. Each page opens readable and follows the steps: "
        "each step shows its node and the inputs that fit beside it. Keys: ArrowRight / ArrowLeft step, Home / End; "
        "+ / - zoom, 0 the whole graph, 1 the natural size, i a step's inputs out of view; drag to pan.",
        (
            "seed_network_explorer.html",
            "seed_network_forward_mode_explorer.html",
            "seed_network_elementary_explorer.html",
            "mlp_2_3_1_explorer.html",
            "mlp_2_16_16_1_explorer.html",
            "seed_network_transcript.txt",
            "seed_network_forward_mode_transcript.txt",
        ),
        optional=("explorer_screenshot.png",),
    ),
    Section(
        "diagram",
        "Computation graphs",
        "The seed's network 1.1 after one backward pass, and a 2-16-16-1 MLP drawn one neuron per cluster. "
        "A picture too large to show whole with readable text is shown at a readable size in a frame that "
        "scrolls; the 2-16-16-1 MLP's explorer page (above) zooms and pans it.",
        ("seed_network.svg", "mlp_2_16_16_1.svg"),
        linked=("seed_network.png",),
    ),
    Section(
        "seed_gradients",
        "The seed's gradients, checked",
        "Section 1.1's six final formulas as written (both readings of u), corrected, and by autograd, "
        "for sigmoid, tanh and relu on 8 random samples.",
        ("seed_gradients.csv",),
        extra=errata_table,
    ),
    Section(
        "seed_training",
        "Network 1.1 trained",
        "Widths (1, 1) and (8, 8) on y = sin(x) + noise with the seed's loss: training curves and final fits.",
        ("seed_training_curve.png", "seed_training_fit.png"),
    ),
    Section(
        "vanishing_gradients",
        "Vanishing gradients (seed 1.2)",
        "The first layer's gradient against depth, with the bound the argument needs.",
        ("vanishing_gradients.png", "vanishing_gradients.csv"),
    ),
    Section(
        "moons",
        "Two moons",
        "micrograd's classic demo: a 2-16-16-1 relu MLP trained with the hinge loss; decision boundary and curve.",
        ("moons_decision_boundary.png", "moons_training_curve.png"),
    ),
    Section(
        "newton",
        "Second derivatives: Newton's method",
        "Newton's method with the exact Hessian against gradient descent on Rosenbrock's function.",
        ("newton.png",),
    ),
    Section(
        "digits",
        "Real data: handwritten digits",
        "scikit-learn's 1,797 digits, a stratified 80/20 split: valuegrad's 64-32-10 MLP trained full batch "
        "through engine.vectorize against scikit-learn's MLPClassifier, accuracy and wall time from the same run; "
        "confusion matrices and valuegrad's misclassified test digits.",
        ("digits_results.csv", "digits_confusion.png", "digits_misclassified.png"),
    ),
    Section(
        "microgpt",
        "A tiny GPT: microgpt on names",
        "Karpathy's microgpt (token and position embeddings, RMSNorm, one layer of 4-head causal self-attention "
        "and a ReLU MLP, 4,192 parameters) written with engine and nn, trained with Adam on batches of 32 names "
        "padded to 16 positions through engine.vectorize, for fewer steps than the 1,000 of python -m demos.microgpt. "
        "The curve, the held-out loss beside a bigram model's, the time of both paths, and 20 names sampled from "
        "the model saved and loaded back with the checkpoint format.",
        ("microgpt_training_curve.png", "microgpt_names.txt"),
        linked=("microgpt.npz",),
    ),
]

STYLE = """
body { font-family: Helvetica, Arial, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; padding: 0 12px; }
h1 { font-size: 24px; } h2 { font-size: 19px; margin-top: 36px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; }
nav a { margin-right: 12px; }
figure { display: inline-block; margin: 8px 16px 8px 0; vertical-align: top; max-width: 100%; }
figure img { max-width: 100%; max-height: 640px; border: 1px solid #eee; }
figure.large { display: block; margin-right: 0; }
figure.large .frame { overflow: auto; max-height: 80vh; border: 1px solid #eee; }
figure.large .frame img { display: block; max-width: none; max-height: none; border: 0; }
figcaption, .run { color: #666; font-size: 13px; }
table { border-collapse: collapse; font-size: 12px; margin: 8px 0; }
td, th { border: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
table.errata { width: 100%; } table.errata td { overflow-wrap: break-word; }
table.errata td:first-child { white-space: nowrap; }
pre { background: #f7f7f7; padding: 8px; overflow: auto; font-size: 12px; max-height: 360px; }
.missing { color: #a33; }
ul.pages li { margin: 4px 0; }
"""

# A large picture's frame opens on the picture's middle (its top-left corner is often empty: the MLP's is).
SCRIPT = """
for (const frame of document.querySelectorAll("figure.large .frame")) {
  frame.scrollLeft = (frame.scrollWidth - frame.clientWidth) / 2;
  frame.scrollTop = (frame.scrollHeight - frame.clientHeight) / 2;
}
"""


def main(out: Path = Path("out")) -> list[Path]:
    """Write out/index.html from the files the demos wrote into `out`; returns its path."""
    out.mkdir(parents=True, exist_ok=True)
    named = {INDEX} | {name for s in SECTIONS for name in (*s.files, *s.optional, *s.linked)}
    others = sorted(p.name for p in out.iterdir() if p.is_file() and p.name not in named and not p.name.startswith("."))
    nav = " ".join(f'<a href="#{s.demo}">{html.escape(s.title)}</a>' for s in SECTIONS)
    body = [
        "<h1>valuegrad: every demo's results</h1>",
        '<p class="run">Written by <code>python -m demos</code> (<code>make demo</code>). '
        "Everything on this page is a file beside it: it works offline, opened from the file system.</p>",
        f"<nav>{nav}</nav>",
    ]
    body.extend(_section(section, out) for section in SECTIONS)
    if others:
        body.append('<h2 id="others">Other files</h2><ul>')
        body.extend(f'<li><a href="{_href(name)}">{html.escape(name)}</a></li>' for name in others)
        body.append("</ul>")
    page = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n<link rel="icon" href="data:,">\n'
        f"<title>valuegrad demos</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + f"\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
    path = out / INDEX
    path.write_text(page, encoding="utf-8")
    present = sum((out / name).is_file() for s in SECTIONS for name in s.files)
    total = sum(len(s.files) for s in SECTIONS)
    print(f"wrote {path}: {present} of {total} demo results present; open it in a browser (works offline)")
    return [path]


def _section(section: Section, out: Path) -> str:
    parts = [
        f'<h2 id="{section.demo}">{html.escape(section.title)}</h2>',
        f"<p>{html.escape(section.about)}</p>",
        f'<p class="run">Written by <code>python -m demos.{section.demo}</code>.</p>',
    ]
    pages = [name for name in section.files if name.endswith(".html") and (out / name).is_file()]
    if pages:
        items = [f'<li><a href="{_href(name)}">{html.escape(_page_title(out / name))}</a></li>' for name in pages]
        parts.append(f'<ul class="pages">{"".join(items)}</ul>')
    for name in (*section.files, *section.optional):
        path = out / name
        if not path.is_file():
            if name in section.files:
                parts.append(
                    f'<p class="missing">{html.escape(name)}: not written yet '
                    f"(run <code>python -m demos.{section.demo}</code>).</p>"
                )
            continue
        if name.endswith(".html"):
            continue  # listed above
        parts.append(_show(path))
    linked = [name for name in section.linked if (out / name).is_file()]
    if linked:
        links = ", ".join(f'<a href="{_href(name)}">{html.escape(name)}</a>' for name in linked)
        parts.append(f'<p class="run">Also: {links}.</p>')
    if section.extra is not None:
        parts.append(section.extra(out))
    return "\n".join(parts)


def _show(path: Path) -> str:
    """A result file, shown by its kind."""
    name, href = html.escape(path.name), _href(path.name)
    suffix = path.suffix.lower()
    if suffix in PICTURES:
        return _picture(path)
    if suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as file:
            rows = list(csv.reader(file))
        shown = rows[: MAX_TABLE_ROWS + 1]
        head = "".join(f"<th>{html.escape(c)}</th>" for c in shown[0]) if shown else ""
        body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in shown[1:])
        more = f" (first {MAX_TABLE_ROWS} of {len(rows) - 1} rows)" if len(rows) - 1 > MAX_TABLE_ROWS else ""
        table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        return f'<h3><a href="{href}">{name}</a>{more}</h3>{table}'
    if suffix == ".txt":
        lines = path.read_text(encoding="utf-8").splitlines()
        more = f" (first {MAX_TEXT_LINES} of {len(lines)} lines)" if len(lines) > MAX_TEXT_LINES else ""
        text = html.escape("\n".join(lines[:MAX_TEXT_LINES]))
        return f'<h3><a href="{href}">{name}</a>{more}</h3><pre>{text}</pre>'
    return f'<p><a href="{href}">{name}</a></p>'


def _picture(path: Path) -> str:
    """A picture: whole, scaled to fit, if its text stays readable; else at a readable size in a scrolling frame."""
    name, href = html.escape(path.name), _href(path.name)
    size = picture_size(path)
    if size is not None:
        width, height, least_scale = size
        if min(1.0, FIGURE_WIDTH / width, FIGURE_HEIGHT / height) < least_scale:
            shown = f'width="{round(width * least_scale)}" height="{round(height * least_scale)}"'
            return (
                f'<figure class="large"><div class="frame"><img src="{href}" alt="{name}" {shown}></div>'
                f'<figcaption><a href="{href}">{name}</a>: {round(width)} x {round(height)} pixels, too large to '
                f"show whole with readable text, so shown at {least_scale:.0%}: scroll inside the frame, or open "
                "the full picture.</figcaption></figure>"
            )
    return (
        f'<figure><a href="{href}"><img src="{href}" alt="{name}"></a>'
        f'<figcaption><a href="{href}">{name}</a></figcaption></figure>'
    )


def picture_size(path: Path) -> tuple[float, float, float] | None:
    """A picture's natural width and height in CSS pixels and the least scale at which its text is readable.

    SVG: the <svg> element's width and height, and its smallest font-size scaled
    as the viewBox is (READABLE_TEXT_PX). PNG: the pixels of its header
    (READABLE_PNG_SCALE). None when the file says neither (then it is shown as is).
    """
    suffix = path.suffix.lower()
    if suffix == ".png":
        head = path.read_bytes()[:24]
        if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", head[16:24])
        return (float(width), float(height), READABLE_PNG_SCALE) if width and height else None
    if suffix != ".svg":
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    element = re.search(r"<svg\b[^>]*>", text)
    if element is None:
        return None
    attributes = dict(re.findall(r'\b([\w:-]+)="([^"]*)"', element.group(0)))
    width, height = _css_pixels(attributes.get("width", "")), _css_pixels(attributes.get("height", ""))
    if width is None or height is None or width <= 0 or height <= 0:
        return None
    view_box = re.fullmatch(r"\s*\S+[\s,]+\S+[\s,]+(\d+(?:\.\d*)?)[\s,]+\S+\s*", attributes.get("viewBox", ""))
    pixels_per_unit = width / float(view_box.group(1)) if view_box and float(view_box.group(1)) > 0 else 1.0
    fonts = [float(size) for size in re.findall(r'font-size="(\d+(?:\.\d*)?)(?:px)?"', text) if float(size) > 0]
    if not fonts:
        return width, height, READABLE_PNG_SCALE
    return width, height, READABLE_TEXT_PX / (min(fonts) * pixels_per_unit)


def _css_pixels(length: str) -> float | None:
    """An SVG length ("2376pt", "640", "12cm") in CSS pixels; None for a percentage or anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([a-z]*)\s*", length)
    if match is None or match.group(2) not in CSS_PX:
        return None
    return float(match.group(1)) * CSS_PX[match.group(2)]


def _href(name: str) -> str:
    """A relative link to a file beside the page."""
    return html.escape("./" + name)


def _page_title(path: Path) -> str:
    match = re.search(r"<title>(.*?)</title>", path.read_text(encoding="utf-8"), re.S)
    return html.unescape(match.group(1)) if match else path.name


def _cell(text: str) -> str:
    """A CSV cell: numbers to 6 significant digits, the rest as written."""
    try:
        number = float(text)
    except ValueError:
        return html.escape(text)
    return f"{number:.6g}"


def _cells(line: str) -> list[str]:
    """The cells of one markdown table row (a `\\|` inside a cell is a literal bar)."""
    cells = re.split(r"(?<!\\)\|", line.strip())[1:-1]
    return [c.strip().replace("\\|", "|") for c in cells]


def _markdown(text: str) -> str:
    """The inline markdown the errata use: **bold** and `code`."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


if __name__ == "__main__":
    main()
