"""Shared pieces of the `specproof audit` subcommands: exit codes, argument types, output."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from . import exit_codes
from .output import format_table, print_json, progress

if TYPE_CHECKING:
    from specproof.audit.settings import Statistics

EXIT_CODES = {
    "consistent": exit_codes.OK,
    "not-lossless": exit_codes.FAILED,
    "crashed": exit_codes.CRASHED,
    "inconclusive": exit_codes.INCONCLUSIVE,
}
#: Largest sample count a flag accepts (beyond it an audit would run for days).
MAX_SAMPLES = 10_000_000
#: Largest --max-new-tokens (the exact law is enumerated prefix by prefix).
MAX_NEW_TOKENS = 64


def positive_int(text: str) -> int:
    """An argparse type: an int in [1, MAX_SAMPLES]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if not 1 <= value <= MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"expected an integer in [1, {MAX_SAMPLES}], got {value}")
    return value


def function_spec(text: str) -> str:
    """An argparse type: `MODULE:FUNCTION` (imported later, in the audited process)."""
    module_name, sep, attr = text.partition(":")
    names = [*module_name.split("."), *attr.split(".")]
    if not sep or not all(n.isidentifier() for n in names):
        raise argparse.ArgumentTypeError(f"expected MODULE:FUNCTION, got {text!r}")
    return text


def crashed(name: str, exc: BaseException, args: argparse.Namespace) -> Any:
    """An audit of one `crashed` configuration named `name`, with `exc` as its reason."""
    from specproof.audit.boundary import ImplementationCrashed
    from specproof.audit.core import Configuration, decide

    reason = str(exc) if isinstance(exc, ImplementationCrashed) else f"{type(exc).__name__}: {exc}"
    config = Configuration(name=name, error=reason)
    return decide([config], args.alpha, args.tv, args.power)


def finish(audit: Any, args: argparse.Namespace, title: str) -> int:
    """Write the report, print the audit (table or `--json`) and return its exit code."""
    from specproof.audit.report import (
        HEADERS,
        has_matplotlib,
        table_rows,
        timing_lines,
        write_report,
    )

    if args.report:
        if not has_matplotlib():
            print(
                "note: plots need matplotlib (pip install 'specproof[engine]'); "
                "report written without them",
                file=sys.stderr,
            )
        path = write_report(audit, args.report, title)
        print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print_json(audit.to_json())
    else:
        print(format_table(HEADERS, table_rows(audit)))
        times = timing_lines(audit)
        if times:
            print("\n" + "\n".join(times))
        print(f"\nverdict: {audit.verdict}")
    if audit.verdict == "inconclusive":
        print(rerun_hint(audit), file=sys.stderr)
    return EXIT_CODES[audit.verdict]


def rerun_hint(audit: Any) -> str:
    """What to rerun after an `inconclusive` audit: the `--samples` that would reach a verdict."""
    stuck = [c for c in audit.configurations if c.verdict == "inconclusive"]
    counts = [c.suggested_samples for c in stuck]
    if stuck and all(n is not None for n in counts):
        return (
            f"inconclusive: rerun with --samples {max(counts)} (the most that an inconclusive "
            "configuration needs at the observed path rates, with headroom), or a larger --tv"
        )
    return (
        "inconclusive: more samples alone will not reach a verdict for "
        + ", ".join(c.name for c, n in zip(stuck, counts, strict=True) if n is None)
        + " (see its reason in the table: a path never reached needs another drafting regime)"
    )


def statistics(args: argparse.Namespace) -> Statistics:
    """The statistical keyword arguments of the audit functions, from the shared flags.

    The generation-level functions declare them as
    [`Statistics`][specproof.audit.settings.Statistics].

    Args:
        args: parsed flags with `--alpha`, `--tv`, `--power`, `--test` and `--seed`.
    """
    return {
        "alpha": args.alpha,
        "tv": args.tv,
        "power": args.power,
        "test": args.test,
        "seed": args.seed,
    }


def progress_bar(args: argparse.Namespace, description: str, total: int | None = None) -> Any:
    """A progress bar on stderr (off when stderr is not a terminal)."""
    return progress(total or 0, description)


def isolated_function(
    args: argparse.Namespace, spec: str, env: dict[str, str] | None = None
) -> Any:
    """The audited function behind the process boundary, with the CLI's limits."""
    from specproof.audit.boundary import IsolatedFunction

    return IsolatedFunction(
        spec,
        python=args.python,
        call_timeout=args.call_timeout,
        start_timeout=args.import_timeout,
        memory_bytes=args.memory_limit << 20,
        env=env,
    )
