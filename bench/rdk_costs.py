"""RDK's costs, for `bench_rdk.py` and `bench_rdk_speed.py`: step and draw times, proposal scaling.

`step_costs` times each pruned drafter's step and its per-position draw on the kept-only path
`generate` runs, interleaved and repeated; `cost_table` turns those times into the per-step
cost table of `bench_rdk.py` (RDK's draw overhead as a share of a pruned drafter step);
`scaling_table` times dense O(N^2) against rank-one O(N) proposals as the vocabulary grows.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import torch
from common import best_time, table

from specproof.engine.pruned_drafter import PrunedDrafter
from specproof.engine.rdk import RankOneKernel


def step_costs(
    drafters: dict[str, PrunedDrafter], vocab: int, repeats: int, prefix: int = 64
) -> dict[str, dict[str, list[float]]]:
    """Interleaved, repeated: each drafter's step and its per-position draw, as `generate` runs them.

    A step is one token through the drafter's body with a KV cache of `prefix` tokens, then its
    kept-only head (`PrunedHeadLM`: only the kept logits, plus a mix rule's extra rows); the draw
    is `PrunedDrafter._draw` on that step's logits (probabilities over the kept values, the
    draws and the proposal row). The cache is rolled back after every step. Returns
    `{"wall"|"cpu": {"step NAME"|"draw NAME": [seconds per repeat]}}`.
    """
    from specproof.engine.drafters import DraftContext
    from specproof.engine.generate import Sampling
    from specproof.engine.kernels import inverse_cdf_rows

    context = DraftContext(
        vocab, torch.float32, torch.device("cpu"), lambda x: Sampling().probs(x, torch.float32)
    )
    ids = torch.randint(1000, 20000, (prefix,), generator=torch.Generator().manual_seed(0))
    sequence = ids.tolist()
    for drafter in drafters.values():
        drafter.start([sequence], context)
        assert drafter._streams is not None
        drafter._streams.logits([0], [sequence], [1])
    generator = torch.Generator().manual_seed(1)

    def sample(rows: torch.Tensor) -> torch.Tensor:
        uniforms = torch.rand(rows.shape[0], generator=generator, dtype=rows.dtype)
        return inverse_cdf_rows(rows, uniforms)

    times: dict[str, dict[str, list[float]]] = {"wall": {}, "cpu": {}}

    def record(key: str, wall: float, cpu: float) -> None:
        times["wall"].setdefault(key, []).append(wall)
        times["cpu"].setdefault(key, []).append(cpu)

    step = sequence + [1234]
    for _ in range(repeats):
        for name, drafter in drafters.items():
            streams = drafter._streams
            assert streams is not None
            wall, cpu = time.perf_counter(), time.process_time()
            logits = streams.logits([0], [step], [1])[0]
            record(f"step {name}", time.perf_counter() - wall, time.process_time() - cpu)
            streams.keep(0, prefix)
            wall, cpu = time.perf_counter(), time.process_time()
            drafter._draw(logits, sample)
            record(f"draw {name}", time.perf_counter() - wall, time.process_time() - cpu)
    return times


def scaling_rows() -> tuple[list[list[Any]], dict[str, Any]]:
    """Best-of-5 proposal times, dense `q'M` against rank-one, for N = 256..8192, and their plot."""
    sizes = [256, 512, 1024, 2048, 4096, 8192]
    dense, linear = [], []
    for n in sizes:
        source = torch.softmax(torch.randn(1, n), -1)
        matrix = torch.softmax(torch.randn(n, n), -1)
        prior = torch.softmax(torch.randn(n), -1)
        rank_one = RankOneKernel(prior, 0.1)
        dense.append(best_time(lambda s=source, m=matrix: s @ m, repeats=5))
        linear.append(best_time(lambda s=source, k=rank_one: k.propose(s), repeats=5))
    rows = [[n, d * 1e6, r * 1e6, d / r] for n, d, r in zip(sizes, dense, linear, strict=True)]
    plot = {
        "title": "Proposal time per position: dense q'M vs rank-one (1-lambda)q' + lambda r",
        "kind": "line",
        "x": sizes,
        "series": {
            "dense O(N^2)": [d * 1e6 for d in dense],
            "rank-one O(N)": [r * 1e6 for r in linear],
        },
        "xlabel": "vocabulary size N",
        "ylabel": "microseconds",
        "logx": True,
        "logy": True,
    }
    return rows, plot


def cost_table(
    drafters: dict[str, PrunedDrafter], vocab: int, keep: float, repeats: int
) -> tuple[dict[str, Any], dict[str, float]]:
    """The per-step cost table of the drafters `full head`, `vanilla`, `rank-one` and `sparse`.

    Args:
        drafters: the four drafters by those names (all but `full head` keep the same tokens).
        vocab: the target's vocabulary size.
        keep: the share of the LM head the pruned drafters keep (for the title).
        repeats: interleaved repeats of `step_costs`.

    Returns:
        The table, and RDK's overhead per method (`rank-one`, `sparse`): the median over
        repeats of (its draw - vanilla's draw) / vanilla's step, in CPU time.
    """
    times = step_costs(drafters, vocab, repeats)["cpu"]
    med = {key: statistics.median(values) for key, values in times.items()}

    def over(name: str) -> float:
        """Median over repeats of (draw - vanilla's draw) / vanilla's step."""
        return statistics.median(
            (d - v) / s
            for d, v, s in zip(
                times[f"draw {name}"], times["draw vanilla"], times["step vanilla"], strict=True
            )
        )

    pruned_step = med["step vanilla"]
    cost = table(
        f"Per-step cost at V = {vocab:,} (drafter head kept: {keep:.0%}), CPU time, "
        f"medians of {repeats} interleaved repeats",
        ["what", "ms", "share of a pruned drafter step"],
        [
            [
                "drafter step, full head",
                med["step full head"] * 1e3,
                1 / pruned_step * med["step full head"],
            ],
            ["drafter step, pruned head", pruned_step * 1e3, 1.0],
            [
                "vanilla: draw + proposal row",
                med["draw vanilla"] * 1e3,
                med["draw vanilla"] / pruned_step,
            ],
            [
                "RDK rank-one: extra over vanilla's draw",
                (med["draw rank-one"] - med["draw vanilla"]) * 1e3,
                over("rank-one"),
            ],
            [
                "RDK sparse (k = 9): extra over vanilla's draw",
                (med["draw sparse"] - med["draw vanilla"]) * 1e3,
                over("sparse"),
            ],
        ],
        "The path `generate` runs (`PrunedDrafter`): a step is one token through the 18-layer "
        "body with a KV cache of 64 tokens, then the kept-only head; the draw is "
        "`PrunedDrafter._draw` (probabilities over the kept values, the two-stage draw, the "
        "proposal row). CPU time (time.process_time) at one thread, robust to load; RDK's share "
        "is the median over repeats of (RDK's draw - vanilla's draw) / vanilla's step.",
    )
    return cost, {name: over(name) for name in ("rank-one", "sparse")}


def scaling_table() -> tuple[dict[str, Any], dict[str, Any]]:
    """The dense vs rank-one proposal time table, and its plot."""
    scaling, plot = scaling_rows()
    scale = table(
        "Dense vs rank-one proposal time",
        ["N", "dense us", "rank-one us", "dense / rank-one"],
        scaling,
    )
    return scale, plot
