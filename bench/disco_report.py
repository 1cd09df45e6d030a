"""The report side of the DISCO benchmark (`bench_disco.py`): its tables, gains, targets and plots.

`build_report` turns the per-pair, per-mode results of a run into what `bench_disco.write` puts
in `bench/results/disco.json`: the policies side by side, the classifier's accuracy and F1, the
learned policy's gains, the targets and one latency plot per pair and decoding mode; `replot`
redraws the plots of an existing results file from its main table. Nothing here runs a model
(no torch). `bench_disco.py` keeps the `write_results` call and `finding`: the docs and the
tests find a results file's script (its rerun command, its headline) by that call.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import goal, table, validate_results


def gain(rows: list[dict[str, Any]], label: str, key: str, higher_is_better: bool) -> float:
    """The learned policy's relative gain over the method `label` on `key`."""
    learned = next(r[key] for r in rows if r["method"] == "DISCO learned")
    other = next(r[key] for r in rows if r["method"].startswith(label))
    return (learned / other - 1) if higher_is_better else (other / learned - 1)


COLUMNS = [
    "pair",
    "decoding",
    "method",
    "tokens per target call",
    "drafted per target call",
    "acceptance",
    "modelled latency per token",
    "tokens/s",
    "same text as AR",
]


def build_report(
    results: list[dict[str, Any]], args: argparse.Namespace, max_k: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """The tables, plots and targets of the results file, from the results of `run_mode`.

    Args:
        results: one `run_mode` result per pair and decoding mode.
        args: the run's command-line arguments (prompt counts, tokens, seeds).
        max_k: the largest lookahead of the run (recording, static K, confidence cap).

    Returns:
        The tables (policies side by side, the classifier, the gains), one latency plot per
        pair and decoding mode, and the targets (gain over the best static K, greedy text).
    """
    main_rows = [
        [round(r[c], 4) if isinstance(r[c], float) else r[c] for c in COLUMNS]
        for res in results
        for r in res["rows"]
    ]
    classifier_rows = []
    gain_rows = []
    for res in results:
        tr = res["training"]
        held, rep = tr["held_out"], res["report_metrics"]
        classifier_rows.append(
            [
                res["pair"],
                res["decoding"],
                round(res["c"], 4),
                tr["train_steps"],
                round(tr["threshold"], 4),
                tr["policy_max_k"],
                round(held["accuracy"], 4),
                round(held["majority_accuracy"], 4),
                _r(held["f1"]),
                rep["n"],
                round(rep["accuracy"], 4),
                round(rep["majority_accuracy"], 4),
                _r(rep["f1"]),
            ]
        )
        best = f"static K={res['best_static_k']}"
        rows = res["rows"]
        costs = tr["modelled_cost_per_token"]
        gain_rows.append(
            [
                res["pair"],
                res["decoding"],
                res["best_static_k"],
                round(100 * gain(rows, best, "modelled latency per token", False), 2),
                round(100 * gain(rows, best, "tokens/s", True), 2),
                round(100 * gain(rows, "heuristic", "modelled latency per token", False), 2),
                round(100 * gain(rows, "heuristic", "tokens/s", True), 2),
                round(100 * (costs["best_static"] / costs["learned"] - 1), 2),
            ]
        )
    notes = []
    for res in results:
        if res["transformers"]:
            failed = "; ".join(f"{k}: {v}" for k, v in res["transformers"].items())
            notes.append(f"{res['pair']}, {res['decoding']}: transformers failed ({failed})")
    pair_notes = list(
        dict.fromkeys(f"{res['pair']}: {res['transformers_note']}" for res in results)
    )
    tables = [
        table(
            f"Policies side by side, {args.report} report prompts x {args.new_tokens} new tokens "
            f"(sampled: x {args.seeds} seeds), max K = {max_k}",
            COLUMNS,
            main_rows,
            note="modelled latency per token: (c x draft forwards + target forwards) / tokens, in "
            "target forwards (prompt lookup: drafted tokens instead of forwards). tokens/s: wall "
            "clock on a shared CPU, noisy. transformers rows: its own assisted generation "
            "(drafted/acceptance not exposed). " + " ".join(pair_notes + notes),
        ),
        table(
            "DISCO classifier: held-out accuracy and F1 (at the tuned threshold)",
            [
                "pair",
                "decoding",
                "c",
                "train steps",
                "threshold",
                "policy max K",
                "tune accuracy",
                "tune majority-class accuracy",
                "tune F1",
                "report steps",
                "report accuracy",
                "report majority-class accuracy",
                "report F1",
            ],
            classifier_rows,
            note="Steps of rounds recorded at K = max K; label: the drafted token was accepted. "
            "Report steps: the static K = max K run on the report prompts. Majority-class "
            "accuracy: always predicting the commoner label.",
        ),
        table(
            "Gain of the learned policy (%)",
            [
                "pair",
                "decoding",
                "best static K (tune)",
                "vs best static, modelled",
                "vs best static, wall clock",
                "vs heuristic, modelled",
                "vs heuristic, wall clock",
                "vs best static, modelled on tune traces",
            ],
            gain_rows,
            note="Positive: the learned policy is faster. Paper anchor (DISCO, arXiv "
            "2405.04304): +10.3% average over the best baseline.",
        ),
    ]
    lossless = all(
        r["same text as AR"]
        for res in results
        for r in res["rows"]
        if res["decoding"] == "greedy" and not r["method"].startswith("transformers")
    )
    plots = latency_plots([(f"{res['pair']}, {res['decoding']}", res["rows"]) for res in results])
    targets = [
        goal(
            f"learned vs best static K, modelled ({g[0]}, {g[1]})",
            g[3],
            ">= 0 % (paper: +10.3 % average)",
            g[3] >= 0,
        )
        for g in gain_rows
    ] + [goal("specproof policies output the AR text (greedy)", lossless, "true", lossless)]
    return tables, plots, targets


def short_label(method: str) -> str:
    """A bar label that fits under its bar."""
    if method.startswith("static K="):
        k = method.split()[1]
        return k + ("*" if "best" in method else "")
    for prefix, short in (
        ("heuristic", "heur."),
        ("confidence", "conf."),
        ("DISCO", "DISCO"),
        ("transformers heuristic", "hf heur."),
        ("transformers confidence", "hf conf."),
    ):
        if method.startswith(prefix):
            return short
    return method


def latency_plots(pairs: Sequence[tuple[str, Sequence[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """One bar plot of modelled latency per token per pair, from the rows of the main table."""
    return [
        {
            "title": f"modelled latency per token: {pair}",
            "kind": "bar",
            "x": [short_label(r["method"]) for r in rows],
            "series": {
                "target forwards per token": [r["modelled latency per token"] for r in rows]
            },
            "xlabel": "method (K=k*: best static K on the tune set; hf: transformers)",
            "ylabel": "target forwards per token",
        }
        for pair, rows in pairs
    ]


def replot(path: Path) -> None:
    """Redraw the plots of an existing results file from its main table (nothing is rerun)."""
    data = json.loads(path.read_text())
    main_table = data["tables"][0]
    rows = [dict(zip(main_table["columns"], row, strict=True)) for row in main_table["rows"]]
    groups = list(dict.fromkeys((r["pair"], r["decoding"]) for r in rows))
    data["plots"] = latency_plots(
        [
            (f"{p}, {d}", [r for r in rows if (r["pair"], r["decoding"]) == (p, d)])
            for p, d in groups
        ]
    )
    validate_results(data)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"replotted {path}")


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
