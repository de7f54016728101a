"""engine's folders say which is which: the core imports nothing above it, the rest import the core, never each other.

Read from the source (tests/conftest.py's `package_imports`): a `TYPE_CHECKING` import counts, and fails.
"""

from __future__ import annotations

from pathlib import Path

from conftest import import_order, package_imports

import engine

ENGINE = Path(engine.__file__).parent
# The core's modules bottom-up (engine/core/__init__.py): each imports only those before it.
CORE = ["core.modes", "core.numbers", "core.value", "core.ops", "core.anomaly", "core.backprop"]
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


def test_the_folders_beside_the_core_import_the_core_and_never_each_other() -> None:
    for module, imported in engine_imports().items():
        here = folder(module)
        if here == "core":
            continue
        for other in imported:
            assert folder(other) in ("core", here), f"{module} imports {other}"


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
