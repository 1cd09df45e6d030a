"""Shared output helpers for the subcommands: JSON, tables, progress bars."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def print_json(data: Any) -> None:
    """Print `data` as indented JSON on stdout."""
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table with left-aligned columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def progress(total: int, description: str, enabled: bool = True) -> Any:
    """A tqdm progress bar on stderr (disabled when stderr is not a terminal or not `enabled`)."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=description,
        file=sys.stderr,
        disable=not enabled or not sys.stderr.isatty(),
        leave=False,
    )
