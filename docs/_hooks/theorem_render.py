"""Theorem pages, the rendering: one claim's Markdown page and the index, from `TheoremEntry`s.

Nothing here knows any particular claim: every claim gets a page with its statement, method,
status, time and a certificate summary, and its check function rendered by mkdocstrings
(source included) when that function lives in the `specproof` package. A check made by a claim
factory (a `functools.partial` of a function that several claims share) gets a link to that
function's API page and the arguments bound to it instead (a bound function of the package,
such as a `proof_claim`'s prover, linked to its own API page). A claim this build did not run shows
its recorded result when there is one (`TheoremEntry.recorded`), marked as recorded, not rerun.
The entries come from `theorem_pages` (the registry joined with a verify run).
"""

from __future__ import annotations

import functools
import inspect
import json
from typing import TYPE_CHECKING, Any

from specproof.proofs.registry import first_sentence

if TYPE_CHECKING:
    from theorem_pages import TheoremEntry

#: Display names of claim-name prefixes that are topics, not registered algorithms.
TOPICS = {
    "disco": "Lookahead policies (DISCO)",
    "audit": "Audit criteria",
    "dsi": "DSI",
    "rank": "Implicit rank minimisation",
}


def display_names() -> dict[str, str]:
    """Claim-name prefix -> display name: every registered algorithm's title, then the topics."""
    from specproof.reference.algorithms import ALGORITHMS

    return {**{a.name: a.title for a in ALGORITHMS}, **TOPICS}


STATUS_WORDS = {
    "proved": "a proof for every instance the statement covers (symbolic or SMT)",
    "checked": "verified exactly on every generated or enumerated instance listed in the "
    "certificate (not a proof for all instances)",
    "measured": "an experiment (method `experiment`) whose stated thresholds held on the "
    "measurement in the certificate (numbers, seeds, thresholds): evidence, not a proof",
    "refuted": "a counterexample was found (below); for a measured claim, the measurement "
    "contradicts the stated thresholds",
    "unknown": "neither proved nor refuted (timeout, solver gave up, or the check failed to run)",
}


INDEX_STATEMENT_WIDTH = 100
"""The index shows each statement's first sentence cut to this many characters."""


def _describe(value: Any) -> str:
    """A short readable form of an argument bound by a claim factory (functions by name)."""
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_describe(v) for v in value) + "]"
    if callable(value) and getattr(value, "__qualname__", "").isidentifier():
        return str(value.__qualname__)
    if isinstance(getattr(value, "name", None), str):
        return f"{type(value).__name__}({value.name!r})"
    return repr(value)


def _api_path(value: Any) -> str | None:
    """`module.name` of a public function of the package (it has an API page), else None."""
    module = getattr(value, "__module__", "") or ""
    name = getattr(value, "__qualname__", "") or ""
    if not (inspect.isfunction(value) and module.startswith("specproof.")):
        return None
    return f"{module}.{name}" if name.isidentifier() and not name.startswith("_") else None


def _bound_argument(value: Any, keyword: str | None = None) -> str:
    """One bound argument: a link to its API page for a package function, else a code span."""
    prefix = f"{keyword}=" if keyword else ""
    path = _api_path(value)
    if path is not None:
        return f"{prefix}[`{value.__qualname__}`][{path}]"
    return f"`{prefix}{_describe(value)}`"


def _bound_arguments(check: functools.partial[Any]) -> str:
    """The arguments a `functools.partial` binds, as Markdown (package functions linked)."""
    parts = [_bound_argument(v) for v in check.args]
    parts += [_bound_argument(v, k) for k, v in check.keywords.items()]
    return ", ".join(parts)


def algorithm_of(name: str) -> str:
    """The algorithm prefix of a claim name: the longest known one, else the first word."""
    known = [a for a in display_names() if name.startswith(a + "_")]
    return max(known, key=len) if known else name.split("_", 1)[0]


def _cell(text: str) -> str:
    """`text` safe in a Markdown table cell: `|` escaped outside `$...$` maths, `\\vert` inside."""
    parts = text.split("$")
    return "$".join(
        part.replace("|", "\\vert{}") if i % 2 else part.replace("|", "\\|")
        for i, part in enumerate(parts)
    )


def status_badge(status: str) -> str:
    return f'<span class="sp-status sp-{status}">{status}</span>'


def _short(value: Any) -> str:
    """A one-line summary of a certificate value: short values in full, long ones described."""
    if isinstance(value, dict | list):
        dumped = json.dumps(value, default=str)
        if len(dumped) <= 100:
            return f"`{dumped}`".replace("|", "\\|")
    if isinstance(value, dict):
        keys = ", ".join(f"`{k}`" for k in list(value)[:6])
        more = ", ..." if len(value) > 6 else ""
        return f"object with keys {keys}{more}"
    if isinstance(value, list):
        return f"list of {len(value)} item{'s' * (len(value) != 1)}"
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    if "\n" in text or len(text) > 160:
        return f"text of {len(text)} characters (full certificate below)"
    return text.replace("|", "\\|").replace("<", "&lt;")


def render_page(entry: TheoremEntry, only: str | None) -> str:
    """The Markdown page of one claim."""
    lines = [f"# `{entry.name}`", "", '!!! abstract "Statement"', ""]
    lines += ["    " + line for line in entry.statement.splitlines()] + [""]
    result = entry.result
    if result is None and entry.recorded is not None:
        result = entry.recorded["record"]
        status_cell = status_badge(result["status"]) + " (recorded)"
        time_cell = f"{result['seconds']:.2f} s"
        lines += [
            '!!! info "Recorded, not run in this build"',
            "",
            "    It runs only under `specproof verify --thorough`. The result below was recorded "
            f"by `{entry.recorded['command']}` at {entry.recorded['created']}.",
            "",
        ]
    elif result is None:
        why = (
            "it runs only under `specproof verify --thorough`"
            if entry.thorough_only
            else f"this build ran `specproof verify --only {only}`"
            if only
            else "the verify run did not report it"
        )
        status_cell, time_cell = "not run in this build", "—"
        lines += ['!!! info "Not run in this build"', "", f"    Because {why}.", ""]
    else:
        status_cell = status_badge(result["status"])
        time_cell = f"{result['seconds']:.2f} s"
    algorithm = algorithm_of(entry.name)
    lines += [
        "| status | scope | method | time | algorithm | runs by default |",
        "|---|---|---|---|---|---|",
        f"| {status_cell} | {_cell(entry.scope)} | {entry.method} | {time_cell} "
        f"| {display_names().get(algorithm, algorithm)} "
        f"| {'no (thorough only)' if entry.thorough_only else 'yes'} |",
        "",
    ]
    if result is not None:
        status = result["status"]
        lines += [f"*{status}*: {STATUS_WORDS.get(status, '')}.", ""]
        if entry.scope:
            lines += [f"*Scope* (the instances this status covers): {entry.scope}.", ""]
        certificate = result.get("certificate") or {}
        if status == "measured":
            lines += [
                '!!! warning "Measured, not proved"',
                "",
                "    An empirical result: the stated thresholds held on the measurement below "
                "(its numbers, seeds and thresholds are the certificate). It is not a proof, and "
                "other seeds or settings may measure differently.",
                "",
            ]
        if status == "refuted":
            lines += ['!!! failure "Counterexample"', "", "    ```json"]
            dumped = json.dumps(certificate.get("counterexample"), indent=2, default=str)
            lines += ["    " + line for line in dumped.splitlines()] + ["    ```", ""]
        if "error" in certificate:
            lines += ['!!! failure "The check failed to run"', "", "    ```text"]
            text = str(certificate["error"]) + "\n" + str(certificate.get("traceback", ""))
            lines += ["    " + line for line in text.rstrip().splitlines()] + ["    ```", ""]
        lines += ["## Certificate", ""]
        if certificate:
            lines += ["| key | value |", "|---|---|"]
            lines += [f"| `{k}` | {_short(v)} |" for k, v in certificate.items()]
            dumped = json.dumps(certificate, indent=2, default=str)
            if len(dumped) > 20000:
                dumped = dumped[:20000] + "\n... (truncated; run the command below for all of it)"
            lines += ["", '??? note "Full certificate (JSON)"', "", "    ```json"]
            lines += ["    " + line for line in dumped.splitlines()] + ["    ```", ""]
        else:
            lines += ["The check returned an empty certificate.", ""]
    lines += [
        "## Reproduce",
        "",
        "```console",
        f"$ specproof verify --only {entry.name}{' --thorough' if entry.thorough_only else ''}",
        "```",
        "",
    ]
    if entry.check_path and entry.bound is not None:
        # A shared function is rendered once, on its API page; this page links to it.
        name = entry.check_path.rsplit(".", 1)[-1]
        lines += [
            "## How it is checked",
            "",
            f"By [`{name}`][{entry.check_path}] with {entry.bound or 'no bound arguments'} "
            "(the claim comes from a [claim factory][specproof.proofs.claims]).",
            "",
        ]
    elif entry.check_path:
        lines += [
            "## How it is checked",
            "",
            f"::: {entry.check_path}",
            "    options:",
            "      show_source: true",
            "      heading_level: 3",
            "      show_root_full_path: false",
            "",
        ]
    return "\n".join(lines)


def render_index(entries: list[TheoremEntry], only: str | None) -> str:
    """The overview page: counts by status, and one table per algorithm."""
    counts: dict[str, int] = {}
    for entry in entries:
        if entry.result:
            key = entry.result["status"]
        elif entry.recorded:
            key = f"{entry.recorded['record']['status']} (recorded, not rerun)"
        else:
            key = "not run"
        counts[key] = counts.get(key, 0) + 1
    lines = [
        "# Theorems",
        "",
        "Every claim in the theorem registry (`specproof.proofs.registry`), with the result of "
        "a fresh `specproof verify --json` run made while this site was built"
        + (f" (restricted to `--only {only}`)" if only else "")
        + ". These pages are generated: a new claim appears here as soon as it is registered.",
        "",
        "What the statuses mean: "
        + "; ".join(f"{status_badge(s)} {w}" for s, w in STATUS_WORDS.items())
        + ".",
        "",
        f"**{len(entries)} claims:** "
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items())),
        "",
        "The raw results of this build's run: [verify.json](verify.json).",
        "",
    ]
    for algorithm, group in grouped(entries).items():
        lines += [
            f"## {display_names().get(algorithm, algorithm)}",
            "",
            "| claim | statement | status | scope | method | time |",
            "|---|---|---|---|---|---|",
        ]
        for e in group:
            shown = e.result or (e.recorded["record"] if e.recorded else None)
            status = status_badge(shown["status"]) if shown else "not run"
            if shown and not e.result:
                status += " (recorded)"
            seconds = f"{shown['seconds']:.2f} s" if shown else "—"
            summary = _cell(first_sentence(e.statement, INDEX_STATEMENT_WIDTH))
            lines.append(
                f"| [`{e.name}`]({e.name}.md) | {summary} | {status} | {_cell(e.scope)} "
                f"| {e.method} | {seconds} |"
            )
        lines.append("")
    return "\n".join(lines)


def grouped(entries: list[TheoremEntry]) -> dict[str, list[TheoremEntry]]:
    """Entries by algorithm prefix, in registry order."""
    groups: dict[str, list[TheoremEntry]] = {}
    for entry in entries:
        groups.setdefault(algorithm_of(entry.name), []).append(entry)
    return groups
