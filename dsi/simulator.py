r"""Offline simulator of non-SI, SI and DSI under the authors' cost model (numpy only, no torch).

The cost model (stated in full in [`specproof.reference.dsi`][specproof.reference.dsi]): target
forward = 1, drafter forward = $c$ per token, lookahead $K$, $S$ output tokens, per-block
accepted-draft counts $N = \min(G - 1, K)$ with $P(N \ge j) = a^j$, enough target servers.

**Coupling.** Every simulated path draws one stream of accepted counts $N_1, N_2, \dots$ per
lane (a lane is one configuration and one repeat). SI and DSI read the *same* stream, block
by block, exactly like the authors' simulator run with one seed for both: the $i$-th block of
SI and the $i$-th block of DSI accept $\min(N_i, k')$ drafts. That is the pathwise comparison
behind the claims `dsi_not_slower_pathwise_*`.

**Vectorised.** All lanes (configurations x repeats) advance one block per numpy step, so a
whole heatmap is a few hundred array operations per block instead of a Python loop per path.
Each lane has its own $c$, $a$, $K$; the number of output tokens $S$ is shared.

DSI segment cost: $\min(Dc + 1, T)$ for a segment with $D$ drafted and $T$ output tokens (the
target-only chain finds the rejection first when that is cheaper); see the reference module
for why the authors' "first block after a verified segment" rule never changes a cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from specproof.reference.arguments import check_seed

ALGORITHMS = ("nonsi", "si", "dsi")


def check_parameters(c: float, a: float, k: int, tokens: int = 1, repeats: int = 1) -> None:
    """Validate one configuration.

    Raises:
        ValueError: naming the offending argument (`c` not in (0, 1], `a` not in [0, 1],
            `k` < 1, `tokens` < 1, `repeats` < 1).
    """
    if not isinstance(c, int | float | np.floating) or not 0 < c <= 1:
        raise ValueError(
            f"c (drafter latency per token, in target forwards) must lie in (0, 1], got {c!r}"
        )
    if not isinstance(a, int | float | np.floating) or not 0 <= a <= 1:
        raise ValueError(f"a (acceptance rate) must lie in [0, 1], got {a!r}")
    for name, value in (("k", k), ("tokens", tokens), ("repeats", repeats)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}")


def _lanes(
    c: object, a: object, k: object
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    cs, as_, ks = np.broadcast_arrays(
        np.asarray(c, dtype=np.float64), np.asarray(a, dtype=np.float64), np.asarray(k)
    )
    cs, as_, ks = cs.ravel(), as_.ravel(), ks.ravel()
    if not np.issubdtype(ks.dtype, np.integer):
        raise ValueError(f"k must hold ints, got dtype {ks.dtype}")
    if np.any(~(cs > 0)) or np.any(cs > 1):
        raise ValueError("c must lie in (0, 1] in every lane")
    if np.any(~(as_ >= 0)) or np.any(as_ > 1):
        raise ValueError("a must lie in [0, 1] in every lane")
    if np.any(ks < 1):
        raise ValueError("k must be >= 1 in every lane")
    return cs, as_, ks.astype(np.int64)


def accepted_counts(
    rng: np.random.Generator, a: NDArray[np.float64], k: NDArray[np.int64], blocks: int
) -> NDArray[np.int64]:
    r"""Draw `blocks` accepted counts per lane: $N = \min(\lfloor \log U / \log a \rfloor, K)$.

    With $U$ uniform on $(0, 1]$, $P(N \ge j) = P(U \le a^j) = a^j$ for $j \le K$. Handles
    $a = 0$ ($N = 0$) and $a = 1$ ($N = K$).

    Returns:
        An int array `[lanes, blocks]`.
    """
    u = 1.0 - rng.random((a.shape[0], blocks))  # (0, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        counts = np.floor(np.log(u) / np.log(a)[:, None])
    full = u <= (a**k)[:, None]
    counts = np.where(full | ~np.isfinite(counts), k[:, None], counts)
    return np.minimum(counts, k[:, None]).astype(np.int64)


def si_costs(
    c: NDArray[np.float64], k: NDArray[np.int64], tokens: int, counts: NDArray[np.int64]
) -> NDArray[np.float64]:
    """SI's total cost per lane for `tokens` tokens, reading the accepted counts block by block."""
    left = np.full(c.shape[0], tokens, dtype=np.int64)
    cost = np.zeros(c.shape[0])
    for block in range(counts.shape[1]):
        active = left > 0
        if not active.any():
            break
        lookahead = np.minimum(k, left - 1)
        cost += np.where(active, lookahead * c + 1.0, 0.0)
        left -= np.where(active, counts[:, block] + 1, 0)
    if (left > 0).any():
        raise RuntimeError("ran out of accepted-count draws (internal error)")
    return cost


def dsi_costs(
    c: NDArray[np.float64], k: NDArray[np.int64], tokens: int, counts: NDArray[np.int64]
) -> NDArray[np.float64]:
    """DSI's total cost per lane (enough servers), reading the same accepted counts as SI."""
    lanes = c.shape[0]
    done = np.zeros(lanes, dtype=np.int64)  # tokens output by finished segments
    new = np.zeros(lanes, dtype=np.int64)  # tokens accepted in the current segment so far
    drafted = np.zeros(lanes, dtype=np.int64)
    cost = np.zeros(lanes)
    for block in range(counts.shape[1]):
        active = done < tokens
        if not active.any():
            break
        lookahead = np.where(active, np.minimum(k, tokens - 1 - done - new), 0)
        accepted = np.minimum(lookahead, counts[:, block])
        drafted += lookahead
        new += accepted
        ends = active & ((lookahead == 0) | (accepted < lookahead))
        new += ends
        cost += np.where(ends, np.minimum(drafted * c + 1.0, new), 0.0)
        done += np.where(ends, new, 0)
        new[ends] = 0
        drafted[ends] = 0
    if (done < tokens).any():
        raise RuntimeError("ran out of accepted-count draws (internal error)")
    return cost


@dataclass(frozen=True)
class LaneCosts:
    """Total costs per lane, one array `[lanes]` per algorithm."""

    nonsi: NDArray[np.float64]
    si: NDArray[np.float64]
    dsi: NDArray[np.float64]


def simulate_lanes(
    c: object, a: object, k: object, tokens: int, rng: np.random.Generator, chunk: int = 4096
) -> LaneCosts:
    """Simulate non-SI, SI and DSI on every lane (broadcast `c`, `a`, `k`), shared draws per lane.

    Args:
        c: per-lane drafter cost (scalar or array; `c`, `a`, `k` broadcast together).
        a: per-lane acceptance rate (scalar or array).
        k: per-lane lookahead (scalar or array).
        tokens: $S$, output tokens per path.
        rng: the generator; lanes are processed in chunks of `chunk` in order, so results are
            deterministic given the generator's state.
        chunk: lanes per numpy step (bounds memory: `chunk * tokens` counts at a time).
    """
    check_parameters(0.5, 0.5, 1, tokens)
    cs, as_, ks = _lanes(c, a, k)
    si = np.empty(cs.shape[0])
    dsi = np.empty(cs.shape[0])
    for lo in range(0, cs.shape[0], chunk):
        part = slice(lo, lo + chunk)
        counts = accepted_counts(rng, as_[part], ks[part], tokens)
        si[part] = si_costs(cs[part], ks[part], tokens, counts)
        dsi[part] = dsi_costs(cs[part], ks[part], tokens, counts)
    return LaneCosts(np.full(cs.shape[0], float(tokens)), si, dsi)


@dataclass(frozen=True)
class Simulation:
    """One configuration simulated `repeats` times (costs per repeat, per algorithm)."""

    c: float
    a: float
    k: int
    tokens: int
    repeats: int
    seed: int
    costs: LaneCosts

    def summary(self) -> dict[str, dict[str, float]]:
        """Mean, std, min, max of the total cost and the mean per-token cost, per algorithm."""
        out = {}
        for name in ALGORITHMS:
            values = getattr(self.costs, name)
            out[name] = {
                "mean_cost": float(values.mean()),
                "per_token": float(values.mean() / self.tokens),
                "std": float(values.std(ddof=1)) if values.size > 1 else 0.0,
                "min": float(values.min()),
                "max": float(values.max()),
            }
        return out


def simulate(
    c: float, a: float, k: int, *, tokens: int = 1000, repeats: int = 5, seed: int = 0
) -> Simulation:
    """Simulate one configuration `repeats` times (the CLI's `specproof dsi simulate`).

    Examples:
        >>> sim = simulate(0.1, 0.9, 5, tokens=1000, repeats=5, seed=0)
        >>> bool((sim.costs.dsi <= sim.costs.si).all())
        True
    """
    check_parameters(c, a, k, tokens, repeats)
    check_seed(seed)
    rng = np.random.default_rng(seed)
    costs = simulate_lanes(np.full(repeats, c), a, k, tokens, rng)
    return Simulation(float(c), float(a), int(k), tokens, repeats, seed, costs)
