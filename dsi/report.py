"""Turn a [`Heatmap`][specproof.dsi.heatmap.Heatmap] into JSON data, bench plots and PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .heatmap import Heatmap

#: Speedup maps, their titles and colour-scale maxima (the authors' plots use 2, 3, 10, 1.6).
SPEEDUPS = {
    "dsi_vs_si": ("DSI speedup over SI (SI / DSI)", 2.0),
    "dsi_vs_nonsi": ("DSI speedup over non-SI (non-SI / DSI)", 3.0),
    "si_vs_nonsi": ("SI speedup over non-SI (non-SI / SI)", 10.0),
    "dsi_vs_baseline": ("DSI speedup over min(SI, non-SI)", 1.6),
}


def _rounded(values: np.ndarray, digits: int = 4) -> list[Any]:
    return np.round(values, digits).tolist()  # type: ignore[no-any-return]


def heatmap_json(result: Heatmap) -> dict[str, Any]:
    """The run as plain JSON: grid, speedup maps `[c][a]`, summaries and best lookaheads."""
    maps = result.speedups()
    return {
        "c": _rounded(result.c),
        "a": _rounded(result.a),
        "k": result.k.tolist(),
        "tokens": result.tokens,
        "repeats": result.repeats,
        "seed": result.seed,
        "servers": result.servers,
        "backend": result.backend,
        "seconds": result.seconds,
        "configs": int(result.si.size),
        "speedups": {name: _rounded(m) for name, m in maps.items()},
        "best_k": {
            name: (
                result.k[np.argmin(np.where(result.valid, getattr(result, name), np.inf), axis=2)]
            ).tolist()
            for name in ("si", "dsi")
        },
        "summary": {
            name: {"min": float(m.min()), "median": float(np.median(m)), "max": float(m.max())}
            for name, m in maps.items()
        },
    }


def bench_plots(result: Heatmap) -> list[dict[str, Any]]:
    """The four speedup maps as `bench.common` heatmap plots (x = a, y = c)."""
    maps = result.speedups()
    return [
        {
            "title": title,
            "kind": "heatmap",
            "x": _rounded(result.a, 3),
            "y": _rounded(result.c, 3),
            "z": _rounded(maps[name], 3),
            "xlabel": "acceptance rate a",
            "ylabel": "drafter latency c (target forwards)",
            "zlabel": f"speedup (colour scale capped at {vmax})",
            "vmin": 0.0,
            "vmax": vmax,
        }
        for name, (title, vmax) in SPEEDUPS.items()
    ]


def write_heatmap_pngs(result: Heatmap, directory: Path) -> list[Path]:
    """One PNG per speedup map (matplotlib, Agg backend); returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    maps = result.speedups()
    paths = []
    for name, (title, vmax) in SPEEDUPS.items():
        fig, ax = plt.subplots(figsize=(5.2, 4.2))
        image = ax.imshow(
            maps[name], origin="lower", aspect="auto", vmin=0, vmax=vmax, cmap="viridis",
            extent=(float(result.a[0]), float(result.a[-1]), float(result.c[0]), float(result.c[-1])),
        )  # fmt: skip
        above = bool((maps[name] > vmax).any())
        fig.colorbar(
            image, ax=ax, label=f"speedup (capped at {vmax})", extend="max" if above else "neither"
        )
        ax.set_xlabel("acceptance rate a")
        ax.set_ylabel("drafter latency c")
        ax.set_title(title, fontsize=9)
        path = directory / f"dsi_{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths
