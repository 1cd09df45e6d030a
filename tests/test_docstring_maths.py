"""Inline maths in docstrings renders on the API pages (no raw TeX on the site).

The docs render docstrings as Markdown with pymdownx.arithmatex, where inline `$...$` maths
must not start or end with a space, and a wrapped line inside it must not start with `+ `,
`- `, `* ` or `1. ` (Markdown reads that as a list item and the maths is cut in two). Both
showed as raw TeX on the API pages; this test reads every docstring of the source folders.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("reference", "proofs", "engine", "audit", "dsi", "experiments", "cli")
LIST_START = re.compile(r"^\s*(?:[-+*]|\d+\.)\s")


def maths_problems(doc: str) -> list[str]:
    """What in `doc` would show as raw TeX: bad inline-maths boundaries, list-like wraps."""
    problems = []
    text = re.sub(r"\$\$.*?\$\$", "", doc, flags=re.S)  # display maths is free-form
    text = re.sub(r"`[^`]*`", "", text)  # code spans hold no maths
    parts = text.split("$")
    for segment in parts[1::2]:
        if segment != segment.strip():
            problems.append(f"inline maths with a space inside its `$`: ${segment}$")
        for line in segment.splitlines()[1:]:
            if LIST_START.match(line):
                problems.append(f"a wrapped maths line reads as a list item: {line.strip()!r}")
    return problems


def _docstrings() -> list[tuple[str, str]]:
    found = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(
                    node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
                ):
                    doc = ast.get_docstring(node, clean=True)
                    if doc and "$" in doc:
                        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 1)}"
                        found.append((where, doc))
    return found


def test_every_docstrings_inline_maths_renders() -> None:
    problems = [f"{where}: {p}" for where, doc in _docstrings() for p in maths_problems(doc)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "doc",
    [
        "evaluated exactly at $p = q = $ uniform",  # space before the closing `$`
        "each from $q = $ [`probs`][x]$(\\text{logits})$",
        "tokens: $\\psi = q(a) + q(b)\n  + q(c)$. It counts",  # a wrap reads as a list item
    ],
)
def test_the_check_flags_what_showed_as_raw_tex(doc: str) -> None:
    assert maths_problems(doc)


def test_the_check_passes_well_formed_maths() -> None:
    assert not maths_problems("with $p$ and $q$ uniform, $\\sum_x q(x) +\n  q(y)$ and $$ a + b $$")
