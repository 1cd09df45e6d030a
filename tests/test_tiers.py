"""The cheap tier's configuration: the durations file names real tests, and `medium` is all it cuts."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from .support import tiers

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD, SECONDS = tiers.load()


def _test_functions(path: Path) -> set[str]:
    """The names of the test functions of a test file, at module level or in classes."""
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def test_every_test_the_durations_file_names_exists() -> None:
    assert SECONDS, "tests/durations.json lists no test"
    missing = []
    for nodeid in SECONDS:
        path = ROOT / tiers.module_of(nodeid)
        function = re.split(r"[\[]", nodeid.split("::")[-1], maxsplit=1)[0]
        if not path.is_file() or function not in _test_functions(path):
            missing.append(nodeid)
    assert not missing, f"tests/durations.json names tests that do not exist: {missing[:5]}"


def test_the_threshold_is_above_the_floor() -> None:
    assert tiers.FLOOR_S < THRESHOLD
    assert all(s >= tiers.FLOOR_S for s in SECONDS.values())


def test_medium_is_the_costly_tests_less_each_modules_cheapest() -> None:
    ids = ["a.py::t1", "a.py::t2", "a.py::t3", "b.py::t1", "b.py::t2", "c.py::t1"]
    seconds = {"a.py::t1": 5.0, "a.py::t2": 0.5, "b.py::t1": 3.0, "b.py::t2": 2.0, "c.py::t1": 9}
    # a: t1 only (t2 under the threshold, t3 unmeasured); b: all costly, its cheapest stays;
    # c: its only test stays.
    assert tiers.medium_ids(ids, seconds, 1.0) == {"a.py::t1", "b.py::t1"}
    assert tiers.medium_ids(ids, seconds, 100.0) == set()
    # Never an id that was not collected.
    assert tiers.medium_ids(["a.py::t2"], seconds, 0.1) == set()


def test_make_test_fast_leaves_out_slow_and_medium_and_make_test_runs_all() -> None:
    makefile = (ROOT / "Makefile").read_text()
    fast = re.search(r"^test-fast:.*\n\t(.*)$", makefile, flags=re.M)
    full = re.search(r"^test:.*\n\t(.*)$", makefile, flags=re.M)
    assert fast is not None and '-m "not slow and not medium"' in fast.group(1)
    assert full is not None and "pytest $(PYTEST_ARGS)" in full.group(1)
    assert " -m " not in full.group(1).split("pytest", 1)[1]  # no marker filter: every tier


def _collected(files: list[str], marks: str) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + ["-m", marks, *files],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {line for line in proc.stdout.splitlines() if "::" in line}


def test_the_cheap_tier_deselects_only_medium_tests_and_keeps_every_module() -> None:
    """`-m "not slow and not medium"` drops exactly the medium tests; each module keeps some."""
    # Two modules with at least two tests over the threshold (so at least one is medium),
    # torch-free ones first (quicker to collect in the child process).
    costly = Counter(tiers.module_of(i) for i in SECONDS if SECONDS[i] >= THRESHOLD)
    modules = sorted((m for m, n in costly.items() if n >= 2), key=lambda m: ("engine" in m, m))
    if not modules:
        pytest.skip("no module has two tests over the threshold")
    files = modules[:2]
    not_slow = _collected(files, "not slow")
    cheap = _collected(files, "not slow and not medium")
    medium = _collected(files, "not slow and medium")
    assert cheap and medium, "a module must keep cheap tests and lose its medium ones"
    assert cheap | medium == not_slow and not cheap & medium
    assert medium == tiers.medium_ids(not_slow, SECONDS, THRESHOLD)
    assert all(SECONDS[i] >= THRESHOLD for i in medium)
    assert {tiers.module_of(i) for i in cheap} == {tiers.module_of(i) for i in not_slow}
