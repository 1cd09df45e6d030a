"""The cheap test tier: which not-slow tests are `medium`, from measured per-test costs.

`tests/durations.json` holds, for each not-slow test whose cost is at least `FLOOR_S`, its cost:
the seconds it would take on an idle machine (setup, call and teardown), estimated from its
CPU seconds (its process and the child processes it waited for) and its wall seconds on a
machine that may be busy: `max(cpu, wall / contention)`, where `contention` is the median
wall/CPU ratio of the run's CPU-bound tests. On an idle machine that is about the wall time.
On a busy one it undercounts time spent sleeping or waiting (DSI's sleeping workers): measure
on a quiet machine for the file that is committed. `tests/conftest.py` marks `medium` every not-slow test at or above the file's
`threshold_s`, except that a module whose measured tests are all that costly keeps its cheapest
one in the cheap tier: `make test-fast` (`-m "not slow and not medium"`) still runs some of
every test module. `make test` runs every tier.

Regenerate the file after tests change cost with `make durations` (on a quiet machine for
stable numbers): it runs the not-slow tests with `SPECPROOF_RECORD_DURATIONS=PATH` (the
conftest appends each test's CPU and wall seconds to PATH) and then `python -m tests.support.tiers PATH`.

A test the file does not name (new, or cheaper than the floor) is in the cheap tier.
"""

from __future__ import annotations

import json
import resource
import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path

DURATIONS = Path(__file__).resolve().parents[1] / "durations.json"

THRESHOLD_S = 0.75
"""Default: a not-slow test estimated to take at least this many seconds is `medium`."""

FLOOR_S = 0.25
"""Tests cheaper than this are not written to the file (they stay cheap at any threshold)."""


def module_of(nodeid: str) -> str:
    """The test file of a pytest node id (`tests/a/test_b.py::test_c[x]` -> `tests/a/test_b.py`)."""
    return nodeid.split("::", 1)[0]


def load(path: Path = DURATIONS) -> tuple[float, dict[str, float]]:
    """The threshold and the estimated seconds per node id written in `path`.

    Raises:
        ValueError: naming `path` when it is not a durations file.
    """
    data = json.loads(path.read_text())
    if not isinstance(data.get("threshold_s"), int | float) or not isinstance(
        data.get("seconds"), dict
    ):
        raise ValueError(f"{path} must hold threshold_s (a number) and seconds (an object)")
    return float(data["threshold_s"]), {str(k): float(v) for k, v in data["seconds"].items()}


def medium_ids(nodeids: Iterable[str], seconds: Mapping[str, float], threshold: float) -> set[str]:
    """The node ids among `nodeids` to mark `medium`.

    Args:
        nodeids: the not-slow tests collected.
        seconds: estimated seconds per node id (a missing id counts as cheap).
        threshold: seconds at or above which a test is `medium`.

    Returns:
        Every collected id with `seconds >= threshold`, less the cheapest of each module whose
        collected tests would all be `medium` (ties: the first collected).
    """
    by_module: dict[str, list[str]] = defaultdict(list)
    for nodeid in nodeids:
        by_module[module_of(nodeid)].append(nodeid)
    medium: set[str] = set()
    for ids in by_module.values():
        costly = [i for i in ids if seconds.get(i, 0.0) >= threshold]
        if len(costly) == len(ids):
            costly.remove(min(ids, key=lambda i: seconds[i]))
        medium.update(costly)
    return medium


def cpu_seconds() -> float:
    """CPU seconds so far of this process and of the child processes it has waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def idle_seconds(records: Mapping[str, tuple[float, float]]) -> tuple[float, dict[str, float]]:
    """The contention of a run and each test's estimated idle-machine seconds.

    Args:
        records: `(cpu, wall)` seconds per node id.

    Returns:
        The median wall/CPU ratio over tests with at least 0.05 CPU seconds (at least 1), and
        `max(cpu, wall / ratio)` per node id.
    """
    ratios = sorted(wall / cpu for cpu, wall in records.values() if cpu >= 0.05)
    contention = max(1.0, ratios[len(ratios) // 2]) if ratios else 1.0
    return contention, {
        nodeid: max(cpu, wall / contention) for nodeid, (cpu, wall) in records.items()
    }


def write(records: Path, out: Path = DURATIONS, threshold: float = THRESHOLD_S) -> dict:
    """Write `out` from a recording (JSON lines `{"id", "cpu", "wall"}`); return its data.

    Args:
        records: what `SPECPROOF_RECORD_DURATIONS` wrote (a test recorded twice: the last).
        out: the durations file.
        threshold: its `threshold_s`.
    """
    measured: dict[str, tuple[float, float]] = {}
    for line in records.read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            measured[record["id"]] = (float(record["cpu"]), float(record["wall"]))
    contention, seconds = idle_seconds(measured)
    data = {
        "about": "estimated idle seconds of the not-slow tests at or above floor_s "
        "(tests/support/tiers.py)",
        "floor_s": FLOOR_S,
        "threshold_s": threshold,
        "tests_measured": len(measured),
        "contention": round(contention, 2),
        "cpu_s_measured": round(sum(cpu for cpu, _ in measured.values()), 1),
        "idle_s_estimated": round(sum(seconds.values()), 1),
        "seconds": {k: round(v, 2) for k, v in sorted(seconds.items()) if v >= FLOOR_S},
    }
    out.write_text(json.dumps(data, indent=1) + "\n")
    return data


if __name__ == "__main__":
    written = write(Path(sys.argv[1]))
    print(f"{DURATIONS}: {len(written['seconds'])} of {written['tests_measured']} tests listed")
