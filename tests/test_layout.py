"""engine's folders say which is which: the core imports nothing above it, the rest import the core, never each other,
except that the pictures, which show the derivatives' sweeps, may import derivatives/ (never the reverse).

Read from the source (tests/conftest.py's `package_imports`). An import for annotations only (under `if
TYPE_CHECKING:`) is allowed within engine/core, which mypyc compiles as one group; nowhere else.
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

from conftest import import_order, package_imports

import engine

ENGINE = Path(engine.__file__).parent
# The core's modules bottom-up (engine/core/__init__.py): each imports only those before it.
CORE = [
    "core.modes",
    "core.numbers",
    "core.op",
    "core.ops",
    "core.anomaly",
    "core.backprop",
    "core.value",
    "core.grad",
]
# The pictures' modules bottom-up (engine/pictures/__init__.py).
PICTURES = [
    "pictures.naming",
    "pictures.size",
    "pictures.diagram",
    "pictures.steps",
    "pictures.explorer",
    "pictures.files",
]


def engine_imports() -> dict[str, set[str]]:
    graph = package_imports(ENGINE, "engine")
    graph.pop("", None)  # engine/__init__.py, which gathers the public names of them all
    return graph


def folder(module: str) -> str:
    """The folder of engine/ a module is in ("batch" for engine/batch/ itself and its modules)."""
    return module.split(".")[0]


def test_engine_has_no_import_cycle() -> None:
    import_order(engine_imports())


def test_each_core_module_imports_only_the_core_modules_below_it() -> None:
    graph = engine_imports()
    assert sorted(m for m in graph if folder(m) == "core" and m != "core") == sorted(CORE)
    for position, module in enumerate(CORE):
        assert graph[module] <= set(CORE[:position]), f"{module} imports {graph[module] - set(CORE[:position])}"


def test_imports_for_annotations_only_stay_within_the_core() -> None:
    for module, imported in package_imports(ENGINE, "engine", types_only=True).items():
        assert folder(module) == "core" or not imported, f"{module} imports {imported} for annotations"
        assert {folder(other) for other in imported} <= {"core"}, f"{module} imports {imported} for annotations"


def test_the_core_is_read_in_one_sitting() -> None:
    """At most 600 lines of code in engine/core and 200 in value.py (blank lines, comments and docstrings aside)."""
    counts = {path.name: code_lines(path) for path in sorted((ENGINE / "core").glob("*.py"))}
    assert sum(counts.values()) <= 600, counts
    assert counts["value.py"] <= 200, counts


def code_lines(path: Path) -> int:
    """Lines holding code: not blank, not only a comment, not part of a docstring."""
    source = path.read_text(encoding="utf-8")
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            docstrings.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    skipped = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skipped:
            lines.update(line for line in range(token.start[0], token.end[0] + 1) if line not in docstrings)
    return len(lines)


# What a folder beside the core may import besides the core and itself: the pictures show forward mode's
# sweep (engine/derivatives/forward.py's `forward_tangents`), so they sit above derivatives/.
ALSO_IMPORTS = {"pictures": {"derivatives"}}


def test_the_folders_beside_the_core_import_the_core_and_never_each_other() -> None:
    graph = engine_imports()
    assert {"core", "pictures", "derivatives", "batch"} <= {folder(module) for module in graph}
    for module, imported in graph.items():
        here = folder(module)
        if here == "core":
            continue
        for other in imported:
            assert folder(other) in {"core", here} | ALSO_IMPORTS.get(here, set()), f"{module} imports {other}"


def test_the_pictures_import_only_the_pictures_before_them() -> None:
    graph = engine_imports()
    for position, module in enumerate(PICTURES):
        pictures = {m for m in graph[module] if folder(m) == "pictures"}
        assert pictures <= set(PICTURES[:position]), f"{module} imports {pictures - set(PICTURES[:position])}"


def test_the_step_transcript_does_not_need_graphviz() -> None:
    """`explain` and `backward_steps` are text: they import neither the diagram module nor Graphviz."""
    steps = engine_imports()["pictures.steps"]
    assert "pictures.diagram" not in steps
    source = (ENGINE / "pictures" / "steps.py").read_text(encoding="utf-8")
    assert "import graphviz" not in source
