"""docs/seed-errata.md names a test for every row, and the code it checks: each name must exist where it says.

A test named without a file belongs to the file of its section (1.1 or 1.2); one elsewhere is named
`tests/file.py::test_name`. An edit that renames or moves a test, or a function of seed/, fails here
until the errata follow.
"""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ERRATA = REPO / "docs" / "seed-errata.md"
# Section heading -> the test file of that section, for tests named without a file.
SECTION_TESTS = {
    "The corrected formulas of 1.1": "tests/test_seed_network_1_1.py",
    "Section 1.1": "tests/test_seed_network_1_1.py",
    "Section 1.2": "tests/test_seed_deep_chain_1_2.py",
    "What the 1.2 argument silently needs": "tests/test_seed_deep_chain_1_2.py",
}


def cited_tests() -> list[tuple[str, str, int]]:
    """(test file, test name, line number) for every test the errata name, files resolved by section."""
    cited, section = [], ""
    for number, line in enumerate(ERRATA.read_text().splitlines(), start=1):
        if line.startswith("## "):
            section = line[3:].strip()
        for match in re.finditer(r"`(?:(tests/\w+\.py)::)?(test_\w+)`", line):
            path = match.group(1) or SECTION_TESTS.get(section)
            assert path, f"line {number}: {match.group(0)} names no file, outside the sections {list(SECTION_TESTS)}"
            cited.append((path, match.group(2), number))
    return cited


def defined_tests(path: str) -> set[str]:
    tree = ast.parse((REPO / path).read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_test_the_errata_name_exists_in_its_file() -> None:
    cited = cited_tests()
    assert len(cited) > 40  # every row names one or more tests
    missing = [f"line {n}: {path}::{name}" for path, name, n in cited if name not in defined_tests(path)]
    assert not missing, "docs/seed-errata.md names tests that do not exist:\n" + "\n".join(missing)


def test_the_errata_abbreviate_no_test_name() -> None:
    assert not re.search(r"`\.\.\.\w*`", ERRATA.read_text()), "write test names out in full, so they can be checked"


def test_every_row_of_both_sections_names_a_test() -> None:
    rows = [line for line in ERRATA.read_text().splitlines() if re.match(r"\| \d+ \|", line)]
    assert [int(row.split("|")[1]) for row in rows] == list(range(1, 36))  # rows 1..35, in order
    for row in rows:
        assert re.search(r"`test_\w+`|same as row \d+", row.split("|")[-2]), row


@pytest.mark.parametrize(
    "reference", sorted(set(re.findall(r"`(seed(?:\.\w+)+|seed/\w+\.py|tests/\w+\.py)`", ERRATA.read_text())))
)
def test_every_module_and_function_the_errata_name_exists(reference: str) -> None:
    if "/" in reference:
        assert (REPO / reference).is_file(), reference
        return
    module, _, name = reference.rpartition(".")
    assert hasattr(importlib.import_module(module), name), reference
