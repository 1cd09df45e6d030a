"""The heatmap experiment: speedups of DSI, SI and non-SI over a grid of (c, a, K).

For every drafter latency $c$, acceptance rate $a$ and lookahead $K$ of the grid, the mean cost
of $S$ tokens over `repeats` simulated paths; then, per $(c, a)$, each algorithm's best
lookahead (the authors' "min" speedups: each algorithm takes its own best $K$), and the ratios
SI/DSI, non-SI/DSI, non-SI/SI and min(SI, non-SI)/DSI (values above 1 mean the numerator's
algorithm is slower).

The grid is cut into chunks (one per lookahead value); chunk $i$ draws from its own child of
`numpy.random.SeedSequence(seed)`, so the result is the same whichever backend runs the chunks:
in this process (`backend="local"`) or as Ray tasks (`backend="ray"`, on a cluster given by
`address`, for larger grids).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .simulator import simulate_lanes

BACKENDS = ("local", "ray")


def default_grid(
    steps: int = 20,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """The default grid: $c = i/n$ ($i = 1..n$), $a = (i + 1/2)/n$ ($i = 0..n-1$), $K = 1..n$."""
    c = np.arange(1, steps + 1) / steps
    a = (np.arange(steps) + 0.5) / steps
    return c, a, np.arange(1, steps + 1)


@dataclass(frozen=True)
class Heatmap:
    """Mean costs on a grid, `[len(c), len(a), len(k)]` per algorithm, and the run's metadata."""

    c: NDArray[np.float64]
    a: NDArray[np.float64]
    k: NDArray[np.int64]
    tokens: int
    repeats: int
    seed: int
    si: NDArray[np.float64]
    dsi: NDArray[np.float64]
    nonsi: NDArray[np.float64]
    seconds: float
    backend: str
    servers: int | None = None
    valid: NDArray[np.bool_] = field(default_factory=lambda: np.ones(0, dtype=bool))

    def best(self, name: str) -> NDArray[np.float64]:
        """Each (c, a)'s mean cost under its best lookahead, `[len(c), len(a)]`."""
        costs = getattr(self, name)
        if self.valid.size:
            costs = np.where(self.valid, costs, np.inf)
        return np.asarray(costs.min(axis=2))

    def speedups(self) -> dict[str, NDArray[np.float64]]:
        """The four speedup maps `[len(c), len(a)]`, each algorithm at its best lookahead."""
        si, dsi, nonsi = self.best("si"), self.best("dsi"), self.best("nonsi")
        return {
            "dsi_vs_si": si / dsi,
            "dsi_vs_nonsi": nonsi / dsi,
            "si_vs_nonsi": nonsi / si,
            "dsi_vs_baseline": np.minimum(si, nonsi) / dsi,
        }


def _chunk_costs(
    c: NDArray[np.float64], a: NDArray[np.float64], k: int, tokens: int, repeats: int, seed: Any
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Mean SI and DSI costs for one lookahead over the (c, a) grid, `[len(c), len(a)]` each."""
    cs, as_ = np.meshgrid(c, a, indexing="ij")
    lanes = [np.repeat(x.ravel(), repeats) for x in (cs, as_)]
    costs = simulate_lanes(lanes[0], lanes[1], k, tokens, np.random.default_rng(seed))
    shape = (c.size, a.size, repeats)
    return costs.si.reshape(shape).mean(axis=2), costs.dsi.reshape(shape).mean(axis=2)


def heatmap(
    c: Sequence[float] | NDArray[np.float64] | None = None,
    a: Sequence[float] | NDArray[np.float64] | None = None,
    k: Sequence[int] | NDArray[np.int64] | None = None,
    *,
    tokens: int = 1000,
    repeats: int = 5,
    seed: int = 42,
    servers: int | None = None,
    backend: str = "local",
    address: str | None = None,
    on_chunk: Callable[[int], None] | None = None,
) -> Heatmap:
    r"""Run the heatmap experiment.

    Args:
        c: drafter cost grid values (default: from `default_grid(20)`).
        a: acceptance-rate grid values (default: from `default_grid(20)`).
        k: lookahead grid values (default: from `default_grid(20)`).
        tokens: $S$ per path.
        repeats: paths per configuration.
        seed: root seed (chunks get independent child seeds).
        servers: if given, configurations needing more than `servers` target servers
            ($\lceil 1/(Kc) \rceil$ > servers) are left out of the best-$K$ choice, like the
            authors' heatmap (7 servers there); `None` assumes enough servers everywhere.
        backend: `"local"` or `"ray"`.
        address: Ray cluster address for `ray.init` (`None`: start or reuse a local Ray).
        on_chunk: called with the number of finished chunks (progress).

    Raises:
        ValueError: on an unknown backend, empty grids, or out-of-range values.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    grid = default_grid()
    cs = np.asarray(grid[0] if c is None else c, dtype=np.float64)
    as_ = np.asarray(grid[1] if a is None else a, dtype=np.float64)
    ks = np.asarray(grid[2] if k is None else k, dtype=np.int64)
    for name, values in (("c", cs), ("a", as_), ("k", ks)):
        if values.ndim != 1 or values.size == 0:
            raise ValueError(f"{name} must be a non-empty 1-d grid")
    if servers is not None and servers < 1:
        raise ValueError(f"servers must be >= 1, got {servers}")
    seeds = np.random.SeedSequence(seed).spawn(ks.size)
    start = time.perf_counter()
    if backend == "local":
        parts = []
        for i, (kk, child) in enumerate(zip(ks, seeds, strict=True)):
            parts.append(_chunk_costs(cs, as_, int(kk), tokens, repeats, child))
            if on_chunk is not None:
                on_chunk(i + 1)
    else:
        parts = _run_on_ray(cs, as_, ks, tokens, repeats, seeds, address, on_chunk)
    si = np.stack([p[0] for p in parts], axis=2)
    dsi = np.stack([p[1] for p in parts], axis=2)
    valid = np.ones(si.shape, dtype=bool)
    if servers is not None:
        needed = np.ceil(1.0 / (ks[None, None, :] * cs[:, None, None]) - 1e-12)
        valid = np.broadcast_to(needed <= servers, si.shape).copy()
    return Heatmap(
        cs, as_, ks, tokens, repeats, seed, si, dsi, np.full(si.shape, float(tokens)),
        time.perf_counter() - start, backend, servers, valid,
    )  # fmt: skip


def _run_on_ray(
    cs: NDArray[np.float64],
    as_: NDArray[np.float64],
    ks: NDArray[np.int64],
    tokens: int,
    repeats: int,
    seeds: list[np.random.SeedSequence],
    address: str | None,
    on_chunk: Callable[[int], None] | None,
) -> list[tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """The chunks as Ray tasks (one per lookahead), gathered in order."""
    import ray

    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    task = ray.remote(_chunk_costs)
    refs = [
        task.remote(cs, as_, int(kk), tokens, repeats, child)
        for kk, child in zip(ks, seeds, strict=True)
    ]
    pending, done = list(refs), 0
    while pending:
        ready, pending = ray.wait(pending, num_returns=1)
        done += len(ready)
        if on_chunk is not None:
            on_chunk(done)
    return [ray.get(ref) for ref in refs]
