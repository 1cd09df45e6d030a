"""The implementations the findings catalogue audits: one module per package in `impls/`.

Each `bench/findings/impls/<name>.py` defines `IMPL`, a
[`harness.Implementation`][]: its pinned install and its configurations (built with
[`impls._plan_table.PlanTable`][], which holds the fields its plans share and the levels'
standard sizes, or [`impls._findings_only.findings_only`][] for a package recorded without an
audit; modules named `_*` are such helpers, not implementations). Diagnoses and
reproducers are attached to a record only when its verdict is `not-lossless` or `crashed` (a
fixed release then drops them by itself); each was written after reading the installed
package's source and re-checking the verdict.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from harness import Implementation

IMPLS_DIR = Path(__file__).resolve().parent / "impls"


def _load() -> dict[str, Implementation]:
    out = {}
    for path in sorted(IMPLS_DIR.glob("*.py")):
        if path.stem.startswith("_"):
            continue
        module = importlib.import_module(f"impls.{path.stem}")
        out[path.stem.replace("_", "-")] = module.IMPL
    return out


IMPLEMENTATIONS: dict[str, Implementation] = _load()
