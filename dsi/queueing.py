r"""DSI with a finite number of target servers: verification jobs queue when all are busy.

The offline model assumes that a verification job always finds a free target server. Here the
same DSI runs with `servers` verification servers (first come, first served; every job takes one
target forward) plus one dedicated server for the target-only chain, on one path of accepted
counts (the same stream the simulator uses). Within a segment the drafter finishes block $b$ at
$D_b c$ ($D_b$ tokens drafted so far) and submits its job; the job starts when a server is free
and ends one unit later; the segment ends when the rejecting block's job ends, or when the
target-only chain reaches the rejected position (after $T$ units), whichever is first. On a
rejection every job of the segment is preempted, so all servers are free when the next segment
starts.

Derivation of the no-waiting condition: full blocks arrive every $Kc$; job $b$ gets the server
of job $b - n$, free at $(b - n)Kc + 1$, which is no later than $bKc$ iff $n \ge 1/(Kc)$. So with
$n \ge \lceil 1/(Kc) \rceil$ (the authors' condition) no full block ever waits. The end of a
run is different: its last blocks are shorter than $K$ (a run never drafts past token $S - 1$:
a block of $1 \le j < K$ drafts may be followed by the final target forward, with no drafts, at
the same instant), so the final job can arrive only $((n - 2)K + 1)c$ after the job whose server
it needs; no job at all waits iff also $((n - 2)K + 1)c \ge 1$
([`min_servers_no_wait`][specproof.dsi.queueing.min_servers_no_wait]). Such end-of-run
waits touch only the last segment and add at most two target forwards (each of the two short
jobs waits at most one). With fewer than
$\lceil 1/(Kc) \rceil$ servers full blocks wait and DSI slows down (never below non-SI, thanks
to the target-only chain).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np
from numpy.typing import NDArray


def min_servers_full_blocks(c: float | Fraction, k: int) -> int:
    r"""The fewest servers with which no full block's job ever waits: $\lceil 1/(Kc) \rceil$."""
    return math.ceil(1 / (k * Fraction(c)))


def min_servers_no_wait(c: float | Fraction, k: int) -> int:
    r"""The fewest servers with which no job waits, end of run included.

    The smallest $n \ge \max(2, \lceil 1/(Kc) \rceil)$ with $((n - 2)K + 1)c \ge 1$: one
    server is never enough, since the final job can arrive at the same instant as the one before.
    """
    c = Fraction(c)
    n = max(2, min_servers_full_blocks(c, k))
    while ((n - 2) * k + 1) * c < 1:
        n += 1
    return n


def _check_servers(servers: object) -> None:
    if servers is not None and (
        isinstance(servers, bool) or not isinstance(servers, int) or servers < 1
    ):
        raise ValueError(f"servers must be an int >= 1 or None, got {servers!r}")


@dataclass(frozen=True)
class QueuedRun:
    """One path simulated with finite servers.

    Attributes:
        cost: total cost of the run (a `Fraction` when `c` is one).
        waits: jobs that waited for a server.
        full_block_waits: of those, jobs of full blocks ($K$ drafts).
        max_wait: the longest wait.
    """

    cost: Any
    waits: int
    full_block_waits: int
    max_wait: float


def dsi_cost_with_servers(
    c: float | Fraction, k: int, tokens: int, counts: NDArray[np.int64], servers: int | None
) -> QueuedRun:
    """DSI's cost on one path of accepted counts with `servers` verification servers.

    Args:
        c: drafter latency per token (target forward = 1).
        k: lookahead.
        tokens: output tokens $S$.
        counts: the path's accepted counts, one per block (as drawn by
            [`accepted_counts`][specproof.dsi.simulator.accepted_counts]).
        servers: verification servers (`None`: unlimited, the offline model).

    Times are exact when `c` is a `Fraction` (use that to compare costs with `==`); with a float
    `c` they carry float rounding.

    Raises:
        ValueError: if `servers` is not None and < 1.
    """
    _check_servers(servers)
    cost: Any = 0
    done = 0
    block = 0
    waits = full_waits = 0
    max_wait = 0.0
    while done < tokens:
        # When each busy server frees up; a server not listed is free (every job of the last
        # segment was preempted), so a segment costs its jobs, not the number of servers.
        free_at: list[Any] = []
        new = drafted = 0
        while True:
            lookahead = min(k, tokens - 1 - done - new)
            accepted = min(lookahead, int(counts[block]))
            block += 1
            drafted += lookahead
            new += accepted
            arrival = drafted * c
            if servers is None:
                start = arrival
            elif len(free_at) < servers:
                start = arrival
                heapq.heappush(free_at, start + 1)
            else:
                start = max(arrival, heapq.heappop(free_at))
                heapq.heappush(free_at, start + 1)
            if start > arrival:
                waits += 1
                full_waits += lookahead == k
                max_wait = max(max_wait, start - arrival)
            if lookahead == 0 or accepted < lookahead:
                new += 1
                cost += min(start + 1, new)
                break
        done += new
    return QueuedRun(cost, waits, full_waits, max_wait)


def dsi_costs_with_servers(
    c: float, k: int, tokens: int, counts: NDArray[np.int64], servers: int | None
) -> NDArray[np.float64]:
    r"""DSI's float cost on every path (row) of `counts` at once, with `servers` servers.

    Row `i` of the result is `float(dsi_cost_with_servers(c, k, tokens, counts[i],
    servers).cost)` for a float `c`, to the last bit: the same float operations in the same
    order, one block of every path per step instead of one path at a time. With $n$ servers,
    first come first served and every job taking one unit, job $j$ of a segment starts at
    $\max(\mathrm{arrival}_j, \mathrm{start}_{j-n} + 1)$ (arrivals never decrease within a
    segment, so the server that frees first is job $j - n$'s); that is the heap of the
    one-path version, kept here as a ring of the last $n$ starts per path.

    Args:
        c: drafter latency per token (a float; use the one-path version for exact `Fraction`s).
        k: lookahead.
        tokens: output tokens $S$.
        counts: `[paths, blocks]` accepted counts (as drawn by
            [`accepted_counts`][specproof.dsi.simulator.accepted_counts]).
        servers: verification servers (`None`: unlimited).

    Raises:
        ValueError: if `servers` is not None and < 1, or `counts` is not 2-D.
        RuntimeError: if a path needs more blocks than `counts` holds.
    """
    _check_servers(servers)
    if counts.ndim != 2:
        raise ValueError(f"counts must be [paths, blocks], got shape {counts.shape}")
    c = float(c)
    paths, blocks = counts.shape
    rows = np.arange(paths)
    done = np.zeros(paths, dtype=np.int64)
    new = np.zeros(paths, dtype=np.int64)
    drafted = np.zeros(paths, dtype=np.int64)
    job = np.zeros(paths, dtype=np.int64)  # the job's index within its segment
    cost = np.zeros(paths)
    # A segment has at most `tokens` jobs (every job but the last adds a token): with at least
    # that many servers no job ever waits.
    ring = None if servers is None or servers >= tokens else np.zeros((paths, servers))
    active = done < tokens
    block = 0
    while active.any():
        if block >= blocks:
            raise RuntimeError(f"counts holds {blocks} blocks per path; a path needs more")
        lookahead = np.minimum(k, tokens - 1 - done - new)
        accepted = np.minimum(lookahead, counts[:, block])
        drafted += lookahead
        new += accepted
        arrival = drafted * c
        if ring is None:
            start = arrival
        else:
            slot = job % ring.shape[1]
            waited = np.maximum(arrival, ring[rows, slot] + 1)
            start = np.where(job >= ring.shape[1], waited, arrival)
            ring[rows, slot] = start
        job += 1
        ending = active & ((lookahead == 0) | (accepted < lookahead))
        new[ending] += 1
        cost[ending] += np.minimum(start[ending] + 1, new[ending])
        done[ending] += new[ending]
        new[ending] = drafted[ending] = job[ending] = 0
        active = done < tokens
        block += 1
    return cost
