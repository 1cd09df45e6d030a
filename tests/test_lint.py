"""Lint gates: ruff on the whole tree, mypy --strict on reference/ and proofs/."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    result = subprocess.run([ruff, "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.skipif(
    not (ROOT / ".venv" / "bin" / "mypy").exists(), reason="needs the project's .venv"
)
def test_mypy_strict_is_clean_on_reference_and_proofs():
    result = subprocess.run(
        ["bash", ".ci/mypy.sh"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
