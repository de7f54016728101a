"""Which build of engine/core runs: compiled by mypyc (setup.py) or its Python source.

The compiled core is built from the same Python files and shadows them: Python prefers an extension
module to a `.py` file of the same name. Its source runs instead when

- the environment variable VALUEGRAD_INTERPRETED is set (to anything but "" or "0"), or
- a core file changed after it was compiled, as when a learner edits engine/core/value.py in an editable
  install (`make setup`): a warning says so and how to rebuild, and the edit takes effect;
- the compiled build is incomplete (a module or the shared library they all need is missing).

`engine.COMPILED` says which runs. The core's modules run all compiled or all from source, never mixed:
compiled modules share native types that the source does not know.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import warnings
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType

CORE = Path(__file__).parent / "core"
# The core modules, bottom-up, as setup.py compiles them.
CORE_MODULES = ("modes", "numbers", "op", "ops", "anomaly", "backprop", "value", "grad")
# The compiled modules are small wrappers around one shared library beside the `engine` folder: setup.py's
# group name and mypyc's suffix. Without it (a build that failed half way) the wrappers cannot be imported.
SHARED_LIBRARY = "valuegrad_core__mypyc"
SWITCH = "VALUEGRAD_INTERPRETED"
# A source file counts as changed when it is newer than its compiled module by more than this (seconds):
# installing a wheel writes both within moments of each other, in either order.
CHANGED_AFTER = 2.0


def compiled_modules() -> dict[str, Path]:
    """The compiled core modules found beside their sources, by module name."""
    found = {}
    for name in CORE_MODULES:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = CORE / f"{name}{suffix}"
            if path.is_file():
                found[name] = path
                break
    return found


def shared_library_found() -> bool:
    """Whether the compiled modules' shared library lies beside this copy of the `engine` folder."""
    folder = CORE.parent.parent
    return any((folder / f"{SHARED_LIBRARY}{suffix}").is_file() for suffix in importlib.machinery.EXTENSION_SUFFIXES)


def changed_since_compiled(compiled: dict[str, Path], core: Path = CORE) -> list[str]:
    """The core modules whose source (in `core`) is newer than their compiled module."""
    return [
        name
        for name, path in compiled.items()
        if (core / f"{name}.py").stat().st_mtime > path.stat().st_mtime + CHANGED_AFTER
    ]


def reason_to_run_source(compiled: dict[str, Path]) -> str | None:
    """Why the core's Python source must run although a compiled build exists, or None."""
    if os.environ.get(SWITCH, "") not in ("", "0"):
        return f"{SWITCH} is set"
    changed = changed_since_compiled(compiled)
    if changed:
        files = ", ".join(f"engine/core/{name}.py" for name in changed)
        warnings.warn(
            f"valuegrad: {files} changed after the core was compiled, so the core runs from its Python source "
            f"(slower); rebuild it with `make setup` (or `pip install -e .`), or set {SWITCH}=1 to say so",
            RuntimeWarning,
            stacklevel=3,
        )
        return "the source changed after compiling"
    if len(compiled) != len(CORE_MODULES):
        missing = sorted(set(CORE_MODULES) - set(compiled))
        return f"only part of the core is compiled (not {', '.join(missing)})"
    if not shared_library_found():
        return f"the compiled modules' shared library {SHARED_LIBRARY} is missing"
    return None


class CoreSourceFinder(importlib.abc.MetaPathFinder):
    """Finds engine/core's modules as their `.py` files, ahead of the compiled ones."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != "engine.core" or name not in CORE_MODULES:
            return None
        return importlib.util.spec_from_file_location(fullname, CORE / f"{name}.py")


def choose() -> None:
    """Before the core is imported: run its Python source when there is a reason to (see the docstring)."""
    compiled = compiled_modules()
    if compiled and reason_to_run_source(compiled) is not None:
        if not any(isinstance(finder, CoreSourceFinder) for finder in sys.meta_path):
            sys.meta_path.insert(0, CoreSourceFinder())


def documented(cls: type) -> None:
    """Give a compiled class the documentation its source holds, for help(): mypyc keeps no docstring.

    A compiled class's own `__doc__` can be set (its methods' cannot), so it gets the class's docstring and,
    under "Methods", each method's signature and docstring, read from its module's Python file beside the
    compiled one. The Python source's class is left as it is: help() reads its docstrings there.
    """
    source = CORE / f"{cls.__module__.rpartition('.')[2]}.py"
    if cls.__doc__ or not source.is_file():
        return
    tree = ast.parse(source.read_text(encoding="utf-8"))
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == cls.__name__)
    methods = [
        f"{item.name}({ast.unparse(item.args).removeprefix('self, ').removeprefix('self')})\n    "
        + (ast.get_docstring(item) or "").replace("\n", "\n    ")
        for item in node.body
        if isinstance(item, ast.FunctionDef) and ast.get_docstring(item) and not item.name.startswith("_")
    ]
    cls.__doc__ = f"{ast.get_docstring(node) or ''}\n\nMethods:\n\n" + "\n\n".join(methods)
