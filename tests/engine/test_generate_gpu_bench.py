"""bench/gpu.py runs on CPU with tiny sizes (`--smoke`) and writes a valid results file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]


def test_gpu_script_smoke(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "gpu.py"),
            "--smoke",
            "--threads",
            "1",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    data = json.loads((tmp_path / "gpu_smoke.json").read_text())
    conformance, throughput, generation, dsi_latencies, dsi_speedups = data["tables"]
    assert [row[0] for row in conformance["rows"]] == ["sd", "exact_match", "greedy"]
    assert all(row[2] == 0 for row in conformance["rows"])
    assert all(row[-1] > 0 for row in throughput["rows"])
    methods = {row[1] for row in generation["rows"]}
    assert methods == {"specproof AR", "specproof SD", "transformers AR", "transformers assisted"}
    assert data["targets"][0]["met"] is True
    assert [row[0] for row in dsi_latencies["rows"]] == ["target", "drafter"]
    assert all(row[2] > 0 and row[3] > 0 for row in dsi_latencies["rows"])
    # DSI is never slower than non-SI in expectation (per-token cost <= 1 target forward).
    assert dsi_speedups["rows"] and all(row[3] <= 1 + 1e-12 for row in dsi_speedups["rows"])
    assert "gpu" in data["machine"]
