"""DSI heatmap: speedups of DSI, SI and non-SI over c x a (20 x 20), K = 1..20, 5 paths, S = 1000.

Each algorithm takes its own best lookahead per (c, a) (the authors' "min" speedups). Target:
the whole grid (8000 configurations x 5 paths x 1000 tokens) in under 60 s on this machine.
Run with `--backend ray [--address ADDR]` to spread the chunks over a Ray cluster.
"""

from __future__ import annotations

import argparse
from typing import Any

from common import RESULTS, goal, records, table, write_results

from specproof.dsi.heatmap import default_grid, heatmap
from specproof.dsi.report import bench_plots, heatmap_json, write_heatmap_pngs


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The run's headline and how it was measured, from the tables written (the page opens with it)."""
    speed = {r["speedup"]: r for r in records(tables[0])}
    si = speed["dsi_vs_si"]
    nonsi = speed["dsi_vs_nonsi"]
    return (
        f"With each algorithm at its best K, DSI is {si['min']:.2f}x to {si['max']:.2f}x faster "
        f"than SI (median {si['median']:.2f}x) and {nonsi['min']:.2f}x to {nonsi['max']:.1f}x "
        "faster than non-SI over the whole c x a grid"
        + (", so never slower than either" if min(si["min"], nonsi["min"]) >= 1 else "")
        + "; simulated "
        "under the authors' cost model (5 paths of S = 1000 tokens per configuration)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--backend", choices=["local", "ray"], default="local")
    parser.add_argument("--address", default=None)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    c, a, k = default_grid(args.steps)
    result = heatmap(
        c, a, k, tokens=1000, repeats=5, seed=42, backend=args.backend, address=args.address
    )
    data = heatmap_json(result)
    rows = [[name, s["min"], s["median"], s["max"]] for name, s in data["summary"].items()]
    maps = result.speedups()
    picks = []
    for ci, ai in ((1, 17), (0, 12), (9, 9), (17, 5)):  # c, a near the design's reproduction rows
        picks.append(
            [float(result.c[ci]), float(result.a[ai])]
            + [round(float(maps[n][ci, ai]), 3) for n in maps]
        )
    png_dir = RESULTS / "dsi_heatmap_png"
    png_dir.mkdir(parents=True, exist_ok=True)
    write_heatmap_pngs(result, png_dir)
    write_results(
        "dsi_heatmap",
        "DSI heatmap: speedups over SI and non-SI",
        (
            "Offline simulation under the authors' cost model (target forward = 1, drafter "
            "forward = c per token, i.i.d. acceptance a, enough target servers). Grid: "
            f"c = 1/20..1 ({c.size} values), a = 0.025..0.975 ({a.size} values), K = 1..{k.size}; "
            "5 simulated paths of S = 1000 tokens per configuration, seed 42; each algorithm takes "
            "its own best K per (c, a). Values > 1 mean DSI (or SI) is faster. PNGs are in "
            "bench/results/dsi_heatmap_png/."
        ),
        [
            table(
                "Speedups over the grid (best K each)", ["speedup", "min", "median", "max"], rows
            ),
            table(
                "Selected cells",
                ["c", "a", *maps.keys()],
                picks,
                note="Cells of the grid closest to a few of the design's reproduction rows.",
            ),
        ],
        plots=bench_plots(result),
        targets=[
            goal(
                f"full {args.steps}x{args.steps}x{args.steps} grid, 5 paths, S = 1000 ({args.backend})",
                round(result.seconds, 2),
                "< 60 s",
                result.seconds < 60,
            ),
            goal(
                "DSI never slower than min(SI, non-SI) at best K (min over the grid)",
                round(data["summary"]["dsi_vs_baseline"]["min"], 4),
                ">= 1",
                data["summary"]["dsi_vs_baseline"]["min"] >= 1,
            ),
        ],
        finding=finding,
    )


if __name__ == "__main__":
    main()
