"""Session fixtures of the docs tests: the real site and the probe site, each built once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .support import (
    ROOT,
    build,
    failure,
    probe_claim_env,
    probe_results,
    write_results,
)


@pytest.fixture(scope="session")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real site, as `make docs` builds it (fresh verify run, bench/results)."""
    site = tmp_path_factory.mktemp("real") / "site"
    proc = build(site)
    assert proc.returncode == 0, failure(proc)
    return site


@pytest.fixture(scope="session")
def probe_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site with a temporary claim and a temporary results file added (no docs code)."""
    base = tmp_path_factory.mktemp("probe")
    results = base / "results"
    results.mkdir()
    for path in (ROOT / "bench" / "results").glob("*.json"):
        shutil.copy(path, results)
    write_results(results, probe_results())
    env = {**probe_claim_env(base), "SPECPROOF_DOCS_RESULTS_DIR": str(results)}
    proc = build(base / "site", env=env)
    assert proc.returncode == 0, failure(proc)
    return base / "site"
