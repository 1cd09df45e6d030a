"""End to end on CPU: tokens/s of AR vs SD (specproof) vs transformers' assisted generation.

One run, same machine, same models, same settings, side by side, at 1 and 2 torch threads:

- specproof AR (`algorithm="ar"`, or `"greedy", k=0`), specproof SD (`"sd"` sampled, `"greedy"`
  greedy), transformers `generate()` without and with `assistant_model=draft`
  (`num_assistant_tokens=K`, constant schedule, confidence threshold off, so both sides draft
  exactly K tokens per round);
- pairs: SmolLM2-135M-Instruct with a layer-dropped draft (its first 8 of 30 layers: the only
  same-tokenizer real pair available offline; a weak draft), and a random-initialised
  GPTBigCode (StarCoder architecture) pair of realistic size ratio (~10x), whose near-uniform
  rows give the high acceptance of a well-matched pair;
- sampling at temperature 1 with top-k and top-p off on both sides (transformers' defaults
  top_k=50 are overridden), or greedy.

Every run produces exactly `--new-tokens` tokens (EOS is ignored on the specproof side; the
transformers side sets `min_new_tokens`), timed around the generate call (model loading and
tokenisation excluded) twice: by wall clock (`time.perf_counter`) and by the process's CPU
time (`time.process_time`: the work done, whatever else the machine runs; at 2 threads it sums
both threads' time). After a warm-up, `--repeats` runs with seeds 0, 1, ..., the methods taking
turns (round robin, the order reversed every other repeat) so that load from other processes
hits them alike. Greedy cells are the best run (every run does the same work); sampled cells
are all tokens over all time (the number of rounds is random). "SD / assisted CPU per repeat"
gives each repeat's CPU-time ratio alone, to show the spread. On a shared machine the
wall-clock ratios are noisy; the CPU-time ratios are the robust figures.
"""

from __future__ import annotations

import argparse
import os
import re
from functools import partial
from typing import Any

import torch
from common import (
    Benchmark,
    dict_table,
    goal,
    load_note,
    note_machine,
    print_row,
    records,
    set_assistant,
    specproof_new_tokens,
    transformers_options,
    turn_order,
    wall_and_cpu,
)

from specproof.engine.models import load_model

NEW_TOKENS = 32
K = 4
REPEATS = 3
PROMPT = "The history of the city begins in the early middle ages, when"

PAIRS = {
    "smollm2 <- smollm2:layers=8": ("smollm2", "smollm2:layers=8"),
    "random starcoder 150M <- 15M": (
        "random-starcoder:vocab=49152,hidden=768,layers=12,heads=12,seed=0",
        "random-starcoder:vocab=49152,hidden=256,layers=2,heads=4,seed=1",
    ),
}


def run_pair(
    name: str, target_name: str, draft_name: str, threads: int, repeats: int, new_tokens: int
) -> list[dict[str, Any]]:
    torch.set_num_threads(threads)
    target = load_model(target_name)
    draft = load_model(draft_name)
    ids = target.tokenizer(PROMPT)["input_ids"]
    input_ids = torch.tensor([ids])
    set_assistant(draft.model, K)
    rows = []
    for mode in ("sampled", "greedy"):
        sampled = mode == "sampled"
        hf_kwargs = transformers_options(mode, target.eos_token_id)

        def ours(k: int, new: int, seed: int, mode: str = mode) -> Any:
            return specproof_new_tokens(target, draft, ids, mode, k, new, seed=seed).stats

        def theirs(
            extra: dict[str, Any], new: int, seed: int, hf_kwargs: dict[str, Any] = hf_kwargs
        ) -> None:
            torch.manual_seed(seed)
            with torch.inference_mode():
                out = target.model.generate(
                    input_ids, max_new_tokens=new, min_new_tokens=new, **hf_kwargs, **extra
                )
            assert out.shape[1] - input_ids.shape[1] == new

        methods = {
            "specproof AR": lambda new, seed: ours(0, new, seed),
            "specproof SD": lambda new, seed: ours(K, new, seed),
            "transformers AR": lambda new, seed: theirs({}, new, seed),
            "transformers assisted": lambda new, seed: theirs(
                {"assistant_model": draft.model}, new, seed
            ),
        }
        for fn in methods.values():
            fn(4, 0)  # warm-up
        # Seeds 0..repeats-1 on both sides, methods taking turns (round robin, the order
        # reversed every other repeat), so that a load spike on the shared machine hits every
        # method alike. Greedy runs do the same work every time: their speed is the best run's.
        # A sampled run's number of rounds is random: its speed is all tokens over all time.
        labels = list(methods)
        times: dict[str, list[float]] = {label: [] for label in methods}
        cpu: dict[str, list[float]] = {label: [] for label in methods}
        sd_runs = []
        for seed in range(repeats):
            for label in turn_order(labels, seed):
                value, wall, cpu_s = wall_and_cpu(partial(methods[label], new_tokens, seed))
                cpu[label].append(cpu_s)
                times[label].append(wall)
                if label == "specproof SD":
                    sd_runs.append(value)

        def summary(values: list[float], sampled: bool = sampled) -> float:
            return sum(values) / len(values) if sampled else min(values)

        best = {label: summary(values) for label, values in times.items()}
        best_cpu = {label: summary(values) for label, values in cpu.items()}
        drafted = sum(s.drafted for s in sd_runs)
        calls = sum(s.target_calls for s in sd_runs)
        histogram = [sum(h) for h in zip(*(s.accepted_histogram for s in sd_runs), strict=True)]
        rows.append(
            {
                "pair": name,
                "threads": threads,
                "mode": mode,
                "specproof AR tok/s": new_tokens / best["specproof AR"],
                "specproof SD tok/s": new_tokens / best["specproof SD"],
                "transformers AR tok/s": new_tokens / best["transformers AR"],
                "transformers assisted tok/s": new_tokens / best["transformers assisted"],
                "SD / assisted (wall)": best["transformers assisted"] / best["specproof SD"],
                "SD / assisted (CPU)": best_cpu["transformers assisted"] / best_cpu["specproof SD"],
                "SD / assisted CPU per repeat": [
                    round(t / o, 3)
                    for o, t in zip(cpu["specproof SD"], cpu["transformers assisted"], strict=True)
                ],
                "AR / transformers AR (CPU)": best_cpu["transformers AR"]
                / best_cpu["specproof AR"],
                "SD / AR": best["specproof AR"] / best["specproof SD"],
                "acceptance": sum(s.accepted for s in sd_runs) / drafted if drafted else None,
                "tokens per target call": repeats * new_tokens / calls,
                "accepted histogram": histogram,
            }
        )
        print_row(rows[-1])
    return rows


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The run's headline and how it was measured, from the tables written (the page opens with it)."""
    rows = records(tables[0])
    title = tables[0]["title"]
    new, k, repeats = re.search(r"(\d+) new tokens, K = (\d+) \((\d+) runs", title).groups()
    faster = [r for r in rows if r["SD / AR"] > 1]
    cells = sorted({f"{r['pair']} ({r['mode']}, acceptance {r['acceptance']:.2f})" for r in faster})
    spans = {
        clock: (
            min(r[f"SD / assisted ({clock})"] for r in rows),
            max(r[f"SD / assisted ({clock})"] for r in rows),
        )
        for clock in ("CPU", "wall")
    }
    load = note_machine(tables[0])
    return (
        f"specproof SD runs at {spans['CPU'][0]:.2f}x to {spans['CPU'][1]:.2f}x the speed of "
        f"transformers' assisted generation by process CPU time ({spans['wall'][0]:.2f}x to "
        f"{spans['wall'][1]:.2f}x by wall clock) on the same pairs and settings; SD is faster "
        f"than AR in {len(faster)} of {len(rows)} cells"
        + (f", all on {'; '.join(cells)}" if cells else "")
        + f", SD / AR ranging from {min(r['SD / AR'] for r in rows):.2f} to "
        f"{max(r['SD / AR'] for r in rows):.2f}. Measured by decoding {new} new "
        f"tokens (K = {k}) from one prompt, {repeats} interleaved runs per cell, greedy (best "
        "run) and sampled at temperature 1 (all runs), each call timed by wall clock and by "
        f"process CPU time; {load}."
    )


BENCHMARK = Benchmark(
    "e2e", "End to end: specproof vs transformers assisted generation", __doc__, finding=finding
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--new-tokens", type=int, default=NEW_TOKENS)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rows = []
    for threads in args.threads:
        for name in args.pairs:
            rows.extend(run_pair(name, *PAIRS[name], threads, args.repeats, args.new_tokens))
    load = load_note(load_before)
    speed = dict_table(
        f"Tokens/s, {args.new_tokens} new tokens, K = {K} ({args.repeats} runs: greedy best, "
        "sampled all)",
        rows,
        note=(
            "SD / assisted: specproof SD speed over transformers assisted generation on the same "
            "pair and settings (> 1: specproof faster), by wall clock and by process CPU time. "
            "acceptance: accepted / drafted tokens of specproof SD. Machine: "
            f"{load}."
        ),
    )
    plots = [
        {
            "title": "specproof SD / transformers assisted generation (speed ratio)",
            "kind": "bar",
            "x": [f"{r['pair']}, {r['mode']}, {r['threads']}t" for r in rows],
            "series": {
                "SD / assisted (CPU)": [r["SD / assisted (CPU)"] for r in rows],
                "SD / assisted (wall)": [r["SD / assisted (wall)"] for r in rows],
                "AR / transformers AR (CPU)": [r["AR / transformers AR (CPU)"] for r in rows],
            },
            "xlabel": "pair, mode, threads",
            "ylabel": "ratio",
        }
    ]
    targets = [
        goal(
            f"specproof SD / transformers assisted, {clock} (worst cell)",
            round(min(r[f"SD / assisted ({clock})"] for r in rows), 3),
            ">= 1",
            min(r[f"SD / assisted ({clock})"] for r in rows) >= 1,
        )
        for clock in ("CPU", "wall")
    ]
    BENCHMARK.write([speed], plots, targets)


if __name__ == "__main__":
    main()
