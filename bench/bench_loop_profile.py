"""Where a round's time goes: specproof's SD loop vs transformers' assisted generation, B = 1.

One run, same machine, same models, same token ids, greedy, side by side: SmolLM2-135M-Instruct
with its first 8 layers as the draft (the `bench_e2e.py` pair), K = 4, `NEW_TOKENS` new tokens
(EOS ignored by specproof, suppressed by transformers' `min_new_tokens`), `REPEATS` runs each
after a warm-up, the two taking turns. Forward hooks on both models time every forward pass on
both sides, so each side's time splits into target forwards, draft forwards and the rest (the
loop's own overhead: sampling, probabilities, verification, cache rollback, Python). On the
specproof side the per-round trace (`on_round`) splits the rest further into the phases of a
round (lookahead, drafting minus draft forwards, target probabilities minus target forwards,
verify, commit and rollback). Figures are per generated token, in milliseconds, summed over
the runs; one torch thread. The machine is shared with other jobs: forward times are noisy, the
overhead columns less so.
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

import torch
from common import goal, records, set_assistant, table, write_results

from specproof.engine.generate import generate
from specproof.engine.models import load_model

NEW_TOKENS = 32
K = 4
REPEATS = 3
PROMPT = "The history of the city begins in the early middle ages, when"


class ForwardClock:
    """Total seconds spent in a module's forward passes (hooks on the module)."""

    def __init__(self, module: Any) -> None:
        self.seconds = 0.0
        self.calls = 0
        self._start = 0.0
        module.register_forward_pre_hook(self._pre)
        module.register_forward_hook(self._post)

    def _pre(self, *_: Any) -> None:
        self._start = time.perf_counter()

    def _post(self, *_: Any) -> None:
        self.seconds += time.perf_counter() - self._start
        self.calls += 1


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The run's headline and how it was measured, from the tables written (the page opens with it)."""
    rows = {r["side"]: r for r in records(tables[0])}
    ours, theirs = rows["specproof SD"], rows["transformers assisted"]
    phases = records(tables[1])
    top = max(phases, key=lambda r: r["ms per token"])
    new, runs = re.search(r"(\d+) tokens x (\d+) runs", tables[0]["title"]).groups()
    return (
        f"specproof's SD loop spends {ours['rest / wall']:.1%} of its wall time outside the "
        f"model forwards against {theirs['rest / wall']:.1%} for transformers' assisted "
        f"generation ({ours['rest (loop overhead)'] / theirs['rest (loop overhead)']:.2f}x the "
        f"overhead); the largest part of specproof's is {top['phase']}. Measured by greedy decoding of {new} "
        f"tokens from one prompt, {runs} runs, forward hooks timing every forward pass."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    target = load_model("smollm2")
    draft = load_model("smollm2:layers=8")
    ids = target.tokenizer(PROMPT)["input_ids"]
    clocks = {"target": ForwardClock(target.model), "draft": ForwardClock(draft.model)}
    set_assistant(draft.model, K)
    phases = dict.fromkeys(("lookahead", "draft", "target", "verify", "commit"), 0.0)

    def record(trace: Any) -> None:
        for name in phases:
            phases[name] += getattr(trace, f"{name}_s")

    def ours(new: int, trace: bool) -> None:
        generate(
            target.model,
            draft.model,
            [ids],
            algorithm="greedy",
            k=K,
            max_new_tokens=new,
            on_round=record if trace else None,
        )

    def theirs(new: int, trace: bool) -> None:
        with torch.inference_mode():
            target.model.generate(
                torch.tensor([ids]),
                assistant_model=draft.model,
                do_sample=False,
                max_new_tokens=new,
                min_new_tokens=new,
                pad_token_id=target.eos_token_id,
            )

    sides = {"specproof SD": ours, "transformers assisted": theirs}
    totals = {side: {"wall": 0.0, "target": 0.0, "draft": 0.0} for side in sides}
    for fn in sides.values():
        fn(4, False)
    for _ in range(REPEATS):
        for side, fn in sides.items():
            for clock in clocks.values():
                clock.seconds = 0.0
            start = time.perf_counter()
            fn(NEW_TOKENS, side == "specproof SD")
            totals[side]["wall"] += time.perf_counter() - start
            totals[side]["target"] += clocks["target"].seconds
            totals[side]["draft"] += clocks["draft"].seconds
    tokens = NEW_TOKENS * REPEATS
    per_token = 1000 / tokens
    rows = []
    for side, t in totals.items():
        rest = t["wall"] - t["target"] - t["draft"]
        rows.append(
            [
                side,
                t["wall"] * per_token,
                t["target"] * per_token,
                t["draft"] * per_token,
                rest * per_token,
                rest / t["wall"],
            ]
        )
    ours_split = [
        ["lookahead policy", phases["lookahead"] * per_token],
        [
            "drafting outside draft forwards",
            (phases["draft"] - totals["specproof SD"]["draft"]) * per_token,
        ],
        [
            "target probabilities outside target forwards",
            (phases["target"] - totals["specproof SD"]["target"]) * per_token,
        ],
        ["uniforms and verification", phases["verify"] * per_token],
        ["commit and cache rollback", phases["commit"] * per_token],
        [
            "outside the round phases",
            (totals["specproof SD"]["wall"] - sum(phases.values())) * per_token,
        ],
    ]
    split = table(
        f"Milliseconds per generated token, greedy, K = {K}, {NEW_TOKENS} tokens x {REPEATS} runs",
        [
            "side",
            "wall",
            "target forwards",
            "draft forwards",
            "rest (loop overhead)",
            "rest / wall",
        ],
        rows,
        note="rest: wall time outside both models' forward passes.",
    )
    phase_table = table(
        "specproof SD: the loop overhead by phase (ms per generated token)",
        ["phase", "ms per token"],
        ours_split,
        note="From the per-round trace's timings minus the forward time measured by the hooks.",
    )
    overhead = {row[0]: row[4] for row in rows}
    targets = [
        goal(
            "specproof loop overhead / transformers assisted loop overhead (per token)",
            round(overhead["specproof SD"] / overhead["transformers assisted"], 3),
            "<= 1",
            overhead["specproof SD"] <= overhead["transformers assisted"],
        )
    ]
    write_results(
        "loop_profile",
        "Loop overhead: specproof SD vs transformers assisted generation",
        __doc__,
        [split, phase_table],
        [],
        targets,
        finding=finding,
    )


if __name__ == "__main__":
    main()
