"""RDK on Gemma-3-270M: per-step overhead, proposal cost vs N, and speed through `generate`.

Everything here runs the project's own generation path: `specproof.engine.generate.generate`
with a `PrunedDrafter` (the drafter seam, one KV cache per row), built exactly as
`specproof generate --prune F` builds it (`pruned_drafter`: the head keeps the most frequent
`1 - F` of the vocabulary by `corpus_counts`, HumanEval prompts 0-119 and stdlib sources).
Target: Gemma-3-270M; drafter: the same weights with the head pruned (a self-draft: its body is
the target's, run separately with its own cache), optionally on its first `layers` layers only
(`drop_layers`, as the `gemma3:layers=N` model spec builds). One thread (`--threads 1`): every
time is taken both as wall time and as CPU time (`time.process_time`), which a loaded machine
inflates far less than wall time.

1. **Costs** (one run, interleaved, `--repeats` times, medians): one drafter step (one token
   through the body with a KV cache of 64 tokens, then the kept-only head; the cache is rolled
   back after each step) for the full-head model and every configuration's drafter, giving the
   cost ratio c = drafter step / full-model step; the target's verification of K + 1 tokens
   over one full-model step (v); and RDK's redistribution, the drafter's per-position draw
   (`PrunedDrafter._draw`) of RDK minus vanilla's, over the drafter step (the issue's target:
   < 5% at V = 262,144).
2. **Proposal cost vs N**: dense `q'M` (O(N^2)), sparse (k = 9) and rank-one (O(N)) proposal
   time per position, interleaved and repeated, medians.
3. **Speed through generate**: plain decoding of the target (AR, greedy and sampled at
   temperature 1) and SD with each configuration's drafter (greedy verification, or vanilla SD
   / RDK with the bound lambda when sampled), over held-out HumanEval prompts (120 on) and
   prose; the methods take turns on each prompt (round robin, `--rounds` times), and every
   run's wall and CPU time per token is recorded; a speed-up is the median over (prompt, round)
   of AR's time per token over the configuration's, on the same prompt in the same turn.
   Next to it, the speed-up the standard formula predicts from the measured costs:
   tokens per round / (K c + v).

The machine may be shared: the load average is recorded at the start and the end.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch
from bench_rdk import PROSE_EVAL, humaneval_prompts
from common import goal, table, write_results
from rdk_costs import step_costs

from specproof.engine.generate import generate
from specproof.engine.models import drop_layers, load_model
from specproof.engine.pruned import corpus_counts
from specproof.engine.pruned_drafter import PrunedDrafter, pruned_drafter
from specproof.engine.rdk import DenseKernel, RankOneKernel, SparseKernel
from specproof.engine.streams import RowStreams


@dataclass(frozen=True)
class Config:
    """One SD configuration: the drafter (head kept, layers) and the draft length K."""

    keep: float
    layers: int | None
    k: int

    @property
    def drafter(self) -> str:
        """The drafter's name: the head kept and the layers."""
        body = "" if self.layers is None else f", {self.layers} layers"
        return f"head {self.keep:.0%}{body}"

    @property
    def label(self) -> str:
        """The drafter's name and K."""
        return f"{self.drafter}, K={self.k}"


#: The configurations measured side by side (chosen from the predicted speed-ups; see the docs).
CONFIGS = (
    Config(0.1, None, 4),
    Config(0.05, None, 4),
    Config(0.05, None, 6),
    Config(0.05, 12, 4),
)


def load() -> float:
    return os.getloadavg()[0]


def costs(
    model: Any, drafters: dict[str, PrunedDrafter], ks: list[int], repeats: int
) -> dict[str, dict[str, float]]:
    """Medians (wall and CPU) of drafter steps, draws and ratios; the target's verify cost per K.

    Keys per clock: `step NAME` / `draw NAME` (seconds), `c NAME` (step over the full-head
    step), `overhead NAME` ((draw - vanilla's draw) / vanilla's step, median of per-repeat ratios),
    `v K` (verifying K + 1 tokens over one full-model step).
    """
    vocab = int(model.get_output_embeddings().weight.shape[0])
    times = step_costs(drafters, vocab, repeats)
    prefix = torch.randint(1000, 20000, (64,), generator=torch.Generator().manual_seed(2)).tolist()
    target = RowStreams(model, 1, True)
    target.logits([0], [prefix], [1])
    for _ in range(repeats):
        for k in [0, *ks]:
            wall, cpu = time.perf_counter(), time.process_time()
            with torch.no_grad():
                target.logits([0], [prefix + list(range(1234, 1235 + k))], [k + 1])
            times["wall"].setdefault(f"verify {k}", []).append(time.perf_counter() - wall)
            times["cpu"].setdefault(f"verify {k}", []).append(time.process_time() - cpu)
            target.keep(0, 64)
    out: dict[str, dict[str, float]] = {}
    for clock, series in times.items():
        med = {key: statistics.median(values) for key, values in series.items()}
        for name in drafters:
            med[f"c {name}"] = med[f"step {name}"] / med["step full head"]
            if name.startswith("rdk"):
                med[f"overhead {name}"] = statistics.median(
                    (d - v) / st
                    for d, v, st in zip(
                        series[f"draw {name}"],
                        series["draw vanilla"],
                        series["step vanilla"],
                        strict=True,
                    )
                )
        for k in ks:
            med[f"v {k}"] = med[f"verify {k}"] / med["verify 0"]
        out[clock] = med
    return out


def scaling(repeats: int) -> tuple[list[list[Any]], dict[str, Any]]:
    sizes = [256, 1024, 4096, 8192, 16384, 65536, 262144]
    dense_limit = 8192
    times: dict[tuple[str, int], list[float]] = {}
    for n in sizes:
        gen = torch.Generator().manual_seed(n)
        source = torch.softmax(torch.randn(1, n, generator=gen), -1)
        prior = torch.softmax(torch.randn(n, generator=gen), -1)
        forms: dict[str, Any] = {"rank-one O(N)": RankOneKernel(prior, 0.1)}
        width = 9
        idx = torch.sort((torch.arange(n)[:, None] + torch.arange(width)) % n, -1).values
        forms["sparse k=9 O(Nk)"] = SparseKernel(idx, torch.full((n, width), 1 / width))
        if n <= dense_limit:
            forms["dense O(N^2)"] = DenseKernel(torch.softmax(torch.randn(n, n, generator=gen), -1))
        for _ in range(repeats):
            for name, kernel in forms.items():
                t0 = time.perf_counter()
                kernel.propose(source)
                times.setdefault((name, n), []).append(time.perf_counter() - t0)
    names = ["dense O(N^2)", "sparse k=9 O(Nk)", "rank-one O(N)"]
    med = {key: statistics.median(values) * 1e6 for key, values in times.items()}
    rows = [[n, *(round(med[(m, n)], 1) if (m, n) in med else "" for m in names)] for n in sizes]
    plot = {
        "title": "Proposal time per position vs vocabulary size N",
        "kind": "line",
        "x": sizes,
        "series": {m: [med.get((m, n)) for n in sizes] for m in names},
        "xlabel": "vocabulary size N",
        "ylabel": "microseconds (median)",
        "logx": True,
        "logy": True,
    }
    return rows, plot


def speed(
    model: Any,
    drafters: dict[str, PrunedDrafter],
    prompts: dict[str, list[str]],
    new: int,
    rounds: int,
) -> dict[tuple[str, str, str], list[dict[str, float]]]:
    """Round robin over prompts and rounds: AR and every configuration, greedy and sampled.

    Returns `{(texts, mode, method): [per run: wall and CPU seconds per token, acceptance,
    tokens per round]}`; `method` is `"AR"` or a configuration's label (`" RDK"` appended for
    RDK, sampled only).
    """
    tokenizer, lm = model.tokenizer, model.model
    methods: list[tuple[str, str, str, PrunedDrafter | None, int]] = []
    for mode in ("greedy", "sampled"):
        methods.append((mode, "AR", "greedy" if mode == "greedy" else "ar", None, 0))
        for config in CONFIGS:
            algorithm = "greedy" if mode == "greedy" else "sd"
            methods.append((mode, config.label, algorithm, drafters[config.drafter], config.k))
            if mode == "sampled" and config == CONFIGS[0]:
                rdk = drafters["rdk bound"]
                methods.append((mode, config.label + " RDK", "rdk", rdk, config.k))
    runs: dict[tuple[str, str, str], list[dict[str, float]]] = {}
    for turn in range(rounds):
        for kind, texts in prompts.items():
            for i, text in enumerate(texts):
                ids = tokenizer(text)["input_ids"][:128]
                for mode, method, algorithm, drafter, k in methods:
                    cpu = time.process_time()
                    result = generate(
                        lm,
                        drafter,
                        [ids],
                        algorithm=algorithm,
                        k=k,
                        max_new_tokens=new,
                        seed=1000 * turn + i,
                        eos_token_id=None,
                    )
                    cpu = time.process_time() - cpu
                    stats = result.stats
                    runs.setdefault((kind, mode, method), []).append(
                        {
                            "wall": stats.wall_s / stats.new_tokens,
                            "cpu": cpu / stats.new_tokens,
                            "acceptance": stats.acceptance_rate or 0.0,
                            "tokens_per_round": stats.tokens_per_target_call or 0.0,
                        }
                    )
                    print(
                        turn, kind, i, mode, method, f"{stats.tokens_per_s:.2f} tok/s", flush=True
                    )
    return runs


def speed_rows(
    runs: dict[tuple[str, str, str], list[dict[str, float]]], cost: dict[str, float]
) -> list[list[Any]]:
    """One row per (texts, mode, method): medians of per-run ratios to AR, and the prediction."""
    rows = []
    for (kind, mode, method), values in runs.items():
        base = runs[kind, mode, "AR"]
        row: list[Any] = [kind, mode, method]
        for clock in ("wall", "cpu"):
            row.append(round(statistics.median(v[clock] for v in values) * 1e3, 1))
            ratios = (b[clock] / v[clock] for v, b in zip(values, base, strict=True))
            row.append(round(statistics.median(ratios), 3))
        if method == "AR":
            rows.append([*row, "", "", ""])
            continue
        config = next(c for c in CONFIGS if method.startswith(c.label))
        per_round = statistics.mean(v["tokens_per_round"] for v in values)
        name = "rdk bound" if method.endswith("RDK") else config.drafter
        predicted = per_round / (config.k * cost[f"c {name}"] + cost[f"v {config.k}"])
        rows.append(
            [
                *row,
                round(statistics.mean(v["acceptance"] for v in values), 3),
                round(per_round, 2),
                round(predicted, 3),
            ]
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="interleaved cost repeats")
    parser.add_argument("--prompts", type=int, default=2, help="prompts per text kind")
    parser.add_argument("--rounds", type=int, default=1, help="round-robin turns per prompt")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-speed", action="store_true", help="only the costs and scaling")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start, load_start = time.perf_counter(), load()
    model = load_model("gemma3")
    lm = model.model
    counts = corpus_counts(model.tokenizer, model.vocab_size).to(torch.float64) + 1e-3
    bodies = {None: lm} | {c.layers: drop_layers(lm, c.layers) for c in CONFIGS if c.layers}
    first = CONFIGS[0]
    drafters = {
        "full head": PrunedDrafter(lm, torch.arange(model.vocab_size)),
        "rdk fixed": pruned_drafter(lm, counts, 1 - first.keep, rdk=True, mix=0.05),
        "rdk bound": pruned_drafter(lm, counts, 1 - first.keep, rdk=True, mix="bound"),
    }
    for config in CONFIGS:
        drafters.setdefault(
            config.drafter,
            pruned_drafter(bodies[config.layers], counts, 1 - config.keep, rdk=False),
        )
    drafters["vanilla"] = drafters[first.drafter]
    ks = sorted({c.k for c in CONFIGS})
    cost = costs(lm, drafters, ks, args.repeats)
    names = [n for n in drafters if n not in ("full head", "vanilla")]
    tables = [
        table(
            f"Costs at V = {model.vocab_size:,}: medians of {args.repeats} interleaved repeats",
            ["what", "wall ms", "CPU ms", "c (wall)", "c (CPU)"],
            [["full-model step", *_cost_cells(cost, "step full head", "c full head")]]
            + [[f"drafter step: {n}", *_cost_cells(cost, f"step {n}", f"c {n}")] for n in names]
            + [
                [f"target verifies K+1 = {k + 1}", *_cost_cells(cost, f"verify {k}", f"v {k}")]
                for k in ks
            ],
            "c: a drafter step over the full-model step (one token, KV cache of 64); for the "
            "verification rows, v: the target's forward over K + 1 tokens over one step. The RDK "
            f"drafters keep {first.keep:.0%} of the head; the bound's step includes its 256 extra "
            "head rows.",
        ),
        table(
            "RDK overhead over vanilla per drafter step (median of per-repeat ratios)",
            ["RDK form", "wall: (RDK draw - vanilla draw) / drafter step", "CPU: same"],
            [
                [
                    name,
                    round(cost["wall"][f"overhead {name}"], 4),
                    round(cost["cpu"][f"overhead {name}"], 4),
                ]
                for name in ("rdk fixed", "rdk bound")
            ],
        ),
    ]
    scale_rows, scale_plot = scaling(max(5, args.repeats // 3))
    tables.append(
        table(
            "Proposal time per position (microseconds, medians)",
            ["N", "dense O(N^2)", "sparse k=9 O(Nk)", "rank-one O(N)"],
            scale_rows,
            "Dense only up to N = 8192 (a 262,144^2 matrix does not fit in memory).",
        )
    )
    if not args.skip_speed:
        prompts = humaneval_prompts()
        texts = {
            "HumanEval": prompts[120 : 120 + args.prompts],
            "prose": PROSE_EVAL[: args.prompts],
        }
        runs = speed(model, drafters, texts, args.new_tokens, args.rounds)
        tables.append(
            table(
                f"Speed through generate ({args.new_tokens} new tokens per run, "
                f"{args.prompts} prompts per kind, {args.rounds} round(s))",
                [
                    "texts",
                    "mode",
                    "method",
                    "wall ms/token",
                    "speed-up (wall)",
                    "CPU ms/token",
                    "speed-up (CPU)",
                    "acceptance",
                    "tokens/round",
                    "predicted speed-up",
                ],
                speed_rows(runs, cost["cpu"]),
                "Speed-up: median over runs of AR's time per token over the method's, AR of the "
                "same mode on the same prompt in the same turn. Predicted: tokens/round / "
                "(K c + v) from the CPU costs above.",
            )
        )
    worst = max(cost["cpu"]["overhead rdk fixed"], cost["cpu"]["overhead rdk bound"])
    write_results(
        "rdk_speed",
        "RDK: overhead and speed of pruned-head self-drafters on Gemma-3-270M",
        __doc__ + f"\n\nThreads: {args.threads}; load average {load_start:.1f} at the start, "
        f"{load():.1f} at the end; run time {time.perf_counter() - start:.0f} s.",
        tables,
        [scale_plot],
        [
            goal(
                "RDK redistribution per step / pruned drafter step (worst form, CPU)",
                round(worst, 4),
                "< 0.05",
                worst < 0.05,
            )
        ],
        finding=finding,
    )


def _cost_cells(cost: dict[str, dict[str, float]], time_key: str, ratio_key: str) -> list[float]:
    return [
        round(cost["wall"][time_key] * 1e3, 2),
        round(cost["cpu"][time_key] * 1e3, 2),
        round(cost["wall"][ratio_key], 3),
        round(cost["cpu"][ratio_key], 3),
    ]


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The headline, from the tables: RDK's overhead per step and the best measured speed-up."""
    overhead = {row[0]: row[2] for row in tables[1]["rows"]}
    text = (
        f"RDK's redistribution costs {overhead['rdk fixed']:.1%} (fixed lambda) and "
        f"{overhead['rdk bound']:.1%} (bound lambda, draw only) of a pruned drafter step at "
        "V = 262,144 (CPU time, medians of interleaved repeats)."
    )
    speed = [t for t in tables if t["title"].startswith("Speed through generate")]
    if speed:
        cols = speed[0]["columns"]
        wall, cpu = cols.index("speed-up (wall)"), cols.index("speed-up (CPU)")
        rows = [r for r in speed[0]["rows"] if r[2] != "AR"]
        best = max(rows, key=lambda r: r[cpu])
        size = re.search(r"(\d+) prompts per kind, (\d+) round", speed[0]["title"])
        runs = f"{int(size.group(1)) * int(size.group(2))} run(s)" if size else "the runs"
        text += (
            f" Best SD configuration against plain decoding of the target: {best[2]} "
            f"({best[1]}, {best[0]}) at {best[cpu]:.2f}x in CPU time and {best[wall]:.2f}x in "
            f"wall time (medians of per-run ratios over {runs}; predicted {best[-1]:.2f}x from "
            "the costs); "
            + (
                "a speed-up."
                if best[cpu] >= 1.05 and best[wall] >= 1.05
                else "no clear speed-up on both clocks."
            )
        )
    return text


if __name__ == "__main__":
    main()
