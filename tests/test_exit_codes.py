"""The exit-code table: the docs page shows exactly `specproof.cli.exit_codes.TABLE`, codes are
distinct, and no failure code is an outcome code (0-9)."""

from __future__ import annotations

from pathlib import Path

from specproof.cli import exit_codes

PAGE = Path(__file__).resolve().parents[1] / "docs" / "reference" / "exit-codes.md"


def _page_rows() -> list[tuple[int, str, str, str]]:
    text = PAGE.read_text()
    table = text.split("exit-code-table: start")[1].split("<!-- exit-code-table: end")[0]
    rows = []
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].isdigit():
            rows.append((int(cells[0]), cells[1].strip("`"), cells[2], cells[3]))
    return rows


def test_the_docs_page_shows_the_table():
    expected = [(e.code, e.name, e.commands, e.meaning) for e in exit_codes.TABLE]
    assert _page_rows() == expected


def test_codes_are_distinct_and_failures_never_read_as_outcomes():
    codes = [e.code for e in exit_codes.TABLE]
    assert len(set(codes)) == len(codes)
    for e in exit_codes.TABLE:
        assert getattr(exit_codes, e.name) == e.code
        outcome = e.name in ("OK", "FAILED", "CRASHED", "INCONCLUSIVE", "UNDECIDED")
        assert (e.code <= 9) == outcome


def test_a_missing_optional_dependency_names_its_extra():
    error = exit_codes.missing_dependency(ModuleNotFoundError("x", name="matplotlib.pyplot"))
    assert error is not None and error.code == exit_codes.MISSING_DEPENDENCY
    assert "specproof[engine]" in str(error)
    assert exit_codes.missing_dependency(ModuleNotFoundError("x", name="my_module")) is None
