"""bench/bench_verify.py runs (`--quick`) and writes a results file in the shared schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_verify_quick(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "bench_verify.py", "--quick", "--results-dir", str(tmp_path)],
        cwd=ROOT / "bench",
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads((tmp_path / "verify.json").read_text())
    sys.path.insert(0, str(ROOT / "bench"))
    from common import validate_results

    validate_results(data)
    sd_rows = data["tables"][0]["rows"]
    assert len(sd_rows) == 3 and all(row[6] > 0 for row in sd_rows)
    assert all(row[-2] == 0 for row in sd_rows)  # batched kernel == row loop on these rows
