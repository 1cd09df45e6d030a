"""DSI runtime faults: a worker that raises a `BaseException` (SystemExit, KeyboardInterrupt)
or hangs is reported at once, under the documented error, never a stall to `run_timeout_s`.
Every run is bounded (run_timeout_s = 20) and the elapsed time is asserted, so a stall fails
the test instead of the suite."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from specproof.dsi.runtime import (
    DSIConfig,
    WorkerFailedError,
    WorkerTimeoutError,
    make_servers,
    run_dsi,
)
from specproof.dsi.workers import AcceptancePattern, SleepDrafter, SleepTarget

CONFIG = DSIConfig(lookahead=2, target_only=False, job_timeout_s=0.5, run_timeout_s=20)


@dataclass
class ExitingDrafter(SleepDrafter):
    escape: type[BaseException] = SystemExit
    calls: int = 0

    def next_token(self, sequence, fresh, cancel=None):
        self.calls += 1
        if self.calls == 3:
            raise self.escape("drafter left")
        return super().next_token(sequence, fresh, cancel)


@dataclass
class HangingDrafter(SleepDrafter):
    def next_token(self, sequence, fresh, cancel=None):
        time.sleep(30)  # ignores cancel: a stuck worker
        return 0


@dataclass
class ExitingTarget(SleepTarget):
    def target_tokens(self, sequence, start, cancel=None):
        raise SystemExit(0)


def _run(drafter_factory, target_factory=lambda: SleepTarget(0.005)):
    drafter = make_servers(drafter_factory, 1, prefix="drafter")[0]
    pool = make_servers(target_factory, 2)
    start = time.monotonic()
    try:
        run_dsi([], 20, drafter, pool, None, CONFIG)
    finally:
        elapsed = time.monotonic() - start
        assert elapsed < 5, f"took {elapsed:.1f} s: a stall, not a prompt failure"


PATTERN = AcceptancePattern.from_rate(0.9, 60, 0)


@pytest.mark.parametrize("escape", [SystemExit, KeyboardInterrupt, GeneratorExit])
def test_a_drafter_raising_a_base_exception_fails_the_run_at_once(escape):
    with pytest.raises(WorkerFailedError, match=rf"drafter worker failed \({escape.__name__}"):
        _run(lambda: ExitingDrafter(PATTERN, 0.001, escape=escape))


def test_a_hung_drafter_is_a_worker_timeout():
    with pytest.raises(WorkerTimeoutError, match="drafter worker failed"):
        _run(lambda: HangingDrafter(PATTERN, 0.001))


def test_a_target_calling_sys_exit_fails_the_run_naming_the_worker():
    with pytest.raises(WorkerFailedError, match=r"target\d+ worker failed \(SystemExit"):
        _run(lambda: SleepDrafter(PATTERN, 0.001), lambda: ExitingTarget(0.005))
