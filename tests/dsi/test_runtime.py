"""The DSI runtime: lossless against the exact reference, ordering, preemption, failures.

Every run here is bounded: `run_timeout_s` and `job_timeout_s` are small, and failure tests
assert the elapsed time, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction as F

import pytest

from specproof.dsi.runtime import (
    DSIConfig,
    InconsistentTargetError,
    WorkerFailedError,
    WorkerTimeoutError,
    make_servers,
    run_dsi,
    run_nonsi,
    run_si,
)
from specproof.dsi.workers import (
    AcceptancePattern,
    SleepDrafter,
    SleepTarget,
    ToyDrafter,
    ToyTarget,
    target_sequential,
)
from specproof.reference import Dist, ToyLM, argmax, inverse_cdf

from .support import assert_fails_within


def random_lm(vocab, order, rng):
    def row():
        weights = [rng.randint(1, 9) for _ in vocab]
        return Dist.over(vocab, [F(w, sum(weights)) for w in weights])

    contexts = [c for n in range(order + 1) for c in itertools.product(vocab, repeat=n)]
    return ToyLM(vocab, order, {c: row() for c in contexts})


def autoregressive_path(lm, prompt, n, uniforms):
    """The target alone with one uniform per position (inverse CDF), or argmax without uniforms."""
    sequence = list(prompt)
    for _ in range(n):
        row = lm.next_dist(sequence)
        sequence.append(
            inverse_cdf(row.probs, row.tokens, uniforms[len(sequence)]) if uniforms else argmax(row)
        )
    return sequence[len(prompt) :]


def dsi_servers(target_factory, drafter_factory, servers):
    return (
        make_servers(drafter_factory, 1, prefix="drafter")[0],
        make_servers(target_factory, servers),
        make_servers(target_factory, 1, prefix="chain")[0],
    )


CASES = list(
    itertools.product(["exact_match", "greedy"], [1, 2, 3], [1, 3], [True, False], [True, False])
)


def _lossless_run(seed, verifier, k, servers, target_only, use_bonus):
    rng = random.Random(1000 * seed + k)
    vocab = ["a", "b", "c"]
    target_lm, draft_lm = random_lm(vocab, 1, rng), random_lm(vocab, 1, rng)
    n = 10
    uniforms = (
        [F(rng.randrange(1000), 1000) for _ in range(n + 2)] if verifier == "exact_match" else []
    )
    draft_u = (
        [F(rng.randrange(1000), 1000) for _ in range(n + 2)] if verifier == "exact_match" else []
    )
    lock = threading.Lock()

    def delay():
        with lock:
            return rng.random() * 0.004

    def target():
        return ToyTarget(target_lm, draft_lm, verifier, uniforms, delay)

    def drafter():
        return ToyDrafter(draft_lm, draft_u, lambda: delay() / 4)

    draft_server, pool, chain = dsi_servers(target, drafter, servers)
    config = DSIConfig(
        lookahead=k,
        target_only=target_only,
        use_bonus=use_bonus,
        job_timeout_s=10,
        run_timeout_s=30,
    )
    result = run_dsi(["a"], n, draft_server, pool, chain if target_only else None, config)
    expected = autoregressive_path(target_lm, ["a"], n, uniforms)
    assert result.tokens == expected
    assert (
        target_sequential(ToyTarget(target_lm, draft_lm, verifier, uniforms), ["a"], n) == expected
    )
    assert run_si(["a"], n, drafter(), target(), k).tokens == expected


@pytest.mark.parametrize(("verifier", "k", "servers", "target_only", "use_bonus"), CASES)
def test_dsi_commits_exactly_the_reference_targets_tokens(
    verifier, k, servers, target_only, use_bonus
):
    """Exact equality with the target's own tokens (per-position uniforms), random timings."""
    for seed in range(3):
        _lossless_run(seed, verifier, k, servers, target_only, use_bonus)


@dataclass
class AcceptEverything(ToyTarget):
    """Negative control: a broken verifier that accepts every draft."""

    def target_tokens(self, sequence, start, cancel=None):
        tokens = super().target_tokens(sequence, len(sequence), cancel)
        return list(sequence[start:]) + tokens


def _accept_everything_caught(seed):
    rng = random.Random(seed)
    target_lm, draft_lm = random_lm(["a", "b", "c"], 1, rng), random_lm(["a", "b", "c"], 1, rng)
    draft_u = [F(rng.randrange(1000), 1000) for _ in range(20)]

    def target():
        return AcceptEverything(target_lm, draft_lm, "greedy")

    def drafter():
        return ToyDrafter(draft_lm, draft_u)

    draft_server, pool, _ = dsi_servers(target, drafter, 2)
    config = DSIConfig(lookahead=3, target_only=False, job_timeout_s=10, run_timeout_s=30)
    try:
        result = run_dsi(["a"], 10, draft_server, pool, None, config)
    except InconsistentTargetError:  # two servers' answers contradicted each other: caught too
        return True
    return result.tokens != autoregressive_path(target_lm, ["a"], 10, [])


def test_a_verifier_that_accepts_everything_is_caught():
    assert sum(_accept_everything_caught(seed) for seed in range(5)) >= 4


@dataclass
class RecordingDrafter(SleepDrafter):
    seen: list = field(default_factory=list)

    def next_token(self, sequence, fresh, cancel=None):
        self.seen.append((tuple(sequence), fresh))
        return super().next_token(sequence, fresh, cancel)


def test_rejections_preempt_dependent_work_and_restart_the_drafter_from_the_corrected_prefix():
    pattern = AcceptancePattern([True, True, False, True, True, True, False, True] + [True] * 30)
    drafters = []

    def drafter():
        drafters.append(RecordingDrafter(pattern, 0.01))
        return drafters[-1]

    draft_server, pool, chain = dsi_servers(lambda: SleepTarget(0.1), drafter, 6)
    result = run_dsi([], 20, draft_server, pool, chain, DSIConfig(lookahead=2, run_timeout_s=20))
    assert result.tokens == [0] * 20
    assert result.stats.rejections >= 2 and result.stats.preempted >= 1
    for sequence, fresh in drafters[0].seen:
        # every draft request extends a prefix whose committed part is all target tokens (0):
        # after a rejection the drafter restarted from the corrected prefix, never from a wrong draft
        if fresh:
            assert all(token == 0 for token in sequence)


def test_out_of_order_results_are_applied_correctly():
    """Servers with very different speeds: later jobs often return before earlier ones."""
    speeds = iter([0.05, 0.005, 0.03, 0.001])
    lock = threading.Lock()

    def target():
        with lock:
            return SleepTarget(next(speeds))

    pattern = AcceptancePattern.from_rate(0.8, 60, 3)
    draft_server, pool, chain = dsi_servers(target, lambda: SleepDrafter(pattern, 0.001), 3)
    result = run_dsi([], 40, draft_server, pool, chain, DSIConfig(lookahead=2, run_timeout_s=20))
    assert result.tokens == [0] * 40


@dataclass
class CrashingTarget(SleepTarget):
    crash_on_call: int = 2

    def target_tokens(self, sequence, start, cancel=None):
        if self.calls + 1 == self.crash_on_call:
            self.calls += 1
            raise RuntimeError("simulated GPU fault")
        return super().target_tokens(sequence, start, cancel)


@dataclass
class HangingTarget(SleepTarget):
    def target_tokens(self, sequence, start, cancel=None):
        time.sleep(30)  # ignores cancel: a stuck worker
        return [0]


def test_a_crashed_target_fails_the_run_with_a_clear_error_in_time():
    pattern = AcceptancePattern.from_rate(0.9, 60, 0)
    draft_server, pool, chain = dsi_servers(
        lambda: CrashingTarget(0.005), lambda: SleepDrafter(pattern, 0.001), 2
    )
    config = DSIConfig(lookahead=2, job_timeout_s=2, run_timeout_s=10)
    assert_fails_within(
        WorkerFailedError,
        r"(target|chain)\d+ worker failed \(RuntimeError: simulated GPU fault\)",
        5,
        lambda: run_dsi([], 30, draft_server, pool, chain, config),
    )


def test_a_crashed_target_is_replaced_and_the_tokens_stay_right():
    pattern = AcceptancePattern.from_rate(0.7, 60, 1)
    made = []

    def target():
        made.append(1)
        return CrashingTarget(0.005, crash_on_call=2 if len(made) <= 2 else 10**9)

    draft_server, pool, chain = dsi_servers(target, lambda: SleepDrafter(pattern, 0.001), 2)
    result = run_dsi(
        [],
        30,
        draft_server,
        pool,
        chain,
        DSIConfig(lookahead=2, job_timeout_s=2, run_timeout_s=20, max_restarts=5),
    )
    assert result.tokens == [0] * 30
    assert result.stats.restarts >= 1


def test_a_hanging_target_times_out_instead_of_hanging():
    pattern = AcceptancePattern.from_rate(0.9, 60, 0)
    draft_server, pool, _ = dsi_servers(
        lambda: HangingTarget(0.005), lambda: SleepDrafter(pattern, 0.001), 1
    )
    config = DSIConfig(lookahead=2, target_only=False, job_timeout_s=0.5, run_timeout_s=10)
    assert_fails_within(
        WorkerTimeoutError,
        "job_timeout_s=0.5",
        3,
        lambda: run_dsi([], 10, draft_server, pool, None, config),
    )


@dataclass
class CrashingDrafter(SleepDrafter):
    calls: int = 0

    def next_token(self, sequence, fresh, cancel=None):
        self.calls += 1
        if self.calls == 3:
            raise OSError("drafter process died")
        return super().next_token(sequence, fresh, cancel)


def test_a_crashed_drafter_fails_clearly_or_is_replaced():
    pattern = AcceptancePattern.from_rate(0.9, 60, 0)
    draft_server, pool, _ = dsi_servers(
        lambda: SleepTarget(0.005), lambda: CrashingDrafter(pattern, 0.001), 2
    )
    with pytest.raises(
        WorkerFailedError, match=r"drafter worker failed \(OSError: drafter process died\)"
    ):
        run_dsi(
            [],
            20,
            draft_server,
            pool,
            None,
            DSIConfig(lookahead=2, target_only=False, job_timeout_s=2, run_timeout_s=10),
        )
    made = []

    def drafter():  # the first drafter crashes, its replacement does not
        made.append(1)
        return CrashingDrafter(pattern, 0.001) if len(made) == 1 else SleepDrafter(pattern, 0.001)

    draft_server, pool, _ = dsi_servers(lambda: SleepTarget(0.005), drafter, 2)
    result = run_dsi(
        [],
        20,
        draft_server,
        pool,
        None,
        DSIConfig(
            lookahead=2, target_only=False, job_timeout_s=2, run_timeout_s=10, max_restarts=3
        ),
    )
    assert result.tokens == [0] * 20 and result.stats.restarts >= 1


@dataclass
class DisagreeingTarget(SleepTarget):
    """Says 1 where the other target servers say 0, and cannot be preempted."""

    def target_tokens(self, sequence, start, cancel=None):
        time.sleep(self.per_call_s)
        return [1]


def test_disagreeing_target_answers_raise_instead_of_committing_a_wrong_token():
    """The chain's (slow, wrong) answer about position 0 arrives after the verification servers
    committed position 0: the run stops with an error naming the position."""
    pattern = AcceptancePattern([True] * 60)
    draft_server = make_servers(lambda: SleepDrafter(pattern, 0.001), 1, prefix="drafter")[0]
    pool = make_servers(lambda: SleepTarget(0.005), 2)
    chain = make_servers(lambda: DisagreeingTarget(0.05), 1, prefix="chain")[0]
    with pytest.raises(InconsistentTargetError, match="disagree at position 0"):
        run_dsi(
            [],
            40,
            draft_server,
            pool,
            chain,
            DSIConfig(lookahead=2, job_timeout_s=2, run_timeout_s=10),
        )


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="lookahead"):
        DSIConfig(lookahead=0)
    draft_server, pool, chain = dsi_servers(
        lambda: SleepTarget(0.001), lambda: SleepDrafter(AcceptancePattern([True]), 0.001), 1
    )
    with pytest.raises(ValueError, match="max_new_tokens"):
        run_dsi([], 0, draft_server, pool, chain)
    with pytest.raises(ValueError, match="servers"):
        run_dsi([], 3, draft_server, [], chain)
    with pytest.raises(ValueError, match="backend"):
        make_servers(lambda: None, 1, "mpi")
    for bad in (0, -1.0, float("nan"), float("inf"), True, "10"):  # checked before Ray starts
        with pytest.raises(ValueError, match="ready_timeout_s"):
            make_servers(lambda: None, 1, "ray", ready_timeout_s=bad)


def test_baselines_on_the_same_workers():
    pattern = AcceptancePattern.from_rate(0.5, 40, 2)
    assert run_nonsi([], 10, SleepTarget(0.001)).tokens == [0] * 10
    assert run_si([], 10, SleepDrafter(pattern, 0.0005), SleepTarget(0.001), 3).tokens == [0] * 10


@pytest.mark.parametrize("lookahead", [0, -1, True, 1.5, "2"])
def test_a_bad_lookahead_is_refused_by_name(lookahead):
    with pytest.raises(ValueError, match="lookahead must be an int >= 1"):
        DSIConfig(lookahead=lookahead)


@pytest.mark.parametrize("max_new_tokens", [0, False, 2.0])
def test_a_bad_max_new_tokens_is_refused_by_name(max_new_tokens):
    with pytest.raises(ValueError, match="max_new_tokens must be an int >= 1"):
        run_dsi([], max_new_tokens, None, [], None)  # refused before any server is used
