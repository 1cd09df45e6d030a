"""Every code example in docs/ runs.

- `python` blocks run in order, one shared namespace per page (a page reads as one session).
- `console` blocks run each `$ ` command through bash from the project root, with the
  project's `.venv/bin` first on PATH; the command must exit 0 (or N, under a
  `<!-- docs-test: exit N -->` comment: a documented failure). Under a
  `<!-- docs-test: output -->` comment, the output shown must equal the command's output.
- A `<!-- docs-test: skip REASON -->` comment just above a block skips it (the reason is
  reported); used for commands that install things or take minutes.
- Other languages (`text`, `json`, `yaml`, `toml`) are not code to run; any other language
  fails, so that an example cannot escape by a typo in its fence.
"""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from .support import BIN, ROOT, Block, blocks, console_commands, console_output, pages

PYTHON = {"python", "py"}
CONSOLE = {"console"}
NOT_RUN = {"text", "json", "yaml", "toml", ""}


def run_python_page(page: Path) -> int:
    """Run the page's python blocks in order; return how many ran. Raises on the first failure."""
    namespace: dict[str, object] = {"__name__": "__docs__"}
    ran = 0
    for block in blocks(page):
        if block.language not in PYTHON:
            continue
        if block.marker.startswith("skip"):
            continue
        if "torch" in block.code:
            import torch

            torch.set_num_threads(1)
        try:
            exec(compile(block.code, block.where, "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"the python example at {block.where} failed: {exc!r}") from exc
        ran += 1
    return ran


def run_console_block(block: Block) -> None:
    """Run a console block's commands; check exit codes (and the output, if marked)."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "100"}
    outputs = []
    expected = int(block.marker.split()[1]) if block.marker.startswith("exit ") else 0
    for command in console_commands(block):
        proc = subprocess.run(
            ["bash", "-c", command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
        )
        assert proc.returncode == expected, (
            f"`{command}` at {block.where} exited {proc.returncode}, not {expected}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
        )
        # A documented failure is one clear message, never a crash that happens to exit N.
        assert "Traceback (most recent call last)" not in proc.stdout + proc.stderr, (
            f"`{command}` at {block.where} printed a traceback:\n{proc.stderr[-2000:]}"
        )
        outputs.append(proc.stdout.strip())
    if block.marker == "output":
        assert "\n".join(outputs) == console_output(block), (
            f"the output shown at {block.where} is not what the command prints"
        )


def _all_blocks() -> list[Block]:
    return [b for page in pages() for b in blocks(page)]


# A page whose every Python block is marked skip (e.g. a findings reproducer that needs the
# audited library's own environment) has nothing to run.
PYTHON_PAGES = [
    p
    for p in pages()
    if any(b.language in PYTHON and not b.marker.startswith("skip") for b in blocks(p))
]
CONSOLE_BLOCKS = [b for b in _all_blocks() if b.language in CONSOLE]


@pytest.mark.slow
@pytest.mark.parametrize("page", PYTHON_PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_python_examples_run(page: Path) -> None:
    assert run_python_page(page) > 0


@pytest.mark.slow
@pytest.mark.parametrize("block", CONSOLE_BLOCKS, ids=lambda b: b.where)
def test_console_examples_run(block: Block) -> None:
    if block.marker.startswith("skip"):
        pytest.skip(f"{block.where}: {block.marker}")
    assert console_commands(block), f"console block at {block.where} has no `$ ` command"
    run_console_block(block)


def test_every_block_has_a_known_language() -> None:
    unknown = [
        f"{b.where} ({b.language!r})"
        for b in _all_blocks()
        if b.language not in PYTHON | CONSOLE | NOT_RUN
    ]
    assert not unknown, f"code blocks in a language the docs tests do not know: {unknown}"


def test_the_examples_are_found() -> None:
    """Guard against collecting nothing: the tutorial and getting started have examples."""
    tutorial = ROOT / "docs" / "tutorials" / "first-exact-law.md"
    assert sum(b.language in PYTHON for b in blocks(tutorial)) >= 8
    assert any(b.page.name == "getting-started.md" for b in CONSOLE_BLOCKS)


def test_a_failing_python_example_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        textwrap.dedent(
            """\
            # Page

            ```python
            x = 1
            ```

            ```python
            assert x == 2
            ```
            """
        )
    )
    with pytest.raises(AssertionError, match=r"page.md:7"):
        run_python_page(page)


def test_a_failing_console_example_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Page\n\n```console\n$ specproof no-such-command\n```\n")
    (block,) = blocks(page)
    with pytest.raises(AssertionError, match="exited 64, not 0"):
        run_console_block(block)


def _first_block_passes_second_fails(tmp_path: Path, text: str, match: str) -> None:
    """A page of two console blocks: the first must pass, the second fail with `match`."""
    page = tmp_path / "page.md"
    page.write_text(text)
    passing, failing = blocks(page)
    run_console_block(passing)
    with pytest.raises(AssertionError, match=match):
        run_console_block(failing)


def test_a_documented_exit_code_is_checked(tmp_path: Path) -> None:
    # A command that fails as documented passes; one that succeeds against the doc fails.
    _first_block_passes_second_fails(
        tmp_path,
        "<!-- docs-test: exit 64 -->\n```console\n$ specproof no-such-command\n```\n\n"
        "<!-- docs-test: exit 64 -->\n```console\n$ specproof --help\n```\n",
        "exited 0, not 64",
    )


def test_a_documented_exit_code_with_a_traceback_fails(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- docs-test: exit 1 -->\n```console\n$ python -c \"raise ValueError('boom')\"\n```\n"
    )
    (block,) = blocks(page)
    with pytest.raises(AssertionError, match="printed a traceback"):
        run_console_block(block)


def test_shown_output_is_compared(tmp_path: Path) -> None:
    _first_block_passes_second_fails(
        tmp_path,
        "# Page\n\n<!-- docs-test: output -->\n```console\n$ echo hello\nhello\n```\n\n"
        "<!-- docs-test: output -->\n```console\n$ echo hello\ngoodbye\n```\n",
        "not what the command prints",
    )


def test_no_maths_in_headings() -> None:
    """The table of contents shows headings as plain text: maths there would show raw TeX."""
    offenders = []
    for page in pages():
        in_fence = False
        for number, line in enumerate(page.read_text().splitlines(), start=1):
            if line.lstrip().startswith(("```", "~~~")):
                in_fence = not in_fence
            elif not in_fence and line.startswith("#") and "$" in line:
                offenders.append(f"{page.relative_to(ROOT)}:{number}")
    assert not offenders, f"headings with maths: {offenders}"
