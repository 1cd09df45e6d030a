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
    """A site with a temporary claim and a temporary results file added (no docs code)."""
    base = tmp_path_factory.mktemp("probe")
    results = base / "results"
    results.mkdir()
    for path in (support.ROOT / "bench" / "results").glob("*.json"):
        shutil.copy(path, results)
    support.write_results(results, support.probe_results())
    env = {**support.probe_claim_env(base), "SPECPROOF_DOCS_RESULTS_DIR": str(results)}
    proc = support.build(base / "site", env=env)
    assert proc.returncode == 0, support.failure(proc)
    return base / "site"
