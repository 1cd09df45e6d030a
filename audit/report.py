"""Audit reports: a Markdown file, and a PNG of expected vs observed frequencies per failing configuration."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .core import Audit, Configuration

#: Cells shown in a plot (the ones with the largest |observed - expected|).
PLOT_CELLS = 24


def _fmt(x: Any) -> str:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.3g}"
    return str(x)


def row_values(config: Configuration) -> list[Any]:
    """A configuration's numbers under the first nine [`HEADERS`][specproof.audit.report.HEADERS].

    Name, verdict, samples, needed, statistic, dof, Holm p, TV^ and TV<=, unformatted: None
    where a value is missing (a statistic or bound of a configuration without tests, the Holm p
    of one that has none).

    Args:
        config: a decided configuration.
    """
    j = config.to_json()
    return [
        config.name,
        config.verdict,
        config.n_samples,
        config.n_required,
        j["statistic"],
        j["dof"],
        config.p_adjusted if config.tests else None,
        j["tv_hat"],
        j["tv_upper"],
    ]


def table_rows(audit: Audit) -> list[list[str]]:
    """One row per configuration: name, verdict, samples, needed, statistic, dof, Holm p, TV, error.

    The last column holds the error of a `crashed` configuration, else why an `inconclusive` one
    is not `consistent` (a path exercised too rarely, a generation that never drafted).
    """
    rows = []
    for c in audit.configurations:
        values = row_values(c)
        if values[4] is None and c.main:
            values[4] = "inf"
        problem = c.error or c.not_consistent_because or "; ".join(c.uncovered)
        rows.append([*map(_fmt, values), problem[:80]])
    return rows


def timing_lines(audit: Audit, most: int = 4) -> list[str]:
    """Where the audit's time went: one line per configuration that recorded its timing.

    Inside the implementation, and the auditor's own overhead (exact law, tests, process
    boundary) per sample and as a share of the wall time. More than `most` configurations are
    summed into one line.

    Args:
        audit: the finished audit.
        most: the most configurations shown one by one.
    """
    timed = [
        (c.name, c.details["timing"])
        for c in audit.configurations
        if isinstance(c.details, dict)
        and isinstance(c.details.get("timing"), dict)
        and c.details["timing"].get("samples")
    ]
    if len(timed) > most:
        total = {
            key: sum(t[key] for _, t in timed)
            for key in ("samples", "seconds", "implementation_seconds", "auditor_seconds")
        }
        n = total["samples"]
        timed = [
            (
                f"(all {len(timed)} configurations)",
                {
                    "implementation_s_per_sample": total["implementation_seconds"] / n,
                    "auditor_s_per_sample": total["auditor_seconds"] / n,
                    "auditor_share": total["auditor_seconds"] / total["seconds"]
                    if total["seconds"]
                    else 0.0,
                    "seconds": total["seconds"],
                },
            )
        ]
    return [
        f"time {name}: implementation {1e3 * t['implementation_s_per_sample']:.3g} ms/sample, "
        f"auditor {1e3 * t['auditor_s_per_sample']:.3g} ms/sample "
        f"({100 * t['auditor_share']:.0f}% of {t['seconds']:.3g} s)"
        for name, t in timed
    ]


HEADERS = [
    "configuration",
    "verdict",
    "n",
    "needed",
    "statistic",
    "dof",
    "p (Holm)",
    "TV^",
    "TV<=",
    "error",
]


def plot_configuration(config: Configuration, path: Path) -> Path | None:
    """Bar plot of expected vs observed frequencies of the main test's cells (largest gaps)."""
    main = config.main
    if main is None or not main.expected:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    expected = np.array(main.expected)
    observed = np.array(main.observed)
    labels = list(main.labels) or [str(i) for i in range(expected.size)]
    if main.impossible and "impossible" not in labels:
        labels.append("impossible")
        expected = np.append(expected, 0.0)
        observed = np.append(observed, main.impossible / max(main.n, 1))
    order = np.argsort(-np.abs(observed - expected))[:PLOT_CELLS]
    order = np.sort(order)
    x = np.arange(order.size)
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * order.size + 2), 4))
    ax.bar(x - 0.2, expected[order], width=0.4, label="expected (exact law)")
    ax.bar(x + 0.2, observed[order], width=0.4, label="observed")
    ax.set_xticks(x, [labels[i] for i in order], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("frequency")
    ax.set_title(
        f"{config.name}: {config.verdict} (TV^ = {main.tv_hat:.3g}, n = {main.n})", fontsize=9
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def has_matplotlib() -> bool:
    """Whether matplotlib can be imported (the report degrades to text without it)."""
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def slug(name: str) -> str:
    """A file-name-safe version of a configuration name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:80] or "configuration"


def write_report(audit: Audit, directory: str | Path, title: str, preamble: str = "") -> Path:
    """Write `report.md` (and one PNG per failing configuration) into `directory`; return its path.

    Without matplotlib the report is written without plots and says so.
    """
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    lines = [f"# {title}", ""]
    if preamble:
        lines += [preamble, ""]
    lines += [
        f"**Verdict: `{audit.verdict}`** (family-wise alpha = {audit.alpha:g}; "
        f"`inconclusive` = not rejected with fewer samples than needed for power {audit.power:g} "
        f"at TV = {audit.tv:g}; Bonferroni within a configuration, Holm across configurations).",
        "",
        "| " + " | ".join(HEADERS) + " |",
        "|" + "---|" * len(HEADERS),
    ]
    for row in table_rows(audit):
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")
    notes = []
    for c in audit.configurations:
        profile = c.details.get("round_law") if isinstance(c.details, dict) else None
        if c.uncovered or (profile and profile.get("differs")):
            notes.append(f"- `{c.name}`:")
            notes += [f"  - path too rare: {m}" for m in c.uncovered]
            if profile and profile.get("differs"):
                notes.append(f"  - round law (information, not a loss): {profile['summary']}")
    if notes:
        lines += ["", "## Paths and round laws", "", *notes]
    failing = [c for c in audit.configurations if c.verdict in ("not-lossless", "crashed")]
    plots = has_matplotlib()
    if failing and not plots:
        lines += ["", "(No plots: they need matplotlib, `pip install 'specproof[engine]'`.)"]
    for c in failing:
        lines += ["", f"## {c.name}: `{c.verdict}`", ""]
        if c.error:
            lines += ["```", c.error, "```"]
        for name, t in c.tests.items():
            lines.append(
                f"- `{name}`: statistic {_fmt(t.statistic)}, dof {t.dof}, p {_fmt(t.p_value)}, "
                f"impossible outcomes {t.impossible}"
            )
        png = plot_configuration(c, out / f"{slug(c.name)}.png") if plots else None
        if png is not None:
            lines += ["", f"![expected vs observed: {c.name}]({png.name})"]
    path = out / "report.md"
    path.write_text("\n".join(lines) + "\n")
    return path
