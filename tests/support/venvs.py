"""A second virtual environment for the audit's other-interpreter tests."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path


def lent_venv(root: Path) -> tuple[Path, str]:
    """A `python -m venv --without-pip` environment at `root` that sees this one's packages.

    This environment's site-packages is lent through a `.pth` line placed after the new one's
    own site-packages (so what is installed there shadows it); specproof is not importable there
    (a lent path does not process the editable install's `.pth`).

    Returns:
        The new interpreter and its own site-packages folder.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = python_prints(python, "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    Path(site, "zz_lent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python, site


def python_prints(python: str | Path, code: str) -> str:
    """What `python -c code` prints to stdout, stripped (a failure raises)."""
    return subprocess.run(
        [python, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
