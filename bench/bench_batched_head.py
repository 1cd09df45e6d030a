"""Batched forwards: the output head on the read positions only vs on the whole padded block.

One run, side by side, same models and prompts as `bench_batched.py` (greedy SD, K = 4,
`NEW_TOKENS` new tokens per row): one forward per row (`batch_forwards=False`); batched padded
forwards with the output head on every row and column of the block `logits_to_keep` leaves
(`BatchedStreams.GATHER_HEAD = False`, the code before this change), padding and idle rows
included; and batched forwards whose head sees only the hidden states whose logits are read
(`GATHER_HEAD = True`, now the default). Timed around the generate call (models loaded,
warm-up run first), `REPEATS` runs each, the three taking turns; a cell is the best run. One
torch thread; the machine is shared with other jobs, so the ratios within the run are the
measurement.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

import torch
from bench_batched import NEW_TOKENS, PAIRS, K, batch_runners
from common import table, timed_turns, write_results

from specproof.engine.streams import BatchedStreams

REPEATS = 2
VARIANTS = ("per row", "batched, head on block", "batched, head on read positions")


def run_pair(name: str, batches: list[int]) -> list[list[Any]]:
    rows = []
    for batch, run_batched in batch_runners(*PAIRS[name], batches):

        def run(
            variant: str, new: int, run_batched: Callable[[bool, int], Any] = run_batched
        ) -> Any:
            BatchedStreams.GATHER_HEAD = variant == VARIANTS[2]
            return run_batched(variant != VARIANTS[0], new)

        for variant in VARIANTS:
            run(variant, 2)
        times, outputs = timed_turns(
            lambda variant, run=run: run(variant, NEW_TOKENS), VARIANTS, REPEATS
        )
        tokens = {variant: output.tokens for variant, output in outputs.items()}
        BatchedStreams.GATHER_HEAD = True
        speed = {v: batch * NEW_TOKENS / min(t) for v, t in times.items()}
        row = [
            name,
            batch,
            *[round(speed[v], 2) for v in VARIANTS],
            round(speed[VARIANTS[1]] / speed[VARIANTS[0]], 3),
            round(speed[VARIANTS[2]] / speed[VARIANTS[0]], 3),
            round(speed[VARIANTS[2]] / speed[VARIANTS[1]], 3),
            len({str(t) for t in tokens.values()}) == 1,
        ]
        print(row, flush=True)
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=[list(PAIRS)[1]], choices=list(PAIRS))
    parser.add_argument("--batches", type=int, nargs="+", default=[4, 16])
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [row for name in args.pairs for row in run_pair(name, args.batches)]
    load = os.getloadavg()[0]
    columns = [
        "pair",
        "B",
        *[f"{v} tok/s" for v in VARIANTS],
        "block / per row",
        "read positions / per row",
        "read positions / block",
        "same tokens",
    ]
    write_results(
        "batched_head",
        "Batched forwards: output head on the read positions only",
        __doc__
        + f"\nCommand: `python bench/bench_batched_head.py --pairs {' '.join(map(repr, args.pairs))} "
        f"--batches {' '.join(map(str, args.batches))}`; load average {load:.1f} at the end of "
        "the run (2 shared cores).",
        [
            table(
                f"Greedy SD tokens/s (all rows), K = {K}, {NEW_TOKENS} new tokens per row, "
                f"1 thread, best of {REPEATS}",
                columns,
                rows,
            )
        ],
        finding=finding,
    )


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The headline, from the table: batched over per-row, head on the block or on reads."""
    return (
        "; ".join(
            f"{r[0]}, B={r[1]}: batched/per-row {r[5]:.2f}× with the head on the block, "
            f"{r[6]:.2f}× with the head on the read positions ({r[7]:.2f}× faster)"
            for r in tables[0]["rows"]
        )
        + "."
    )


if __name__ == "__main__":
    main()
