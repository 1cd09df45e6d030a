"""DISCO on real models: static K, the transformers heuristic, the confidence threshold and the learned policy.

One run, same machine, every policy through the engine's own `generate(..., lookahead=policy)`
(the code `specproof generate --lookahead ...` runs; the learned policy is saved and loaded back
with `parse_lookahead("disco:PATH")`), greedy decoding and sampled decoding (temperature 1, no
top-k / top-p, `--seeds` fixed seeds per report prompt). Pairs:

- **n-gram**: SmolLM2-135M-Instruct target, prompt-lookup drafter (`NgramDrafter(n=3)`), the
  drafter whose acceptance swings most from round to round;
- **pruned-head Gemma**: Gemma-3-270M target, drafter = the same model whose LM head keeps
  the `KEEP` most frequent tokens (frequencies over Python standard-library sources, Gemma's
  tokenizer): the drafter's body is the target's, its head is `KEEP` of the full head, and its
  logits off the kept tokens are $-\\infty$, so it is a full-vocabulary model that both
  specproof and transformers' assisted generation accept as a drafter;
- **TLI**: Gemma-3-270M target, SmolLM2-135M-Instruct drafter (another tokenizer) through the
  registry's cross-vocabulary drafter of `--algorithm tli` (`TliDrafter`; greedy decoding:
  the `greedy` algorithm with that drafter, sampled: `tli`).

Prompts: HumanEval problems shown and asked to be repeated renamed (`bench_prompt_lookup`'s
template), split into three disjoint sets: `--train` problems to record training traces, the
next `--tune` to tune (threshold of the learned policy, choice of the best static K), the next
`--report` to report on. Per pair and decoding mode, traces are recorded by the loop at K =
`MAX_K` (`specproof.engine.disco.record_traces`) and a policy is trained on them; $c$ (a draft
token's cost in target forwards) is measured on the training runs from the loop's own phase
timings.

Policies on the report prompts, taking turns per prompt and seed: AR; static K for several K
(the best on the tune traces by modelled cost marked); the transformers heuristic
(`HeuristicK`: K starts at 5, +2 after a fully accepted round, -1 otherwise, at least 1, no
cap); the confidence threshold (`ConfidenceStop`: stop after a draft whose $q(x) < 0.4$, at
most `MAX_K`); the learned DISCO policy (stop when the classifier's score drops below the tuned
threshold, at most its tuned cap); and transformers' own `generate(assistant_model=...)` with
`num_assistant_tokens_schedule="heuristic"` (5 to start, confidence off) and with
`assistant_confidence_threshold=0.4` (`MAX_K` tokens, constant schedule), where transformers
runs the pair (pruned-head Gemma: a same-vocabulary assistant; TLI pair: transformers' own
universal assisted decoding with `tokenizer` / `assistant_tokenizer`, not TLI; n-gram:
transformers has no dynamic schedule for prompt lookup). A failure of transformers on a pair
is reported in the notes, not hidden.

Reported: new tokens per target call, modelled latency per token $= (c \\cdot
\\text{draft forwards} + \\text{target forwards}) / \\text{tokens}$ (prompt lookup: drafted
tokens instead of forwards), wall-clock tokens/s (noisy on a shared machine), the classifier's
accuracy and F1 on the tune traces and on the report traces (those of the static K = `MAX_K`
run), and the gain of the learned policy over the best static K (chosen on the tune set) and
over the heuristic, per pair and decoding mode. Greedy rows also say whether the text is AR's
(sampled runs of different policies draw different uniforms, so their texts differ; their law is
the target's, proved in the reference). EOS is ignored (transformers: `min_new_tokens`). One
torch thread.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from bench_prompt_lookup import problems
from common import HF_PLAIN_SAMPLING, set_assistant, transformers_new_tokens, write_results
from disco_pairs import PAIRS, Pair, encode, make_pairs
from disco_report import build_report, replot

from specproof.engine.disco import (
    TraceRecorder,
    binary_metrics,
    features_matrix,
    record_traces,
    round_costs,
    save_policy,
    static_kept,
    train_policy,
)
from specproof.engine.generate import Sampling, generate
from specproof.engine.lookahead import (
    ConfidenceStop,
    HeuristicK,
    LookaheadPolicy,
    StaticK,
    parse_lookahead,
)

# This file runs the benchmark and writes its results file; the pairs are built in
# disco_pairs.py, the results file's tables, plots and targets in disco_report.py.
MAX_K = 8
HEURISTIC_START = 5
CONFIDENCE = 0.4
STATIC = (2, 4, 8)
#: Sampled decoding: temperature 1, the full distribution (transformers: top-k and top-p off).
SAMPLING = Sampling(temperature=1.0)

Run = Callable[[list[int], int], tuple[list[int], dict[str, float]]]


def modelled_choice(rounds: Sequence[Any], c: float) -> dict[int, float]:
    """Modelled cost per token of each static K on recorded rounds."""
    return {
        k: round_costs(rounds, static_kept(rounds, k), c)["cost_per_token"]
        for k in range(1, MAX_K + 1)
    }


def engine_run(
    pair: Pair,
    mode: str,
    new_tokens: int,
    policy: LookaheadPolicy | None,
    recorder: TraceRecorder | None = None,
) -> Run:
    """One prompt through the engine's `generate` under `policy` (None: AR)."""
    algorithm = "greedy" if mode == "greedy" else pair.sampled_algorithm
    sampling = None if mode == "greedy" else SAMPLING

    def go(ids: list[int], seed: int) -> tuple[list[int], dict[str, float]]:
        if recorder is not None:
            recorder.start_run()
        if policy is None:
            result = generate(
                pair.target.model,
                None,
                [ids],
                algorithm="greedy" if mode == "greedy" else "sd",
                k=0,
                max_new_tokens=new_tokens,
                sampling=sampling,
                seed=seed,
            )
        else:
            result = generate(
                pair.target.model,
                pair.draft,
                [ids],
                algorithm=algorithm,
                lookahead=policy,
                max_new_tokens=new_tokens,
                sampling=sampling,
                seed=seed,
                on_round=recorder,
            )
        s = result.stats
        return result.tokens[0], {
            "target": s.target_calls,
            "draft": s.drafted if pair.deterministic else s.draft_calls,
            "drafted": s.drafted,
            "accepted": s.accepted,
        }

    return go


def transformers_runs(pair: Pair, mode: str, new_tokens: int) -> dict[str, Run]:
    """transformers' assisted generation with its heuristic schedule and its confidence threshold."""
    if pair.transformers_options is None:
        return {}
    options = pair.transformers_options
    target, assistant = pair.target.model, options["assistant_model"]
    pad = pair.target.eos_token_id if pair.target.eos_token_id is not None else 0
    decoding: dict[str, Any] = (
        {"do_sample": False} if mode == "greedy" else {"do_sample": True, **HF_PLAIN_SAMPLING}
    )

    def make(schedule: str, tokens: int, confidence: float) -> Run:
        def go(ids: list[int], seed: int) -> tuple[list[int], dict[str, float]]:
            # The heuristic schedule persists K on the assistant's config: reset it per prompt.
            set_assistant(assistant, tokens, schedule, confidence)
            pair.counts["target"] = pair.counts["draft"] = 0
            torch.manual_seed(seed)
            output = transformers_new_tokens(
                target, ids, new_tokens, pad_token_id=pad, **options, **decoding
            )
            return output, {
                "target": pair.counts["target"],
                "draft": pair.counts["draft"],
                "drafted": 0,
                "accepted": 0,
            }

        return go

    return {
        "transformers heuristic schedule": make("heuristic", HEURISTIC_START, 0.0),
        f"transformers confidence {CONFIDENCE}": make("constant", MAX_K, CONFIDENCE),
    }


def run_mode(
    pair: Pair,
    mode: str,
    prompts: dict[str, list[list[int]]],
    new_tokens: int,
    seeds: Sequence[int],
    policy_dir: Path,
) -> dict[str, Any]:
    """Record, train, tune and report one pair under one decoding mode."""
    clock = time.perf_counter()
    algorithm = "greedy" if mode == "greedy" else pair.sampled_algorithm
    sampling = None if mode == "greedy" else SAMPLING
    recorded = {
        split: record_traces(
            pair.target.model,
            pair.draft,
            prompts[split],
            max_k=MAX_K,
            algorithm=algorithm,
            max_new_tokens=new_tokens,
            sampling=sampling,
            seed=100 if split == "tune" else 0,
        )
        for split in ("train", "tune")
    }
    train, tune = recorded["train"], recorded["tune"]
    c = train.draft_cost() or 0.0
    print(
        f"{pair.name}, {mode}: recorded {len(train.rounds)} + {len(tune.rounds)} rounds in "
        f"{time.perf_counter() - clock:.0f} s, c = {c:.3f}",
        flush=True,
    )
    trained, report = train_policy(train.rounds, tune.rounds, c=c, max_k=MAX_K, hidden=16)
    # The policy a user runs: saved to a file and loaded back by `--lookahead disco:PATH`.
    path = save_policy(trained, policy_dir / f"{pair.key}-{mode}.json")
    policy = parse_lookahead(f"disco:{path}")
    static_tune = modelled_choice(tune.rounds, c)
    best_k = min(static_tune, key=lambda k: (static_tune[k], k))
    report_recorder = TraceRecorder(deterministic=pair.deterministic)
    methods: dict[str, Run] = {"AR": engine_run(pair, mode, new_tokens, None)}
    for k in sorted({*STATIC, best_k}):
        label = f"static K={k}" + (" (best on tune)" if k == best_k else "")
        recorder = report_recorder if k == MAX_K else None
        methods[label] = engine_run(pair, mode, new_tokens, StaticK(k), recorder)
    methods["heuristic (+2/-1, from 5)"] = engine_run(
        pair, mode, new_tokens, HeuristicK(HEURISTIC_START)
    )
    methods[f"confidence q(x) >= {CONFIDENCE}"] = engine_run(
        pair, mode, new_tokens, ConfidenceStop(CONFIDENCE, MAX_K)
    )
    methods["DISCO learned"] = engine_run(pair, mode, new_tokens, policy)
    methods.update(transformers_runs(pair, mode, new_tokens))
    totals = {
        m: {"seconds": 0.0, "target": 0, "draft": 0, "drafted": 0, "accepted": 0, "tokens": 0}
        for m in methods
    }
    texts_out: dict[str, list[list[int]]] = {m: [] for m in methods}
    failed: dict[str, str] = {}
    # Warm-up: one short AR run (first-call costs of the models' forwards).
    generate(
        pair.target.model,
        None,
        [prompts["report"][0][:16]],
        algorithm="greedy",
        k=0,
        max_new_tokens=2,
    )
    for i, ids in enumerate(prompts["report"]):
        for seed in seeds:
            for label, fn in methods.items():
                if label in failed:
                    continue
                start = time.perf_counter()
                try:
                    tokens, counts = fn(ids, seed)
                except Exception as exc:  # transformers may refuse a pair: say so
                    if not label.startswith("transformers"):
                        raise
                    failed[label] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}"
                    print(f"{pair.name}, {mode}: {label} failed: {failed[label]}", flush=True)
                    continue
                totals[label]["seconds"] += time.perf_counter() - start
                totals[label]["tokens"] += len(tokens)
                for key, value in counts.items():
                    totals[label][key] += value
                texts_out[label].append(tokens)
        print(
            f"{pair.name}, {mode}: report prompt {i + 1}/{len(prompts['report'])} done",
            flush=True,
        )
    rows = []
    for label, t in totals.items():
        if label in failed:
            continue
        rows.append(
            {
                "pair": pair.name,
                "decoding": mode,
                "method": label,
                "tokens per target call": t["tokens"] / t["target"],
                "drafted per target call": t["drafted"] / t["target"] if t["drafted"] else None,
                "acceptance": t["accepted"] / t["drafted"] if t["drafted"] else None,
                "modelled latency per token": (c * t["draft"] + t["target"]) / t["tokens"],
                "tokens/s": t["tokens"] / t["seconds"],
                "same text as AR": texts_out[label] == texts_out["AR"]
                if mode == "greedy"
                else None,
            }
        )
    report_rounds = report_recorder.rounds
    x = features_matrix([s for r in report_rounds for s in r.steps])
    y = torch.tensor([v for r in report_rounds for v in r.labels()], dtype=torch.float64)
    on_report = binary_metrics(trained.classifier.scores(x), y, trained.threshold)
    return {
        "pair": pair.name,
        "decoding": mode,
        "c": c,
        "rows": rows,
        "training": report,
        "best_static_k": best_k,
        "static_tune": static_tune,
        "report_metrics": on_report,
        "transformers": failed or None,
        "transformers_note": pair.transformers_note,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS), choices=PAIRS)
    parser.add_argument(
        "--modes", nargs="+", default=["greedy", "sampled"], choices=["greedy", "sampled"]
    )
    parser.add_argument("--train", type=int, default=4)
    parser.add_argument("--tune", type=int, default=2)
    parser.add_argument("--report", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=24)
    parser.add_argument("--seeds", type=int, default=2, help="seeds per report prompt (sampled)")
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 2/1/1 prompts, 12 tokens, 1 seed"
    )
    parser.add_argument("--out", default=None, help="results folder (default bench/results)")
    parser.add_argument(
        "--replot", type=Path, default=None, help="only redraw the plots of this results file"
    )
    args = parser.parse_args()
    if args.replot is not None:
        replot(args.replot)
        return
    if args.quick:
        args.train, args.tune, args.report, args.new_tokens, args.seeds = 2, 1, 1, 12, 1
    torch.set_num_threads(1)
    start = time.perf_counter()
    load_start = os.getloadavg()[0]
    every = problems(args.train + args.tune + args.report)
    texts = {
        "train": every[: args.train],
        "tune": every[args.train : args.train + args.tune],
        "report": every[args.train + args.tune :],
    }
    results = []
    with tempfile.TemporaryDirectory() as policy_dir:
        for pair in make_pairs(args.pairs):
            prompts = {split: encode(pair, t) for split, t in texts.items()}
            for mode in args.modes:
                seeds = [0] if mode == "greedy" else list(range(args.seeds))
                results.append(
                    run_mode(pair, mode, prompts, args.new_tokens, seeds, Path(policy_dir))
                )
    loads = (load_start, os.getloadavg()[0])
    write(results, args, time.perf_counter() - start, loads)


def write(
    results: list[dict[str, Any]],
    args: argparse.Namespace,
    seconds: float,
    loads: tuple[float, float],
) -> None:
    """Write the results file (`bench/results/disco.json`, or into `--out`)."""
    tables, plots, targets = build_report(results, args, MAX_K)
    n_prompts = (
        f"{args.train} train / {args.tune} tune / {args.report} report HumanEval edit prompts"
    )
    command = (
        f"python bench/bench_disco.py --pairs {' '.join(args.pairs)} --modes "
        f"{' '.join(args.modes)} --train {args.train} --tune {args.tune} --report "
        f"{args.report} --new-tokens {args.new_tokens} --seeds {args.seeds}"
    )
    write_results(
        "disco",
        "DISCO: learned dynamic lookahead vs static K and heuristics",
        (__doc__ or "")
        + f"\n\nPrompts: {n_prompts}; {args.new_tokens} new tokens each; one run of "
        f"{seconds / 60:.1f} min (`{command}`), load average {loads[0]:.1f} at the start and "
        f"{loads[1]:.1f} at the end (a shared 2-core machine: wall-clock numbers are noisy).",
        tables,
        plots,
        targets,
        directory=Path(args.out) if args.out else None,
        finding=finding,
    )


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The headline, from the tables: the learned policy's gains and whether greedy text matched AR."""
    policies, _, gains = tables
    parts = [
        f"{g[0]} ({g[1]}): learned vs best static K={g[2]} {g[3]:+.1f}% modelled, {g[4]:+.1f}% "
        f"wall clock; vs heuristic {g[5]:+.1f}% modelled"
        for g in gains["rows"]
    ]
    modelled = [g[3] for g in gains["rows"]]
    mean = sum(modelled) / len(modelled) if modelled else 0.0
    lossless = all(
        r[-1]
        for r in policies["rows"]
        if r[1] == "greedy" and not str(r[2]).startswith("transformers")
    )
    return (
        f"{policies['title']} (report prompts held out from training and tuning): "
        + "; ".join(parts)
        + f". Mean gain over the best static K, modelled: {mean:+.1f}% (paper anchor: +10.3%). "
        f"Every specproof policy output the AR text under greedy decoding: {lossless}."
    )


if __name__ == "__main__":
    main()
