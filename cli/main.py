"""Entry point of the `specproof` command.

Each subcommand lives in its own module of this package (listed in `SUBCOMMANDS`) that defines
`add_parser(subparsers)`; the parser it adds sets `handler`, a function of the parsed arguments
returning the exit code. Modules are imported only when their subcommand runs, except for their
parsers, which import nothing heavy.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Subcommand modules, in the order `specproof --help` lists them.
SUBCOMMANDS = ["verify", "generate", "audit", "dsi"]


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser."""
    parser = argparse.ArgumentParser(
        prog="specproof",
        description="Ground truth for speculative decoding: proofs, exact laws, engine, audit.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"specproof.cli.{name}")
        module.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `specproof` command; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
