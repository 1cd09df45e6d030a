"""Shared test configuration: hypothesis profiles, the GPU skip, the `medium` tier, torch threads."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from .support import tiers

# One OpenMP thread in every process the tests start (audit children behind the process
# boundary, CLI subprocesses, Ray actors), as the tests' own processes call
# torch.set_num_threads(1): pytest-xdist already runs one worker per core, and a child with
# torch's default pool (one thread per core) oversubscribes the cores: `pytest -n 2
# tests/audit/test_cross_vocabulary.py` took 826 s with 2 threads per child and 225 s with 1 on
# an idle 2-core machine. setdefault: a caller's own setting wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Profiles: "ci" (derandomised, no example database; the default under CI=true), "dev" (the
# default elsewhere), "thorough" (many more examples). Choose with HYPOTHESIS_PROFILE.
settings.register_profile(
    "ci",
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.register_profile("thorough", max_examples=2000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`-n auto`: xdist's count of cores, capped by a cgroup CPU limit (a container's `--cpus`).

    A container given 2 CPUs on a 64-core host would otherwise start 64 workers, each importing
    torch, and the tests that time a child out would wait on CPU time they do not get.
    `PYTEST_XDIST_AUTO_NUM_WORKERS`, when set, is left to xdist.
    """
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    from xdist.plugin import pytest_xdist_auto_num_workers as xdist_count

    from specproof.cli.verify import cgroup_cpu_limit

    count = int(xdist_count(config))
    limit = cgroup_cpu_limit()
    return count if limit is None else max(1, min(count, limit))


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `medium` the costly not-slow tests (tests/support/tiers.py); skip `gpu` without CUDA."""
    threshold, seconds = tiers.load()
    not_slow = [item for item in items if "slow" not in item.keywords]
    medium = tiers.medium_ids((item.nodeid for item in not_slow), seconds, threshold)
    for item in not_slow:
        if item.nodeid in medium:
            item.add_marker(pytest.mark.medium)
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if not has_cuda:
        skip = pytest.mark.skip(reason="needs a CUDA device")
        for item in gpu_items:
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """With SPECPROOF_RECORD_DURATIONS=PATH, append each test's CPU and wall seconds to PATH."""
    record = os.environ.get("SPECPROOF_RECORD_DURATIONS")
    cpu, wall = (tiers.cpu_seconds(), time.perf_counter()) if record else (0.0, 0.0)
    yield
    if record:
        cpu, wall = tiers.cpu_seconds() - cpu, time.perf_counter() - wall
        line = json.dumps({"id": item.nodeid, "cpu": round(cpu, 4), "wall": round(wall, 4)})
        with open(record, "a") as out:  # one short line per write: workers do not interleave
            out.write(line + "\n")
