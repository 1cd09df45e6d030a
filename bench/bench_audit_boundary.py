"""Sampler-level audit: the cost of the process boundary, one call per round trip vs batched.

In one run, on the same cases and seed, `collect` calls the numpy reference sampler
`standard_sd` N times in three ways: in the auditor's own process (no boundary), behind the
boundary with one round trip per call (`IsolatedFunction.__call__`, the path before batching),
and behind the boundary with `BATCH_CALLS` calls per round trip (`IsolatedFunction.call_many`,
what `specproof audit sampler` does now). Each cell is the best of `--repeats` runs (the child
process is started and the module imported before timing). Reported: microseconds per call
and each path's time over the in-process time.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np
from common import best_time, table, write_results

from specproof.audit.boundary import IsolatedFunction
from specproof.audit.controls import standard_sd
from specproof.audit.sampler import make_case
from specproof.audit.sampler_collect import BATCH_CALLS, collect

CASES = (("random", 8, 1), ("close", 8, 4), ("close", 4096, 1))
SPEC = "specproof.audit.controls:standard_sd"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=3000, help="calls per case and path")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    rows = []
    with IsolatedFunction(SPEC) as isolated:
        isolated.start()

        def one_by_one(*call_args):  # hides call_many: one round trip per call
            return isolated(*call_args)

        for family, v, k in CASES:
            case = make_case(np.random.default_rng(1), v, k, family)
            seconds = {}
            for name, fn in (
                ("in process", standard_sd),
                ("boundary, 1 call per trip", one_by_one),
                (f"boundary, {BATCH_CALLS} calls per trip", isolated),
            ):

                def run(fn=fn, case=case):
                    samples = collect(fn, case, args.samples, np.random.default_rng(7))
                    assert samples.error is None and len(samples.outputs) == args.samples

                seconds[name] = best_time(run, args.repeats)
            base = seconds["in process"]
            per_call = [s / args.samples * 1e6 for s in seconds.values()]
            single, batched = list(seconds.values())[1:]
            rows.append(
                [
                    case.name,
                    *[round(x, 1) for x in per_call],
                    round(single / base, 2),
                    round(batched / base, 2),
                    round(single / batched, 2),
                ]
            )
    load = os.getloadavg()[0]
    write_results(
        "audit_boundary",
        "Audit: cost of the process boundary, batched calls",
        (
            __doc__.split("\n\n", 1)[1].replace("\n", " ")
            + f" N = {args.samples}, best of {args.repeats}. Command: "
            f"`python bench/bench_audit_boundary.py --samples {args.samples} --repeats "
            f"{args.repeats}`. Measured on a shared 2-core machine (load average {load:.1f} at "
            "the end of the run, other jobs running): the ratios within one run are the "
            "measurement, the absolute times are noisy."
        ),
        [
            table(
                f"Microseconds per call of `standard_sd` and slowdown over in process (N = {args.samples})",
                [
                    "case",
                    "in process µs",
                    "1 call/trip µs",
                    f"{BATCH_CALLS} calls/trip µs",
                    "1 call/trip ×",
                    "batched ×",
                    "batched speed-up",
                ],
                rows,
            )
        ],
        finding=finding,
    )


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The headline, from the table: slowdown per case, one call and batched per round trip."""
    rows = tables[0]["rows"]
    batch = tables[0]["columns"][3].split()[0]
    return (
        "Behind the process boundary, one round trip per call cost "
        + ", ".join(f"{r[4]:.1f}×" for r in rows)
        + f" the in-process time on the {len(rows)} cases; batching "
        + f"{batch} calls per round trip brings it to "
        + ", ".join(f"{r[5]:.2f}×" for r in rows)
        + f" (at most {max(r[5] for r in rows):.2f}×)."
    )


if __name__ == "__main__":
    main()
