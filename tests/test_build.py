"""The two builds of engine/core: compiled by mypyc (setup.py) and its Python source (engine/build.py).

`make test` runs the suite on whichever build is installed (compiled where a C compiler is), and CI runs
it again with VALUEGRAD_INTERPRETED=1 (.ci/run), so every other test checks both. These check the choice
itself, in fresh interpreters, and what the compiled class must write out that Python gives any class:
its identity hash, copy and pickle.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import missing_tool

import engine
from engine import Value, build

REPO = Path(__file__).resolve().parents[1]


def run_python(code: str, *, env: dict[str, str] | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """`code` in a fresh interpreter (the variable VALUEGRAD_INTERPRETED as given, unset otherwise)."""
    environment = {k: v for k, v in os.environ.items() if k != build.SWITCH} | (env or {})
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=cwd, timeout=300
    )


@pytest.fixture(scope="module")
def compiled_core() -> dict[str, Path]:
    """The compiled core's files; skips without them (fails under CI, where the build must compile)."""
    found = build.compiled_modules()
    if len(found) != len(build.CORE_MODULES):
        missing_tool("engine/core is not compiled here (no C compiler when it was installed?); make setup compiles it")
    if build.changed_since_compiled(found):
        missing_tool("engine/core changed since it was compiled; make setup compiles it again")
    return found


@pytest.mark.parametrize(
    ("source_after", "changed"), [(-60.0, False), (0.0, False), (build.CHANGED_AFTER - 0.5, False), (30.0, True)]
)
def test_a_source_newer_than_its_compiled_module_counts_as_changed(
    tmp_path: Path, source_after: float, changed: bool
) -> None:
    """The staleness check itself, on files whose times are set: only a source written after compiling counts."""
    compiled = {}
    for name, moment in (("value", 1_000_000.0), ("ops", 2_000_000.0)):
        (tmp_path / f"{name}.py").write_text("")
        compiled[name] = tmp_path / f"{name}.cpython-311-x86_64-linux-gnu.so"
        compiled[name].write_bytes(b"")
        os.utime(compiled[name], (moment, moment))
        os.utime(tmp_path / f"{name}.py", (moment, moment))
    touched = 1_000_000.0 + source_after
    os.utime(tmp_path / "value.py", (touched, touched))
    assert build.changed_since_compiled(compiled, core=tmp_path) == (["value"] if changed else [])


@pytest.mark.parametrize("switch", ["", "1"])
def test_help_on_value_says_what_it_is_and_what_each_method_does_in_both_builds(
    compiled_core: dict[str, Path], switch: str
) -> None:
    """mypyc keeps no docstring; engine gives the compiled class its source's (engine/build.py's `documented`)."""
    code = "import engine, pydoc; print(engine.COMPILED); print(pydoc.plain(pydoc.render_doc(engine.Value)))"
    shown = run_python(code, env={build.SWITCH: switch} if switch else None)
    assert shown.returncode == 0, shown.stderr
    compiled, text = shown.stdout.split("\n", 1)
    assert compiled == ("False" if switch else "True")
    for expected in (
        "A scalar that remembers how it was computed",  # the class's docstring
        "x.exp(), x.log(), x.sqrt()",  # what the operators and functions are
        "sets y.grad to 1 and adds dy/d(leaf)",
        "Set this Value's grad to 1 and add d(self)/d(leaf)",  # a method's own docstring: backward
        "The dotted name of the nn module that made this Value",  # a property's: scope
    ):
        assert expected in " ".join(text.replace("|", " ").split()), expected


def test_compiled_says_which_build_runs() -> None:
    value_file = Path(engine.core.value.__file__ or "")
    assert engine.COMPILED == (value_file.suffix != ".py")
    assert engine.COMPILED == hasattr(Value, "__mypyc_attrs__")


def test_the_switch_runs_the_python_source(compiled_core: dict[str, Path]) -> None:
    code = (
        "import engine, engine.core.value as v, engine.core.backprop as b\n"
        "print(engine.COMPILED, v.__file__, b.__file__)"
    )
    compiled = run_python(code)
    source = run_python(code, env={build.SWITCH: "1"})
    assert compiled.returncode == 0 and source.returncode == 0, compiled.stderr + source.stderr
    assert compiled.stdout.split()[0] == "True" and all(not f.endswith(".py") for f in compiled.stdout.split()[1:])
    assert source.stdout.split()[0] == "False" and all(f.endswith(".py") for f in source.stdout.split()[1:])
    assert run_python(code, env={build.SWITCH: "0"}).stdout.split()[0] == "True"  # 0 means off


def test_a_source_changed_after_compiling_runs_from_source_with_a_warning(
    compiled_core: dict[str, Path], tmp_path: Path
) -> None:
    """An edit of engine/core/value.py in an editable install takes effect instead of being shadowed."""
    copy = tmp_path / "copy"
    shutil.copytree(REPO / "engine", copy / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    for shared in REPO.glob("valuegrad_core__mypyc*"):  # the compiled modules' shared library
        shutil.copy(shared, copy)
    code = "import warnings, engine; print(engine.COMPILED)"
    assert run_python(code, cwd=copy).stdout.split() == ["True"]
    edited = copy / "engine" / "core" / "value.py"
    later = compiled_core["value"].stat().st_mtime + 3 * build.CHANGED_AFTER
    os.utime(edited, (later, later))
    result = run_python(code, cwd=copy)
    assert result.stdout.split() == ["False"]
    assert "engine/core/value.py changed after the core was compiled" in result.stderr
    assert "make setup" in result.stderr


def test_a_build_missing_its_shared_library_runs_from_source(compiled_core: dict[str, Path], tmp_path: Path) -> None:
    """The compiled modules are wrappers around one shared library: without it (a build that failed half way)
    the core runs from its Python source instead of failing at `import engine`."""
    copy = tmp_path / "copy"
    shutil.copytree(REPO / "engine", copy / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    result = run_python("import engine; print(engine.COMPILED)", cwd=copy)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False"]


def test_setup_and_the_build_choice_name_the_same_shared_library() -> None:
    group = re.search(r'^GROUP = "(\w+)"$', (REPO / "setup.py").read_text(encoding="utf-8"), re.M)
    assert group is not None and f"{group.group(1)}__mypyc" == build.SHARED_LIBRARY


def test_identity_is_the_hash_in_both_builds() -> None:
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a and len({a, b, a}) == 2 and {a: 1}[a] == 1
    assert hash(a) != hash(b)


@pytest.mark.parametrize("source", [False, True], ids=["installed build", "python source"])
def test_a_deep_chain_is_built_differentiated_and_freed(source: bool) -> None:
    """10^6 nested operations, in a fresh interpreter of each build: no recursion anywhere, also when the graph
    is freed (a chain of nodes each holding the one before, freed one inside the other)."""
    code = (
        "from engine import Value\n"
        "x, c = Value(1.0), Value(1.0000001)\n"
        "a = x\n"
        "for _ in range(10**6):\n"
        "    a = a * c\n"
        "a.backward()\n"
        "del a\n"
        "print(x.grad)\n"
    )
    result = run_python(code, env={build.SWITCH: "1"} if source else None)
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout) == pytest.approx(1.0000001 ** (10**6), rel=1e-9)  # d(x c^n)/dx = c^n


def test_freeing_a_graph_keeps_the_nodes_others_hold() -> None:
    w = Value(2.0, label="w")
    shared = w * w
    kept_parent = shared.parents
    loss = (shared + 1.0) * shared
    del loss
    assert shared.parents == kept_parent and shared.parents[0] is w
    again = shared * 3.0
    again.backward()
    assert w.grad == 12.0  # d(3 w^2)/dw at 2, through the node that outlived its first graph


def test_a_value_whose_construction_fails_is_freed_cleanly() -> None:
    for bad in ("1.0", None, 1j):
        with pytest.raises(TypeError):
            Value(bad)  # type: ignore[arg-type]
    assert (Value(3.0) * 2).data == 6.0


def test_values_and_models_copy_and_pickle_in_both_builds() -> None:
    import copy
    import pickle

    import nn

    v = Value(2.0, label="w")
    v.grad, v.scope, v.note = 0.5, "layer1.neuron1", "a note"
    for duplicate in (copy.copy, copy.deepcopy, lambda x: pickle.loads(pickle.dumps(x))):
        c = duplicate(v)
        assert c is not v and (c.data, c.grad, c.label, c.scope, c.note) == (2.0, 0.5, "w", "layer1.neuron1", "a note")
    y = v * v
    with pytest.raises(TypeError, match=r"pickle cannot store the operation '\*' \(its rule is a function\)"):
        pickle.dumps(y)  # a Value made by an operation: its graph holds the table's rules, which are functions
    y_copy = copy.deepcopy(y)
    assert y_copy.op is y.op and y_copy.parents[0] is not v and y_copy.parents[0] is y_copy.parents[1]
    y_copy.backward()
    assert (y_copy.parents[0].grad, v.grad) == (0.5 + 4.0, 0.5)  # the copy's leaf, not the original
    model = nn.MLP(2, [3, 1], seed=0)
    twin = copy.deepcopy(model)
    assert [p.data for p in twin.parameters()] == [p.data for p in model.parameters()]
    assert not set(twin.parameters()) & set(model.parameters())
