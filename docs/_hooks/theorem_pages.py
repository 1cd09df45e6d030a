"""Theorem pages: one per registry entry, from the registry and a fresh `specproof verify --json`.

This module collects: it loads the registry, runs the verify command once, reads recorded
thorough results and joins them into `TheoremEntry`s by claim name; `build` turns those into the
pages (rendered by `theorem_render`, whose names it re-exports) and their nav entries.

The build runs the default (fast) claims only. A `--thorough` claim that this build did not run
is shown with its recorded result when `bench/thorough/*.json` holds one (written by a bench
script: `{"created": ..., "command": ..., "records": [verify --json records]}`), marked as
recorded, not rerun.
"""

from __future__ import annotations

import functools
import importlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from theorem_render import (
    INDEX_STATEMENT_WIDTH,
    STATUS_WORDS,
    TOPICS,
    _bound_arguments,
    _cell,
    _describe,
    _short,
    algorithm_of,
    display_names,
    grouped,
    render_index,
    render_page,
    status_badge,
)

# Runs the real command line in a fresh interpreter, after importing any extra claim modules
# (SPECPROOF_DOCS_CLAIM_MODULES: how a test adds a temporary registry entry).
_VERIFY_PRELUDE = (
    "import importlib, sys\n"
    "for m in filter(None, sys.argv[1].split(',')): importlib.import_module(m)\n"
    "from specproof.cli.main import main\n"
    "sys.exit(main(sys.argv[2:]))\n"
)


class TheoremError(Exception):
    """The registry or the verify run could not be turned into pages."""


@dataclass(frozen=True)
class TheoremEntry:
    """One claim of the registry with the result of this build's verify run (if it ran)."""

    name: str
    statement: str
    method: str
    thorough_only: bool
    check_path: str | None  # dotted path of the check function, if mkdocstrings can find it
    result: dict[str, Any] | None
    bound: str | None = None  # a claim factory's check: the arguments bound to the shared function
    recorded: dict[str, Any] | None = None  # {"record", "created", "command"} if not run here
    scope: str = ""  # which instances the status covers (`Claim.scope`)


def load_registry(extra_modules: list[str]) -> list[Any]:
    """Every claim of the default registry, after importing `extra_modules`."""
    for module in extra_modules:
        importlib.import_module(module)
    from specproof.proofs.registry import default_registry

    return list(default_registry())


def run_verify(
    root: Path,
    extra_modules: list[str],
    only: str | None,
    on_progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Run `specproof verify --json` (optionally `--only`) once and return its records.

    Args:
        root: the project root (the command runs there).
        extra_modules: modules imported first (they register extra claims).
        only: pass `--only ONLY` (None: every claim).
        on_progress: called with each progress line the command writes on stderr
            (`verify [3/22] sd_lossless ...`), so a long build shows how far it is: as a claim
            starts when the claims are checked one after another, as it finishes when they are
            checked in parallel (the default: one process per core).
    """
    args = ["verify", "--json"] + (["--only", only] if only else [])
    command = [sys.executable, "-c", _VERIFY_PRELUDE, ",".join(extra_modules), *args]
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(
            command, cwd=root, stdout=out, stderr=subprocess.PIPE, text=True, bufsize=1
        )
        assert proc.stderr is not None
        err_lines = []
        for line in _lines(proc.stderr):
            err_lines.append(line)
            if on_progress is not None and line.startswith("verify [") and line.endswith(" ... "):
                on_progress(line.rstrip())
        proc.wait()
        out.seek(0)
        stdout = out.read()
    stderr = "".join(err_lines)
    try:
        records = json.loads(stdout)
    except json.JSONDecodeError:
        records = None
    # Exit codes 1 (a claim refuted) and 4 (unknown, or a check failed to run) still print
    # every record:
    # the pages then show the refutation or the error.
    if proc.returncode not in (0, 1, 4) or not isinstance(records, list):
        raise TheoremError(
            f"`specproof {' '.join(args)}` exited {proc.returncode} without printing a JSON list "
            "of results (does a check print to stdout?); its stdout starts with:\n"
            f"{stdout[:1000]}\nits stderr ends with:\n{stderr[-3000:]}"
        )
    return records


def _lines(stream: IO[str]) -> Iterator[str]:
    """The pieces of `stream`: each ends at a newline or at ` ... ` (a claim that started)."""
    buffer = ""
    while chunk := stream.read(1):
        buffer += chunk
        if chunk == "\n" or buffer.endswith(" ... "):
            yield buffer
            buffer = ""
    if buffer:
        yield buffer


def load_recorded(directory: Path) -> dict[str, dict[str, Any]]:
    """Recorded thorough results by claim name: `{"record", "created", "command"}` each."""
    recorded: dict[str, dict[str, Any]] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            records = data["records"]
            if not isinstance(records, list):
                raise TypeError("'records' must be a list")
            for record in records:
                missing = {"name", "status", "seconds", "certificate"} - set(record)
                if missing:
                    raise KeyError(f"a record lacks {sorted(missing)}")
                recorded[record["name"]] = {
                    "record": record,
                    "created": str(data["created"]),
                    "command": str(data["command"]),
                }
        except (ValueError, KeyError, TypeError) as exc:
            raise TheoremError(f"recorded results {path} cannot be read: {exc}") from exc
    return recorded


def collect(
    claims: list[Any],
    records: list[dict[str, Any]],
    recorded: dict[str, dict[str, Any]] | None = None,
) -> list[TheoremEntry]:
    """Join the registry's claims with the verify records (and recorded thorough ones), by name."""
    recorded = recorded or {}
    by_name = {r["name"]: r for r in records}
    unknown = sorted(set(by_name) - {c.name for c in claims})
    if unknown:
        raise TheoremError(f"verify reported claims the registry does not hold: {unknown}")
    entries = []
    for claim in claims:
        check, bound = claim.check, None
        if isinstance(check, functools.partial):  # a claim factory's check: a shared function
            bound = _bound_arguments(check)
            while isinstance(check, functools.partial):
                check = check.func
        module = getattr(check, "__module__", "") or ""
        qualname = getattr(check, "__qualname__", "") or ""
        check_path = None
        if module.startswith("specproof.") and qualname.isidentifier():
            check_path = f"{module}.{qualname}"
        entries.append(
            TheoremEntry(
                claim.name,
                claim.statement,
                claim.method,
                claim.thorough_only,
                check_path,
                by_name.get(claim.name),
                bound,
                recorded.get(claim.name) if claim.name not in by_name else None,
                claim.scope,
            )
        )
    return entries


def build(
    root: Path,
    extra_modules: list[str],
    only: str | None,
    on_progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, str | bytes], list[Any]]:
    """All theorem pages (`{src_uri: content}`) and their nav entries.

    Args:
        root: the project root.
        extra_modules: modules imported first (they register extra claims).
        only: run only the claims matching this pattern (None: all).
        on_progress: receives the verify run's progress lines (see `run_verify`).
    """
    claims = load_registry(extra_modules)
    records = run_verify(root, extra_modules, only, on_progress)
    entries = collect(claims, records, load_recorded(root / "bench" / "thorough"))
    files: dict[str, str | bytes] = {
        "theorems/index.md": render_index(entries, only),
        "theorems/verify.json": json.dumps(records, indent=2, default=str) + "\n",
    }
    nav: list[Any] = ["theorems/index.md"]
    for algorithm, group in grouped(entries).items():
        section = []
        for entry in group:
            files[f"theorems/{entry.name}.md"] = render_page(entry, only)
            section.append({entry.name: f"theorems/{entry.name}.md"})
        nav.append({display_names().get(algorithm, algorithm): section})
    return files, nav


__all__ = [
    "INDEX_STATEMENT_WIDTH",
    "STATUS_WORDS",
    "TOPICS",
    "TheoremEntry",
    "TheoremError",
    "_bound_arguments",
    "_cell",
    "_describe",
    "_short",
    "algorithm_of",
    "build",
    "collect",
    "display_names",
    "grouped",
    "load_recorded",
    "load_registry",
    "render_index",
    "render_page",
    "run_verify",
    "status_badge",
]
