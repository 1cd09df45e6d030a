"""The findings catalogue: result-file schema, validation and the generated docs pages.

One file per audited implementation, `bench/results/findings/<impl>.json`:

```json
{
  "implementation": "csaq-quant",            # file stem, also the docs page name
  "package": "csaq-quant", "version": "0.6.0",
  "summary": "One paragraph: what the package offers and what the audit found (Markdown).",
  "install": ["csaq-quant==0.6.0", ...],      # what `make findings` installs in its own venv
  "created": "2026-12-03T12:00:00+00:00",
  "configurations": [
    {"package": ..., "version": ..., "path": "csaq.inference:CSAQInferenceEngine.generate",
     "configuration": "greedy, lookahead=4", "level": "sampler" | "generation" | "greedy" | null,
     "verdict": "consistent" | "not-lossless" | "crashed" | "inconclusive"
                | "no auditable path" | "not run",
     "tv_bound": 0.08 | null, "samples": 2000, "seconds": 12.3, "seed": 0,
     "command": "python bench/findings/run.py --impl csaq-quant --only greedy",
     "reproducer": "bench/findings/repro/csaq-quant_1.py" | null,
     "diagnosis": "Markdown, written to be filed upstream" | null,
     "lossy_by_design": false, "notes": "..."}
  ]
}
```

`not-lossless` and `crashed` results of configurations that are not lossy by design must carry
a reproducer (a script that exists) and a diagnosis; `no auditable path` and `not run` say in
`notes` what was seen or what stopped the audit. The docs pages `docs/findings/index.md` (the
summary table) and `docs/findings/<impl>.md` are generated from these files only
([`render_all`][]), so they can be checked against them. Standard library only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
RESULTS_DIR = ROOT / "bench" / "results" / "findings"
DOCS_DIR = ROOT / "docs" / "findings"
LEVELS = ("sampler", "generation", "greedy")
VERDICTS = (
    "consistent",
    "not-lossless",
    "crashed",
    "inconclusive",
    "no auditable path",
    "not run",
)
#: Verdicts of an audit that ran (they need a level, samples and a seed).
AUDITED = VERDICTS[:4]
#: Verdicts that need a reproducer and a diagnosis (unless the mode is lossy by design).
FAILING = ("not-lossless", "crashed")
FILE_KEYS = {
    "implementation": str,
    "package": str,
    "version": str,
    "summary": str,
    "install": list,
    "created": str,
    "configurations": list,
}
CONFIG_KEYS: dict[str, tuple[type, ...]] = {
    "package": (str,),
    "version": (str,),
    "path": (str,),
    "configuration": (str,),
    "level": (str, type(None)),
    "verdict": (str,),
    "tv_bound": (float, int, type(None)),
    "samples": (int,),
    "seconds": (float, int),
    "seed": (int, type(None)),
    "command": (str,),
    "reproducer": (str, type(None)),
    "diagnosis": (str, type(None)),
    "lossy_by_design": (bool,),
    "notes": (str,),
}


def validate(data: Mapping[str, Any], root: Path = ROOT) -> list[str]:
    """Every schema violation of one results file, as sentences (empty: valid).

    Args:
        data: the parsed JSON of `bench/results/findings/<impl>.json`.
        root: the repository root (reproducer paths are relative to it).
    """
    errors: list[str] = []
    for key, kind in FILE_KEYS.items():
        if not isinstance(data.get(key), kind):
            errors.append(f"{key!r} must be a {kind.__name__}")
    if errors:
        return errors
    if not data["configurations"]:
        errors.append("'configurations' is empty")
    for i, config in enumerate(data["configurations"]):
        where = f"configuration {i} ({config.get('configuration', '?')!r})"
        missing = sorted(set(CONFIG_KEYS) - set(config))
        extra = sorted(set(config) - set(CONFIG_KEYS))
        if missing or extra:
            errors.append(f"{where}: missing keys {missing}, unknown keys {extra}")
            continue
        for key, kinds in CONFIG_KEYS.items():
            value = config[key]
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                errors.append(f"{where}: {key!r} has type {type(value).__name__}")
        if errors:
            continue
        verdict, level = config["verdict"], config["level"]
        if verdict not in VERDICTS:
            errors.append(f"{where}: unknown verdict {verdict!r}")
        if verdict in AUDITED and level not in LEVELS:
            errors.append(f"{where}: an audited configuration needs a level in {LEVELS}")
        if verdict in AUDITED and config["seed"] is None:
            errors.append(f"{where}: an audited configuration needs its seed")
        if config["tv_bound"] is not None and not 0 <= config["tv_bound"] <= 1:
            errors.append(f"{where}: tv_bound {config['tv_bound']} is not in [0, 1]")
        if verdict == "consistent" and config["tv_bound"] is None:
            errors.append(f"{where}: a consistent verdict must state its TV bound")
        if verdict in ("no auditable path", "not run") and not config["notes"].strip():
            errors.append(f"{where}: {verdict!r} must say why in 'notes'")
        if verdict in FAILING and not config["lossy_by_design"]:
            repro = config["reproducer"]
            if not repro or not (root / repro).is_file():
                errors.append(f"{where}: {verdict} needs a reproducer file (got {repro!r})")
            if not (config["diagnosis"] or "").strip():
                errors.append(f"{where}: {verdict} needs a diagnosis")
        # A configuration may run another release in its own environment (its `version`).
        if config["package"] != data["package"]:
            errors.append(f"{where}: package differs from the file's")
    return errors


def load_all(directory: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """Every results file of `directory`, sorted by implementation name."""
    out = []
    for path in sorted(directory.glob("*.json")):
        data = json.loads(path.read_text())
        if data.get("implementation") != path.stem:
            raise ValueError(f"{path}: 'implementation' must be the file stem {path.stem!r}")
        out.append(data)
    return out


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _verdict(config: Mapping[str, Any]) -> str:
    verdict = str(config["verdict"])
    if config["lossy_by_design"]:
        return f"{verdict} (lossy by design)"
    return f"**{verdict}**" if verdict in FAILING else verdict


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def render_index(results: Sequence[Mapping[str, Any]]) -> str:
    """`docs/findings/index.md`: one row per configuration of every implementation."""
    lines = [
        "# Findings",
        "",
        "<!-- Generated by bench/findings/run.py from bench/results/findings/*.json: "
        "do not edit. -->",
        "",
        "`specproof audit` run over public speculative-decoding implementations installed from "
        "the package index, each in its own virtual environment, on tiny random models "
        "(`make findings` reruns every audit and rewrites these pages; an entry recorded "
        "without an audit keeps its recorded reason until its plan changes). Greedy paths are "
        "compared token for token with the target's own float64 greedy decoding; sampling "
        "paths get the calibrated verdict (family-wise alpha = 1e-6). `TV<=` is the certified "
        "bound on the distance from lossless that the samples leave. A `not-lossless` or "
        "`crashed` verdict links a reproducer and a diagnosis on the implementation's page; "
        "lossy-by-design modes are reported as such, never as bugs.",
        "",
        "How it runs: the auditor stays in the project's environment and calls a thin adapter "
        "(`bench/findings/adapters/<impl>_adapter.py`) under the library's own interpreter, "
        "behind the auditor's process boundary (as `specproof audit ... --python` does); the "
        "plan of each implementation (pinned install, configurations, diagnoses) is "
        "`bench/findings/impls/<impl>.py`. To add an implementation, add both and run "
        "`.venv/bin/python bench/findings/run.py --impl <impl>`. A library whose target pass "
        "is not the saved model (e.g. quantised weights) exports the weights it verifies "
        "with, and the auditor recomputes that model's law in float64. `no auditable path` "
        "and `not run` entries say what was seen or what stopped the audit.",
        "",
    ]
    counts: dict[str, int] = {}
    for data in results:
        for config in data["configurations"]:
            counts[config["verdict"]] = counts.get(config["verdict"], 0) + 1
    audited = sum(
        any(c["verdict"] in AUDITED for c in data["configurations"]) for data in results
    )
    lines.append(
        f"{len(results)} implementations ({audited} audited, {len(results) - audited} "
        "recorded without an audit); configurations: "
        + ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        + "."
    )
    lines.append("")
    rows = []
    for data in results:
        page = f"[{data['package']}]({data['implementation']}.md)"
        for config in data["configurations"]:
            rows.append(
                [
                    page,
                    config["version"],
                    f"`{config['path']}`",
                    config["configuration"],
                    config["level"],
                    _verdict(config),
                    config["tv_bound"],
                    config["samples"],
                    round(float(config["seconds"]), 1),
                ]
            )
    headers = ["implementation", "version", "path", "configuration", "level", "verdict"]
    lines += _table([*headers, "TV<=", "samples", "seconds"], rows)
    return "\n".join(lines) + "\n"


def render_page(data: Mapping[str, Any], root: Path = ROOT) -> str:
    """`docs/findings/<impl>.md`: the table, then every failing result's reproducer and diagnosis."""
    lines = [
        f"# {data['package']} {data['version']}",
        "",
        f"<!-- Generated by bench/findings/run.py from bench/results/findings/"
        f"{data['implementation']}.json: do not edit. -->",
        "",
        str(data["summary"]),
        "",
        "Installed in its own virtual environment by `make findings`: "
        + ", ".join(f"`{spec}`" for spec in data["install"])
        + f". Audited {data['created'][:10]}.",
        "",
    ]
    rows = [
        [
            f"`{c['path']}`",
            c["configuration"],
            c["level"],
            _verdict(c),
            c["tv_bound"],
            c["samples"],
            round(float(c["seconds"]), 1),
            c["seed"],
        ]
        for c in data["configurations"]
    ]
    headers = ["path", "configuration", "level", "verdict", "TV<=", "samples", "seconds", "seed"]
    lines += _table(headers, rows)
    for i, c in enumerate(data["configurations"], 1):
        lines += ["", f"## {i}. {c['configuration']}: {c['verdict']}", ""]
        other = "" if c["version"] == data["version"] else f"; version: {c['version']}"
        lines.append(f"Path: `{c['path']}`; level: {c['level'] or '–'}{other}.")
        if c["notes"]:
            lines += ["", str(c["notes"])]
        if c["diagnosis"]:
            lines += ["", "**Diagnosis.** " + str(c["diagnosis"])]
        if c["reproducer"]:
            script = (root / c["reproducer"]).read_text().rstrip()
            lines += [
                "",
                f"**Reproducer** (`{c['reproducer']}`; exits non-zero on "
                f"{data['package']} {c['version']}):",
                "",
                "<!-- docs-test: skip (needs the library under audit in its own environment: "
                "make findings) -->",
                "```python",
                script,
                "```",
            ]
        lines += ["", f"Rerun: `{c['command']}`"]
    return "\n".join(lines) + "\n"


def render_all(
    results_dir: Path = RESULTS_DIR, root: Path = ROOT
) -> dict[str, str]:
    """Every generated findings page, `{file name: text}` (`index.md` and one per implementation).

    Raises:
        ValueError: if a results file is invalid (the message lists every violation).
    """
    results = load_all(results_dir)
    for data in results:
        errors = validate(data, root)
        if errors:
            raise ValueError(f"{data.get('implementation')}: " + "; ".join(errors))
    pages = {"index.md": render_index(results)}
    for data in results:
        pages[f"{data['implementation']}.md"] = render_page(data, root)
    return pages


def write_pages(results_dir: Path = RESULTS_DIR, docs_dir: Path = DOCS_DIR) -> list[Path]:
    """Regenerate `docs/findings/` from the results files; returns the pages written."""
    docs_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all(results_dir).items():
        path = docs_dir / name
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    for page in write_pages():
        print(f"wrote {page.relative_to(ROOT)}")
