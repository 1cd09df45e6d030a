"""Slow DSI tests: real models (greedy identity) and the Ray backend (a local Ray, ~10 s to start)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from specproof.dsi.runtime import (
    DSIConfig,
    WorkerFailedError,
    make_servers,
    run_dsi,
    run_nonsi,
    run_si,
)
from specproof.dsi.workers import AcceptancePattern, SleepDrafter, SleepTarget

from .support import assert_fails_within

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2_prompt():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from specproof.engine.models import load_model

    tokenizer = load_model("smollm2").tokenizer
    return tokenizer("def reverse_string(s):\n    ")["input_ids"]


def test_dsi_on_real_models_equals_the_targets_greedy_output(smollm2_prompt):
    from specproof.engine.dsi.hf import HFWorkerSpec

    target, drafter = HFWorkerSpec("smollm2"), HFWorkerSpec("smollm2:layers=8", "drafter")
    expected = run_nonsi(smollm2_prompt, 8, target()).tokens
    assert run_si(smollm2_prompt, 8, drafter(), target(), 3).tokens == expected
    pool = make_servers(target, 2)
    chain = make_servers(target, 1, prefix="chain")[0]
    draft_server = make_servers(drafter, 1, prefix="drafter")[0]

    def eight_tokens(draft: Any, chain_server: Any, **config: bool) -> Any:
        """Eight tokens of DSI at lookahead 3 over the two-server pool."""
        return run_dsi(
            smollm2_prompt,
            8,
            draft,
            pool,
            chain_server,
            DSIConfig(lookahead=3, run_timeout_s=300, **config),
        )

    for use_bonus in (True, False):
        assert eight_tokens(draft_server, chain, use_bonus=use_bonus).tokens == expected
    # The target as its own drafter: every draft is accepted, verification jobs commit.
    self_draft = make_servers(HFWorkerSpec("smollm2", "drafter"), 1, prefix="drafter")[0]
    result = eight_tokens(self_draft, None, target_only=False)
    assert result.tokens == expected and result.stats.rejections == 0


@pytest.fixture(scope="module")
def local_ray():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def test_ray_backend_runs_dsi_and_matches_the_local_heatmap(local_ray):
    from specproof.dsi.heatmap import heatmap

    pattern = AcceptancePattern.from_rate(0.8, 40, 4)
    pool = make_servers(lambda: SleepTarget(0.01), 3, "ray")
    chain = make_servers(lambda: SleepTarget(0.01), 1, "ray", "chain")[0]
    draft_server = make_servers(lambda: SleepDrafter(pattern, 0.002), 1, "ray", "drafter")[0]
    result = run_dsi(
        [],
        30,
        draft_server,
        pool,
        chain,
        DSIConfig(lookahead=3, job_timeout_s=20, run_timeout_s=60),
    )
    assert result.tokens == [0] * 30
    grid = {"c": [0.1, 0.5], "a": [0.5, 0.9], "k": [1, 3], "tokens": 100, "repeats": 2, "seed": 3}
    local = heatmap(**grid)
    remote = heatmap(**grid, backend="ray")
    assert (local.si == remote.si).all() and (local.dsi == remote.dsi).all()


class _Killable:
    def __init__(self):
        self.calls = 0

    def target_tokens(self, sequence, start):
        import os

        self.calls += 1
        if self.calls == 3:
            os._exit(1)  # the actor's process dies
        time.sleep(0.01)
        return [0]


class _SlowToBuild:
    def __init__(self):
        time.sleep(30)


def test_make_servers_waits_for_ray_actors_and_names_one_that_is_not_up(local_ray):
    """Start-up is waited for before a run (so it never counts as a job's timeout); an actor
    that is not up in time is named, and one whose worker fails to build is a failure."""
    from specproof.dsi.runtime import WorkerTimeoutError

    with pytest.raises(WorkerTimeoutError, match="slow0: the Ray actor was not up"):
        make_servers(_SlowToBuild, 1, "ray", "slow", ready_timeout_s=1)
    with pytest.raises(WorkerFailedError, match="broken0: the Ray actor failed to start"):
        make_servers(_broken_worker, 1, "ray", "broken")


def _broken_worker():
    raise RuntimeError("no weights")


def test_a_dead_ray_actor_is_detected_and_fails_the_run_clearly(local_ray):
    pattern = AcceptancePattern([True] * 40)
    pool = make_servers(_Killable, 1, "ray")
    draft_server = make_servers(lambda: SleepDrafter(pattern, 0.005), 1, "ray", "drafter")[0]
    config = DSIConfig(lookahead=1, target_only=False, job_timeout_s=20, run_timeout_s=60)
    assert_fails_within(
        WorkerFailedError,
        "target0 worker failed",
        60,
        lambda: run_dsi([], 30, draft_server, pool, None, config),
    )


def test_gpu_section_runs_on_cpu_with_small_random_models():
    """The section bench/gpu.py calls on a GPU, here on CPU with tiny models (smoke + sanity)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    from specproof.engine.dsi.hf import gpu_section

    data = gpu_section(
        target="random-llama:layers=2,hidden=128,heads=4,vocab=512",
        drafter="random-llama:layers=1,hidden=64,heads=4,vocab=512",
        device="cpu",
        acceptance=(0.8,),
        lookaheads=(2, 4),
    )
    assert 0 < data["c"] <= 1 and len(data["rows"]) == 2
    for row in data["rows"]:
        assert row["dsi_per_token"] <= min(1.0, row["si_per_token"]) + 1e-12
    assert set(data["online"]["algorithms"]) == {"nonsi", "si", "dsi"}


@pytest.mark.parametrize("max_restarts", [0, 3])
def test_ray_a_target_actor_killed_mid_run_is_surfaced_or_replaced(local_ray, max_restarts):
    """No wrong token, no hang: with no replacement left the error names the killed worker;
    with replacements the run finishes with the target's tokens (all 0 for `SleepTarget`)."""
    import threading

    pattern = AcceptancePattern.from_rate(0.9, 200, 0)
    pool = make_servers(lambda: SleepTarget(0.05), 2, "ray")
    draft_server = make_servers(lambda: SleepDrafter(pattern, 0.01), 1, "ray", "drafter")[0]
    victim = pool[0]
    killer = threading.Timer(1.0, lambda: local_ray.kill(victim.actor, no_restart=True))
    config = DSIConfig(
        lookahead=2,
        target_only=False,
        job_timeout_s=20,
        run_timeout_s=120,
        max_restarts=max_restarts,
    )
    start = time.monotonic()
    killer.start()
    try:
        if max_restarts == 0:
            with pytest.raises(WorkerFailedError, match=rf"{victim.name} worker failed"):
                run_dsi([], 200, draft_server, pool, None, config)
        else:
            result = run_dsi([], 200, draft_server, pool, None, config)
            assert result.tokens == [0] * 200 and result.stats.restarts >= 1
    finally:
        killer.cancel()
        for server in [*pool, draft_server]:
            server.close()
    assert time.monotonic() - start < 100
