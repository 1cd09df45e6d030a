"""Results pages: one per `bench/results/*.json`, tables and plots rendered at build time.

The schema is the one in `bench/common.py` (its docstring, and `validate_results`, which this
module calls). Tables become Markdown tables; plots (`line`, `bar`, `heatmap`) become PNGs drawn
with matplotlib; targets become a met / not-met table; the machine description a small table.
A file that does not follow the schema, or holds something no renderer here draws, fails the
build with a message naming the file.
"""

from __future__ import annotations

import importlib.util
import io
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOP_LEVEL_KEYS = {
    "benchmark",
    "title",
    "finding",
    "description",
    "created",
    "machine",
    "tables",
    "plots",
    "targets",
}


#: Material's search boost of results pages: below 1, so explanations and how-tos rank first.
SEARCH_BOOST = 0.2


class ResultsError(Exception):
    """A results file the site cannot render."""


def _schema_validator(root: Path) -> Callable[[dict[str, Any]], None]:
    """`bench.common.validate_results`, loaded from its file (bench/ is not a package)."""
    path = root / "bench" / "common.py"
    spec = importlib.util.spec_from_file_location("_specproof_bench_common", path)
    if spec is None or spec.loader is None:
        raise ResultsError(f"cannot load the results schema from {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    validate: Callable[[dict[str, Any]], None] = module.validate_results
    return validate


def load(root: Path, directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Every results file of `directory`, parsed and checked; raise `ResultsError` otherwise."""
    validate = _schema_validator(root)
    loaded = []
    for path in sorted(directory.glob("*.json")):
        try:
            shown = path.relative_to(root)
        except ValueError:
            shown = path
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict):
                raise ValueError("the top level must be a JSON object")
            validate(data)
            check_renderable(data, path.stem)
        except (ValueError, KeyError, TypeError) as exc:
            raise ResultsError(
                f"results file {shown} cannot be rendered: {exc}. Every file in "
                f"{directory} must follow the schema in bench/common.py (write it with "
                "bench.common.write_results)."
            ) from exc
        loaded.append((path, data))
    return loaded


def check_renderable(data: dict[str, Any], stem: str) -> None:
    """Raise `ValueError` for anything in `data` that no renderer here handles."""
    extra = set(data) - TOP_LEVEL_KEYS
    if extra:
        raise ValueError(f"no renderer for top-level key(s) {sorted(extra)}")
    if data["benchmark"] != stem:
        raise ValueError(f"'benchmark' is {data['benchmark']!r} but the file is named {stem}.json")
    if not isinstance(data["machine"], dict):
        raise ValueError("'machine' must be an object")
    finding = data.get("finding")
    if finding is not None and (not isinstance(finding, str) or not finding.strip()):
        raise ValueError("'finding' must be a non-empty string (one or two sentences)")
    for plot in data.get("plots", []):
        title = plot.get("title")
        if plot["kind"] not in RENDERERS:
            raise ValueError(f"no renderer for plot kind {plot['kind']!r} (plot {title!r})")
        if plot["kind"] in ("line", "bar"):
            series = plot.get("series")
            if not isinstance(series, dict) or not series or "x" not in plot:
                raise ValueError(f"plot {title!r} needs 'x' and a non-empty 'series' object")
            for name, values in series.items():
                if len(values) != len(plot["x"]):
                    raise ValueError(
                        f"plot {title!r}: series {name!r} has {len(values)} values for "
                        f"{len(plot['x'])} x values"
                    )
        else:
            for key in ("x", "y", "z"):
                if key not in plot:
                    raise ValueError(f"heatmap {title!r} needs {key!r}")
            z = plot["z"]
            if len(z) != len(plot["y"]) or any(len(row) != len(plot["x"]) for row in z):
                raise ValueError(f"heatmap {title!r}: z must have len(y) rows of len(x) values")


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7.5, 4.5), dpi=110)


def _finish(fig: Any, ax: Any, plot: dict[str, Any]) -> bytes:
    ax.set_title(plot.get("title", ""))
    ax.set_xlabel(plot.get("xlabel", ""))
    ax.set_ylabel(plot.get("ylabel", ""))
    fig.tight_layout()
    buffer = io.BytesIO()
    # No timestamp in the PNG metadata: the same results give the same bytes.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


def _numbers(values: list[Any]) -> list[float]:
    return [math.nan if v is None else float(v) for v in values]


def render_line(plot: dict[str, Any]) -> bytes:
    fig, ax = _figure()
    for name, values in plot["series"].items():
        ax.plot(plot["x"], _numbers(values), marker="o", label=str(name))
    if plot.get("logx"):
        ax.set_xscale("log")
    if plot.get("logy"):
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend()
    return _finish(fig, ax, plot)


def render_bar(plot: dict[str, Any]) -> bytes:
    fig, ax = _figure()
    names = list(plot["series"])
    width = 0.8 / len(names)
    positions = range(len(plot["x"]))
    for i, name in enumerate(names):
        offsets = [p - 0.4 + width * (i + 0.5) for p in positions]
        ax.bar(offsets, _numbers(plot["series"][name]), width=width, label=str(name))
    ax.set_xticks(list(positions), [str(x) for x in plot["x"]])
    if plot.get("logy"):
        ax.set_yscale("log")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend()
    return _finish(fig, ax, plot)


def render_heatmap(plot: dict[str, Any]) -> bytes:
    fig, ax = _figure()
    z = [_numbers(row) for row in plot["z"]]
    # An optional "vmax" caps the colour scale (values above it take the top colour; the bar
    # shows an arrow), so that a label saying "capped at" is true.
    vmax = plot.get("vmax")
    image = ax.imshow(
        z, origin="lower", aspect="auto", cmap="viridis", vmin=plot.get("vmin"), vmax=vmax
    )
    above = vmax is not None and any(v > vmax for row in z for v in row)
    colorbar = fig.colorbar(image, ax=ax, extend="max" if above else "neither")
    colorbar.set_label(plot.get("zlabel", ""))
    xs, ys = plot["x"], plot["y"]
    x_step, y_step = max(1, len(xs) // 10), max(1, len(ys) // 10)
    ax.set_xticks(range(0, len(xs), x_step), [_tick(x) for x in xs[::x_step]])
    ax.set_yticks(range(0, len(ys), y_step), [_tick(y) for y in ys[::y_step]])
    if len(xs) <= 12 and len(ys) <= 12:
        for i, row in enumerate(z):
            for j, value in enumerate(row):
                ax.text(j, i, f"{value:.3g}", ha="center", va="center", color="w", fontsize=8)
    return _finish(fig, ax, plot)


def _tick(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


RENDERERS: dict[str, Callable[[dict[str, Any]], bytes]] = {
    "line": render_line,
    "bar": render_bar,
    "heatmap": render_heatmap,
}


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "plot"


def writers(root: Path, benchmark: str) -> list[str]:
    """The scripts of `bench/` whose `write_results` call or `Benchmark` declaration names
    `benchmark`: the ones to rerun."""
    call = re.compile(
        r"(?:write_results|Benchmark)\(\s*(?:(?:benchmark|name)\s*=\s*)?([\"'])"
        + re.escape(benchmark)
        + r"\1"
    )
    return [
        f"bench/{path.name}"
        for path in sorted((root / "bench").glob("*.py"))
        if call.search(path.read_text())
    ]


def render_page(
    data: dict[str, Any], source: str, scripts: list[str] | None = None
) -> tuple[str, dict[str, bytes]]:
    """The Markdown page of one results file and its PNGs (`{file name: bytes}`)."""
    name = data["benchmark"]
    # Results pages rank below the prose pages in the site's search (Material's page boost).
    lines = ["---", "search:", f"  boost: {SEARCH_BOOST}", "---", "", f"# {data['title']}", ""]
    if data.get("finding"):
        lines += ['!!! abstract "Finding"', "", "    " + data["finding"].strip(), ""]
    lines += [data["description"].strip(), ""]
    lines += [f"*Generated from `{source}`, measured {data['created']}.*", ""]
    if scripts:
        lines += [
            "*Rerun it with "
            + " or ".join(f"`python {script}`" for script in scripts)
            + " (`make bench` reruns every benchmark).*",
            "",
        ]
    targets = data.get("targets", [])
    if targets:
        met = sum(bool(t["met"]) for t in targets)
        lines += [f"## Targets ({met} of {len(targets)} met)", ""]
        lines += ["| target | measured | goal | met? |", "|---|---|---|---|"]
        for t in targets:
            verdict = (
                '<span class="sp-met">met</span>'
                if t["met"]
                else '<span class="sp-not-met">not met</span>'
            )
            lines.append(
                f"| {_cell(t['name'])} | {_cell(t['value'])} | {_cell(t['target'])} | {verdict} |"
            )
        lines.append("")
    images: dict[str, bytes] = {}
    for i, plot in enumerate(data.get("plots", []), start=1):
        file_name = f"{name}-{i}-{_slug(plot.get('title', ''))}.png"
        images[file_name] = RENDERERS[plot["kind"]](plot)
        lines += [
            f"## {plot.get('title') or f'Plot {i}'}",
            "",
            f"![{plot.get('title', '')}]({file_name})",
            "",
        ]
    for tab in data["tables"]:
        lines += [f"## {tab['title']}", ""]
        lines.append("| " + " | ".join(_cell(c) for c in tab["columns"]) + " |")
        lines.append("|" + "---|" * len(tab["columns"]))
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in tab["rows"]]
        lines.append("")
        if tab.get("note"):
            lines += [tab["note"], ""]
    lines += ["## Machine", "", "| property | value |", "|---|---|"]
    lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in data["machine"].items()]
    lines.append("")
    return "\n".join(lines), images


def render_index(loaded: list[tuple[Path, dict[str, Any]]], directory_shown: str) -> str:
    lines = [
        "# Results",
        "",
        f"Benchmark results, one page per file in `{directory_shown}` (written by the "
        "`bench/bench_*.py` scripts through `bench.common.write_results`; `make bench` reruns "
        "them all). The pages, tables and plots are generated when the site is built.",
        "",
    ]
    if not loaded:
        return "\n".join(lines + ["No results have been committed yet.", ""])
    lines += ["| benchmark | measured | targets met |", "|---|---|---|"]
    for _, data in loaded:
        targets = data.get("targets", [])
        met = f"{sum(bool(t['met']) for t in targets)} of {len(targets)}" if targets else "—"
        lines.append(
            f"| [{_cell(data['title'])}]({data['benchmark']}.md) | {data['created']} | {met} |"
        )
    lines.append("")
    return "\n".join(lines)


def build(root: Path, directory: Path) -> tuple[dict[str, str | bytes], list[Any]]:
    """All results pages and PNGs (`{src_uri: content}`) and their nav entries."""
    try:
        shown = str(directory.relative_to(root))
    except ValueError:
        shown = str(directory)
    loaded = load(root, directory)
    files: dict[str, str | bytes] = {"results/index.md": render_index(loaded, shown)}
    nav: list[Any] = ["results/index.md"]
    for path, data in loaded:
        try:
            source = str(path.relative_to(root))
        except ValueError:
            source = path.name
        page, images = render_page(data, source, writers(root, data["benchmark"]))
        files[f"results/{data['benchmark']}.md"] = page
        for file_name, content in images.items():
            files[f"results/{file_name}"] = content
        nav.append({data["title"]: f"results/{data['benchmark']}.md"})
    return files, nav
