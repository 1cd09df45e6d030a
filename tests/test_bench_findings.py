"""Results files open with a finding that their script derives from the numbers in the file.

A bench script that defines `finding(tables, targets)` passes it to `write_results` (or to the
`Benchmark` it writes through), so a rerun writes the headline of its own numbers; the committed file must hold exactly what that function
gives for the committed tables (an edited number, or a hand-edited finding, fails here).
"""

from __future__ import annotations

import ast
import copy
import importlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"

#: Results files being rewritten elsewhere (their scripts are being replaced): no finding yet.
PENDING: set[str] = set()


def _writer(benchmark: str) -> Path | None:
    """The bench script whose `write_results` call or `Benchmark` names `benchmark` (None:
    written by hand)."""
    call = re.compile(r"(?:write_results|Benchmark)\(\s*([\"'])" + re.escape(benchmark) + r"\1")
    found = [p for p in sorted(BENCH.glob("*.py")) if call.search(p.read_text())]
    assert len(found) <= 1, f"{benchmark}: several writers {found}"
    return found[0] if found else None


def _defines_finding(script: Path) -> bool:
    tree = ast.parse(script.read_text())
    return any(isinstance(n, ast.FunctionDef) and n.name == "finding" for n in tree.body)


@pytest.fixture(scope="module")
def bench_path() -> Iterator[None]:
    sys.path.insert(0, str(BENCH))
    try:
        yield
    finally:
        sys.path.remove(str(BENCH))


def _results() -> list[Path]:
    return sorted(RESULTS.glob("*.json"))


@pytest.mark.parametrize("path", _results(), ids=lambda p: p.stem)
def test_every_results_file_opens_with_a_finding(path: Path) -> None:
    data = json.loads(path.read_text())
    if path.stem in PENDING and "finding" not in data:
        pytest.skip(f"{path.stem}: being rewritten with its script")
    assert isinstance(data.get("finding"), str) and data["finding"].strip(), path.name
    script = _writer(path.stem)
    if script is not None:
        assert _defines_finding(script), f"{script.name} writes {path.name} but has no finding()"
        assert re.search(r"finding\s*=\s*finding", script.read_text()), (
            f"{script.name} does not pass finding=finding to write_results or Benchmark"
        )


def _scripted() -> list[tuple[Path, Path]]:
    pairs = []
    for path in _results():
        script = _writer(path.stem)
        if script is not None and _defines_finding(script):
            pairs.append((path, script))
    return pairs


@pytest.mark.parametrize("path,script", _scripted(), ids=lambda p: p.stem)
def test_the_committed_finding_is_what_the_script_derives(
    path: Path, script: Path, bench_path: None
) -> None:
    data = json.loads(path.read_text())
    module: Any = importlib.import_module(script.stem)
    assert module.finding(data["tables"], data.get("targets", [])) == data["finding"]
    benchmark = getattr(module, "BENCHMARK", None)
    if benchmark is not None:  # a script that writes through a `Benchmark` declares this file
        assert (benchmark.path, benchmark.finding) == (path, module.finding)


def test_a_finding_follows_the_numbers(bench_path: None) -> None:
    """Negative control: a changed verdict or time in the table changes the finding."""
    data = json.loads((RESULTS / "audit.json").read_text())
    module: Any = importlib.import_module("bench_audit")
    before = module.finding(data["tables"], [])
    changed = copy.deepcopy(data["tables"])
    verdict = changed[0]["columns"].index("verdict")
    changed[0]["rows"][0][verdict] = "inconclusive"
    after = module.finding(changed, [])
    assert "3 of 3" in before and "2 of 3" in after
    assert before != after
