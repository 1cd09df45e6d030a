"""Batched padded forwards vs one forward per row: tokens/s of SD at batch sizes 1, 4 and 16.

One run, same machine, same models, same prompts, side by side: specproof's generation loop with
`batch_forwards=False` (one target forward per row per round and one draft forward per row per
draft position, each with its own KV cache) and `batch_forwards=True` (one padded forward per
model per step over all active rows, a shared cache with a per-row column mask and per-row
position ids, rollback by masking; a batch of one row keeps one forward per row, so B = 1
measures the same code twice). Greedy SD (`algorithm="greedy"`), K = 4, `NEW_TOKENS` new
tokens per row, EOS ignored; rows are `PROMPTS` (different lengths) cycled to B rows. Pairs:
SmolLM2-135M-Instruct with its first 8 layers as the draft, and a random-initialised Llama
(vocabulary 32,000, hidden 512, 8 layers) with its first layer as the draft. Both loops output
the same tokens (checked). Timed around the generate call (models loaded, warm-up run first),
`REPEATS` runs each, the two loops taking turns; a cell is the best run (greedy runs do the
same work each time). One torch thread; the machine is shared with other jobs, so absolute
speeds are noisy and the ratio "batched / per row" is the robust figure.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from common import Benchmark, dict_table, goal, print_row, records, timed_turns

from specproof.engine.generate import generate
from specproof.engine.models import load_model

NEW_TOKENS = 12
K = 4
REPEATS = 2
BATCHES = (1, 4, 16)
PROMPTS = [
    "The history of the city begins in the early middle ages, when",
    "def fibonacci(n):\n    ",
    "Rain fell on the",
    "In a small village by the sea there lived an old fisherman who every morning",
    "The main ingredients of a good bread are",
    "Photosynthesis is the process by which",
]
PAIRS = {
    "smollm2 <- smollm2:layers=8": ("smollm2", "smollm2:layers=8"),
    "random llama 8 layers <- 1 layer": (
        "random-llama:vocab=32000,hidden=512,layers=8,heads=8,seed=0",
        "random-llama:vocab=32000,hidden=512,layers=1,heads=8,seed=0",
    ),
}


def batch_runners(
    target_name: str, draft_name: str, batches: Sequence[int]
) -> Iterator[tuple[int, Callable[[bool, int], Any]]]:
    """Load the pair; for each batch size B in `batches`, B and a function `run(batched, new)`
    that decodes `new` tokens per row by greedy SD (K = `K`) on `PROMPTS` cycled to B rows,
    with one padded forward per model per step (`batched`) or one forward per row."""
    target = load_model(target_name)
    draft = load_model(draft_name)
    encoded = [target.tokenizer(p)["input_ids"] for p in PROMPTS]
    for batch in batches:
        prompts = [encoded[b % len(encoded)] for b in range(batch)]

        def run(batched: bool, new: int, prompts: list[list[int]] = prompts) -> Any:
            return generate(
                target.model,
                draft.model,
                prompts,
                algorithm="greedy",
                k=K,
                max_new_tokens=new,
                batch_forwards=batched,
            )

        yield batch, run


def run_pair(
    name: str, target_name: str, draft_name: str, batches: tuple[int, ...] = BATCHES
) -> list[dict[str, Any]]:
    rows = []
    for batch, run in batch_runners(target_name, draft_name, batches):
        run(False, 2)
        run(True, 2)
        times, outputs = timed_turns(
            lambda batched, run=run: run(batched, NEW_TOKENS), (False, True), REPEATS
        )
        same = outputs[False].tokens == outputs[True].tokens
        stats = outputs[True].stats
        tokens = batch * NEW_TOKENS
        row = {
            "pair": name,
            "B": batch,
            "per-row tok/s": tokens / min(times[False]),
            "batched tok/s": tokens / min(times[True]),
            "batched / per row": min(times[False]) / min(times[True]),
            "acceptance": stats.acceptance_rate,
            "same tokens": same,
        }
        print_row(row)
        rows.append(row)
    return rows


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The run's headline and how it was measured, from the tables written (the page opens with it)."""
    rows = records(tables[0])
    title = tables[0]["title"]
    k, new = re.search(r"K = (\d+), (\d+) new tokens per row", title).groups()
    bmax = max(r["B"] for r in rows)
    parts = []
    for pair in dict.fromkeys(r["pair"] for r in rows):
        r = next(r for r in rows if r["pair"] == pair and r["B"] == bmax)
        parts.append(f"{r['batched / per row']:.2f}x on {pair} (acceptance {r['acceptance']:.2f})")
    same = all(r["same tokens"] for r in rows)
    return (
        f"At B = {bmax}, one padded forward per model per step runs at "
        + " and ".join(parts)
        + f" the speed of one forward per row; both loops output "
        f"{'the same' if same else 'different'} tokens. Measured by greedy SD decoding "
        f"(K = {k}, {new} new tokens per row, rows cycled from {len(PROMPTS)} prompts), best of the "
        "runs, on shared CPU cores."
    )


BENCHMARK = Benchmark(
    "batched", "Batched padded forwards vs one forward per row", __doc__, finding=finding
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument(
        "--merge",
        action="store_true",
        help="replace only the measured (pair, B) rows of the existing results file",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.pairs:
        rows.extend(run_pair(name, *PAIRS[name], tuple(args.batches)))
    if args.merge:
        old = json.loads(BENCHMARK.path.read_text())["tables"][0]
        measured = {(r["pair"], r["B"]) for r in rows}
        kept = records(old)
        kept = [r for r in kept if (r["pair"], r["B"]) not in measured]
        order = {name: i for i, name in enumerate(PAIRS)}
        rows = sorted(kept + rows, key=lambda r: (order[r["pair"]], r["B"]))
    speed = dict_table(
        f"Greedy SD tokens/s (all rows), K = {K}, {NEW_TOKENS} new tokens per row, "
        f"{args.threads} thread(s), best of {REPEATS}",
        rows,
        note=(
            "batched / per row: speed of one padded forward per model per step over all rows, "
            "over one forward per row (> 1: batching is faster). same tokens: both loops output "
            "the same tokens."
            + (
                f" Rows with B in {args.batches} were remeasured by a later run (--merge)."
                if args.merge
                else ""
            )
        ),
    )
    plots = [
        {
            "title": "batched padded forwards / one forward per row (tokens/s ratio)",
            "kind": "bar",
            "x": [f"{r['pair']}, B={r['B']}" for r in rows],
            "series": {"batched / per row": [r["batched / per row"] for r in rows]},
            "xlabel": "pair, batch size",
            "ylabel": "ratio",
        }
    ]
    at16 = [r["batched / per row"] for r in rows if r["B"] == 16]
    targets = [
        goal(
            "batched / per row at B = 16 (worst pair)",
            round(min(at16), 3) if at16 else None,
            "> 1",
            bool(at16) and min(at16) > 1,
        ),
        goal(
            "both loops output the same tokens",
            all(r["same tokens"] for r in rows),
            "true",
            all(r["same tokens"] for r in rows),
        ),
    ]
    BENCHMARK.write([speed], plots, targets)


if __name__ == "__main__":
    main()
