"""Session fixtures of the docs tests: the real site and the probe site, each built once.

Once per test run, not once per pytest-xdist worker: the first worker that needs a site builds
it under a lock in the run's shared temporary folder, and the others wait for it and reuse it
(a full build takes minutes: the real site runs the whole `specproof verify`).
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from . import support


def _built_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Path]) -> Path:
    """`build(folder)`'s result, built by the first worker of the run to ask for `name`."""
    shared = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = shared.parent  # every worker's basetemp sits in the run's
    folder, marker = shared / f"docs-{name}", shared / f"docs-{name}.built"
    with open(shared / f"docs-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not marker.exists():  # not built yet, or a build failed: (re)build it here
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            marker.write_text(str(build(folder)))
    return Path(marker.read_text())


def _real(base: Path) -> Path:
    proc = support.build(base / "site")
    assert proc.returncode == 0, support.failure(proc)
    return base / "site"


def _probe(base: Path) -> Path:
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


@pytest.fixture(scope="session")
def real_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real site, as `make docs` builds it (fresh verify run, bench/results)."""
    return _built_once(tmp_path_factory, "real", _real)


@pytest.fixture(scope="session")
def probe_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary claim, a temporary results file and a page added (no docs code written).

    Built from a copy of the project (`support.copy_project`) whose extra page holds a link, a
    snippet and a `:::` target that exist: the positive control of the failure builds in
    test_build.py, which change only that page.
    """
    return _built_once(tmp_path_factory, "probe", _probe)
