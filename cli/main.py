"""Entry point of the `specproof` command.

Each subcommand lives in its own module of this package (listed in `SUBCOMMANDS`) that defines
`add_parser(subparsers)`; the parser it adds sets `handler`, a function of the parsed arguments
returning the exit code. Modules are imported only when their subcommand runs, except for their
parsers, which import nothing heavy.

Whatever happens, the command ends with an exit code of
[`exit_codes.TABLE`][specproof.cli.exit_codes.TABLE] and, on failure, one line on stderr: a
bad argument exits `USAGE` (argparse's own 2 would read as the audit's `crashed`), a missing
optional dependency `MISSING_DEPENDENCY`, any other escaping exception `INTERNAL` (the
traceback only with `SPECPROOF_DEBUG=1`). A stdout closed by its reader (`... | head -1`) stops
the command quietly with `BROKEN_PIPE` (141, as a shell reports a process killed by SIGPIPE).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from . import exit_codes
from .exit_codes import CommandError, missing_dependency

#: Subcommand modules, in the order `specproof --help` lists them.
SUBCOMMANDS = ["verify", "generate", "audit", "dsi", "disco"]


class Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors exit with `exit_codes.USAGE`."""

    def error(self, message: str) -> NoReturn:
        """Print the usage and the message (naming the argument), exit `USAGE`."""
        self.print_usage(sys.stderr)
        self.exit(exit_codes.USAGE, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = Parser(
        prog="specproof",
        description="Ground truth for speculative decoding: proofs, exact laws, engine, audit.",
        epilog="Exit codes: docs/reference/exit-codes.md (0 success, 64 usage, 70 internal).",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"specproof.cli.{name}")
        module.add_parser(subparsers)
    return parser


def _fail(prog: str, message: str, code: int) -> int:
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `specproof` command; returns the exit code (one of `exit_codes.TABLE`).

    Output still buffered is flushed here, so that a reader that closed stdout is noticed while
    the exit code can still say so (and not by Python's shutdown, which would print a warning).
    """
    try:
        code = _run(argv)
        sys.stdout.flush()
    except BrokenPipeError:
        return _stdout_closed()
    return code


def _stdout_closed() -> int:
    """Stop quietly: nothing more can reach the reader, and the shutdown flush must not complain."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout without a file descriptor (captured in a test)
        pass
    return exit_codes.BROKEN_PIPE


def _run(argv: Sequence[str] | None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (USAGE)
        return exc.code if isinstance(exc.code, int) else exit_codes.USAGE
    prog = f"specproof {args.command}"
    try:
        return int(args.handler(args))
    except BrokenPipeError:
        raise  # main stops quietly
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return exit_codes.INTERRUPTED
    except CommandError as exc:
        return _fail(prog, str(exc), exc.code)
    except ModuleNotFoundError as exc:
        error = missing_dependency(exc)
        if error is not None:
            return _fail(prog, str(error), error.code)
        return _internal(prog, exc)
    except BaseException as exc:  # noqa: BLE001 - nothing may escape as a traceback or verdict
        return _internal(prog, exc)


def _internal(prog: str, exc: BaseException) -> int:
    if os.environ.get("SPECPROOF_DEBUG"):
        traceback.print_exception(exc)
    return _fail(
        prog,
        f"internal error: {type(exc).__name__}: {exc} (a bug in specproof; "
        "SPECPROOF_DEBUG=1 shows the traceback)",
        exit_codes.INTERNAL,
    )


if __name__ == "__main__":
    sys.exit(main())
