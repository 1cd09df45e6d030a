r"""Online simulation: the DSI runtime with workers that sleep for measured latencies.

No model runs: the drafter sleeps $c \cdot t$ per token (optionally a different time for the
first token after a (re)start: its time to first token), each target server sleeps $t$ per
forward (optionally a different first forward), and an
[`AcceptancePattern`][specproof.dsi.workers.AcceptancePattern] decides which drafts are
right. Non-SI, SI and DSI run on the same pattern and their wall times, divided by $t$, are
compared with the offline cost of *that same pattern* (`offline_costs_on_pattern`), so the
comparison has no sampling error: what is left is the runtime's own overhead (threads, queues;
on this 2-core machine a few hundred microseconds per event) and timer jitter.

With `use_bonus=False` the runtime follows the offline model exactly (the model never uses the
target's token after a fully accepted block); with `use_bonus=True` (the runtime's default) it
can only be faster.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from specproof.reference.arguments import check_int, check_real, check_seed

from .queueing import min_servers_no_wait
from .runtime import DSIConfig, make_servers, run_dsi, run_nonsi, run_si
from .workers import AcceptancePattern, SleepDrafter, SleepTarget


def _run_length(right: Sequence[bool], position: int, cap: int) -> int:
    n = 0
    while n < cap and position + n < len(right) and right[position + n]:
        n += 1
    return n


def offline_costs_on_pattern(
    c: float, k: int, tokens: int, right: Sequence[bool]
) -> dict[str, float]:
    r"""Offline costs (target forwards) of non-SI, SI and DSI on one acceptance pattern.

    Position coupling: the draft at output position $p$ (given the right prefix) is accepted iff
    `right[p]`. SI's round at $p$ with lookahead $k' = \min(K, S - 1 - p)$ accepts the run of
    right drafts from $p$ (capped at $k'$) and outputs one more token (recovered or bonus); DSI's
    segment from $p$ drafts blocks of $k'$ until a block holds a wrong draft (or the last token
    is reached) and costs $\min(Dc + 1, T)$, as in the offline model.
    """
    if len(right) < tokens:
        raise ValueError(f"right must cover tokens={tokens} positions, got {len(right)}")
    si = 0.0
    position = 0
    while position < tokens:
        lookahead = min(k, tokens - 1 - position)
        si += lookahead * c + 1
        position += _run_length(right, position, lookahead) + 1
    dsi = 0.0
    position = 0
    while position < tokens:
        new = drafted = 0
        while True:
            lookahead = min(k, tokens - 1 - position - new)
            accepted = _run_length(right, position + new, lookahead)
            drafted += lookahead
            new += accepted
            if lookahead == 0 or accepted < lookahead:
                new += 1
                break
        dsi += min(drafted * c + 1, new)
        position += new
    return {"nonsi": float(tokens), "si": si, "dsi": dsi}


#: Longest a run may plan to sleep, in seconds (`planned_seconds`); longer runs are refused.
MAX_PLANNED_SECONDS = 600.0


def planned_seconds(
    offline: dict[str, float],
    t: float,
    first: float | None,
    drafter_first: float | None,
    targets: int,
) -> float:
    """About what the three runs will sleep: offline costs times `t`, plus first-call extras.

    Each of the `targets` target workers (non-SI's, SI's, DSI's pool and chain) pays its first
    forward once; the drafter pays its first token at most once per unit of cost (it restarts
    at most once per target forward).
    """
    total = sum(offline.values()) * t
    extra = max(0.0, (first or t) - t) * targets
    if drafter_first is not None:
        extra += drafter_first * (offline["si"] + offline["dsi"])
    return total + extra


def run_online_simulation(
    c: float,
    a: float,
    k: int,
    tokens: int = 50,
    target_ms: float = 20.0,
    target_first_ms: float | None = None,
    drafter_first_ms: float | None = None,
    servers: int | None = None,
    seed: int = 0,
    use_bonus: bool = False,
    backend: str = "local",
    address: str | None = None,
) -> dict[str, Any]:
    """Run non-SI, SI and DSI with sleeping workers on one acceptance pattern.

    Args:
        c: drafter latency per token as a fraction of the target's, in (0, 1].
        a: acceptance rate of the pattern.
        k: lookahead.
        tokens: tokens to generate.
        target_ms: target forward latency (per call after the first).
        target_first_ms: the first forward of each target server (TTFT); default `target_ms`.
        drafter_first_ms: the drafter's first token after each (re)start; default `c * target_ms`.
        servers: verification servers (default: `min_servers_no_wait(c, k)`, so none waits).
        seed: seed of the acceptance pattern.
        use_bonus: let DSI commit the bonus token (False matches the offline model).
        backend: `"local"` (threads) or `"ray"` (actors).
        address: Ray address.

    Returns:
        JSON data: per algorithm the wall seconds, the wall time per token in target forwards, and
        the offline cost per token on the same pattern; plus the relative gap DSI online/offline.

    Raises:
        ValueError: on out-of-range arguments, or a run that would sleep longer than
            `MAX_PLANNED_SECONDS` (`planned_seconds`).
    """
    c = check_real(c, "c", 0, 1, low_open=True)
    a = check_real(a, "a", 0, 1)
    k = check_int(k, "k")
    tokens = check_int(tokens, "tokens")
    target_ms = check_real(target_ms, "target_ms", 0, math.inf, low_open=True, high_open=True)
    for name, value in (
        ("target_first_ms", target_first_ms),
        ("drafter_first_ms", drafter_first_ms),
    ):
        if value is not None:
            check_real(value, name, 0, math.inf, high_open=True)
    if servers is not None:
        check_int(servers, "servers")
    check_seed(seed)
    t = target_ms / 1000
    first = None if target_first_ms is None else target_first_ms / 1000
    drafter_first = None if drafter_first_ms is None else drafter_first_ms / 1000
    pattern = AcceptancePattern.from_rate(a, tokens + 1, seed)
    servers = servers or min_servers_no_wait(c, k)
    offline = offline_costs_on_pattern(c, k, tokens, pattern.right)
    planned = planned_seconds(offline, t, first, drafter_first, servers + 3)
    if planned > MAX_PLANNED_SECONDS:
        raise ValueError(
            f"tokens={tokens} at target_ms={target_ms:g} (c={c:g}, k={k}, a={a:g}) would sleep "
            f"about {planned:.0f} s (non-SI, SI and DSI on this pattern), more than the limit "
            f"of {MAX_PLANNED_SECONDS:g} s: lower tokens or target_ms"
        )

    def drafter() -> SleepDrafter:
        return SleepDrafter(pattern, c * t, drafter_first)

    def target() -> SleepTarget:
        return SleepTarget(t, first)

    nonsi = run_nonsi([], tokens, target())
    si = run_si([], tokens, drafter(), target(), k)
    options = {"address": address} if backend == "ray" else {}
    pool = make_servers(target, servers, backend, "target", **options)
    chain = make_servers(target, 1, backend, "chain", **options)[0]
    draft_server = make_servers(drafter, 1, backend, "drafter", **options)[0]
    try:
        dsi = run_dsi(
            [], tokens, draft_server, pool, chain, DSIConfig(lookahead=k, use_bonus=use_bonus)
        )
    finally:
        for server in [*pool, chain, draft_server]:
            server.close()
    results = {"nonsi": nonsi, "si": si, "dsi": dsi}
    for name, result in results.items():
        if result.tokens != [0] * tokens:
            raise RuntimeError(f"{name} produced tokens other than the target's")
    return {
        "config": {
            "c": c, "a": a, "k": k, "tokens": tokens, "target_ms": target_ms,
            "target_first_ms": target_first_ms, "drafter_first_ms": drafter_first_ms,
            "servers": servers, "seed": seed, "use_bonus": use_bonus, "backend": backend,
        },
        "algorithms": {
            name: {
                "seconds": result.stats.seconds,
                "per_token": result.stats.seconds / t / tokens,
                "offline_per_token": offline[name] / tokens,
                "stats": result.stats.to_json(),
            }
            for name, result in results.items()
        },
        "pattern_acceptance": sum(pattern.right[:tokens]) / tokens,
    }  # fmt: skip
