"""Every ```python block of README.md and of the pages beside it runs, and prints what the page shows.

The pages are README.md, every page of docs/ and benchmarks/README.md. The convention, for the blocks there
today and any added later:

- Each ```python block is a whole program: it runs on its own, in a fresh namespace (so it imports what
  it uses), with the working directory an empty temporary folder (files it writes land there) and the
  repository's root importable (`demos`).
- To show what a block prints, put a ```text block right after it, with nothing between the two but blank
  lines and at most one line of prose (the pages write "prints"). The block's standard output must equal
  that text exactly, so print rounded numbers (`f"{x:.5f}"`) where full floats would be noise.
- A block without such a ```text block must run without an error; what it prints is not compared. A
  `# comment` beside a line explains it and is not compared either.
- A block that needs an optional tool (PyTorch, Graphviz's `dot`, scikit-learn, matplotlib) is skipped
  where that tool is missing, naming it, and fails under CI; `make test` and `make demo` install them all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import graphviz
import pytest
from conftest import missing_tool

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
# The pages whose ```python blocks run: the README, every page of docs/ and the benchmarks' README.
PAGES = [README, *sorted((REPO / "docs").glob("*.md")), REPO / "benchmarks" / "README.md"]
# A fenced block: its language (the first word after the backticks) and its text, up to the closing fence.
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
HEADING = re.compile(r"^#{1,6} +(.+)$", re.MULTILINE)
# Optional tools a block may need, by top-level module, and how they are installed.
OPTIONAL_MODULES = {
    "torch": "PyTorch is not installed (make setup installs torch==2.13.0)",
    "sklearn": "scikit-learn is not installed (the demos extra; make setup installs it)",
    "matplotlib": "matplotlib is not installed (the demos extra; make setup installs it)",
}
NO_DOT = "Graphviz's `dot` program is not installed (make test and make demo install it where they can)"


@dataclass(frozen=True)
class Example:
    """A ```python block of a page: where it is, its code, and the text shown as its output (or None)."""

    page: str
    line: int
    section: str
    code: str
    shown: str | None

    @property
    def name(self) -> str:
        return f"{self.page}, the block at line {self.line} ({self.section})"


def examples(markdown: str, page: str = "README.md") -> list[Example]:
    """The ```python blocks of `markdown`, each with the ```text block that shows its output, if there is one."""
    fences = list(FENCE.finditer(markdown))
    headings = [(match.start(), match.group(1).strip()) for match in HEADING.finditer(markdown)]
    found = []
    for i, fence in enumerate(fences):
        if fence.group(1) != "python":
            continue
        shown = None
        if i + 1 < len(fences) and fences[i + 1].group(1) == "text":
            between = markdown[fence.end() : fences[i + 1].start()]
            if len([line for line in between.splitlines() if line.strip()]) <= 1:
                shown = fences[i + 1].group(2)
        section = next((title for start, title in reversed(headings) if start < fence.start()), "top")
        line = markdown.count("\n", 0, fence.start()) + 1
        found.append(Example(page, line, section, fence.group(2), shown))
    return found


def page_name(path: Path) -> str:
    """A page's path from the repository's root, as links and test ids write it: `docs/api.md`."""
    return path.relative_to(REPO).as_posix()


EXAMPLES = [example for page in PAGES for example in examples(page.read_text(encoding="utf-8"), page_name(page))]


def causes(error: BaseException) -> Iterator[BaseException]:
    """`error` and the exceptions it was raised from or while handling, innermost last."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def missing_tool_behind(error: BaseException) -> str | None:
    """What optional tool's absence caused `error`, said with how to install it; None if none did."""
    for cause in causes(error):
        if isinstance(cause, ModuleNotFoundError) and cause.name:
            top = cause.name.split(".")[0]
            if top in OPTIONAL_MODULES:
                return OPTIONAL_MODULES[top]
        if type(cause).__name__ == "ExecutableNotFound":  # graphviz's: no `dot` on PATH
            return NO_DOT
    return None


@pytest.mark.parametrize("example", EXAMPLES, ids=[f"{example.page}:{example.line}" for example in EXAMPLES])
def test_an_example_runs_and_prints_what_its_page_shows(
    example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(REPO))
    # Blank lines before the code give it the page's line numbers: a traceback says <docs/api.md>:123.
    code = compile("\n" * example.line + example.code, f"<{example.page}>", "exec")
    try:
        exec(code, {"__name__": "__main__"})
    except Exception as error:
        tool = missing_tool_behind(error)
        if tool is None:
            raise
        missing_tool(f"{example.name}: {tool}")
    printed = capsys.readouterr().out
    if example.shown is not None:
        assert printed == example.shown, f"{example.name} prints other text than the page shows"


def test_the_readme_shows_what_its_examples_print() -> None:
    assert len(EXAMPLES) >= 10
    shown = [example for example in EXAMPLES if example.shown is not None and example.page == "README.md"]
    assert len(shown) >= 3  # the first example, nn.micrograd's and explain's transcript at least
    assert any("print(explain(loss))" in example.code for example in shown)


def test_the_pages_of_docs_and_the_benchmarks_readme_are_run_too() -> None:
    assert {page_name(page) for page in PAGES} >= {"README.md", "docs/seed-errata.md", "benchmarks/README.md"}
    assert examples("```python\nprint(1)\n```\n", "docs/x.md")[0].name == "docs/x.md, the block at line 1 (top)"


def test_a_text_block_is_an_output_only_right_after_a_python_block() -> None:
    markdown = "\n".join(
        [
            "# A",
            "```python",
            "print(1)",
            "```",
            "",
            "prints",
            "",
            "```text",
            "1",
            "```",
            "## B",
            "```python",
            "print(2)",
            "```",
            "```text",
            "2",
            "```",
            "```python",
            "x = 3",
            "```",
            "Two lines of prose",
            "are more than a caption.",
            "```text",
            "not x's output",
            "```",
            "```sh",
            "make test",
            "```",
        ]
    )
    found = examples(markdown)
    assert [(e.line, e.section, e.code, e.shown) for e in found] == [
        (2, "A", "print(1)\n", "1\n"),
        (12, "B", "print(2)\n", "2\n"),
        (18, "B", "x = 3\n", None),
    ]


def test_a_missing_optional_tool_is_named_and_any_other_error_is_not_excused() -> None:
    try:
        try:
            raise ModuleNotFoundError("No module named 'torch'", name="torch")
        except ImportError as error:
            raise ImportError("to_torch needs PyTorch") from error
    except ImportError as error:
        assert missing_tool_behind(error) == OPTIONAL_MODULES["torch"]
    assert missing_tool_behind(ModuleNotFoundError("No module named 'nnn'", name="nnn")) is None
    assert missing_tool_behind(ValueError("a wrong number")) is None
    try:
        try:
            raise graphviz.ExecutableNotFound(["dot"])
        except graphviz.ExecutableNotFound as error:
            raise RuntimeError("save_diagram needs Graphviz's `dot` program") from error
    except RuntimeError as error:
        assert missing_tool_behind(error) == NO_DOT
