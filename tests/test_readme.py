"""The README's Python examples run, and the commands it shows exist."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_readme_has_python_examples():
    assert PYTHON_BLOCKS


@pytest.mark.parametrize("index", range(len(PYTHON_BLOCKS)))
def test_readme_python_example_runs(index):
    exec(compile(PYTHON_BLOCKS[index], f"README.md python block {index}", "exec"), {})


@pytest.mark.parametrize("command", sorted(set(re.findall(r"`specproof (\w+)", README))))
def test_readme_commands_exist(command):
    result = subprocess.run(
        [sys.executable, "-m", "specproof.cli", command, "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
