"""Argument checks shared by the subcommands: bounded argparse types and output-path checks.

Every type names its flag and states the bound it enforces, so a bad value is refused at parse
time (exit `USAGE`) instead of failing, hanging or exhausting memory later.
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .exit_codes import BAD_INPUT, CANNOT_WRITE, CommandError

#: Seeds are non-negative and below 2**63 (what numpy and torch both accept).
MAX_SEED = 2**63 - 1


def number(
    flag: str,
    low: float,
    high: float,
    low_open: bool = False,
    high_open: bool = False,
) -> Callable[[str], float]:
    """An argparse type: a finite number in the interval from `low` to `high`.

    Args:
        flag: the flag's name, for the message.
        low: the lower bound.
        high: the upper bound.
        low_open: exclude `low`.
        high_open: exclude `high`.
    """
    interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be a number, got {text!r}") from None
        inside = (
            math.isfinite(value)
            and (low < value if low_open else low <= value)
            and (value < high if high_open else value <= high)
        )
        if not inside:
            raise argparse.ArgumentTypeError(f"{flag} must lie in {interval}, got {text}")
        return value

    return parse


def integer(flag: str, low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in `[low, high]`.

    Args:
        flag: the flag's name, for the message.
        low: the smallest value.
        high: the largest value.
    """

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag} must be an integer, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{flag} must lie in [{low}, {high}], got {value}")
        return value

    return parse


def seed(flag: str = "--seed") -> Callable[[str], int]:
    """An argparse type: a seed in `[0, 2**63 - 1]`.

    Args:
        flag: the flag's name, for the message.
    """
    return integer(flag, 0, MAX_SEED)


def non_empty(flag: str) -> Callable[[str], str]:
    """An argparse type: a non-empty string.

    Args:
        flag: the flag's name, for the message.
    """

    def parse(text: str) -> str:
        if not text:
            raise argparse.ArgumentTypeError(f"{flag} must not be empty")
        return text

    return parse


def interpreter(text: str) -> str:
    """An argparse type for `--python`: an executable file."""
    path = Path(text)
    if not path.is_file() or not os.access(path, os.X_OK):
        raise argparse.ArgumentTypeError(f"--python must be an executable file, got {text!r}")
    return str(path)


def writable_dir(flag: str, path: str | Path | None) -> Path | None:
    """Create the output folder `path` now (before the long work) or fail naming `flag`.

    Args:
        flag: the flag's name, for the message.
        path: the folder (None: nothing to check).

    Raises:
        CommandError: `CANNOT_WRITE` if it is a file, or cannot be created or written.
    """
    if path is None:
        return None
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise CommandError(f"{flag} {str(out)!r} is a file, not a folder", CANNOT_WRITE) from None
    except OSError as exc:
        raise CommandError(f"{flag} {str(out)!r} cannot be created: {exc}", CANNOT_WRITE) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise CommandError(f"{flag} {str(out)!r} is not writable", CANNOT_WRITE)
    return out


def load_model_arg(flag: str, name: str, **kwargs: Any) -> Any:
    """`specproof.engine.models.load_model(name)`, or a `BAD_INPUT` error naming `flag`.

    Args:
        flag: the flag's name, for the message.
        name: the model name.
        **kwargs: passed to `load_model`.

    Raises:
        CommandError: `BAD_INPUT` if the name is unknown or the model cannot be loaded.
    """
    from specproof.engine.models import load_model

    try:
        return load_model(name, **kwargs)
    except (ValueError, OSError, KeyError) as exc:
        raise CommandError(f"{flag} {name!r}: {exc}", BAD_INPUT) from None
