"""Heterogeneous vocabularies on the real pair: Gemma-3-270M and SmolLM2-135M-Instruct, both ways.

Runs the standalone loops of `specproof.engine.hetero_loop` (TLI, union baseline, SLEM greedy
and sampled) with each model as the target and the other as the drafter, `NEW_TOKENS` new
tokens after one prompt, `K` drafter tokens per round, seeds 0..REPEATS-1. Reported per cell:
the vocabulary map's size, the fraction of proposed tokens accepted, output tokens per target
call, and the wall time. The loops recompute every forward without a KV cache, on a shared
2-core CPU: the times are not speedups; acceptance and tokens per call are the measurements.
The map is built once per direction (its time is reported).
"""

from __future__ import annotations

import time

import torch
from common import table, write_results

from specproof.engine.hetero_loop import generate, vocab_map_for
from specproof.engine.models import load_model

NEW_TOKENS = 16
K = 3
REPEATS = 2
PROMPT = "The history of the city begins in the early middle ages, when"
CONFIGS = [("tli", "sample"), ("union", "sample"), ("slem", "sample"), ("slem", "greedy")]


def main() -> None:
    """Run every configuration and write `bench/results/hetero.json`."""
    torch.set_num_threads(1)
    models = {name: load_model(name) for name in ("gemma3", "smollm2")}
    rows = []
    for target_name, drafter_name in (("gemma3", "smollm2"), ("smollm2", "gemma3")):
        target, drafter = models[target_name], models[drafter_name]
        start = time.perf_counter()
        vocab_map = vocab_map_for(target, drafter)
        map_seconds = time.perf_counter() - start
        prompt = target.tokenizer.encode(PROMPT)
        for algorithm, mode in CONFIGS:
            accepted = proposed = rounds = tokens = 0
            start = time.perf_counter()
            for seed in range(REPEATS):
                generator = torch.Generator().manual_seed(seed)
                result = generate(
                    algorithm,
                    target,
                    drafter,
                    prompt,
                    NEW_TOKENS,
                    K,
                    generator,
                    vocab_map=vocab_map,
                    mode=mode,  # fmt: skip
                )
                accepted += result.accepted
                proposed += result.proposed
                rounds += result.rounds
                tokens += len(result.tokens)
            seconds = (time.perf_counter() - start) / REPEATS
            rows.append(
                [
                    target_name,
                    drafter_name,
                    f"{algorithm} ({mode})",
                    vocab_map.size,
                    round(map_seconds, 2),
                    round(accepted / proposed, 3) if proposed else None,
                    round(tokens / rounds, 3),
                    round(seconds, 2),
                ]
            )
            print(rows[-1], flush=True)
    write_results(
        "hetero",
        "Heterogeneous vocabularies: Gemma-3-270M and SmolLM2-135M",
        __doc__ or "",
        [
            table(
                f"{NEW_TOKENS} new tokens, K = {K}, {REPEATS} seeds",
                [
                    "target",
                    "drafter",
                    "algorithm",
                    "shared tokens",
                    "map build (s)",
                    "accepted / proposed",
                    "tokens per target call",
                    "seconds per run",
                ],
                rows,
                note="No KV cache: times are not speedups.",
            )
        ],
    )


if __name__ == "__main__":
    main()
