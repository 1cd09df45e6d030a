"""Implicit rank minimisation in ReLU networks: the `rank_` claims, measured, with plots.

Runs the four `rank_` claims of the theorem registry (as `specproof verify --only rank_
--thorough` does), records their statuses, numbers, seeds, thresholds and run times, reruns the
depth-2 training to check it repeats bit for bit, and writes

- `bench/results/rank.json` (tables and plots, rendered by the docs' results pages);
- `bench/results/rank_png/*.png` (the same two plots, drawn here with matplotlib);
- `bench/thorough/rank.json` (the claims' `specproof verify --json` records: the theorem pages
  show them as recorded, since the docs build runs no `--thorough` claim).
"""

from __future__ import annotations

import datetime
import io
import json
import statistics
import sys
import time
from typing import Any

from common import RESULTS, find_table, goal, records, table, write_results

from specproof.experiments import claims
from specproof.experiments.rank import train_two_point
from specproof.proofs.registry import CheckOptions, default_registry, run_claim

#: Recorded `--thorough` verify records, read by the docs' theorem pages.
THOROUGH = RESULTS.parent / "thorough"
#: Histogram bins of the depth-2 stable rank of W1 (which lies in [1, 2]).
BIN_EDGES = [1.0 + i / 10 for i in range(11)]


def histogram(values: list[float]) -> list[int]:
    """Counts of `values` in the bins [1.0, 1.1), ..., [1.9, 2.0] (the last bin closed)."""
    counts = [0] * (len(BIN_EDGES) - 1)
    for value in values:
        index = min(int((value - 1.0) * 10), len(counts) - 1)
        if not 0 <= index < len(counts):
            raise ValueError(f"stable rank {value} outside [1, 2]")
        counts[index] += 1
    return counts


def draw_pngs(plots: list[dict], directory) -> None:
    """Draw the line and bar plots with matplotlib into `directory` (no timestamps)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory.mkdir(parents=True, exist_ok=True)
    for plot, name in zip(plots, ("rank_vs_depth.png", "rank_distribution.png"), strict=True):
        fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
        if plot["kind"] == "line":
            for label, values in plot["series"].items():
                ax.plot(plot["x"], values, marker="o", label=label)
        else:
            for label, values in plot["series"].items():
                ax.bar(range(len(plot["x"])), values, label=label)
            ax.set_xticks(range(len(plot["x"])), plot["x"], rotation=45)
        ax.set_title(plot["title"])
        ax.set_xlabel(plot["xlabel"])
        ax.set_ylabel(plot["ylabel"])
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", metadata={"Software": None})
        plt.close(fig)
        (directory / name).write_bytes(buffer.getvalue())
        print(f"wrote {directory / name}")


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The run's headline and how it was measured, from the tables written (the page opens with it)."""
    claims = records(tables[0])
    statuses = {}
    for r in claims:
        statuses[r["status"]] = statuses.get(r["status"], 0) + 1
    depth2 = {r["quantity"]: r["value"] for r in records(find_table(tables, "Depth 2"))}
    sweep = records(find_table(tables, "Depth sweep"))
    first, deeper = sweep[0], sweep[1:]
    held = sum(r["status"] in ("proved", "measured") for r in claims)
    return (
        f"{held} of {len(claims)} `rank_` claims hold ("
        + ", ".join(f"{v} {k}" for k, v in statuses.items())
        + f"): {depth2['fitting runs with f2s(W1) > 1.5']} of the "
        f"{depth2['runs that fit (loss < 1e-4)'].split(' of ')[0]} fitting depth-2 runs end with "
        f"stable rank above 1.5 although a rank-1 interpolant exists, and the median stable rank "
        f"of the product is {first['stable rank of product']:.2f} at depth {first['depth']} and "
        f"{min(r['stable rank of product'] for r in deeper):.2f} to "
        f"{max(r['stable rank of product'] for r in deeper):.2f} at depths "
        f"{deeper[0]['depth']} to {deeper[-1]['depth']}. "
        f"Measured by gradient descent in float64 over seeds {depth2['seeds']} (depth 2) and "
        f"{sweep[0]['fit'].split(' of ')[1]} seeds per depth."
    )


def main() -> int:
    registry = default_registry()
    options = CheckOptions(thorough=True)
    start = time.perf_counter()
    results = [run_claim(claim, options) for claim in registry.select("rank_", thorough=True)]
    total = time.perf_counter() - start
    by_name = {r.name: r for r in results}
    for r in results:
        print(f"{r.name}: {r.status} ({r.seconds:.1f} s)")
        if "error" in r.certificate:
            print(r.certificate["error"], file=sys.stderr)
            return 2

    config = claims.two_point_config()
    repeat_start = time.perf_counter()
    identical = train_two_point(config) == claims.two_point_run(config)
    repeat_seconds = time.perf_counter() - repeat_start

    high = by_name["rank_depth2_gd_high_rank_fraction"].certificate
    away = by_name["rank_depth2_gd_away_from_rank_one"].certificate
    deep = by_name["rank_deep_product_rank_decreases_with_depth"].certificate
    ranks = high["stable_rank_W1_of_fitting_runs"]
    per_depth = deep["measurement"]["per_depth"]

    claim_rows = [
        [
            r.name,
            r.method,
            r.status,
            round(r.seconds, 2),
            _summary(r.name, r.certificate),
        ]
        for r in results
    ]
    depth2_rows = [
        ["seeds", f"{config.seeds[0]}..{config.seeds[-1]} ({len(config.seeds)})"],
        ["runs that fit (loss < 1e-4)", f"{high['runs_that_fit']} of {high['runs']}"],
        ["fitting runs with f2s(W1) > 1.5", high["measurement"]["fitting_runs_above_threshold"]],
        ["fraction above 1.5 (claimed >= 0.5)", high["measurement"]["fraction_above_threshold"]],
        [
            "smallest f2s(W1) of a fitting run (claimed >= 1.1)",
            away["measurement"]["min_stable_rank_W1"],
        ],
        ["median f2s(W1) of the fitting runs", statistics.median(ranks)],
        ["stable rank of the exact interpolant's W1", 1],
        ["training time (s)", high["training_seconds"]],
        ["rerun identical bit for bit", identical],
        ["rerun time (s)", repeat_seconds],
    ]
    depth_rows = [
        [
            row["depth"],
            f"{row['fitting_seeds']} of {len(deep['seeds'])}",
            row["median_product_stable_rank"],
            row["median_product_effective_rank"],
            row["median_mean_layer_stable_rank"],
            row["median_steps"],
        ]
        for row in per_depth
    ]
    plots = [
        {
            "title": "Rank vs depth",
            "kind": "line",
            "x": [row["depth"] for row in per_depth],
            "series": {
                "stable rank of W_{L-1}...W_1 (median)": [
                    row["median_product_stable_rank"] for row in per_depth
                ],
                "effective rank of W_{L-1}...W_1 (median)": [
                    row["median_product_effective_rank"] for row in per_depth
                ],
                "mean stable rank of W_1..W_{L-1} (median)": [
                    row["median_mean_layer_stable_rank"] for row in per_depth
                ],
            },
            "xlabel": "depth L",
            "ylabel": "rank measure",
        },
        {
            "title": "Depth-2 rank distribution over seeds",
            "kind": "bar",
            "x": [
                f"[{lo:.1f}, {hi:.1f}{']' if hi == BIN_EDGES[-1] else ')'}"
                for lo, hi in zip(BIN_EDGES, BIN_EDGES[1:], strict=False)
            ],
            "series": {f"fitting runs ({len(ranks)} of {high['runs']} seeds)": histogram(ranks)},
            "xlabel": "stable rank of the learned W1",
            "ylabel": "runs",
        },
    ]
    targets = [
        goal(r.name, r.status, "measured or proved", r.status in ("measured", "proved"))
        for r in results
    ] + [
        goal("bit-for-bit rerun", identical, "identical", identical),
        goal("all rank_ claims (s)", round(total, 1), "< 180 s", total < 180),
    ]
    write_results(
        "rank",
        "Implicit rank minimisation in ReLU networks",
        "The `rank_` claims of the theorem registry (Timor, Vardi & Shamir, ALT 2023), run as "
        "`specproof verify --only rank_ --thorough` does, on one CPU thread in float64 with fixed "
        "seeds. Depth 2: gradient descent on the two-point dataset "
        "$x_{1,2} = (\\pm 1, 0.99)/\\|(1, 0.99)\\|$, labels $I_2$, from small initialisation; "
        "the stable rank $\\|W_1\\|_F^2/\\|W_1\\|_2^2$ of the learned first layer over 256 seeds, "
        "although an exact rank-1 interpolant exists. Depth sweep: ReLU networks of depth 2 to "
        "6 on a teacher dataset (logistic loss); rank measures of the product of the hidden "
        "layers. See the explanation page *Implicit rank minimisation* for the claims and the "
        "setup. `measured` = the claim's stated thresholds held on these numbers; not a proof.",
        [
            table("Claims", ["claim", "method", "status", "seconds", "measurement"], claim_rows),
            table("Depth 2: the two-point dataset", ["quantity", "value"], depth2_rows),
            table(
                "Depth sweep (medians over the fitting seeds)",
                [
                    "depth",
                    "fit",
                    "stable rank of product",
                    "effective rank of product",
                    "mean layer stable rank",
                    "steps",
                ],
                depth_rows,
                note=f"Seeds {deep['seeds']}, teacher seed {deep['setup']['data_seed']}; "
                f"training time {deep['training_seconds']:.1f} s.",
            ),
        ],
        plots,
        targets,
        finding=finding,
    )
    draw_pngs(plots, RESULTS / "rank_png")
    THOROUGH.mkdir(parents=True, exist_ok=True)
    recorded = {
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python bench/bench_rank.py",
        "records": [r.to_json() for r in results],
    }
    (THOROUGH / "rank.json").write_text(json.dumps(recorded, indent=2, default=str) + "\n")
    print(f"wrote {THOROUGH / 'rank.json'}")
    return 0


def _summary(name: str, certificate: dict) -> str:
    if name == "rank_two_point_rank_one_interpolant":
        instance = certificate["paper_instance"]
        return f"W1 = {instance['W1']}, rank {instance['rank_W1']}"
    measurement = certificate["measurement"]
    if "per_depth" in measurement:
        medians = [round(row["median_product_stable_rank"], 3) for row in measurement["per_depth"]]
        return f"median product stable rank by depth: {medians}"
    return ", ".join(
        f"{k} = {v if not isinstance(v, float) else round(v, 4)}" for k, v in measurement.items()
    )


if __name__ == "__main__":
    sys.exit(main())
