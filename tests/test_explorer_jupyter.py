"""The explorer inside a real Jupyter: JupyterLab and Notebook 7, served on localhost, driven in headless Chromium.

A learner runs a cell that shows `explore(...)`: in windows 1000 and 1600 pixels wide, the page must open as
readable inline as on a page of its own (JupyterLab's styles shrank its drawing to the cell's width). Then
they click the page and press → to step. Jupyter has keyboard
shortcuts of its own (in command mode, 1 turns a cell into a heading, 0 0 restarts the kernel) and moves the
focus between cells by itself; the keys must keep stepping the explorer for as long as it is what the learner
last clicked or stepped in, and go back to Jupyter once they click elsewhere.

The test starts `jupyter lab` (which serves Notebook 7's pages too) on 127.0.0.1 with a random token, its
configuration, data and runtime folders in a temporary folder (so nothing of the machine's own Jupyter set-up
is read), and no request to any other host: no update check, no news feed, no extension manager on PyPI. The
notebook is made for the test, in a temporary folder; its kernel is the project's .venv Python (`python3`,
from ipykernel). Without JupyterLab, Notebook or Chromium the test skips, naming what is missing; under CI
it fails (tests/conftest.py).
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import import_optional
from test_explorer_browser import (
    READABLE,
    READING,
    WINDOWS,
    browser,  # noqa: F401 (the headless Chromium fixture)
    step_targets,
)

import nn
from engine import explore

INSTALL = ".venv/bin/pip install -e '.[dev]' (jupyterlab and notebook)"
EXPLORER_CELL = 'import nn\nfrom engine import explore\n\nexplore(nn.SeedNetwork("sigmoid", seed=0).loss(0.5, 1.0))'
START_TIMEOUT = 120  # seconds for the server to start and for the kernel to run the cell (2 shared cores)
# The page for one notebook in each front end.
FRONT_ENDS = {"jupyterlab": "lab/tree/{name}", "notebook7": "notebooks/{name}"}


@dataclass
class Server:
    url: str  # http://127.0.0.1:<port>/
    token: str
    root: Path  # the folder it serves


def explorer_cells_page() -> Any:
    """The Explorer the notebook's cell shows (the same graph, made here)."""
    return explore(nn.SeedNetwork("sigmoid", seed=0).loss(0.5, 1.0))


def write_notebook(path: Path) -> None:
    """A heading, the explorer's cell, then a Markdown cell (where JupyterLab used to move the focus) and code."""
    nbformat = import_optional("nbformat", INSTALL)
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# The explorer in a notebook"),
        nbformat.v4.new_code_cell(EXPLORER_CELL),
        nbformat.v4.new_markdown_cell("A Markdown cell after the explorer."),
        nbformat.v4.new_code_cell("1 + 1"),
    ]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`jupyter lab` on localhost with a token, serving a folder with the test's notebook."""
    import_optional("jupyterlab", INSTALL)
    import_optional("notebook", INSTALL)
    home = tmp_path_factory.mktemp("jupyter")
    root, config, runtime = home / "notebooks", home / "config", home / "runtime"
    for folder in (root, config, runtime):
        folder.mkdir()
    write_notebook(root / "explorer.ipynb")
    # Nothing fetched from elsewhere: no update check, no news, an extension manager that asks no index.
    lab = {
        "check_for_updates_class": "jupyterlab.NeverCheckForUpdate",
        "news_url": None,
        "extension_manager": "readonly",
    }
    (config / "jupyter_lab_config.json").write_text(json.dumps({"LabApp": lab}), encoding="utf-8")
    token = secrets.token_hex(16)
    environment = {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_DATA_DIR": str(home / "data"),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_PLATFORM_DIRS": "1",
    }
    command = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--allow-root",  # as root in a container; nothing else changes for other users
        "--ServerApp.ip=127.0.0.1",
        "--ServerApp.port=0",  # the system picks a free port; the runtime file says which
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
    ]
    log = home / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen(command, env=environment, cwd=root, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield Server(wait_for_server(process, runtime, token, log), token, root)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for_server(process: subprocess.Popen[bytes], runtime: Path, token: str, log: Path) -> str:
    """The server's address, once it answers with its status; fails with its log if it exits or never answers."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with {process.returncode}:\n{log.read_text()}")
        found = sorted(runtime.glob("jpserver-*.json"))
        if found:
            url = json.loads(found[0].read_text(encoding="utf-8"))["url"]
            try:
                with urllib.request.urlopen(f"{url}api/status?token={token}", timeout=2) as answer:
                    if answer.status == 200:
                        return str(url)
            except OSError:
                pass
        time.sleep(0.5)
    pytest.fail(f"jupyter lab did not answer within {START_TIMEOUT} s:\n{log.read_text()}")


def wait_for_kernel(server: Server) -> None:
    """Until the notebook's kernel is connected and idle: a cell run before that may be dropped."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{server.url}api/kernels?token={server.token}", timeout=5) as answer:
            kernels = json.loads(answer.read())
        if any(k["execution_state"] == "idle" and k["connections"] > 0 for k in kernels):
            return
        time.sleep(0.5)
    pytest.fail(f"the notebook's kernel was not connected and idle within {START_TIMEOUT} s: {kernels}")


def run_explorer_cell(page: Any, server: Server) -> None:
    """Run the explorer's cell as a learner does (click it, Shift+Enter) and wait for the page to start."""
    page.wait_for_selector(".jp-Notebook .jp-CodeCell .jp-InputArea-editor", timeout=START_TIMEOUT * 1000)
    wait_for_kernel(server)
    page.locator(".jp-CodeCell .jp-InputArea-editor").first.click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        "document.querySelector('.vg-explorer .vg-counter')?.textContent.startsWith('step 0 /')",
        timeout=START_TIMEOUT * 1000,
    )


@pytest.mark.parametrize("window", list(WINDOWS))
@pytest.mark.parametrize("front_end", list(FRONT_ENDS))
def test_the_explorer_opens_readable_and_its_keys_keep_stepping_in_jupyter(
    browser: Any,  # noqa: F811 (the fixture imported above)
    jupyter: Server,
    front_end: str,
    window: str,
) -> None:
    explorer = explorer_cells_page()
    n = explorer.n_steps
    page = browser.new_page()
    page.set_viewport_size(WINDOWS[window])
    outside: list[str] = []  # requests to anywhere but the server
    page.on("request", lambda request: None if request.url.startswith(jupyter.url) else outside.append(request.url))
    errors: list[str] = []  # errors in the explorer's script (Jupyter's own front ends log a few of theirs)
    ours = ("startExplorer", "readPage", "stateAfter", "stepDrawing", "diagramView")
    page.on("pageerror", lambda error: errors.append(error.stack) if any(f in error.stack for f in ours) else None)
    try:
        page.goto(jupyter.url + FRONT_ENDS[front_end].format(name="explorer.ipynb") + f"?token={jupyter.token}")
        run_explorer_cell(page, jupyter)
        counter = ".vg-explorer .vg-counter"

        # Inline, the page opens readable: the notebook's styles do not shrink the drawing (JupyterLab's
        # `svg { max-width: 100% }` did), and its text is as large on screen as on a page of its own.
        root_id = page.evaluate("document.querySelector('.vg-explorer').id")
        (seen,) = page.evaluate(READING, [root_id, [[None, *step_targets(explorer.root, 1)]]])
        assert seen["smallestText"] >= READABLE and min(seen["nodeTextHeights"]) >= READABLE, (front_end, seen)
        natural = float(re.search(r'<svg width="([\d.]+)pt"', explorer.html()).group(1)) * 4 / 3  # type: ignore[union-attr]
        assert seen["drawingWidth"] == pytest.approx(natural * int(seen["zoom"].rstrip("%")) / 100, rel=0.01)
        headings = "document.querySelectorAll('.jp-MarkdownCell h1').length"
        before = page.evaluate(headings)

        page.click(".vg-explorer .vg-diagram", position={"x": 30, "y": 30})  # the learner clicks the page
        for k in range(1, 6):
            page.keyboard.press("ArrowRight")
            assert page.inner_text(counter) == f"step {k} / {n}", (front_end, k)
        page.keyboard.press("ArrowLeft")
        assert page.inner_text(counter) == f"step 4 / {n}"

        # Jupyter moves the focus to a cell by itself: the explorer is still what the learner last used.
        page.evaluate("document.querySelector('.jp-MarkdownCell').focus()")
        page.keyboard.press("ArrowRight")
        assert page.inner_text(counter) == f"step 5 / {n}"
        # The explorer's keys are the explorer's: Jupyter's command-mode 1 (heading) and 0 0 (restart) stay quiet.
        page.keyboard.press("1")
        assert page.inner_text(".vg-explorer .vg-zoom-level") == "100%"  # the explorer's 1: natural size
        page.keyboard.press("0")
        page.keyboard.press("0")
        page.wait_for_timeout(500)  # a dialog, had one opened, would be there by now
        assert page.locator(".jp-Dialog").count() == 0, "Jupyter acted on 0 0: restart the kernel?"
        assert page.evaluate(headings) == before, "Jupyter acted on 1: a cell became a heading"

        # The Next button is stepping too; after it the keys go on.
        page.click(".vg-explorer .vg-next")
        page.keyboard.press("ArrowRight")
        assert page.inner_text(counter) == f"step 7 / {n}"

        # Once the learner clicks elsewhere, the keys are Jupyter's again.
        page.click(".jp-MarkdownCell", position={"x": 60, "y": 10})
        page.keyboard.press("ArrowRight")
        page.keyboard.press("End")
        assert page.inner_text(counter) == f"step 7 / {n}"
        assert errors == [] and outside == [], (errors, outside)
    finally:
        page.close()
