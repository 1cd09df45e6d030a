"""Run Python code in a fresh interpreter in which importing torch fails."""

from __future__ import annotations

import subprocess
import sys

BLOCK_TORCH = (
    "import sys; sys.modules['torch'] = None  # any 'import torch' now raises ImportError\n"
)
"""Prepended to the code: a `None` entry in `sys.modules` makes every `import torch` fail."""


def run_without_torch(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `code` after `BLOCK_TORCH` in a fresh interpreter; its output and exit code."""
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH + code], capture_output=True, text=True, timeout=timeout
    )
