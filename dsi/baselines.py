"""SI and non-SI on the same workers as the DSI runtime, for comparisons."""

from __future__ import annotations

import time
from collections.abc import Sequence

from .config import RunResult, RunStats, WorkerFailedError
from .workers import Drafter, Target, Token


def run_nonsi(prompt: Sequence[Token], max_new_tokens: int, target: Target) -> RunResult:
    """Non-SI: one target call per token."""
    start = time.perf_counter()
    sequence = list(prompt)
    stats = RunStats()
    for _ in range(max_new_tokens):
        tokens = target.target_tokens(tuple(sequence), len(sequence))
        if not tokens:
            raise WorkerFailedError("target returned no token")
        sequence.append(tokens[0])
        stats.chain_jobs += 1
    stats.seconds = time.perf_counter() - start
    return RunResult(sequence[len(prompt) :], stats)


def run_si(
    prompt: Sequence[Token], max_new_tokens: int, drafter: Drafter, target: Target, lookahead: int
) -> RunResult:
    r"""SI (blocking speculative inference): draft $\min(K, \text{left} - 1)$, verify, repeat."""
    start = time.perf_counter()
    sequence = list(prompt)
    final = len(prompt) + max_new_tokens
    stats = RunStats()
    while len(sequence) < final:
        drafts: list[Token] = []
        for i in range(min(lookahead, final - 1 - len(sequence))):
            drafts.append(drafter.next_token(tuple(sequence + drafts), i == 0))
        stats.drafted += len(drafts)
        tokens = target.target_tokens(tuple(sequence + drafts), len(sequence))
        if not tokens:
            raise WorkerFailedError("target returned no token")
        stats.jobs += 1
        for i, token in enumerate(tokens):
            sequence.append(token)
            if i < len(drafts) and token != drafts[i]:
                stats.rejections += 1
                break
            stats.accepted += i < len(drafts)
    stats.seconds = time.perf_counter() - start
    return RunResult(sequence[len(prompt) : final], stats)


__all__ = ["run_nonsi", "run_si"]
