"""Session fixtures of the docs tests: the real site and the probe site, each built once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from . import support


@pytest.fixture(scope="session")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real site, as `make docs` builds it (fresh verify run, bench/results)."""
    site = tmp_path_factory.mktemp("real") / "site"
    proc = support.build(site)
    assert proc.returncode == 0, support.failure(proc)
    return site


@pytest.fixture(scope="session")
def probe_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary claim, a temporary results file and a page added (no docs code written).

    Built from a copy of the project (`support.copy_project`) whose extra page holds a link, a
    snippet and a `:::` target that exist: the positive control of the failure builds in
    test_build.py, which change only that page.
    """
    base = tmp_path_factory.mktemp("probe")
    results = base / "results"
    results.mkdir()
    for path in (support.ROOT / "bench" / "results").glob("*.json"):
        shutil.copy(path, results)
    support.write_results(results, support.probe_results())
    project = base / "project"
    project.mkdir()
    config = support.copy_project(project)
    env = {**support.probe_claim_env(base), "SPECPROOF_DOCS_RESULTS_DIR": str(results)}
    proc = support.build(base / "site", config=config, env=env)
    assert proc.returncode == 0, support.failure(proc)
    return base / "site"
