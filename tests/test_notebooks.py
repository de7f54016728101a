"""The notebooks in notebooks/: committed without outputs, and each runs from top to bottom in a Jupyter kernel.

The kernel is this interpreter (the project's .venv when the tests run under `make test`), started from a
kernel spec written for the test, so no kernel installed elsewhere on the machine is picked up. Its working
directory is notebooks/, as when a learner opens a notebook there. The notebooks check their own numbers
with `assert` against independent oracles (central differences, the scalar path), so a wrong derivative
or a broken replay fails the cell that shows it, and with it this test.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import import_optional

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
TUTORIAL = NOTEBOOKS / "backprop_tutorial.ipynb"
# Time for one cell; the slowest (draw_dot, explore and the digits step) take a few seconds.
CELL_TIMEOUT = 300


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_the_tutorial_is_there() -> None:
    assert TUTORIAL in notebook_paths()


@pytest.mark.parametrize("path", notebook_paths(), ids=lambda path: path.name)
def test_a_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert notebook["nbformat"] == 4
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]
    assert code, "a notebook without code"
    for number, cell in enumerate(code, start=1):
        source = "".join(cell["source"])
        assert cell["outputs"] == [], f"code cell {number} has outputs (clear them before committing): {source[:60]!r}"
        assert cell["execution_count"] is None, f"code cell {number} has an execution count: {source[:60]!r}"
    # Jupyter opens it with the standard Python kernel, which `make notebook` runs from .venv.
    assert notebook["metadata"]["kernelspec"]["name"] == "python3"


def test_the_tutorial_says_what_the_seed_is_where_it_first_names_it() -> None:
    notebook = json.loads(TUTORIAL.read_text(encoding="utf-8"))
    markdown = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "markdown"]
    paragraphs = [paragraph for text in markdown for paragraph in text.split("\n\n")]
    first = next(paragraph for paragraph in paragraphs if re.search(r"(?i)\bseed\b", paragraph))
    # The first paragraph that names the seed says what it is, that it is not in the repository, and where
    # the repository checks it.
    for words in ("hand derivation", "two hidden layers", "not part of the repository", "vanish"):
        assert words in first, (words, first)
    links = re.findall(r"\]\(([^)]+)\)", first)
    assert {"../seed/", "../docs/seed-errata.md"} <= set(links), links
    for link in links:
        assert (NOTEBOOKS / link).exists(), link  # relative to the notebook, as Jupyter opens them


def tutorial_sections() -> dict[str, list[Any]]:
    """The tutorial's cells by section: each `## ` heading of a markdown cell starts one (the text before: "")."""
    notebook = json.loads(TUTORIAL.read_text(encoding="utf-8"))
    sections: dict[str, list[Any]] = {"": []}
    current = ""
    for cell in notebook["cells"]:
        source = "".join(cell["source"])
        heading = re.search(r"^## (.+)$", source, re.M) if cell["cell_type"] == "markdown" else None
        if heading:
            current = heading.group(1)
            sections[current] = []
        sections[current].append(cell)
    return sections


def test_the_tutorial_ends_with_forward_or_reverse_before_where_next() -> None:
    sections = tutorial_sections()
    assert list(sections)[-2:] == ["8. Forward or reverse?", "Where next"]
    code = "\n".join("".join(c["source"]) for c in sections["8. Forward or reverse?"] if c["cell_type"] == "code")
    # forward mode written out on the tutorial's graph, jvp, the Jacobian both ways, timed, and the plot
    for words in ('explain(vL, mode="forward", wrt=vw1)', "engine.jvp(", 'mode="forward")', 'mode="reverse")'):
        assert words in code, words
    assert "sizes = [1, *range(5, 101, 5)]" in code and "plt.show()" in code
    text = "\n".join("".join(c["source"]) for c in sections["8. Forward or reverse?"] if c["cell_type"] == "markdown")
    assert "one backward pass" in text and "one sweep per parameter" in text  # why training runs in reverse


def test_where_next_links_the_pages_the_readme_moved_to_docs() -> None:
    (cell,) = tutorial_sections()["Where next"]
    links = re.findall(r"\]\(([^)]+)\)", "".join(cell["source"]))
    assert links == ["../docs/pictures.md", "../docs/vectorize.md", "../docs/api.md", "../docs/seed-errata.md"]
    for link in links:
        assert (NOTEBOOKS / link).is_file(), link  # relative to the notebook, as Jupyter opens them
    assert "README's sections" not in "".join(cell["source"])


def kernel_of_this_interpreter(directory: Path) -> Any:
    """A Jupyter kernel manager whose kernel is `sys.executable` (the venv's Python), from a spec in `directory`."""
    kernelspec = import_optional("jupyter_client.kernelspec", ".venv/bin/pip install -e '.[dev]' (nbclient)")
    manager = import_optional("jupyter_client.manager", ".venv/bin/pip install -e '.[dev]' (nbclient)")
    import_optional("ipykernel", ".venv/bin/pip install -e '.[dev]' (ipykernel)")
    spec = directory / "valuegrad-test"
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "valuegrad tests", "language": "python"}), encoding="utf-8"
    )
    specs = kernelspec.KernelSpecManager(kernel_dirs=[str(directory)])
    return manager.KernelManager(kernel_name="valuegrad-test", kernel_spec_manager=specs)


def execute(path: Path, kernels: Path) -> Any:
    """The notebook at `path` executed cell by cell; a cell that raises fails the test with its traceback."""
    nbformat = import_optional("nbformat", ".venv/bin/pip install -e '.[dev]' (nbclient)")
    nbclient = import_optional("nbclient", ".venv/bin/pip install -e '.[dev]' (nbclient)")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        km=kernel_of_this_interpreter(kernels),
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:
        traceback = re.sub(r"\x1b\[[0-9;]*m", "", str(error))  # without the kernel's terminal colours
        pytest.fail(f"{path.name} failed in a cell:\n{traceback}", pytrace=False)
    return notebook


def outputs(notebook: Any, mime: str) -> list[str]:
    """Every output of the executed notebook with this MIME type, as text."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if mime in data:
                found.append(data[mime] if isinstance(data[mime], str) else "".join(data[mime]))
    return found


def printed(notebook: Any) -> str:
    return "".join(
        output["text"]
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output["output_type"] == "stream" and output["name"] == "stdout"
    )


def test_the_tutorial_runs_from_top_to_bottom(tmp_path: Path, dot_program: str) -> None:
    import_optional("sklearn", ".venv/bin/pip install -e '.[demos]' (scikit-learn)")  # the digits step
    notebook = execute(TUTORIAL, tmp_path / "kernels")
    errors = [output for cell in notebook.cells for output in cell.get("outputs", []) if output.output_type == "error"]
    assert errors == []
    # draw_dot's picture, rendered by Graphviz, with the graph's leaves and output in it
    (diagram,) = outputs(notebook, "image/svg+xml")
    assert "<svg" in diagram and all(f">{label}<" in diagram for label in ("w1", "b3", "ŷ", "L"))
    # explore's page, inline: its SVG, its data and its script
    (page,) = [html for html in outputs(notebook, "text/html") if "Backpropagation through" in html]
    assert "<svg" in page and "<script" in page and "the seed writes" in page
    text = printed(notebook)
    assert "dL/dw1 += dL/dw1x · ∂w1x/∂w1" in text  # explain's transcript of the hand-built graph
    assert "before the step" in text and "after" in text  # the digits step ran to its end
    # Forward or reverse?: forward mode's dL/dw1 is the backward transcript's, the Jacobians agree both ways,
    # the sweep's table has its rows, and the plot is drawn.
    backward_w1 = re.search(r"^dL/dw1 \+= dL/dw1x · ∂w1x/∂w1 = .* = (\S+)$", text, re.M)
    forward_w1 = re.search(r"^dL/dw1 = ∂L/∂e · de/dw1 = .* = (\S+)$", text, re.M)
    assert backward_w1 and forward_w1 and forward_w1.group(1) == backward_w1.group(1)
    assert f"forward mode: dL/dw1 = {forward_w1.group(1)} in 1 sweep" in text
    assert len(re.findall(r"^forward sweep \d: dL/d[wb]\d = ", text, re.M)) == 6
    agree = re.search(r"^largest difference between the forward and reverse Jacobians: (\S+)$", text, re.M)
    assert agree and float(agree.group(1)) < 1e-12
    for case in ("n inputs, 1 output", "1 input, m outputs"):
        table = text.split(f"f: {case}\n", 1)[1].splitlines()[1:5]
        assert [int(row.split()[0]) for row in table] == [1, 10, 50, 100], table
    assert len(outputs(notebook, "image/png")) == 1  # the two costs, plotted
