"""The explorer pages and the demo report in a real browser: headless Chromium, driven by Playwright.

The Chromium is the operating system's (Debian: `apt-get install chromium chromium-driver`; `make test` installs
it): Playwright launches that executable and downloads no browser (never run `playwright install`). Where no
Chromium (or no Playwright) can be found these tests skip; under CI they fail instead, like the rendering
tests. They check what a learner sees: the page loads with no console error and no network request, the
counter starts at step 0 / n, each step shows the right numbers (after End, every labelled value shows the
gradient backward() gives), ArrowLeft undoes one step, Play reaches the end, hovering explains a value, two
pages share a notebook, and a screenshot is not blank (saved as out/explorer_screenshot.png, which the demo
report shows). In windows 1000 and 1600 pixels wide, for network 1.1 and the 2-3-1 and 2-16-16-1 MLPs: the
page opens readable (every text of the drawing at least 10 CSS pixels on screen, measured) and no wider than
the window, and at every step the text stays readable, the step's Value is in view, its inputs too where they
fit, and the step's text counts those that do not (i brings them in); 0 shows the whole graph and 0 again or
the next step comes back. Zooming scales the drawing, dragging pans, and the reader's zoom holds from step to
step, never below the reading scale. The demo report shows its
diagrams with readable text.
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import backward_gradients, micrograd_expression, missing_tool

import engine
import nn
from demos import diagram as diagram_demo
from demos import explorer as explorer_demo
from demos import report
from engine import Explorer, Value, backward_steps, explain, explore
from engine.pictures.explorer import STANDALONE_ID
from engine.pictures.naming import computing_order, format_number, node_names
from engine.pictures.steps import tangent_steps

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "out" / "explorer_screenshot.png"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
# As root in a container, with no network: no sandbox, no GPU, and none of Chromium's own connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL = "Debian/Ubuntu: sudo apt-get install chromium chromium-driver (make test does it where it can)"
WINDOW = {"width": 1400, "height": 900}  # the window the view's tests use (the fixture's default: 1280 x 900)


def chromium_executable() -> str | None:
    """The system's Chromium: $CHROMIUM if set, else the first of CHROMIUM_NAMES on PATH."""
    override = os.environ.get("CHROMIUM")
    if override:
        return shutil.which(override)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless Chromium (a fresh profile) for the module: a Playwright BrowserContext."""
    executable = chromium_executable()
    if executable is None:
        missing_tool(f"no Chromium found on PATH ({INSTALL})")
    if shutil.which("dot") is None:
        missing_tool("Graphviz's `dot` program is not installed (apt-get install graphviz)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_tool("Playwright for Python is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        yield context
        context.close()


@dataclass
class Opened:
    """A page in the browser, with everything it logged and requested."""

    page: Any
    url: str
    console: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def counter(self, root: str = f"#{STANDALONE_ID}") -> str:
        return self.page.inner_text(f"{root} .vg-counter")

    def boxes(self, root_id: str = STANDALONE_ID) -> list[tuple[str, str]]:
        """Every Value's (data text, grad text) as shown, in computing order (the SVG groups' ids: v0, v1, ...)."""
        shown = self.page.evaluate(
            """(rootId) => {
                const root = document.getElementById(rootId);
                const out = [];
                for (let i = 0; ; i++) {
                    const group = root.querySelector('[id="' + rootId + '-v' + i + '"]');
                    if (!group) return out;
                    const texts = Array.from(group.querySelectorAll("text")).map((t) => t.textContent.trim());
                    out.push([texts[texts.length - 2], texts[texts.length - 1]]);
                }
            }""",
            root_id,
        )
        return [(data, grad) for data, grad in shown]

    def assert_clean(self) -> None:
        """No console error or warning, no script error, and no request but the page file itself."""
        assert self.errors == []
        assert [(kind, text) for kind, text in self.console if kind in ("error", "warning")] == []
        assert self.requests == [self.url]
        assert self.page.evaluate("performance.getEntriesByType('resource').map((e) => e.name)") == []


def open_file(browser: Any, path: Path, window: dict[str, int] | None = None) -> Opened:
    page = browser.new_page()
    if window is not None:
        page.set_viewport_size(window)
    opened = Opened(page, path.resolve().as_uri())
    page.on("console", lambda message: opened.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.on("request", lambda request: opened.requests.append(request.url))
    page.goto(opened.url)
    return opened


def open_page(
    browser: Any, explorer: Explorer, tmp_path: Path, name: str = "page.html", window: dict[str, int] | None = None
) -> Opened:
    opened = open_file(browser, explorer.save(tmp_path / name), window)
    opened.page.wait_for_function("document.querySelector('.vg-counter').textContent.startsWith('step 0 /')")
    return opened


# ---------------------------------------------------------------- graphs and what each step must show


def shared_leaf() -> Value:
    """x feeds three nodes, one of them twice: its gradient is filled in, then grows, step by step."""
    x, y = Value(0.6, label="x"), Value(-1.1, label="y")
    a = x * x
    b = (a + y).tanh() * x
    out = b + a * y
    out.label = "out"
    return out


def expected_boxes(root: Value, k: int) -> list[tuple[str, str]]:
    """What each box shows after k steps, computed here from backward_steps (not by the page's script)."""
    order = computing_order(root)
    index = {v: i for i, v in enumerate(order)}
    data = ["data " + format_number(v.data) if i < k else "data" for i, v in enumerate(order)]
    grads: list[str | None] = [None] * len(order)
    backward = k - len(order)  # steps of the backward pass taken: dL/dL = 1, then the chain-rule steps
    if backward >= 1:
        grads[index[root]] = format_number(1.0)
    for step in backward_steps(root)[: max(0, backward - 1)]:
        for part in step.contributions:
            grads[index[part.parent]] = format_number(part.total)
    return [(d, "grad" if g is None else "grad " + g) for d, g in zip(data, grads)]


# ---------------------------------------------------------------- the explorer page


@pytest.mark.parametrize("graph", ["seed_network", "mlp", "shared_leaf"])
def test_page_loads_and_steps_with_no_console_error_and_no_request(browser: Any, tmp_path: Path, graph: str) -> None:
    root = {"seed_network": explorer_demo.seed_network_loss, "mlp": explorer_demo.mlp_loss, "shared_leaf": shared_leaf}[
        graph
    ]()
    opened = open_page(browser, explore(root), tmp_path)  # the seed network's parameters bring their notes
    for key in ("End", "Home", "ArrowRight", "ArrowRight", "ArrowLeft"):
        opened.page.keyboard.press(key)
    opened.page.click(f"#{STANDALONE_ID} .vg-next")
    opened.page.hover(f"#{STANDALONE_ID}-v0")
    assert opened.counter() == f"step 2 / {explore(root).n_steps}"
    opened.assert_clean()


def test_counter_starts_at_step_0_of_n_with_nothing_computed(browser: Any, tmp_path: Path) -> None:
    root = explorer_demo.seed_network_loss()
    explorer = explore(root)
    opened = open_page(browser, explorer, tmp_path)
    n = len(computing_order(root)) + 1 + len(backward_steps(root))
    assert explorer.n_steps == n
    assert opened.counter() == f"step 0 / {n}"
    assert opened.page.input_value(f"#{STANDALONE_ID} .vg-slider") == "0"
    assert opened.boxes() == [("data", "grad")] * len(computing_order(root))


@pytest.mark.parametrize("graph", ["expression", "shared_leaf"])
def test_every_step_shows_the_forward_values_and_the_gradients_so_far(browser: Any, tmp_path: Path, graph: str) -> None:
    root = {"expression": micrograd_expression, "shared_leaf": shared_leaf}[graph]()
    explorer = explore(root)
    opened = open_page(browser, explorer, tmp_path)
    for k in range(explorer.n_steps + 1):
        assert opened.counter() == f"step {k} / {explorer.n_steps}"
        assert opened.boxes() == expected_boxes(root, k), k
        opened.page.keyboard.press("ArrowRight")
    assert opened.counter() == f"step {explorer.n_steps} / {explorer.n_steps}"  # no step past the end


@pytest.mark.parametrize("graph", ["seed_network", "mlp"])
def test_after_end_every_labelled_value_shows_the_gradient_backward_gives(
    browser: Any, tmp_path: Path, graph: str
) -> None:
    root = {"seed_network": explorer_demo.seed_network_loss, "mlp": explorer_demo.mlp_loss}[graph]()
    opened = open_page(browser, explore(root), tmp_path)
    opened.page.keyboard.press("End")
    shown = opened.boxes()
    grads = backward_gradients(root)
    order = computing_order(root)
    labelled = [i for i, v in enumerate(order) if v.label]
    assert len(labelled) >= 8
    for i in labelled:
        expected = ("data " + format_number(order[i].data), "grad " + format_number(grads[order[i]]))
        assert shown[i] == expected, order[i].label


def test_arrow_left_goes_back_one_step_and_the_parents_gradients_change_back(browser: Any, tmp_path: Path) -> None:
    root = shared_leaf()
    explorer = explore(root)
    order = computing_order(root)
    index = {v: i for i, v in enumerate(order)}
    opened = open_page(browser, explorer, tmp_path)
    n = explorer.n_steps
    last_step = backward_steps(root)[-1]
    parents = sorted({index[part.parent] for part in last_step.contributions})
    for back in range(1, 4):  # from the end, three steps back, one at a time
        opened.page.keyboard.press("End")
        at_end = opened.boxes()
        for _ in range(back):
            opened.page.keyboard.press("ArrowLeft")
        assert opened.counter() == f"step {n - back} / {n}"
        assert opened.boxes() == expected_boxes(root, n - back)
    opened.page.keyboard.press("End")
    opened.page.keyboard.press("ArrowLeft")
    before = opened.boxes()
    for i in parents:
        assert before[i][1] != at_end[i][1], order[i].label  # the last step's parents lose what it added
        assert before[i][1] == expected_boxes(root, n - 1)[i][1]
    opened.page.keyboard.press("Home")
    assert opened.counter() == f"step 0 / {n}"


def test_buttons_and_slider_move_like_the_keys(browser: Any, tmp_path: Path) -> None:
    root = micrograd_expression()
    explorer = explore(root)
    opened = open_page(browser, explorer, tmp_path)
    page, n, at = opened.page, explorer.n_steps, f"#{STANDALONE_ID}"
    assert page.is_disabled(f"{at} .vg-prev") and not page.is_disabled(f"{at} .vg-next")
    for _ in range(3):
        page.click(f"{at} .vg-next")
    assert opened.counter() == f"step 3 / {n}"
    page.click(f"{at} .vg-prev")
    assert opened.counter() == f"step 2 / {n}"
    page.fill(f"{at} .vg-slider", "9")
    assert opened.counter() == f"step 9 / {n}" and opened.boxes() == expected_boxes(root, 9)
    page.fill(f"{at} .vg-slider", str(n))
    assert page.is_disabled(f"{at} .vg-next")
    opened.assert_clean()


def test_each_backward_step_shows_its_lines_of_the_transcript(browser: Any, tmp_path: Path) -> None:
    root = micrograd_expression()
    explorer = explore(root)
    opened = open_page(browser, explorer, tmp_path)
    opened.page.fill(f"#{STANDALONE_ID} .vg-slider", str(explorer.n_steps))
    lines = opened.page.inner_text(f"#{STANDALONE_ID} .vg-lines").splitlines()
    # The last step: e = a * b hands dL/de = f = -2 on, with ∂e/∂a = b = -3 and ∂e/∂b = a = 2.
    assert lines == ["dL/da += dL/de · ∂e/∂a = -2 · -3 = 6", "dL/db += dL/de · ∂e/∂b = -2 · 2 = -4"]
    current = opened.page.locator(f"#{STANDALONE_ID} .vg-transcript .vg-line.vg-current").all_inner_texts()
    assert current == lines


# ---------------------------------------------------------------- forward mode beside the backward pass

THREE_CELLS = """(rootId) => {
    const root = document.getElementById(rootId);
    const out = [];
    for (let i = 0; ; i++) {
        const group = root.querySelector('[id="' + rootId + '-v' + i + '"]');
        if (!group) return out;
        out.push(Array.from(group.querySelectorAll("text")).map((t) => t.textContent.trim()).slice(-3));
    }
}"""


def expected_boxes_with_tangents(root: Value, wrt: Value, k: int) -> list[tuple[str, str, str]]:
    """What each box shows after k steps of a page with forward mode along wrt: data, tangent and grad."""
    order = computing_order(root)
    title = "d/d" + node_names(order)[wrt]
    tangents = [format_number(step.tangent) for step in tangent_steps(root, wrt)]
    return [
        (data, f"{title} {tangent}" if i < k else title, grad)
        for i, ((data, grad), tangent) in enumerate(zip(expected_boxes(root, k), tangents))
    ]


def seed_network_function(w1: Any, b1: Any, w2: Any, b2: Any, w3: Any, b3: Any) -> Any:
    """Network 1.1's loss at x = 0.5, y = 1, written out with Values: for engine.jvp, apart from nn's graph."""
    h1 = (w1 * 0.5 + b1).sigmoid()
    h2 = (w2 * h1 + b2).sigmoid()
    return (1.0 - (w3 * h2 + b3)) ** 2


@pytest.mark.parametrize("graph", ["seed_network", "shared_leaf"])
def test_forward_mode_shows_each_tangent_as_the_forward_pass_reaches_it(
    browser: Any, tmp_path: Path, graph: str
) -> None:
    if graph == "seed_network":
        model = nn.SeedNetwork("sigmoid", seed=0)
        root, wrt = model.loss(0.5, 1.0), dict(model.named_parameters())["w1"]
    else:
        root = shared_leaf()
        (wrt,) = [v for v in computing_order(root) if v.label == "x"]
    explorer = explore(root, wrt=wrt)
    opened = open_page(browser, explorer, tmp_path)
    order = computing_order(root)
    transcript = explain(root, mode="forward", wrt=wrt).splitlines()
    at = f"#{STANDALONE_ID}"
    for k in range(explorer.n_steps + 1):
        assert opened.counter() == f"step {k} / {explorer.n_steps}"
        assert [tuple(cells) for cells in opened.page.evaluate(THREE_CELLS, STANDALONE_ID)] == (
            expected_boxes_with_tangents(root, wrt, k)
        ), k
        if 1 <= k <= len(order):  # the forward step's Value, and its tangent line, as explain writes it
            lines = opened.page.inner_text(f"{at} .vg-lines").splitlines()
            assert lines[-1] == transcript[k - 1], k
            current = opened.page.locator(f"{at} .vg-transcript .vg-line.vg-current").all_inner_texts()
            assert current == [transcript[k - 1]], k
        opened.page.keyboard.press("ArrowRight")
    opened.assert_clean()
    if graph != "seed_network":
        return
    # The end of the forward pass: dL/dw1 by forward mode, in one sweep, equal to engine.jvp on the network
    # written out by hand; at the end of the backward pass, the same number by reverse mode.
    point = [p.data for p in model.parameters()]
    assert [name for name, _ in model.named_parameters()] == ["w1", "b1", "w2", "b2", "w3", "b3"]
    _, dL_dw1 = engine.jvp(seed_network_function, point, [1.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    opened.page.fill(f"{at} .vg-slider", str(len(order)))
    notes = opened.page.inner_text(f"{at} .vg-notes")
    assert f"forward mode: dL/dw1 = {format_number(dL_dw1)} in 1 sweep" in notes and "8 sweeps, one per leaf" in notes
    opened.page.keyboard.press("End")
    notes = opened.page.inner_text(f"{at} .vg-notes")
    assert f"reverse mode: dL/d(leaf) for all 8 leaves in 1 backward sweep; dL/dw1 = {format_number(dL_dw1)}" in notes
    shown = {order[i].label: cells for i, cells in enumerate(opened.page.evaluate(THREE_CELLS, STANDALONE_ID))}
    assert shown["L"][1] == f"d/dw1 {format_number(dL_dw1)}" and shown["w1"][2] == f"grad {format_number(dL_dw1)}"
    assert format_number(dL_dw1) == "-0.1206"


def test_play_reaches_the_end(browser: Any, tmp_path: Path) -> None:
    root = micrograd_expression()
    explorer = explore(root)
    opened = open_page(browser, explorer, tmp_path)
    play = f"#{STANDALONE_ID} .vg-play"
    opened.page.click(play)
    assert opened.page.inner_text(play) == "Pause"
    opened.page.wait_for_function(
        "([id, n]) => document.querySelector('#' + id + ' .vg-counter').textContent === 'step ' + n + ' / ' + n",
        arg=[STANDALONE_ID, explorer.n_steps],
        timeout=30_000,
    )
    opened.page.wait_for_function(f"document.querySelector('{play}').textContent === 'Play'", timeout=5_000)
    assert opened.boxes() == expected_boxes(root, explorer.n_steps)
    opened.assert_clean()


def test_hovering_a_value_shows_its_operation_and_inputs(browser: Any, tmp_path: Path) -> None:
    root = micrograd_expression()
    order = computing_order(root)
    (d,) = [i for i, v in enumerate(order) if v.label == "d"]
    opened = open_page(browser, explore(root), tmp_path)
    opened.page.hover(f"#{STANDALONE_ID}-v{d}")
    text = opened.page.inner_text(f"#{STANDALONE_ID} .vg-hover")
    assert "d = e + c = 4" in text and "operation +" in text and "inputs e = -6, c = 10" in text


def test_the_seeds_formulas_show_at_the_steps_that_reach_w1_to_b3(browser: Any, tmp_path: Path) -> None:
    root = explorer_demo.seed_network_loss()
    explorer = explore(root)  # no notes passed: nn.SeedNetwork's parameters carry the seed's formulas
    opened = open_page(browser, explorer, tmp_path)
    opened.page.keyboard.press("End")  # the last step: u1 = linear(w1, x, b1) hands its gradient to w1, x, b1
    notes = opened.page.inner_text(f"#{STANDALONE_ID} .vg-notes")
    assert "w1: the seed writes ∂L/∂w1 = −(2/N) Σ ŷ (y − ŷ) w3 w2 x [∂g(u)/∂u]²" in notes
    assert "corrected: ∂L/∂w1 = −(2/N) Σ (y − ŷ) w3 g'(u2) w2 g'(u1) x" in notes
    assert "b1: the seed writes" in notes and "w3" not in notes.replace("w3 w2", "").replace("w3 g'", "")
    opened.page.keyboard.press("ArrowLeft")
    assert opened.page.inner_text(f"#{STANDALONE_ID} .vg-notes") == ""  # u1's parent h1: no note


def test_two_pages_in_one_document_as_in_a_notebook(browser: Any) -> None:
    first, second = explore(micrograd_expression()), explore(shared_leaf())
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    fragments = [first._repr_html_(), second._repr_html_()]
    page.set_content("<!DOCTYPE html><html><body>" + "".join(fragments) + "</body></html>")
    ids = [page.evaluate(f"document.querySelectorAll('.vg-explorer')[{i}].id") for i in (0, 1)]
    page.click(f"#{ids[1]} .vg-next")
    page.click(f"#{ids[1]} .vg-next")
    assert page.inner_text(f"#{ids[0]} .vg-counter") == f"step 0 / {first.n_steps}"
    assert page.inner_text(f"#{ids[1]} .vg-counter") == f"step 2 / {second.n_steps}"
    page.focus(f"#{ids[0]} .vg-next")
    page.keyboard.press("End")  # keys act on the page that has the focus
    assert page.inner_text(f"#{ids[0]} .vg-counter") == f"step {first.n_steps} / {first.n_steps}"
    assert page.inner_text(f"#{ids[1]} .vg-counter") == f"step 2 / {second.n_steps}"
    width = "(id) => document.querySelector('#' + id + ' .vg-diagram svg').getBoundingClientRect().width"
    widths = [page.evaluate(width, i) for i in ids]
    page.click(f"#{ids[1]} .vg-diagram")  # clicking a page's diagram gives that page the keys
    page.keyboard.press("+")
    assert page.evaluate(width, ids[0]) == widths[0] and page.evaluate(width, ids[1]) > 1.2 * widths[1]
    page.evaluate("document.activeElement.blur()")  # as Jupyter moves the focus to a cell by itself
    page.keyboard.press("ArrowRight")  # the keys still act on the page clicked last, and on it alone
    assert page.inner_text(f"#{ids[0]} .vg-counter") == f"step {first.n_steps} / {first.n_steps}"
    assert page.inner_text(f"#{ids[1]} .vg-counter") == f"step 3 / {second.n_steps}"
    page.mouse.click(2, 2)  # a click outside both pages: the keys are no longer theirs
    page.keyboard.press("Home")  # nothing has the focus and two pages share the document: neither moves
    assert page.inner_text(f"#{ids[0]} .vg-counter") == f"step {first.n_steps} / {first.n_steps}"
    assert page.inner_text(f"#{ids[1]} .vg-counter") == f"step 3 / {second.n_steps}"
    # The script's parts run inside one function per page: none of their names is global.
    names = ["readPage", "stateAfter", "stepDrawing", "diagramView", "startExplorer", "valuegradExplorer"]
    assert page.evaluate("(names) => names.filter((name) => name in window)", names) == []
    assert errors == []
    page.close()


def test_screenshot_is_not_blank(browser: Any, tmp_path: Path) -> None:
    from PIL import Image

    root = explorer_demo.seed_network_loss()
    explorer = explore(root, title="The seed's network 1.1", rankdir="TB")
    opened = open_page(browser, explorer, tmp_path)
    n = explorer.n_steps
    opened.page.fill(f"#{STANDALONE_ID} .vg-slider", str(n - 4))  # ŷ's step: w3, h2, b3, with the seed's formulas
    assert "w3: the seed writes" in opened.page.inner_text(f"#{STANDALONE_ID} .vg-notes")
    png = opened.page.screenshot(full_page=True)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert image.width >= 1000 and image.height >= 600
    pixels = np.asarray(image.resize((image.width // 4, image.height // 4))).reshape(-1, 3).astype(int)
    colours = len(np.unique(pixels, axis=0))
    not_white = float(np.mean(pixels.min(axis=1) < 235))
    assert colours > 50 and not_white > 0.05, (colours, not_white)  # text, boxes, colours: not an empty page
    r, g, b = np.asarray(image).reshape(-1, 3).astype(int).T  # every pixel: an outline is a few pixels wide
    assert np.any((r > 200) & (g > 100) & (g < 150) & (b < 60))  # the highlighted node's orange outline
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(png)  # the demo report (out/index.html) shows it
    opened.assert_clean()


# ---------------------------------------------------------------- the view: fit, zoom, pan, steps in view


@dataclass(frozen=True)
class Rect:
    left: float
    top: float
    right: float
    bottom: float

    @property
    def width(self) -> float:
        return self.right - self.left

    @property
    def height(self) -> float:
        return self.bottom - self.top

    def inside(self, other: Rect, slack: float = 0.5) -> bool:
        return (
            self.left >= other.left - slack
            and self.top >= other.top - slack
            and self.right <= other.right + slack
            and self.bottom <= other.bottom + slack
        )


def union(rects: list[Rect]) -> Rect:
    return Rect(
        min(r.left for r in rects), min(r.top for r in rects), max(r.right for r in rects), max(r.bottom for r in rects)
    )


@dataclass(frozen=True)
class View:
    """What the browser shows: the visible part of the diagram area, the drawing and some SVG groups, as rects."""

    area: Rect  # the diagram area's inside without its scrollbars, cut to the window
    drawing: Rect  # the SVG element
    groups: list[Rect]
    page_width: int  # the document's scroll width
    window_width: int


MEASURE = """([rootId, names]) => {
    const root = document.getElementById(rootId);
    const diagram = root.querySelector(".vg-diagram");
    const outer = diagram.getBoundingClientRect();
    const left = outer.left + diagram.clientLeft;
    const top = outer.top + diagram.clientTop;
    const rect = (r) => [r.left, r.top, r.right, r.bottom];
    const group = (name) => root.querySelector('[id="' + rootId + "-" + name + '"]');
    return {
        area: [Math.max(left, 0), Math.max(top, 0), Math.min(left + diagram.clientWidth, innerWidth),
               Math.min(top + diagram.clientHeight, innerHeight)],
        drawing: rect(root.querySelector(".vg-diagram svg").getBoundingClientRect()),
        groups: names.map((name) => rect(group(name).getBoundingClientRect())),
        pageWidth: document.documentElement.scrollWidth,
        windowWidth: document.documentElement.clientWidth,
    };
}"""


def measure(opened: Opened, names: Sequence[str] = (), root_id: str = STANDALONE_ID) -> View:
    shown = opened.page.evaluate(MEASURE, [root_id, list(names)])
    return View(
        Rect(*shown["area"]),
        Rect(*shown["drawing"]),
        [Rect(*r) for r in shown["groups"]],
        shown["pageWidth"],
        shown["windowWidth"],
    )


def natural_size(explorer: Explorer) -> tuple[float, float]:
    """The drawing's size at 100% in CSS pixels, from Graphviz's <svg width="..pt" height="..pt">."""
    size = re.search(r'<svg width="([\d.]+)pt" height="([\d.]+)pt"', explorer.html())
    assert size is not None
    return float(size.group(1)) * 4 / 3, float(size.group(2)) * 4 / 3


def step_groups(root: Value, k: int) -> list[str]:
    """The SVG groups of step k's Value, its operation and its inputs (the page's steps: forward, then backward)."""
    order = computing_order(root)
    index = {v: i for i, v in enumerate(order)}
    if k <= len(order):
        value = order[k - 1]
    elif k == len(order) + 1:
        value = root
    else:
        value = backward_steps(root)[k - len(order) - 2].node
    i = index[value]
    return [f"v{i}", *([f"op{i}"] if value.op is not None else []), *(f"v{index[p]}" for p in value.parents)]


def step_targets(root: Value, k: int) -> tuple[list[str], list[str]]:
    """Step k's Value and its operation, and its inputs (each once), as SVG group names; step 0 shows step 1's."""
    names = step_groups(root, max(k, 1))
    node = names[:2] if names[1:2] and names[1].startswith("op") else names[:1]
    return node, list(dict.fromkeys(names[len(node) :]))


def widest_step(root: Value) -> int:
    """The page's step whose Value has the most inputs (a backward step)."""
    steps = backward_steps(root)
    widest = max(range(len(steps)), key=lambda s: len(steps[s].node.parents))
    return len(computing_order(root)) + 2 + widest


# The demo's pages, by the names the tests use, each made once (the 2-16-16-1 MLP takes Graphviz seconds).
DEMO_PAGES = {
    "seed_network": "seed_network_explorer.html",
    "seed_network_forward_mode": "seed_network_forward_mode_explorer.html",  # a wider box: data, d/dw1, grad
    "mlp_2_3_1": "mlp_2_3_1_explorer.html",
    "mlp_2_16_16_1": "mlp_2_16_16_1_explorer.html",
}
# The two windows: a laptop's and a large screen's.
WINDOWS = {"1000px": {"width": 1000, "height": 700}, "1600px": {"width": 1600, "height": 900}}
READABLE = 10  # CSS pixels: the least size on screen of any text of the drawing, at the opening and every step


@functools.cache
def demo_page(graph: str) -> Explorer:
    (explorer,) = [page for name, page in explorer_demo.pages() if name == DEMO_PAGES[graph]]
    return explorer


def mlp_page() -> Explorer:
    return demo_page("mlp_2_16_16_1")


def seed_page() -> Explorer:
    return demo_page("seed_network")


# What the reader sees at each of a list of steps (null: as the page is now), moving there with the slider.
# The text's size on screen is measured twice: the drawing's smallest font size times the size of the SVG's
# unit on screen (getScreenCTM), and the height of each text of the step's Value as laid out
# (getBoundingClientRect). Nothing here reads the page's script: only what the browser shows.
READING = r"""([rootId, steps]) => {
    const root = document.getElementById(rootId);
    const slider = root.querySelector(".vg-slider");
    const diagram = root.querySelector(".vg-diagram");
    const group = (name) => root.querySelector('[id="' + rootId + "-" + name + '"]');
    const texts = Array.from(root.querySelectorAll(".vg-diagram svg text"));
    const fontSize = (text) => parseFloat(text.getAttribute("font-size"));
    const leastFont = Math.min(...texts.map(fontSize));
    const smallest = texts.find((text) => fontSize(text) === leastFont);
    const union = (rects) => ({
        left: Math.min(...rects.map((r) => r.left)), top: Math.min(...rects.map((r) => r.top)),
        right: Math.max(...rects.map((r) => r.right)), bottom: Math.max(...rects.map((r) => r.bottom)),
    });
    const results = [];
    for (const [k, node, inputs] of steps) {
        if (k !== null) {
            slider.value = String(k);
            slider.dispatchEvent(new Event("input"));
        }
        const outer = diagram.getBoundingClientRect();
        const left = outer.left + diagram.clientLeft;
        const top = outer.top + diagram.clientTop;
        const area = {
            left: Math.max(left, 0), top: Math.max(top, 0),
            right: Math.min(left + diagram.clientWidth, innerWidth),
            bottom: Math.min(top + diagram.clientHeight, innerHeight),
        };
        const inside = (r) => r.left >= area.left - 0.5 && r.top >= area.top - 0.5 &&
            r.right <= area.right + 0.5 && r.bottom <= area.bottom + 0.5;
        const nodeRects = node.map((name) => group(name).getBoundingClientRect());
        const inputRects = inputs.map((name) => group(name).getBoundingClientRect());
        const all = union([...nodeRects, ...inputRects]);
        const offview = root.querySelector(".vg-offview");
        results.push({
            counter: root.querySelector(".vg-counter").textContent,
            smallestText: leastFont * smallest.getScreenCTM().a,
            nodeTextHeights: node.flatMap((name) =>
                Array.from(group(name).querySelectorAll("text"), (t) => t.getBoundingClientRect().height)),
            nodeInside: nodeRects.every(inside),
            inputsOut: inputRects.filter((r) => !inside(r)).length,
            // Would the step's Value and all its inputs fit in the area at this scale, with a margin?
            allWouldFit: all.right - all.left <= area.right - area.left - 30 &&
                all.bottom - all.top <= area.bottom - area.top - 30,
            message: offview.hidden ? null : offview.innerText.replace(/\s+/g, " ").trim(),
            zoom: root.querySelector(".vg-zoom-level").textContent,
            drawingWidth: root.querySelector(".vg-diagram svg").getBoundingClientRect().width,
            pageWidth: document.documentElement.scrollWidth,
        });
    }
    return results;
}"""


def reading(opened: Opened, root: Value, ks: Sequence[int | None]) -> list[dict[str, Any]]:
    """What READING measures at each step of `ks` (None: the page as it is), in that order."""
    now = int(opened.counter().split()[1])
    steps = [[k, *step_targets(root, now if k is None else k)] for k in ks]
    return list(opened.page.evaluate(READING, [STANDALONE_ID, steps]))


def out_of_view(n: int, total: int) -> str:
    """What the step's text says when the view leaves inputs out: how many, and the key that brings them in."""
    return f"{n} of {total} input{'s' if total != 1 else ''} out of view: show them all (i)"


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("graph", list(DEMO_PAGES))
def test_text_is_readable_and_the_step_in_view_at_the_opening_and_at_every_step(
    browser: Any, tmp_path: Path, graph: str, window: str
) -> None:
    explorer = demo_page(graph)
    root, n = explorer.root, explorer.n_steps
    opened = open_page(browser, explorer, tmp_path, window=WINDOWS[window])
    ks: list[int | None] = [None, *range(1, n + 1)]  # the opening, then every step
    shown = reading(opened, root, ks)
    left_out = []
    for k, seen in zip(ks, shown):
        where = (graph, window, "opening" if k is None else k)
        assert seen["counter"] == f"step {k or 0} / {n}", where
        assert seen["smallestText"] >= READABLE, where  # every text of the drawing, the operations' too
        assert min(seen["nodeTextHeights"]) >= READABLE, where
        assert seen["nodeInside"], where  # the step's Value and its operation
        node, inputs = step_targets(root, k or 1)
        if seen["allWouldFit"]:
            assert seen["inputsOut"] == 0, where  # its inputs, where they fit at this scale
        if seen["inputsOut"]:
            assert seen["message"] == out_of_view(seen["inputsOut"], len(inputs)), where
            left_out.append(k)
        else:
            assert seen["message"] is None, where
        assert seen["pageWidth"] <= WINDOWS[window]["width"], where
    if graph == "mlp_2_16_16_1":
        assert widest_step(root) in left_out  # 33 inputs: the test has a step whose inputs do not all fit
    # The key i brings a step's inputs in; the next step reads again.
    for k in left_out[:3]:
        assert k is not None
        opened.page.fill(f"#{STANDALONE_ID} .vg-slider", str(k))
        opened.page.keyboard.press("i")
        (seen,) = reading(opened, root, [None])
        total = len(step_targets(root, k)[1])
        assert seen["inputsOut"] == 0 and seen["nodeInside"], (graph, window, k)
        assert seen["message"] == f"All {total} inputs in view; the next step zooms back in.", (graph, window, k)
        opened.page.keyboard.press("ArrowRight")
        (seen,) = reading(opened, root, [None])
        assert seen["smallestText"] >= READABLE and seen["nodeInside"], (graph, window, k + 1)
    opened.assert_clean()


@pytest.mark.parametrize("graph", list(DEMO_PAGES))
def test_0_shows_the_whole_graph_and_0_again_or_a_step_comes_back_to_reading(
    browser: Any, tmp_path: Path, graph: str
) -> None:
    explorer = demo_page(graph)
    opened = open_page(browser, explorer, tmp_path, window=WINDOWS["1600px"])
    width, height = natural_size(explorer)
    opened.page.fill(f"#{STANDALONE_ID} .vg-slider", "7")
    (reading_view,) = reading(opened, explorer.root, [None])
    for back in ("0", "ArrowRight"):  # the overview, then 0 again or the next step
        opened.page.keyboard.press("0")
        view = measure(opened)
        assert view.drawing.inside(view.area), (back, view.drawing, view.area)  # the whole graph
        assert view.drawing.width >= 0.9 * view.area.width or view.drawing.height >= 0.9 * view.area.height
        assert view.drawing.width / width == pytest.approx(view.drawing.height / height, rel=0.01)  # not distorted
        opened.page.keyboard.press(back)
        (seen,) = reading(opened, explorer.root, [None])
        assert seen["counter"] == f"step {7 if back == '0' else 8} / {explorer.n_steps}"
        assert seen["smallestText"] >= READABLE and seen["nodeInside"], back
        assert seen["zoom"] == reading_view["zoom"], back  # back at the scale it read at
    opened.assert_clean()


def test_zoom_buttons_keys_and_the_wheel_change_the_drawings_scale(browser: Any, tmp_path: Path) -> None:
    opened = open_page(browser, seed_page(), tmp_path, window=WINDOW)
    page, at = opened.page, f"#{STANDALONE_ID}"

    def scale() -> tuple[float, float, float]:
        """The drawing's width, a box's width and a text's height: they must scale alike."""
        view = measure(opened, ["v0"])
        text = page.evaluate(f"document.querySelector('{at}-v0 text').getBoundingClientRect().height")
        return view.drawing.width, view.groups[0].width, text

    opening = scale()
    sizes = [opening]
    for action in ("click-in", "+", "=", "-", "click-out"):
        if action.startswith("click"):
            page.click(f"{at} .vg-zoom-{action.split('-')[1]}")
        else:
            page.keyboard.press(action)
        sizes.append(scale())
    ratios = [after[0] / before[0] for before, after in zip(sizes, sizes[1:])]
    for before, after in zip(sizes, sizes[1:]):  # box and text scale as the drawing does
        assert after[1] / before[1] == pytest.approx(after[0] / before[0], rel=0.02)
        assert after[2] / before[2] == pytest.approx(after[0] / before[0], rel=0.1)
    assert all(r > 1.2 for r in ratios[:3]) and all(r < 1 / 1.2 for r in ratios[3:]), ratios
    assert ratios[0] == pytest.approx(ratios[1], rel=0.01) == pytest.approx(ratios[2], rel=0.01)
    assert sizes[-1][0] == pytest.approx(sizes[1][0], rel=0.01)  # three in, two out: one step above the opening
    page.click(f"{at} .vg-actual-size")  # 1:1: Graphviz's size, a point = 4/3 pixels
    assert measure(opened).drawing.width == pytest.approx(natural_size(seed_page())[0], rel=0.01)
    page.keyboard.press("0")  # the whole graph
    overview = measure(opened)
    assert overview.drawing.inside(overview.area) and overview.drawing.width < 0.9 * opening[0]
    area = overview.area
    page.mouse.move(area.left + 100, area.top + 100)
    page.keyboard.down("Control")
    page.mouse.wheel(0, -300)  # Ctrl and the wheel (a touchpad's pinch) zoom in
    page.keyboard.up("Control")
    page.wait_for_function(
        f"document.querySelector('{at} .vg-diagram svg').getBoundingClientRect().width > {overview.drawing.width * 1.2}"
    )
    assert opened.counter() == f"step 0 / {seed_page().n_steps}"  # zooming does not step
    opened.assert_clean()


def test_steps_keep_the_readers_zoom_but_never_read_below_the_reading_scale(browser: Any, tmp_path: Path) -> None:
    explorer = seed_page()
    root, n = explorer.root, explorer.n_steps
    opened = open_page(browser, explorer, tmp_path, window=WINDOWS["1000px"])
    opened.page.keyboard.press("1")  # the reader's choice: 1:1, larger than the page opened at
    natural = natural_size(explorer)[0]
    for k, seen in zip(range(1, n + 1), reading(opened, root, range(1, n + 1))):
        assert seen["drawingWidth"] == pytest.approx(natural, rel=1e-3), k  # every step at the reader's zoom
        assert seen["nodeInside"], k
    for _ in range(4):
        opened.page.keyboard.press("-")  # smaller than readable: a look around, not a scale to read at
    (zoomed_out,) = reading(opened, root, [None])
    assert zoomed_out["smallestText"] < READABLE
    opened.page.keyboard.press("Home")
    for k, seen in zip(range(1, n + 1), reading(opened, root, range(1, n + 1))):
        assert seen["smallestText"] >= READABLE and seen["nodeInside"], k
    opened.assert_clean()


def test_keys_do_not_act_while_typing_elsewhere_and_the_slider_steps_once(browser: Any, tmp_path: Path) -> None:
    explorer = seed_page()
    opened = open_page(browser, explorer, tmp_path, window=WINDOW)
    page, n = opened.page, explorer.n_steps
    page.evaluate("document.body.appendChild(document.createElement('textarea')).focus()")
    before = measure(opened).drawing
    for key in ("End", "ArrowRight", "+", "="):
        page.keyboard.press(key)
    assert opened.counter() == f"step 0 / {n}" and measure(opened).drawing == before
    page.focus(f"#{STANDALONE_ID} .vg-slider")
    page.keyboard.press("ArrowRight")  # the slider's own move and the page's key: one step, not two
    assert opened.counter() == f"step 1 / {n}"
    page.keyboard.press("+")
    assert measure(opened).drawing.width > 1.2 * before.width


def test_dragging_pans_the_drawing(browser: Any, tmp_path: Path) -> None:
    opened = open_page(browser, seed_page(), tmp_path, window=WINDOW)
    page = opened.page
    for _ in range(3):
        page.keyboard.press("+")
    start = measure(opened, ["v0"])
    x, y = (start.area.left + start.area.right) / 2, (start.area.top + start.area.bottom) / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 120, y - 90, steps=5)
    page.mouse.up()
    moved = measure(opened, ["v0"]).groups[0]
    assert moved.left - start.groups[0].left == pytest.approx(-120, abs=1.5)
    assert moved.top - start.groups[0].top == pytest.approx(-90, abs=1.5)
    assert moved.width == pytest.approx(start.groups[0].width)  # panned, not zoomed
    assert opened.counter() == f"step 0 / {seed_page().n_steps}"


def test_after_end_the_active_node_is_in_view_at_the_readers_zoom(browser: Any, tmp_path: Path) -> None:
    root = explorer_demo.seed_network_loss()
    explorer = seed_page()
    opened = open_page(browser, explorer, tmp_path, window=WINDOW)
    for _ in range(3):
        opened.page.keyboard.press("+")  # about the centre: the top rows, where the last step is, leave the view
    node, inputs = step_targets(root, explorer.n_steps)
    zoomed = measure(opened, node)
    assert not all(group.inside(zoomed.area) for group in zoomed.groups)  # the test has something to check
    opened.page.keyboard.press("End")
    view = measure(opened, node)
    for name, group in zip(node, view.groups):
        assert group.inside(view.area), (name, group, view.area)
    assert view.drawing.width == pytest.approx(zoomed.drawing.width)  # the reader's zoom is kept
    (seen,) = reading(opened, root, [None])  # inputs left out at that zoom are counted
    assert seen["message"] == (out_of_view(seen["inputsOut"], len(inputs)) if seen["inputsOut"] else None)


# ---------------------------------------------------------------- the demo report


def test_report_page_works_offline_from_the_file_system(browser: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    diagram_demo.main(out)
    written = explorer_demo.main(out)
    (index,) = report.main(out)
    opened = open_file(browser, index)
    opened.page.wait_for_load_state("load")
    assert opened.errors == [] and [c for c in opened.console if c[0] == "error"] == []
    assert all(url.startswith("file://") for url in opened.requests), opened.requests
    images = opened.page.evaluate("Array.from(document.images).map((i) => [i.getAttribute('src'), i.naturalWidth])")
    assert images and all(width > 0 for _, width in images), images  # every picture found and drawn
    links = opened.page.evaluate("Array.from(document.links).map((a) => a.getAttribute('href'))")
    for page in [p.name for p in written if p.suffix == ".html"]:
        assert f"./{page}" in links
    opened.page.click("text=The seed's network 1.1: backpropagation step by step")
    opened.page.wait_for_function("document.querySelector('.vg-counter') !== null")
    assert opened.page.inner_text(".vg-counter").startswith("step 0 / ")
    assert all(url.startswith("file://") for url in opened.requests), opened.requests


def test_report_shows_large_diagrams_with_readable_text_never_a_strip(browser: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    diagram_demo.main(out)
    (index,) = report.main(out)
    opened = open_file(browser, index, WINDOW)
    opened.page.wait_for_load_state("load")
    shown = opened.page.evaluate(
        """() => Array.from(document.images).map((image) => {
            const rect = image.getBoundingClientRect();
            const frame = image.closest(".frame") || image;  // what of the picture the page shows at once
            return [image.getAttribute("src"), rect.width, image.naturalWidth,
                    Math.min(rect.width, frame.clientWidth), Math.min(rect.height, frame.clientHeight)];
        })"""
    )
    pictures = {src.removeprefix("./"): rest for src, *rest in shown}
    assert {"seed_network.svg", "mlp_2_16_16_1.svg"} <= set(pictures)
    for name, (width, natural_width, seen_width, seen_height) in pictures.items():
        assert seen_width >= 300 and seen_height >= 300, (name, seen_width, seen_height)  # never a strip
        if name.endswith(".svg"):
            # The smallest text as drawn: its font-size in the SVG's units, scaled as the picture is.
            svg = (out / name).read_text(encoding="utf-8")
            view_box = re.search(r'viewBox="[\d.-]+ [\d.-]+ ([\d.]+)', svg)
            assert view_box is not None
            view_box_width = float(view_box.group(1))
            smallest = min(float(size) for size in re.findall(r'font-size="([\d.]+)"', svg))
            assert smallest * width / view_box_width >= 10, (name, smallest * width / view_box_width)
        else:
            assert width >= 0.5 * natural_width, name
    assert opened.page.evaluate("document.documentElement.scrollWidth") <= WINDOW["width"]
    framed = opened.page.evaluate(
        "Array.from(document.querySelectorAll('figure.large .frame')).map((f) => [f.scrollLeft, f.scrollTop])"
    )
    assert framed and all(left > 0 or top > 0 for left, top in framed)  # opened on the middle, not a blank corner
    assert opened.errors == [] and all(url.startswith("file://") for url in opened.requests), opened.requests
