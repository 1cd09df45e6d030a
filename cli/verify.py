"""`specproof verify`: run the theorem registry and report every claim."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import exit_codes
from .exit_codes import CommandError
from .flags import add_integer, add_json, add_number, add_seed
from .output import format_table, print_json, progress

STATEMENT_WIDTH = 60
"""The table shows a statement's first sentence cut to this many characters."""


def add_parser(subparsers: Any) -> None:
    """Add the `verify` subcommand."""
    parser = subparsers.add_parser(
        "verify",
        help="run the proof-check suite (every registered claim)",
        description=(
            "Run every registered claim and print a table (name, method, status, time, scope: "
            "which instances the status covers, and the statement's first sentence). "
            "Statuses: proved, checked (exact on every listed instance), measured (an "
            "experiment's stated thresholds held; the certificate holds the numbers and seeds), "
            "refuted, unknown. "
            "Exit code 1 if any claim is refuted, 4 if any is unknown or its check failed to "
            "run (docs/reference/exit-codes.md)."
        ),
    )
    parser.add_argument(
        "--only", metavar="PATTERN", help="claims whose name or method contains PATTERN"
    )
    parser.add_argument("--thorough", action="store_true", help="longer checks and proofs")
    add_json(parser, "print the results as JSON")
    add_seed(parser, "seed for generated instances")
    add_number(
        parser,
        "--timeout",
        1,
        86400,
        "per-solver-call timeout, in [1, 86400] (default 30)",
        default=30.0,
        metavar="SECONDS",
    )
    add_integer(
        parser,
        "--jobs",
        1,
        1024,
        "how many claims are checked at once, each in its own process, in [1, 1024] (default: "
        "one per core this process may use, capped by a cgroup CPU limit as in a container; 1: "
        "one after another in this process). The "
        "statuses do not depend on it; with N > 1 each claim starts in a fresh process, so "
        "z3's witnesses and unsat cores are those it gives checked alone",
        metavar="N",
    )
    parser.add_argument("--list", action="store_true", help="list the selected claims, run nothing")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Run the selected claims."""
    from specproof.proofs.registry import (
        STATUSES,
        CheckOptions,
        default_registry,
        first_sentence,
        run_claims,
    )

    claims = default_registry().select(args.only, thorough=args.thorough)
    if not claims:
        raise CommandError(f"--only: no claim matches {args.only!r}", exit_codes.USAGE)
    if args.list:
        if args.json:
            print_json(
                [
                    {
                        "name": c.name,
                        "statement": c.statement,
                        "method": c.method,
                        "scope": c.scope,
                        "thorough_only": c.thorough_only,
                    }
                    for c in claims
                ]
            )
        else:
            rows = [
                (
                    c.name + (" (thorough)" if c.thorough_only else ""),
                    c.method,
                    c.scope,
                    first_sentence(c.statement, STATEMENT_WIDTH),
                )
                for c in claims
            ]
            print(format_table(["name", "method", "scope", "statement"], rows))
        return 0
    options = CheckOptions(thorough=args.thorough, seed=args.seed, timeout_s=args.timeout)
    jobs = default_jobs() if args.jobs is None else args.jobs
    started = time.perf_counter()
    if sys.stderr.isatty():
        with progress(len(claims), "verify") as bar:

            def start(claim: Any) -> None:
                bar.set_postfix_str(claim.name)

            def advance(result: Any) -> None:
                if jobs > 1:  # no start is seen: name the claim that finished
                    bar.set_postfix_str(result.name)
                bar.update(1)

            results = run_claims(claims, options, on_result=advance, on_start=start, jobs=jobs)
    else:
        results = run_claims(claims, options, jobs=jobs, **progress_lines(len(claims)))
    wall = time.perf_counter() - started
    if args.json:
        print_json([r.to_json() for r in results])
    else:
        rows = [
            (
                r.name,
                r.method,
                r.status,
                f"{r.seconds:.2f}s",
                r.scope,
                first_sentence(r.statement, STATEMENT_WIDTH),
            )
            for r in results
        ]
        print(format_table(["name", "method", "status", "time", "scope", "statement"], rows))
        counts = {s: sum(r.status == s for r in results) for s in STATUSES}
        print(
            f"\n{len(results)} claims in {summary_time(wall, results, jobs)}: "
            + ", ".join(f"{v} {k}" for k, v in counts.items())
        )
        for r in results:
            if r.status == "refuted":
                print(f"\nREFUTED {r.name}: {r.statement}\ncounterexample:")
                print(json.dumps(r.certificate.get("counterexample"), indent=2, default=str))
            elif r.status == "measured":
                print(
                    f"\nMEASURED {r.name} (an experiment, not a proof): "
                    f"measurement {_brief(r.certificate.get('measurement'))}; "
                    f"thresholds {_brief(r.certificate.get('thresholds'))}; "
                    f"{len(r.certificate.get('seeds', []))} seeds"
                )
            elif "error" in r.certificate:
                print(f"\nERROR in {r.name}: {r.certificate['error']}")
    if any(r.status == "refuted" for r in results):
        return exit_codes.FAILED
    if any(r.status == "unknown" or "error" in r.certificate for r in results):
        return exit_codes.UNDECIDED
    return exit_codes.OK


def summary_time(wall: float, results: Sequence[Any], jobs: int) -> str:
    """The table's closing time: the command's wall time, and the checks' summed time too.

    With several processes the per-claim `time` column adds up to the summed time, not to the
    wall time, so both are shown.
    """
    if jobs == 1 or len(results) <= 1:
        return f"{wall:.1f}s"
    checks = sum(r.seconds for r in results)
    return f"{wall:.1f}s ({checks:.1f}s of checks in up to {min(jobs, len(results))} processes)"


def default_jobs(root: Path = Path("/")) -> int:
    """`--jobs` when it is not given: the number of cores this process may use.

    That is the cores it may run on (its CPU affinity), capped by a cgroup CPU limit if one
    applies (a container started with `--cpus 2` on a 64-core host sees 64 cores but gets the
    time of 2: 64 checks at once would share it, and a solver's wall-clock `--timeout` would
    expire on work it had no CPU time to do).

    Args:
        root: where `/proc` and `/sys/fs/cgroup` are (a test passes a folder of its own).
    """
    if hasattr(os, "sched_getaffinity"):
        cores = len(os.sched_getaffinity(0))
    else:
        cores = os.cpu_count() or 1
    quota = cgroup_cpu_limit(root)
    if quota is not None:
        cores = min(cores, quota)
    return max(1, cores)


def cgroup_cpu_limit(root: Path = Path("/")) -> int | None:
    """The CPU limit of this process's cgroup and its ancestors, in whole cores rounded up.

    cgroup v2 writes the limit in `cpu.max` (`QUOTA PERIOD`, or `max PERIOD` for none); v1 in
    `cpu.cfs_quota_us` (`-1` for none) and `cpu.cfs_period_us`. The cgroup's own folder (from
    `/proc/self/cgroup`) and every folder above it up to the mount are read, and the smallest
    limit wins; in a container the folders outside it are not there, and its own limit is at
    the mount. None when no limit is set or nothing can be read: an unreadable or malformed file
    is passed over (the limit only caps a default).

    Args:
        root: where `/proc` and `/sys/fs/cgroup` are.
    """
    try:
        lines = (root / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    mount = root / "sys/fs/cgroup"
    places: list[tuple[Path, str, str | None]] = []  # (folder, file, period file for v1)
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        relative = path.strip().lstrip("/")
        if controllers == "":
            places += [(d, "cpu.max", None) for d in _folders_up(mount, relative)]
        elif "cpu" in controllers.split(","):
            for name in ("cpu", "cpu,cpuacct", "cpuacct,cpu"):
                if (mount / name).is_dir():
                    places += [
                        (d, "cpu.cfs_quota_us", "cpu.cfs_period_us")
                        for d in _folders_up(mount / name, relative)
                    ]
                    break
    limits = [limit for place in places if (limit := _read_limit(*place)) is not None]
    return min(limits) if limits else None


def _folders_up(mount: Path, relative: str) -> list[Path]:
    """`mount/relative` and every folder above it up to `mount` itself."""
    parts = [part for part in relative.split("/") if part and part != ".."]
    return [mount.joinpath(*parts[:end]) for end in range(len(parts), -1, -1)]


def _read_limit(folder: Path, name: str, period_name: str | None) -> int | None:
    """Whole cores (rounded up) of one cgroup's limit; None if unset, absent or unreadable."""
    try:
        if period_name is None:
            quota_text, period_text = (folder / name).read_text().split()
        else:
            quota_text = (folder / name).read_text().strip()
            period_text = (folder / period_name).read_text().strip()
        quota, period = int(quota_text), int(period_text)
    except (OSError, ValueError):  # also "max" (v2's no limit)
        return None
    if quota <= 0 or period <= 0:  # also -1 (v1's no limit)
        return None
    return max(1, -(-quota // period))


def progress_lines(total: int) -> dict[str, Any]:
    """`on_start` / `on_result` callbacks that log each claim on stderr, one line per claim.

    For a stderr that is not a terminal (`make verify` in CI, the docs build, a pipe), where no
    progress bar is drawn: `verify [3/22] sd_lossless ... checked (2.80s)`. A claim checked in
    this process (`--jobs 1`) has its name written (and flushed) before it runs, so a long check
    shows what it is doing; one checked in a worker process is seen here only when it finishes,
    and its line is written whole then (`[3/22]` then counts finished claims). Nothing goes to
    stdout, so `--json` stays valid.
    """
    done = [0]
    started: list[str] = []

    def start(claim: Any) -> None:
        done[0] += 1
        started.append(claim.name)
        sys.stderr.write(f"verify [{done[0]}/{total}] {claim.name} ... ")
        sys.stderr.flush()

    def finish(result: Any) -> None:
        if result.name not in started:
            done[0] += 1
            sys.stderr.write(f"verify [{done[0]}/{total}] {result.name} ... ")
        sys.stderr.write(f"{result.status} ({result.seconds:.2f}s)\n")
        sys.stderr.flush()

    return {"on_start": start, "on_result": finish}


def _brief(value: Any, limit: int = 400) -> str:
    """A JSON rendering of `value`, cut to `limit` characters."""
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
