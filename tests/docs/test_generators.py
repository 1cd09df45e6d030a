"""The page generators of docs/_hooks, without a build: fast checks of what each page says."""

from __future__ import annotations

import importlib
import json
import re
import sys
import types

import pytest

from .support import DOCS, ROOT, probe_results

sys.path.insert(0, str(DOCS / "_hooks"))
theorem_pages = importlib.import_module("theorem_pages")
result_pages = importlib.import_module("result_pages")
hook = importlib.import_module("hook")


def claim(name: str, statement: str, method: str, thorough_only: bool, scope: str):
    """A stand-in for a registered claim: the fields `theorem_pages.collect` reads."""
    return types.SimpleNamespace(
        name=name,
        statement=statement,
        method=method,
        thorough_only=thorough_only,
        check=len,
        scope=scope,
    )


def entry(name="sd_probe", result=None, thorough_only=False, check_path=None, scope="V = 2..8"):
    return theorem_pages.TheoremEntry(
        name,
        "Probe statement $p = q$. Second sentence.",
        "probe method",
        thorough_only,
        check_path,
        result,
        scope=scope,
    )


@pytest.mark.parametrize(
    ("name", "algorithm"),
    [
        ("sd_lossless", "sd"),
        ("exact_match_lossless", "exact_match"),
        ("dsi_not_slower", "dsi"),
        ("newalgo_some_claim", "newalgo"),  # an unknown prefix still gets its own group
    ],
)
def test_claims_are_grouped_by_algorithm_prefix(name: str, algorithm: str) -> None:
    assert theorem_pages.algorithm_of(name) == algorithm


def test_a_refuted_claim_shows_its_counterexample() -> None:
    result = {
        "status": "refuted",
        "seconds": 0.5,
        "certificate": {"counterexample": {"p": [1, 0], "q": [0, 1]}},
    }
    page = theorem_pages.render_page(entry(result=result), None)
    assert '!!! failure "Counterexample"' in page
    assert '"q": [' in page
    assert "sp-refuted" in page


def test_a_check_that_crashed_shows_its_error() -> None:
    result = {
        "status": "unknown",
        "seconds": 0.1,
        "certificate": {"error": "ZeroDivisionError: boom", "traceback": "Traceback ...\n  line 1"},
    }
    page = theorem_pages.render_page(entry(result=result), None)
    assert '!!! failure "The check failed to run"' in page
    assert "ZeroDivisionError: boom" in page


def test_a_claim_not_run_says_why() -> None:
    assert "--thorough" in theorem_pages.render_page(entry(thorough_only=True), None)
    assert "--only sd_other" in theorem_pages.render_page(entry(), "sd_other")


def test_the_check_function_is_rendered_only_inside_the_package() -> None:
    inside = theorem_pages.render_page(entry(check_path="specproof.proofs.sd.check"), None)
    assert "::: specproof.proofs.sd.check" in inside
    assert ":::" not in theorem_pages.render_page(entry(), None)


def test_a_claim_factory_check_is_rendered_as_the_harness_function_it_binds() -> None:
    from specproof.proofs.claims import lossless_claim
    from specproof.proofs.registry import Registry

    registry = Registry()
    lossless_claim("probe", "Probe statement.", registry=registry)
    registry.claim("probe_lambda", "Probe statement.", "m")(lambda options: None)
    entries = {e.name: e for e in theorem_pages.collect(list(registry), [])}
    assert entries["probe_lossless"].check_path == "specproof.proofs.harness.check_lossless"
    assert entries["probe_lossless"].bound == "`'probe'`"
    assert entries["probe_lambda"].check_path is None and entries["probe_lambda"].bound is None
    page = theorem_pages.render_page(entries["probe_lossless"], None)
    # Linked, not rendered again (a shared function has one primary URL: its API page).
    assert "[`check_lossless`][specproof.proofs.harness.check_lossless] with `'probe'`" in page
    assert ":::" not in page


def test_bound_formulas_and_claims_are_described_by_name() -> None:
    from specproof.proofs.claims import acceptance_claim, distribution_claim
    from specproof.proofs.registry import Registry
    from specproof.proofs.sd_smt import acceptance_tv_claim
    from specproof.reference import formulas as f

    registry = Registry()
    acceptance_claim(
        "probe", "acc", "s", equal_to={"sum_min": f.acceptance_rate}, registry=registry
    )
    distribution_claim(
        "probe_smt", "s", acceptance_tv_claim(), sizes=[2], thorough_sizes=[2, 3],
        registry=registry,
    )  # fmt: skip
    bound = {e.name: e.bound for e in theorem_pages.collect(list(registry), [])}
    assert bound["probe_acc"] == "`'probe'`, `equal_to={'sum_min': acceptance_rate}`, `at_most={}`"
    assert bound["probe_smt"] == (
        "`DistributionClaim('acceptance_rate(p, q) == 1 - 1 * total_variation(p, q)')`, "
        "`[2]`, `[2, 3]`, `track=True`"
    )


def test_a_proof_claims_prover_is_linked_and_its_runs_arguments_shown() -> None:
    from specproof.proofs.claims import proof_claim
    from specproof.proofs.registry import Registry
    from specproof.proofs.sd_symbolic import prove_output_is_target

    registry = Registry()
    proof_claim(
        "probe_symbolic", "s", "sympy", prove_output_is_target, default=(range(2, 4),),
        thorough=(range(2, 6),), scope="V = 2, 3", registry=registry,
    )  # fmt: skip
    (probe,) = theorem_pages.collect(list(registry), [])
    assert probe.check_path == "specproof.proofs.claims.run_prover"
    page = theorem_pages.render_page(probe, None)
    assert (
        "By [`run_prover`][specproof.proofs.claims.run_prover] with "
        "[`prove_output_is_target`][specproof.proofs.sd_symbolic.prove_output_is_target], "
        "`default=[range(2, 4)]`, `thorough=[range(2, 6)]`, `timeout=False`"
    ) in page


def test_verify_records_of_unknown_claims_are_an_error() -> None:
    with pytest.raises(theorem_pages.TheoremError, match="does not hold"):
        theorem_pages.collect([], [{"name": "ghost"}])


def test_certificate_values_are_summarised() -> None:
    assert theorem_pages._short([2, 3, 4]) == "`[2, 3, 4]`"
    assert theorem_pages._short(list(range(100))) == "list of 100 items"
    assert theorem_pages._short("a|b<c") == "a\\|b&lt;c"


def test_a_results_page_holds_every_part() -> None:
    page, images = result_pages.render_page(probe_results(), "probe.json")
    assert len(images) == 3 and all(png[:4] == b"\x89PNG" for png in images.values())
    for text in ("## Targets (1 of 2 met)", "## Probe table", "## Machine", "probe note"):
        assert text in page
    assert all(name in page for name in images)


def test_a_results_page_opens_with_its_finding_and_ranks_below_prose_in_search() -> None:
    data = {**probe_results(), "finding": "The probe found what it probes."}
    page, _ = result_pages.render_page(data, "probe.json")
    assert page.startswith("---\nsearch:\n  boost: 0.2\n---\n")
    finding = page.index('!!! abstract "Finding"')
    assert finding < page.index(data["description"].strip()[:40])
    assert "    The probe found what it probes." in page
    without, _ = result_pages.render_page(probe_results(), "probe.json")
    assert "Finding" not in without


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(finding=" "), "'finding' must be a non-empty string"),
        (lambda d: d["plots"].append({"title": "Pie", "kind": "pie"}), "plot kind 'pie'"),
        (lambda d: d.update(extra=1), "top-level key(s) ['extra']"),
        (lambda d: d.update(benchmark="other"), "file is named docsprobe_results.json"),
        (lambda d: d["plots"][2]["z"].pop(), "z must have len(y) rows"),
    ],
)
def test_unrenderable_results_are_refused(change, message: str) -> None:
    data = probe_results()
    change(data)
    with pytest.raises(ValueError, match=re.escape(message)):
        result_pages.check_renderable(data, "docsprobe_results")


def test_the_committed_results_all_render() -> None:
    """Every file in bench/results follows the schema (the real build would fail otherwise)."""
    loaded = result_pages.load(ROOT, ROOT / "bench" / "results")
    assert {data["benchmark"] for _, data in loaded} == {
        p.stem for p in (ROOT / "bench" / "results").glob("*.json")
    }


def test_nav_placeholders_are_expanded() -> None:
    nav = [{"Home": "index.md"}, {"Theorems": "theorems/index.md"}]
    sections = {"theorems/index.md": ["theorems/index.md", {"a": "theorems/a.md"}]}
    expanded = hook._expand(nav, sections)
    assert expanded[1] == {"Theorems": ["theorems/index.md", {"a": "theorems/a.md"}]}
    assert sections == {}


def test_results_pages_name_the_script_that_writes_them(tmp_path) -> None:
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "bench_a.py").write_text('write_results(\n    "alpha",\n    "Alpha", "", [])\n')
    (bench / "bench_b.py").write_text(
        'print("alpha")\nwrite_results(benchmark="beta", title="B")\n'
    )
    assert result_pages.writers(tmp_path, "alpha") == ["bench/bench_a.py"]
    assert result_pages.writers(tmp_path, "beta") == ["bench/bench_b.py"]
    (bench / "bench_c.py").write_text('BENCHMARK = Benchmark(\n    "gamma", "Gamma", __doc__)\n')
    assert result_pages.writers(tmp_path, "gamma") == ["bench/bench_c.py"]
    assert result_pages.writers(tmp_path, "delta") == []
    page, _ = result_pages.render_page(probe_results(), "x.json", ["bench/bench_a.py"])
    assert "`python bench/bench_a.py`" in page


def test_a_measured_claim_is_shown_as_measured_not_proved() -> None:
    result = {
        "status": "measured",
        "seconds": 3.0,
        "certificate": {"measurement": {"fraction": 0.7}, "thresholds": {"min": 0.5}, "seeds": [0]},
    }
    page = theorem_pages.render_page(entry(result=result), None)
    assert "sp-measured" in page and "Measured, not proved" in page
    assert "*measured*:" in page and '"fraction": 0.7' in page
    index = theorem_pages.render_index([entry(result=result)], None)
    assert "1 measured" in index and "sp-measured" in index


def test_a_thorough_claim_not_run_shows_its_recorded_result(tmp_path) -> None:
    record = {
        "name": "rank_probe",
        "statement": "s",
        "method": "experiment",
        "status": "measured",
        "seconds": 12.5,
        "certificate": {"measurement": {"fraction": 0.7}, "thresholds": {}, "seeds": [0, 1]},
    }
    (tmp_path / "probe.json").write_text(
        json.dumps(
            {
                "created": "2026-12-03T08:00:00+00:00",
                "command": "python bench/x.py",
                "records": [record],
            }
        )
    )
    recorded = theorem_pages.load_recorded(tmp_path)
    probe = claim("rank_probe", "s", "experiment", True, "one experiment")
    (entry_,) = theorem_pages.collect([probe], [], recorded)
    page = theorem_pages.render_page(entry_, None)
    assert "Recorded, not run in this build" in page and "python bench/x.py" in page
    assert "sp-measured" in page and "(recorded)" in page and "12.50 s" in page
    assert "measured (recorded, not rerun)" in theorem_pages.render_index([entry_], None)
    # A claim this build ran shows this build's result, never the recorded one.
    (ran,) = theorem_pages.collect([probe], [{**record, "status": "refuted"}], recorded)
    assert ran.recorded is None and "Recorded" not in theorem_pages.render_page(ran, None)


def test_unreadable_recorded_results_fail_naming_the_file(tmp_path) -> None:
    (tmp_path / "bad.json").write_text(
        json.dumps({"created": "x", "command": "y", "records": [{"name": "a"}]})
    )
    with pytest.raises(theorem_pages.TheoremError, match="bad.json"):
        theorem_pages.load_recorded(tmp_path)


def test_the_index_and_pages_show_scope_and_the_first_sentence() -> None:
    result = {"status": "proved", "seconds": 0.25, "certificate": {"backend": "z3"}}
    index = theorem_pages.render_index([entry(result=result)], None)
    (row,) = [line for line in index.splitlines() if line.startswith("| [`sd_probe`]")]
    cells = [cell.strip() for cell in row.strip("|").split(" | ")]
    assert cells[:4] == [
        "[`sd_probe`](sd_probe.md)",
        "Probe statement $p = q$.",
        cells[2],
        "V = 2..8",
    ]
    assert "sp-proved" in cells[2] and "Second sentence" not in index
    assert "| claim | statement | status | scope | method | time |" in index
    page = theorem_pages.render_page(entry(result=result), None)
    assert "| status | scope | method |" in page and "| V = 2..8 |" in page
    assert "*Scope* (the instances this status covers): V = 2..8." in page
    # A claim not run still shows its scope in the page's table.
    assert "| V = 2..8 |" in theorem_pages.render_page(entry(), None)


def test_table_cells_escape_pipes_in_and_out_of_maths() -> None:
    cell = theorem_pages._cell("a | b $|x| + 1$ c")
    assert cell == "a \\| b $\\vert{}x\\vert{} + 1$ c"


def test_collect_carries_the_claims_scope() -> None:
    (collected,) = theorem_pages.collect([claim("sd_probe", "s.", "m", False, "K = 1..6")], [])
    assert collected.scope == "K = 1..6"


def test_the_verify_run_reports_each_claim_as_it_starts() -> None:
    """Progress of the docs build: the verify run names each claim before checking it."""
    only = "exact_match_acceptance_le_sd_smt"
    lines: list[str] = []
    records = theorem_pages.run_verify(ROOT, [], only, on_progress=lines.append)
    assert [r["name"] for r in records] == [only]
    assert lines == [f"verify [1/1] {only} ..."]


def test_api_pages_are_logged_as_they_render_and_sections_once(caplog) -> None:
    hook._generated.clear()
    hook._announced.clear()
    hook._generated.update({"theorems/a.md": "", "theorems/b.md": "", "theorems/index.md": ""})

    def page(uri):
        return types.SimpleNamespace(file=types.SimpleNamespace(src_uri=uri))

    with caplog.at_level("INFO", logger="mkdocs.hooks.specproof"):
        for uri, text in [
            ("index.md", "text"),
            ("theorems/a.md", "text"),
            ("theorems/b.md", "text"),
            ("api/engine.md", "::: specproof.engine"),
            ("api/cli.md", "no directive: rendered without mkdocstrings"),
        ]:
            assert hook.on_page_markdown(text, page(uri), None, None) == text
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "specproof: rendering the 3 theorems pages",
        "specproof: rendering api/engine.md (mkdocstrings)",
    ]
    hook._generated.clear()


def test_option_rows_read_flags_values_defaults_and_help_from_argparse() -> None:
    import argparse

    api_pages = importlib.import_module("api_pages")
    parser = argparse.ArgumentParser()
    parser.add_argument("function", metavar="MODULE:FUNCTION", help="the audited function")
    parser.add_argument("--tv", type=float, default=0.05, help="smallest TV | to detect")
    parser.add_argument("--test", choices=["chi2", "g"], default="chi2", help="the test")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument("--hidden", help=argparse.SUPPRESS)
    assert api_pages.option_rows(parser) == [
        ("`MODULE:FUNCTION`", "", "the audited function"),
        ("`--tv` `TV`", "`0.05`", "smallest TV \\| to detect"),
        ("`--test` `{chi2,g}`", "`chi2`", "the test"),
        ("`--json`", "", "print JSON"),
    ]


def test_the_cli_page_has_every_commands_options_in_its_own_table() -> None:
    import argparse

    from specproof.cli.main import build_parser

    api_pages = importlib.import_module("api_pages")
    page = api_pages.render_cli()
    assert "usage: specproof" in page and "show this help message" not in page

    def leaves(parser, path):
        subs = api_pages._subcommands(parser)
        if not subs:
            yield path, parser
        for name, sub in subs.items():
            yield from leaves(sub, f"{path} {name}")

    found = list(leaves(build_parser(), "specproof"))
    assert {"specproof verify", "specproof audit sampler", "specproof dsi online"} <= {
        p for p, _ in found
    }
    for path, parser in found:
        section = page.split(f"`{path}`\n", 1)[1].split("\n#", 1)[0]
        assert "| option | default | description |" in section, path
        for action in parser._actions:
            if action.option_strings and not isinstance(action, argparse._HelpAction):
                row = next(
                    (
                        line
                        for line in section.splitlines()
                        if f"`{action.option_strings[0]}`" in line
                    ),
                    None,
                )
                assert row is not None, f"{path}: {action.option_strings[0]} has no row"
                if isinstance(action.default, int | float) and not isinstance(action.default, bool):
                    assert f"`{action.default}`" in row, f"{path}: {row}"


def test_source_references_name_the_repository_file_and_link_it_when_a_repo_url_is_set() -> None:
    api_pages = importlib.import_module("api_pages")
    page = (
        "<summary>Source code in <code>.mkdocs-tree/specproof/proofs/sd.py</code></summary>"
        '<h2 id="specproof.engine.sd" class="doc doc-heading"><code>sd</code></h2>'
        '<h2 id="specproof.engine.models" class="doc doc-heading"><code>models</code></h2>'
        '<h2 id="specproof.engine.nothing_here" class="doc doc-heading">x</h2>'
    )
    plain = api_pages.link_sources(page, ROOT, None)
    assert ".mkdocs-tree" not in plain
    assert "Source code in <code>proofs/sd.py</code>" in plain
    assert '<p class="sp-source">Source: <code>engine/sd.py</code></p>' in plain
    assert "Source: <code>engine/models/__init__.py</code>" in plain
    assert plain.count("sp-source") == 2  # no file, no line
    linked = api_pages.link_sources(page, ROOT, "https://example.org/o/specproof/")
    assert '<a href="https://example.org/o/specproof/blob/HEAD/engine/sd.py"><code>' in linked
    assert '<a href="https://example.org/o/specproof/blob/HEAD/proofs/sd.py">' in linked
