"""The findings catalogue's machinery: result files, generated pages, reproducers, plans.

Fast and torch-free: the audits themselves run only under `make findings`.
"""

from __future__ import annotations

import ast
import copy
import importlib
import json
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FINDINGS = ROOT / "bench" / "findings"
sys.path.insert(0, str(FINDINGS))
catalogue = importlib.import_module("catalogue")
plans = importlib.import_module("plans")

RESULT_FILES = sorted(catalogue.RESULTS_DIR.glob("*.json"))


def test_there_are_results_for_every_planned_implementation() -> None:
    assert len(RESULT_FILES) >= 8
    assert {p.stem for p in RESULT_FILES} == set(plans.IMPLEMENTATIONS)


@pytest.mark.parametrize("path", RESULT_FILES, ids=lambda p: p.stem)
def test_result_file_is_valid(path: Path) -> None:
    data = json.loads(path.read_text())
    assert catalogue.validate(data) == []
    assert data["implementation"] == path.stem


@pytest.mark.parametrize("path", RESULT_FILES, ids=lambda p: p.stem)
def test_every_failing_verdict_has_a_reproducer_and_a_diagnosis(path: Path) -> None:
    for config in json.loads(path.read_text())["configurations"]:
        if config["verdict"] in ("not-lossless", "crashed") and not config["lossy_by_design"]:
            assert config["reproducer"], config["configuration"]
            script = ROOT / config["reproducer"]
            assert script.is_file() and script.suffix == ".py"
            ast.parse(script.read_text())  # a script, not prose
            assert len(config["diagnosis"].split()) >= 30, config["configuration"]


def test_every_reproducer_file_belongs_to_a_result() -> None:
    used = {
        c["reproducer"]
        for p in RESULT_FILES
        for c in json.loads(p.read_text())["configurations"]
        if c["reproducer"]
    }
    on_disk = {str(p.relative_to(ROOT)) for p in (FINDINGS / "repro").glob("*.py")}
    assert on_disk == used


def test_docs_pages_are_regenerated_from_the_results() -> None:
    pages = catalogue.render_all()
    docs = catalogue.DOCS_DIR
    assert {p.name for p in docs.glob("*.md")} == set(pages)
    for name, text in pages.items():
        assert (docs / name).read_text() == text, f"docs/findings/{name} is stale: run make findings-pages"


def test_summary_table_has_one_row_per_configuration() -> None:
    results = catalogue.load_all()
    index = catalogue.render_index(results)
    rows = [line for line in index.splitlines() if line.startswith("| [")]
    assert len(rows) == sum(len(d["configurations"]) for d in results)
    for data in results:
        assert f"]({data['implementation']}.md)" in index


def test_summary_counts_audited_implementations_separately() -> None:
    results = catalogue.load_all()
    audited = [
        d for d in results if any(c["verdict"] in catalogue.AUDITED for c in d["configurations"])
    ]
    assert len(audited) >= 8  # issue 17: at least eight audited implementations
    line = f"{len(results)} implementations ({len(audited)} audited, "
    assert line in catalogue.render_index(results)
    # An implementation recorded without an audit does not count as audited.
    only_survey = [d for d in results if d not in audited]
    assert only_survey, "the catalogue lists no survey-only entry to check the count against"
    line = f"{len(only_survey)} implementations (0 audited, "
    assert line in catalogue.render_index(only_survey)


def test_mkdocs_nav_lists_every_findings_page() -> None:
    class Loader(yaml.SafeLoader):
        pass

    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=Loader)
    section = next(item["Findings"] for item in config["nav"] if isinstance(item, dict) and "Findings" in item)
    listed = {next(iter(entry.values())) if isinstance(entry, dict) else entry for entry in section}
    assert listed == {f"findings/{p.name}" for p in catalogue.DOCS_DIR.glob("*.md")}


def _good() -> dict:
    return json.loads(RESULT_FILES[0].read_text())


def _failing(data: dict) -> dict:
    config = copy.deepcopy(data["configurations"][0])
    config.update(verdict="not-lossless", level="greedy", seed=0, lossy_by_design=False,
                  reproducer="bench/findings/repro/no-such-file.py", diagnosis="")
    data["configurations"] = [config]
    return data


def test_validate_rejects_a_failing_verdict_without_reproducer_or_diagnosis() -> None:
    errors = catalogue.validate(_failing(_good()))
    assert any("needs a reproducer" in e for e in errors)
    assert any("needs a diagnosis" in e for e in errors)


def test_validate_accepts_a_lossy_by_design_failure_without_reproducer() -> None:
    data = _failing(_good())
    data["configurations"][0]["lossy_by_design"] = True
    assert catalogue.validate(data) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"verdict": "lossless"}, "unknown verdict"),
        ({"verdict": "consistent", "tv_bound": None, "level": "greedy", "seed": 0}, "TV bound"),
        ({"verdict": "consistent", "tv_bound": 0.1, "level": "token", "seed": 0}, "needs a level"),
        ({"verdict": "consistent", "tv_bound": 0.1, "level": "greedy", "seed": None}, "seed"),
        ({"verdict": "no auditable path", "notes": " "}, "must say why"),
        ({"tv_bound": 1.5, "verdict": "inconclusive", "level": "greedy", "seed": 0}, "not in [0, 1]"),
        ({"samples": "100"}, "'samples' has type str"),
        ({"package": "other-package"}, "package differs from the file's"),
    ],
)
def test_validate_rejects_bad_records(change: dict, message: str) -> None:
    data = _good()
    data["configurations"] = [copy.deepcopy(data["configurations"][0]) | change]
    errors = catalogue.validate(data)
    assert any(message in e for e in errors), errors


def test_a_configuration_run_on_another_release_shows_its_version() -> None:
    data = _good()
    other = copy.deepcopy(data["configurations"][0]) | {"version": "9.9.9-other"}
    data["configurations"].append(other)
    assert catalogue.validate(data) == []
    index_rows = [line for line in catalogue.render_index([data]).splitlines() if "9.9.9" in line]
    assert len(index_rows) == 1, index_rows
    page = catalogue.render_page(data)
    assert page.count("; version: 9.9.9-other.") == 1
    assert f"; version: {data['version']}" not in page


def test_validate_rejects_missing_and_unknown_keys() -> None:
    data = _good()
    config = copy.deepcopy(data["configurations"][0])
    del config["seed"]
    config["extra"] = 1
    data["configurations"] = [config]
    assert any("missing keys ['seed']" in e and "['extra']" in e for e in catalogue.validate(data))


def _module_functions(source: str) -> set[str]:
    """The names a module's top level defines by `def`, or binds to a call's value alone (an
    adapter function built by a factory: `name = _factory(...)`)."""
    names = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def test_every_plan_names_an_adapter_function_that_exists() -> None:
    for impl, spec in plans.IMPLEMENTATIONS.items():
        names = [item.name for item in spec.items]
        assert len(names) == len(set(names)), impl
        for item in spec.items:
            for target in filter(None, [getattr(item, "function", None), getattr(item, "target_weights", None)]):
                module, _, function = target.partition(":")
                source = (FINDINGS / "adapters" / f"{module}.py").read_text()
                assert function in _module_functions(source), f"{impl}: {target}"
            if getattr(item, "env", "default") != "default":
                assert item.env in spec.envs, f"{impl}: {item.name}"


def test_adapter_modules_never_shadow_the_library() -> None:
    for path in (FINDINGS / "adapters").glob("*.py"):
        assert path.stem.endswith("_adapter"), path.name


def test_plan_table_precedence_is_sizes_then_shared_then_plan() -> None:
    table = importlib.import_module("impls._plan_table")
    rows = table.PlanTable("x_adapter", "lib:f", samples=1600, notes="shared")
    sample = rows.sampling("sample-top4", "words", top_k=4)
    assert (sample.level, sample.m, sample.tv, sample.samples) == ("generation", 2, 0.15, 1600)
    assert (sample.function, sample.path, sample.notes, sample.top_k) == (
        "x_adapter:sample_top4", "lib:f", "shared", 4
    )
    greedy = rows.greedy("plain", "words", function="other", path="lib:g", notes="own", m=3)
    assert (greedy.level, greedy.m, greedy.function, greedy.path, greedy.notes) == (
        "greedy", 3, "x_adapter:other", "lib:g", "own"
    )
    # The sampler level has no standard sizes: Plan's own defaults (m=4, 2000 samples, TV 0.1).
    bare = table.PlanTable("x_adapter", "lib:f").plan("sampler", "chain", "words")
    assert (bare.level, bare.m, bare.samples, bare.tv) == ("sampler", 4, 2000, 0.1)
