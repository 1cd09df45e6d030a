"""A stdout closed by its reader (`specproof ... | head -1`) stops any command quietly with
`exit_codes.BROKEN_PIPE`, never with `internal error: BrokenPipeError` (exit 70)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from specproof.cli import exit_codes


def _run_with_closed_stdout(*argv: str) -> tuple[int, str]:
    """Run `specproof argv` with a stdout pipe whose reading end is closed before it writes."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # no reader: the first write fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-m", "specproof.cli", *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


#: A quick command that prints to stdout (5 tokens, 1 ms target forwards).
ONLINE = "dsi online --c 0.1 --a 0.8 --k 3 --tokens 5 --target-ms 1".split()


@pytest.mark.parametrize("argv", [(*ONLINE, "--json"), ONLINE], ids=["json", "text"])
def test_a_closed_stdout_ends_quietly_with_its_code(argv):
    code, err = _run_with_closed_stdout(*argv)
    assert code == exit_codes.BROKEN_PIPE, err
    assert err == ""


def test_the_same_command_with_a_reader_succeeds():
    """Negative control: with a reader the command above writes its JSON and exits 0."""
    done = subprocess.run(
        [sys.executable, "-m", "specproof.cli", *ONLINE, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == exit_codes.OK, done.stderr
    assert done.stdout.lstrip().startswith("{")
