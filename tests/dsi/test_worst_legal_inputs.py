"""The slowest legal inputs of `specproof dsi simulate` and `dsi online` finish in a stated time.

`dsi simulate`: the work is the simulation (tokens x repeats <= 2e7 lanes), the exact
expectations (quadratic in S, computed for S <= 5000), DSI's limit per token (a series of about
K/(1 - c) terms) and, with `--servers`, the queueing recursion per path. The inputs below are the
slowest found by timing the corners of the legal ranges (c just below the refused band, K = 1
and K = 1000, S at the exact-expectation limit and at 1e6, a = 0, 0.99 and 1, `--servers` 1 and
4096). Each must finish within `SIMULATE_CPU_SECONDS` of CPU time (process time, so that other
jobs on a shared machine do not count). Measured: 3 to 7 CPU s each. They took 7 to 34 s
while the exact expectations and the latency series ran term by term in Python (the
reference's loops; `specproof.dsi.expected` now runs the same recursions over numpy arrays),
and the `--servers` runs up to 68 s while the queueing recursion visited every block of every
path in Python (`specproof.dsi.queueing.dsi_costs_with_servers` steps all paths at once).

`dsi online` sleeps real time, so its bound is a refusal: a run planned to sleep more than
`MAX_PLANNED_SECONDS` (600 s) is refused at once naming `tokens` and `target_ms`; the plan is
checked against a measured run (it must not under-estimate the sleep by more than the
runtime's overhead).
"""

from __future__ import annotations

import contextlib
import io
import time

import pytest

from specproof.cli.main import main

#: CPU seconds the slowest legal `dsi simulate` may take.
SIMULATE_CPU_SECONDS = 90.0

WORST_SIMULATE = [
    ["--c", "0.5", "--a", "0.5", "--k", "1", "--tokens", "5000", "--repeats", "4000"],
    ["--c", "0.9999", "--a", "0.99", "--k", "1000", "--tokens", "5000", "--repeats", "4000",
     "--servers", "1"],
    ["--c", "0.9999", "--a", "0.99", "--k", "1000", "--tokens", "1000000", "--repeats", "20",
     "--servers", "1"],
    ["--c", "1", "--a", "1", "--k", "1", "--tokens", "5000", "--repeats", "4000",
     "--servers", "4096"],
    ["--c", "1", "--a", "0", "--k", "1", "--tokens", "5000", "--repeats", "4000",
     "--servers", "4096"],
    ["--c", "0.9999", "--a", "0", "--k", "1000", "--tokens", "5000", "--repeats", "4000"],
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("flags", WORST_SIMULATE, ids=lambda f: " ".join(f))
def test_the_slowest_legal_simulations_finish_in_the_stated_cpu_time(flags):
    start = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["dsi", "simulate", *flags, "--json"])
    seconds = time.process_time() - start
    assert code == 0
    assert seconds < SIMULATE_CPU_SECONDS, f"{seconds:.1f} CPU s"


def test_an_online_run_planned_beyond_the_bound_is_refused_at_once(capsys):
    start = time.monotonic()
    code = main(
        ["dsi", "online", "--c", "1", "--a", "0", "--k", "1000", "--tokens", "10000",
         "--target-ms", "60000"]
    )  # fmt: skip
    assert code == 64 and time.monotonic() - start < 10
    err = capsys.readouterr().err
    assert "tokens=10000" in err and "target_ms=60000" in err and "600 s" in err


def test_negative_control_an_online_run_within_the_bound_runs_and_the_plan_covers_it():
    from specproof.dsi.online import planned_seconds, run_online_simulation

    result = run_online_simulation(0.5, 0.5, 3, tokens=30, target_ms=5.0, seed=1)
    slept = sum(a["seconds"] for a in result["algorithms"].values())
    offline = {name: a["offline_per_token"] * 30 for name, a in result["algorithms"].items()}
    planned = planned_seconds(offline, 0.005, None, None, result["config"]["servers"] + 3)
    # The plan is the sleeping the offline model predicts; the run adds thread overhead only.
    assert planned <= slept * 1.05 + 0.01
    assert slept <= planned * 3 + 2.0
