"""Session fixtures of the docs tests: the real site and the probe site, each built once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .support import (
    PROBE_CLAIM,
    ROOT,
    build,
    failure,
    probe_results,
    write_probe_claim,
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
    module = write_probe_claim(base)
    results = base / "results"
    results.mkdir()
    for path in (ROOT / "bench" / "results").glob("*.json"):
        shutil.copy(path, results)
    write_results(results, probe_results())
    env = {
        "PYTHONPATH": str(base),
        "SPECPROOF_DOCS_CLAIM_MODULES": module,
        "SPECPROOF_DOCS_VERIFY_ONLY": PROBE_CLAIM,
        "SPECPROOF_DOCS_RESULTS_DIR": str(results),
    }
    proc = build(base / "site", env=env)
    assert proc.returncode == 0, failure(proc)
    return base / "site"
