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


def test_main_turns_a_missing_dependency_into_its_code(monkeypatch, capsys):
    import specproof.cli.audit as audit_cli
    from specproof.cli.main import main

    def needs_torch(args):
        raise ModuleNotFoundError("No module named 'torch'", name="torch")

    monkeypatch.setattr(audit_cli, "run_controls", needs_torch)
    assert main(["audit", "controls"]) == exit_codes.MISSING_DEPENDENCY
    err = capsys.readouterr().err
    assert "specproof[engine]" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_json_output_is_strict_even_with_non_finite_numbers(capsys):
    import json

    from specproof.cli.output import print_json

    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")

    print_json({"p": float("nan"), "rows": [float("inf"), 1.5]})
    out = capsys.readouterr().out
    assert json.loads(out, parse_constant=refuse) == {"p": None, "rows": [None, 1.5]}


def test_a_report_without_matplotlib_is_written_without_plots(tmp_path, monkeypatch):
    from specproof.audit import report
    from specproof.audit.core import Configuration, decide

    monkeypatch.setattr(report, "has_matplotlib", lambda: False)
    audit = decide([Configuration(name="c", error="boom")], 1e-6)
    text = report.write_report(audit, tmp_path, "title").read_text()
    assert "No plots: they need matplotlib" in text and "boom" in text
