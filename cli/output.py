"""Shared output helpers for the subcommands: JSON, tables, progress bars."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def print_json(data: Any) -> None:
    """Print `data` as indented, strictly valid JSON on stdout (NaN and infinities become null)."""
    json.dump(finite(data), sys.stdout, indent=2, default=str, allow_nan=False)
    sys.stdout.write("\n")


def finite(data: Any) -> Any:
    """`data` with every NaN or infinite float replaced by None (JSON has no such numbers)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [finite(v) for v in data]
    return data


def format_cell(value: Any, missing: str = "-") -> str:
    """A table cell: a float to 4 significant digits, None as `missing`, anything else as `str`.

    Args:
        value: the value.
        missing: what None shows as.
    """
    if value is None:
        return missing
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table with left-aligned columns."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths).rstrip())
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
