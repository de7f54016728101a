"""The explorer pages and the demo report in a real browser: headless Chromium, driven by Playwright.

The Chromium is the operating system's (Debian: `apt-get install chromium chromium-driver`; .ci/run installs
it): Playwright launches that executable and downloads no browser (never run `playwright install`). Where no
Chromium (or no Playwright) can be found these tests skip; under CI they fail instead, like the rendering
tests. They check what a learner sees: the page loads with no console error and no network request, the
counter starts at step 0 / n, each step shows the right numbers (after End, every labelled value shows the
gradient backward() gives), ArrowLeft undoes one step, Play reaches the end, hovering explains a value, two
pages share a notebook, and a screenshot is not blank (saved as out/explorer_screenshot.png, which the demo
report shows).
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import backward_gradients, micrograd_expression, missing_tool

from demos import diagram as diagram_demo
from demos import explorer as explorer_demo
from demos import report
from engine import Explorer, Value, backward_steps, explore, topological_order
from engine.pictures.explorer import STANDALONE_ID
from engine.pictures.naming import format_number

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
INSTALL = "Debian/Ubuntu: sudo apt-get install chromium chromium-driver (.ci/run does it)"


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
        """Every Value's (data text, grad text) as shown, in topological order (the SVG groups' ids)."""
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


def open_file(browser: Any, path: Path) -> Opened:
    page = browser.new_page()
    opened = Opened(page, path.resolve().as_uri())
    page.on("console", lambda message: opened.console.append((message.type, message.text)))
    page.on("pageerror", lambda error: opened.errors.append(str(error)))
    page.on("request", lambda request: opened.requests.append(request.url))
    page.goto(opened.url)
    return opened


def open_page(browser: Any, explorer: Explorer, tmp_path: Path, name: str = "page.html") -> Opened:
    opened = open_file(browser, explorer.save(tmp_path / name))
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
    order = topological_order(root)
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
    notes = explorer_demo.seed_notes(root) if graph == "seed_network" else None
    opened = open_page(browser, explore(root, notes), tmp_path)
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
    n = len(topological_order(root)) + 1 + len(backward_steps(root))
    assert explorer.n_steps == n
    assert opened.counter() == f"step 0 / {n}"
    assert opened.page.input_value(f"#{STANDALONE_ID} .vg-slider") == "0"
    assert opened.boxes() == [("data", "grad")] * len(topological_order(root))


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
    order = topological_order(root)
    labelled = [i for i, v in enumerate(order) if v.label]
    assert len(labelled) >= 8
    for i in labelled:
        expected = ("data " + format_number(order[i].data), "grad " + format_number(grads[order[i]]))
        assert shown[i] == expected, order[i].label


def test_arrow_left_goes_back_one_step_and_the_parents_gradients_change_back(browser: Any, tmp_path: Path) -> None:
    root = shared_leaf()
    explorer = explore(root)
    order = topological_order(root)
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
    order = topological_order(root)
    (d,) = [i for i, v in enumerate(order) if v.label == "d"]
    opened = open_page(browser, explore(root), tmp_path)
    opened.page.hover(f"#{STANDALONE_ID}-v{d}")
    text = opened.page.inner_text(f"#{STANDALONE_ID} .vg-hover")
    assert "d = e + c = 4" in text and "operation +" in text and "inputs e = -6, c = 10" in text


def test_the_seeds_formulas_show_at_the_steps_that_reach_w1_to_b3(browser: Any, tmp_path: Path) -> None:
    root = explorer_demo.seed_network_loss()
    explorer = explore(root, explorer_demo.seed_notes(root))
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
    assert errors == []
    page.close()


def test_screenshot_is_not_blank(browser: Any, tmp_path: Path) -> None:
    from PIL import Image

    root = explorer_demo.seed_network_loss()
    explorer = explore(root, explorer_demo.seed_notes(root), title="The seed's network 1.1", rankdir="TB")
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
    r, g, b = pixels.T
    assert np.any((r > 200) & (g > 100) & (g < 150) & (b < 60))  # the highlighted node's orange outline
    SCREENSHOT.parent.mkdir(exist_ok=True)
    SCREENSHOT.write_bytes(png)  # the demo report (out/index.html) shows it
    opened.assert_clean()


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
