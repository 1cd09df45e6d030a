"""Parser pieces that several commands share, declared once.

Flags with the same name, check, default and help; bounded flags that name their flag once (the
check's messages name it too); a command made of actions.
"""

from __future__ import annotations

from typing import Any

from .checks import integer, number, seed


def add_integer(parser: Any, flag: str, low: int, high: int, text: str, **options: Any) -> None:
    """`flag`: an integer in `[low, high]`, refused at parse time otherwise.

    Args:
        parser: the (sub)command's parser.
        flag: the flag, e.g. `--max-k`.
        low: the smallest value.
        high: the largest value.
        text: the flag's `--help` text.
        **options: more `add_argument` options (`default`, `metavar`, `required`).
    """
    parser.add_argument(flag, type=integer(flag, low, high), help=text, **options)


def add_number(parser: Any, flag: str, low: float, high: float, text: str, **options: Any) -> None:
    """`flag`: a finite number in the interval from `low` to `high`, refused at parse time otherwise.

    Args:
        parser: the (sub)command's parser.
        flag: the flag, e.g. `--cost`.
        low: the lower bound.
        high: the upper bound.
        text: the flag's `--help` text.
        **options: `low_open=True` / `high_open=True` exclude that bound (as in
            `checks.number`); the others go to `add_argument` (`default`, `metavar`, `required`).
    """
    ends = {end: options.pop(end) for end in ("low_open", "high_open") if end in options}
    parser.add_argument(flag, type=number(flag, low, high, **ends), help=text, **options)


def add_seed(parser: Any, text: str, default: int = 0) -> None:
    """`--seed` in `[0, 2**63 - 1]`.

    Args:
        parser: the (sub)command's parser.
        text: what the seed seeds (the `--help` text).
        default: the seed when the flag is absent.
    """
    parser.add_argument("--seed", type=seed(), default=default, help=text)


def add_json(parser: Any, text: str) -> None:
    """`--json`: print the command's result as JSON instead of a table.

    Args:
        parser: the (sub)command's parser.
        text: what is printed (the `--help` text).
    """
    parser.add_argument("--json", action="store_true", help=text)


def add_temperature(parser: Any, default: float | None) -> None:
    """`--temperature` in [0.01, 100].

    Args:
        parser: the (sub)command's parser.
        default: the value when the flag is absent (None: the command's own default applies).
    """
    shown = "" if default is None else f" (default {default})"
    add_number(parser, "--temperature", 0.01, 100, f"in [0.01, 100]{shown}", default=default)


def add_top_k_top_p(parser: Any) -> None:
    """`--top-k` (>= 1) and `--top-p` (in (0, 1]), both off by default.

    Args:
        parser: the (sub)command's parser.
    """
    add_integer(parser, "--top-k", 1, 2**31 - 1, "keep the k most likely tokens (>= 1)")
    add_number(parser, "--top-p", 0, 1, "nucleus mass in (0, 1]", low_open=True)


def add_threads(parser: Any) -> None:
    """`--threads`: torch's CPU threads, 1..1024 (default: torch's own choice).

    Args:
        parser: the (sub)command's parser.
    """
    add_integer(parser, "--threads", 1, 1024, "torch CPU threads")


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
