"""The docs site builds strictly; generated pages follow the registry and bench results; rot fails.

Builds run `mkdocs build --strict` in a fresh process. The real site is built once per session
(`real_site`, a full fresh verify run). The "probe" build adds a temporary registry entry
(through SPECPROOF_DOCS_CLAIM_MODULES) and a temporary results file (through
SPECPROOF_DOCS_RESULTS_DIR, next to copies of the real ones) and checks that both appear with no
docs code written for them; it is built from a copy of the project with an extra page that
references things that exist. The failure builds change only that page (a broken `:::`, link,
cross-reference or snippet), or add a results file without a renderer, and check that the build
fails with a message that names the culprit.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .support import (
    GOOD_PAGE,
    PROBE_CLAIM,
    ROOT,
    SNIPPET,
    build,
    copy_project,
    failure,
    probe_claim_env,
    probe_results,
    write_results,
)

pytestmark = pytest.mark.slow


def _claim_names() -> list[str]:
    from specproof.proofs.registry import default_registry

    return [claim.name for claim in default_registry()]


def test_every_claim_has_a_page_with_a_fresh_result(real_site: Path) -> None:
    records = json.loads((real_site / "theorems" / "verify.json").read_text())
    by_name = {r["name"]: r for r in records}
    for name in _claim_names():
        page = real_site / "theorems" / name / "index.html"
        assert page.is_file(), f"no theorem page for {name}"
        html = page.read_text()
        if name in by_name:
            assert f"sp-{by_name[name]['status']}" in html, f"{name}: status not shown"
        else:
            assert "not run in this build" in html
    index = (real_site / "theorems" / "index.html").read_text()
    assert all(f'href="{name}/"' in index for name in _claim_names())


def test_the_builds_verify_run_holds_every_default_claim(real_site: Path) -> None:
    """The site's verify run is `specproof verify` with the default options: every claim it runs
    must hold, and it runs every claim but the `--thorough`-only ones. (The build itself renders
    a refuted claim's page rather than failing.)"""
    from specproof.proofs.registry import default_registry

    records = json.loads((real_site / "theorems" / "verify.json").read_text())
    failed = {r["name"]: r["status"] for r in records if r["status"] not in ("proved", "checked")}
    assert not failed, failed
    expected = {c.name for c in default_registry() if not c.thorough_only}
    assert {r["name"] for r in records} == expected


def test_every_results_file_has_a_page(real_site: Path) -> None:
    for path in (ROOT / "bench" / "results").glob("*.json"):
        data = json.loads(path.read_text())
        html = (real_site / "results" / data["benchmark"] / "index.html").read_text()
        assert data["title"] in html
        assert html.count("<img") >= len(data.get("plots", []))


def test_every_package_has_an_api_page(real_site: Path) -> None:
    for package in ("reference", "proofs", "engine"):
        html = (real_site / "api" / package / "index.html").read_text()
        assert f"specproof.{package}" in html
    assert (
        "specproof.reference.dist.Dist"
        in (real_site / "api" / "reference" / "index.html").read_text()
    )
    assert "specproof verify" in (real_site / "api" / "cli" / "index.html").read_text()


def test_search_index_and_local_mathjax(real_site: Path) -> None:
    index = json.loads((real_site / "search" / "search_index.json").read_text())
    assert any("theorems/" in doc["location"] for doc in index["docs"])
    assert (real_site / "assets" / "mathjax" / "tex-chtml.js").is_file()
    assert list(
        (real_site / "assets" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").glob("*.woff")
    )
    home = (real_site / "index.html").read_text()
    assert "assets/mathjax/tex-chtml.js" in home
    for external in ("cdn.jsdelivr", "fonts.googleapis", "unpkg.com", "polyfill.io"):
        assert external not in home


def test_a_new_claim_gets_its_page(probe_site: Path) -> None:
    html = (probe_site / "theorems" / PROBE_CLAIM / "index.html").read_text()
    assert "A probe claim for the docs tests" in html
    assert "sp-proved" in html
    assert "added by tests/docs" in html  # the certificate summary
    assert "arithmetic" in html  # the method
    assert f'href="{PROBE_CLAIM}/"' in (probe_site / "theorems" / "index.html").read_text()
    records = json.loads((probe_site / "theorems" / "verify.json").read_text())
    assert [r["name"] for r in records] == [PROBE_CLAIM]
    # The other claims keep their pages, marked as not run by this restricted build.
    other = next(n for n in _claim_names() if n != PROBE_CLAIM)
    assert "not run in this build" in (probe_site / "theorems" / other / "index.html").read_text()


def test_a_new_results_file_gets_its_page(probe_site: Path) -> None:
    page = probe_site / "results" / "docsprobe_results" / "index.html"
    html = page.read_text()
    assert "Docs probe results" in html
    assert "Probe table" in html and "probe note" in html
    assert "2 targets" not in html and "1 of 2 met" in html
    assert "sp-not-met" in html and "sp-met" in html
    pngs = sorted((probe_site / "results").glob("docsprobe_results-*.png"))
    assert len(pngs) == 3
    for png in pngs:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert png.name in html
    assert 'href="docsprobe_results/"' in (probe_site / "results" / "index.html").read_text()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["plots"].append({"title": "Pie", "kind": "pie"}), "kind 'pie'"),
        (lambda d: d.update(histograms=[]), "no renderer for top-level key(s) ['histograms']"),
        (lambda d: d["plots"][0]["series"]["fast"].pop(), "series 'fast' has 2 values"),
        (lambda d: d.pop("tables"), "missing key 'tables'"),
    ],
    ids=["unknown-plot-kind", "unknown-key", "short-series", "no-tables"],
)
def test_a_results_file_without_a_renderer_fails_the_build(tmp_path: Path, change, message) -> None:
    data = probe_results()
    change(data)
    write_results(tmp_path / "results", data, name="docsprobe_results")
    proc = build(tmp_path / "site", env={"SPECPROOF_DOCS_RESULTS_DIR": str(tmp_path / "results")})
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "docsprobe_results.json cannot be rendered" in output, failure(proc)
    assert message in output, failure(proc)


def test_the_copied_project_builds(probe_site: Path) -> None:
    """Positive control of the failure builds below: the probe site is the copied project with a
    sound extra page (`support.copy_project`), and it built (the fixture asserts exit 0)."""
    html = (probe_site / "extra" / "index.html").read_text()
    assert SNIPPET in html
    assert "specproof.reference.verifier._intervals" in html
    assert 'href="../explanation/conventions/"' in html


def _failed_build(tmp_path: Path, page: str) -> str:
    """Build the copied project with `page` as its extra page; it must fail. Its output."""
    config = copy_project(tmp_path, page)
    proc = build(tmp_path / "site", config=config, env=probe_claim_env(tmp_path))
    assert proc.returncode != 0, "the build passed despite a broken reference"
    return proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("page", "message"),
    [
        (
            GOOD_PAGE.replace("_intervals", "_no_such_thing"),
            "specproof.reference.verifier._no_such_thing",
        ),
        (GOOD_PAGE.replace("snippet.txt", "no-such-snippet.txt"), "no-such-snippet.txt"),
    ],
    ids=["missing-symbol", "missing-snippet"],
)
def test_a_page_referencing_something_missing_fails_the_build(
    tmp_path: Path, page: str, message: str
) -> None:
    """These two stop the build where they are found (an error, not a warning)."""
    output = _failed_build(tmp_path, page)
    assert message in output, output[-6000:]


def test_a_missing_page_or_crossref_is_a_warning_that_fails_the_strict_build(
    tmp_path: Path,
) -> None:
    """A link to a missing page and a cross-reference to a missing object are each reported as a
    WARNING, and `strict: true` turns any warning into a failed build. Both rots are on one
    page: they are reported at the end of the same build (one full build instead of two), and
    each message must stand on a WARNING line of its own."""
    page = GOOD_PAGE.replace("conventions.md", "no-such-page.md").replace(
        "::: specproof", "[Dist][specproof.reference.dist.NoSuchThing]\n\n::: specproof"
    )
    output = _failed_build(tmp_path, page)
    warnings = [line for line in output.splitlines() if line.startswith("WARNING")]
    for message in ("no-such-page.md", "NoSuchThing"):
        assert any(message in line for line in warnings), output[-6000:]
    assert "Aborted with" in output and "in strict mode" in output, output[-6000:]
