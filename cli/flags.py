"""Parser pieces that several commands share, declared once.

Flags with the same name, check, default and help; a command made of actions.
"""

from __future__ import annotations

from typing import Any

from .checks import integer, number


def add_temperature(parser: Any, default: float | None) -> None:
    """`--temperature` in [0.01, 100].

    Args:
        parser: the (sub)command's parser.
        default: the value when the flag is absent (None: the command's own default applies).
    """
    shown = "" if default is None else f" (default {default})"
    parser.add_argument(
        "--temperature",
        type=number("--temperature", 0.01, 100),
        default=default,
        help=f"in [0.01, 100]{shown}",
    )


def add_top_k_top_p(parser: Any) -> None:
    """`--top-k` (>= 1) and `--top-p` (in (0, 1]), both off by default.

    Args:
        parser: the (sub)command's parser.
    """
    parser.add_argument(
        "--top-k",
        type=integer("--top-k", 1, 2**31 - 1),
        default=None,
        help="keep the k most likely tokens (>= 1)",
    )
    parser.add_argument(
        "--top-p",
        type=number("--top-p", 0, 1, low_open=True),
        default=None,
        help="nucleus mass in (0, 1]",
    )


def add_threads(parser: Any) -> None:
    """`--threads`: torch's CPU threads, 1..1024 (default: torch's own choice).

    Args:
        parser: the (sub)command's parser.
    """
    parser.add_argument(
        "--threads", type=integer("--threads", 1, 1024), default=None, help="torch CPU threads"
    )


def add_action_command(subparsers: Any, name: str, summary: str, doc: str | None) -> Any:
    """Add command `name` made of actions (`specproof NAME ACTION ...`); return its subparsers.

    Args:
        subparsers: the top-level parser's subparsers.
        name: the command; the chosen action is `args.NAME_command`.
        summary: the one-line help in `specproof --help`.
        doc: the command module's docstring; its first paragraph is the description.
    """
    parser = subparsers.add_parser(
        name, help=summary, description=doc.split("\n\n")[0] if doc else None
    )
    return parser.add_subparsers(dest=f"{name}_command", metavar="ACTION", required=True)
