"""Reliability: misbehaving audited code, fuzzed command lines, refused costly inputs.

1. Every implementation of `specproof.audit.misbehaving` (and every module that misbehaves at
   import) is audited by `specproof audit sampler --json` (in process, the implementation
   behind the process boundary; 40 samples per case, `--call-timeout 2`, `--import-timeout 2`,
   `--memory-limit 512`): the verdict, the exit code, whether stdout parsed as JSON, the reason,
   and the wall time.
2. `specproof.cli.strategies.argv` draws argument lists for every subcommand (derandomised,
   `--examples` per subcommand); handlers are stubbed (what reaches them is checked: no NaN,
   no infinity), and the exit codes and tracebacks are counted.
3. Inputs that used to hang or exhaust resources, with the exit code and the message now.
4. The public Python API fuzz cases of `tests/fuzz/test_api_fuzz.py` (its own entry points and
   bad values, imported, not copied; its hypothesis-drawn scalars are not included): every bad
   value of every argument, one at a time, through the test's own check; per entry point, the
   values tried, those refused with a `ValueError` or `TypeError` naming the argument within
   5 s, the others, and whether the unchanged valid call succeeds (the negative control).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from common import RESULTS, goal, records, table, write_results
from hypothesis import HealthCheck, given, settings

from specproof.audit.misbehaving import AT_IMPORT, CASES
from specproof.cli import exit_codes
from specproof.cli.main import build_parser, main
from specproof.cli.strategies import argv, leaf_parsers

TITLE = "Reliability: misbehaving code, fuzzed command lines, costly inputs, API fuzz"
LIMITS = ["--samples", "40", "--call-timeout", "2", "--import-timeout", "2"]
LIMITS += ["--memory-limit", "512"]
COSTLY = [
    ["dsi", "simulate", "--c", "0.9999999999", "--a", "0.5", "--k", "3"],
    ["dsi", "simulate", "--c", "0.5", "--a", "0.5", "--k", "100000000"],
    ["dsi", "simulate", "--c", "0.5", "--a", "0.5", "--k", "3", "--tokens", "100000000"],
    ["dsi", "online", "--c", "0.001", "--a", "0.5", "--k", "3", "--target-ms", "1"],
    ["dsi", "heatmap", "--steps", "100", "--tokens", "100000"],
    ["audit", "sampler", "my_sd:verify", "--tv", "1e-9"],
    ["verify", "--timeout", "1e-9"],
    ["audit", "generate", "my_sd:verify", "--temperature", "1e-30"],
]


def _run(words: list[str]) -> tuple[int, str, str, float]:
    out, err = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(words)
    return code, out.getvalue(), err.getvalue(), time.perf_counter() - start


def misbehaving_rows() -> list[list[Any]]:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, (source, _) in AT_IMPORT.items():
            Path(folder, f"{name}.py").write_text(source + "def verify(*args):\n    return [0]\n")
        here = os.getcwd()
        os.chdir(folder)
        try:
            specs = [(f"specproof.audit.misbehaving:{f}", words) for f, words in CASES]
            specs += [(f"{m}:verify", words) for m, (_, words) in AT_IMPORT.items()]
            for spec, words in specs:
                code, out, _, seconds = _run(["audit", "sampler", spec, "--json", *LIMITS])
                try:
                    data = json.loads(out)
                except json.JSONDecodeError:
                    rows.append([spec, "INVALID JSON", code, False, "", round(seconds, 2)])
                    continue
                errors = [c["error"] for c in data["configurations"] if c["error"]]
                reason = next((e for e in errors if words in e), errors[0] if errors else "")
                ok = data["verdict"] == "crashed" and code == 2 and words in reason
                rows.append(
                    [spec.split(":")[-1] if "misbehaving" in spec else spec, data["verdict"],
                     code, ok, reason[:120], round(seconds, 2)]
                )  # fmt: skip
        finally:
            os.chdir(here)
    return rows


def fuzz_command(command: str, parser: argparse.ArgumentParser, examples: int) -> list[Any]:
    """One row: examples, parsed, refused, other codes, tracebacks, non-finite accepted."""
    codes: Counter[int] = Counter()
    counts = {"tracebacks": 0, "non_finite": 0}

    def stub(args: argparse.Namespace) -> int:
        floats = [v for v in vars(args).values() if isinstance(v, float)]
        counts["non_finite"] += not all(math.isfinite(v) for v in floats)
        return 0

    original = argparse.ArgumentParser.set_defaults

    def set_defaults(self: argparse.ArgumentParser, **kwargs: Any) -> None:
        if "handler" in kwargs:
            kwargs["handler"] = stub
        original(self, **kwargs)

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(words=argv(command, parser))
    def fuzz(words: list[str]) -> None:
        code, _, err, _ = _run(words)
        codes[code] += 1
        counts["tracebacks"] += "Traceback" in err

    argparse.ArgumentParser.set_defaults = set_defaults  # type: ignore[method-assign]
    try:
        fuzz()
    finally:
        argparse.ArgumentParser.set_defaults = original  # type: ignore[method-assign]
    other = sum(n for c, n in codes.items() if c not in (0, exit_codes.USAGE))
    return [command, sum(codes.values()), codes[0], codes[exit_codes.USAGE], other,
            counts["tracebacks"], counts["non_finite"]]  # fmt: skip


def fuzz_rows(examples: int) -> list[list[Any]]:
    """`fuzz_command` for every subcommand (the stubs are installed by the fresh parser)."""
    return [
        fuzz_command(command, parser, examples)
        for command, parser in sorted(leaf_parsers(build_parser()).items())
    ]


def costly_rows() -> list[list[Any]]:
    rows = []
    for words in COSTLY:
        code, _, err, seconds = _run(words)
        message = err.strip().splitlines()[-1] if err.strip() else ""
        rows.append([" ".join(words), code, message[:140], round(seconds, 3)])
    return rows


API_TITLE = "Public API fuzz cases (tests/fuzz/test_api_fuzz.py)"
API_COLUMNS = [
    "group",
    "entry point",
    "bad values tried",
    "refused naming the argument",
    "not as required",
    "slowest refusal (ms)",
    "valid call succeeds",
    "first failure",
]


def _api_fuzz_module() -> Any:
    """`tests/fuzz/test_api_fuzz.py`, imported from the repository root."""
    root = str(Path(__file__).resolve().parents[1])
    if root not in sys.path:
        sys.path.insert(0, root)
    import tests.fuzz.test_api_fuzz as api_fuzz

    return api_fuzz


def api_fuzz_rows() -> list[list[Any]]:
    """One row per entry point of the API fuzz test: its bad values run through its own check."""
    api_fuzz = _api_fuzz_module()
    failure = (AssertionError, pytest.fail.Exception)
    rows = []
    for group in ("reference", "dsi", "audit", "engine"):
        for entry in api_fuzz._entries(group):
            try:
                entry.call(**entry.valid)
                valid = True
            except Exception:  # noqa: BLE001 - a broken valid call is what this column reports
                valid = False
            tried, refused, slowest, first = 0, 0, 0.0, ""
            for argument, values in entry.bad.items():
                for value in values:
                    tried += 1
                    start = time.monotonic()
                    try:
                        api_fuzz._check_refusal(entry, argument, value)
                    except failure as exc:
                        first = first or str(exc).splitlines()[0][:140]
                    else:
                        refused += 1
                        slowest = max(slowest, time.monotonic() - start)
            rows.append([group, entry.name, tried, refused, tried - refused,
                         round(slowest * 1000, 1), valid, first])  # fmt: skip
    return rows


def api_fuzz_table(rows: list[list[Any]]) -> dict[str, Any]:
    return table(
        API_TITLE,
        API_COLUMNS,
        rows,
        note="Each bad value must raise ValueError or TypeError naming its argument within "
        "5 s; the valid call is the negative control (the refusals are the bad values').",
    )


def api_fuzz_target(rows: list[list[Any]]) -> dict[str, Any]:
    return goal(
        "API bad values not refused naming their argument (or valid calls failing)",
        sum(r[4] + (not r[6]) for r in rows),
        "= 0",
        not any(r[4] or not r[6] for r in rows),
    )


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The run's headline and how it was measured, from the tables written (the page opens with it)."""
    bad = records(tables[0])
    ok = sum(bool(r["as required"]) for r in bad)
    fuzz = records(tables[1])
    total = sum(r["examples"] for r in fuzz)
    tb = sum(r["tracebacks"] for r in fuzz)
    costly = records(tables[2])
    refused = sum(r["exit code"] == 64 for r in costly)
    api = records(tables[3])
    api_tried = sum(r["bad values tried"] for r in api)
    api_refused = sum(r["refused naming the argument"] for r in api)
    return (
        f"{ok} of {len(bad)} misbehaving implementations end `crashed` (exit 2) with the reason, "
        f"{total:,} fuzzed command lines over {len(fuzz)} subcommands give {tb} tracebacks, "
        f"{refused} of {len(costly)} costly inputs are refused with a usage error (64), and "
        f"{api_refused:,} of {api_tried:,} bad values passed to {len(api)} public API entry "
        "points are refused with an error naming the argument. Measured by running the sampler "
        "audit on each implementation (40 samples per case), parsing derandomised generated "
        "argument lists with stubbed handlers, and calling each API entry point with each bad "
        "value of tests/fuzz/test_api_fuzz.py."
    )


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--examples", type=int, default=200, help="fuzz examples per subcommand")
    parser.add_argument(
        "--only-api",
        action="store_true",
        help="rerun only part 4 (API fuzz) and merge it into the committed results file, "
        "keeping its other tables (the description says so)",
    )
    args = parser.parse_args()
    api = api_fuzz_rows()
    if args.only_api:
        merge_api(api)
        return
    misbehaving = misbehaving_rows()
    fuzz = fuzz_rows(args.examples)
    costly = costly_rows()
    write_results(
        "reliability",
        TITLE,
        __doc__ or "",
        [
            table(
                "Misbehaving implementations (each must end `crashed`, exit 2, with the reason)",
                ["implementation", "verdict", "exit code", "as required", "reason", "seconds"],
                misbehaving,
            ),
            table(
                "Fuzzed command lines (handlers stubbed)",
                [
                    "command",
                    "examples",
                    "parsed (0)",
                    "refused (64)",
                    "other codes",
                    "tracebacks",
                    "non-finite reached a handler",
                ],
                fuzz,
                note="Every refusal names its flag (asserted by tests/cli/test_fuzz.py).",
            ),  # fmt: skip
            table(
                "Inputs that used to hang or exhaust resources",
                ["command", "exit code", "message", "seconds"],
                costly,
            ),
            api_fuzz_table(api),
        ],
        targets=[
            goal(
                "misbehaving implementations ending `crashed` with the reason",
                sum(r[3] for r in misbehaving),
                f"= {len(misbehaving)}",
                all(r[3] for r in misbehaving),
            ),
            goal(
                "fuzzed command lines with a traceback or a non-finite value accepted",
                sum(r[5] + r[6] for r in fuzz),
                "= 0",
                not any(r[5] or r[6] for r in fuzz),
            ),
            goal(
                "costly inputs refused with a usage error",
                sum(r[1] == exit_codes.USAGE for r in costly),
                f"= {len(costly)}",
                all(r[1] == exit_codes.USAGE for r in costly),
            ),
            api_fuzz_target(api),
        ],
        finding=finding,
    )


def merge_api(api: list[list[Any]]) -> None:
    """Write the committed results with part 4 replaced by `api` (parts 1-3 kept as they are)."""
    old = json.loads((RESULTS / "reliability.json").read_text())
    kept = [t for t in old["tables"] if t["title"] != API_TITLE][:3]
    targets = [t for t in old["targets"] if not t["name"].startswith("API ")]
    marker = "\n(Parts 1-3 are from the run of "
    # A file merged before keeps the date of the run its parts 1-3 came from.
    created = (
        old["description"].split(marker)[1].split(";")[0]
        if marker in old["description"]
        else old["created"]
    )
    note = (
        f"{marker}{created}; part 4 was run alone with `--only-api` and merged into that file.)\n"
    )
    write_results(
        "reliability",
        TITLE,
        (__doc__ or "") + note,
        [*kept, api_fuzz_table(api)],
        targets=[*targets, api_fuzz_target(api)],
        finding=finding,
    )


if __name__ == "__main__":
    main_bench()
