"""Sampler-level audit: throughput, and time to a verdict with power 0.99 at TV = 0.01.

For each case the auditor plans the sample size N at which the joint test has power 0.99
against every alternative at TV >= 0.01 (family-wise alpha = 1e-6, Bonferroni over the case's
tests), then audits the numpy reference sampler `standard_sd` with exactly N samples. Reported:
N, the tested cells, wall time split into sampling (calls of the implementation plus the
auditor's draft generation and output checks) and testing, samples per second, and the verdict.
`--quick` audits at TV = 0.05 instead (a smoke run).
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

import numpy as np
from common import records, table, write_results

from specproof.audit.controls import standard_sd
from specproof.audit.core import decide
from specproof.audit.sampler import (
    Configuration,
    collect,
    make_case,
    plan_samples,
    round_law,
    test_case,
)
from specproof.audit.stats import power

ALPHA = 1e-6
POWER = 0.99
CASES = (("random", 8, 1), ("random", 8, 4), ("random", 1000, 1))


def run_case(family: str, v: int, k: int, tv: float) -> dict:
    case = make_case(np.random.default_rng(1), v, k, family)
    start = time.perf_counter()
    law = round_law(case)
    tests = 3 + k
    n = plan_samples(law, tv, ALPHA / tests, POWER, max_samples=5_000_000)
    plan_s = time.perf_counter() - start
    samples = collect(standard_sd, case, n, np.random.default_rng(7))
    start = time.perf_counter()
    results = test_case(law, samples, delta=ALPHA)
    config = Configuration(case.name, results, len(samples.outputs))
    audit = decide([config], ALPHA, tv, POWER)
    test_s = time.perf_counter() - start
    total = plan_s + samples.seconds + test_s
    joint = results["joint"]
    return {
        "case": case.name,
        "v": v,
        "k": k,
        "n": n,
        "cells": joint.cells,
        "dof": joint.dof,
        "sample_s": samples.seconds,
        "test_s": plan_s + test_s,
        "total_s": total,
        "rate": n / samples.seconds,
        "verdict": audit.verdict,
        "tv_upper": joint.tv_upper,
    }


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The run's headline and how it was measured, from the tables written (the page opens with it)."""
    tab = tables[0]
    rows = records(tab)
    power, tv, alpha = re.search(
        r"power (\S+) at TV = (\S+), alpha = ([^)]+)\)", tab["title"]
    ).groups()
    ok = sum(r["verdict"] == "consistent" for r in rows)
    slow = max(rows, key=lambda r: r["total s"])
    return (
        f"Sampler-level audits of the correct `standard_sd` end `consistent` in {ok} of "
        f"{len(rows)} cases, with N planned for power {power} against TV >= {tv} at alpha "
        f"{alpha}: {min(r['N'] for r in rows):,} to {max(r['N'] for r in rows):,} samples "
        f"(one call of the sampler each, on drafts the auditor draws), "
        f"{min(r['total s'] for r in rows):.1f} to {slow['total s']:.1f} s per case "
        f"({slow['case']} slowest)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="TV = 0.05 instead of 0.01")
    args = parser.parse_args()
    tv = 0.05 if args.quick else 0.01
    rows = []
    runs = [run_case(family, v, k, tv) for family, v, k in CASES]
    for r in runs:
        rows.append(
            [
                r["case"],
                r["n"],
                r["dof"],
                round(r["sample_s"], 2),
                round(r["test_s"], 2),
                round(r["total_s"], 2),
                round(r["rate"]),
                r["verdict"],
                round(r["tv_upper"], 4),
            ]
        )
    x = [
        int(n) for n in np.unique(np.geomspace(1000, 2 * max(r["n"] for r in runs), 30).astype(int))
    ]
    plots = [
        {
            "title": f"Guaranteed power at TV = {tv:g} vs samples",
            "kind": "line",
            "x": x,
            "series": {
                f"{r['case']} (dof {r['dof']})": [
                    power(n, tv, ALPHA / (3 + r["k"]), r["dof"]) for n in x
                ]
                for r in runs
            },
            "xlabel": "samples N",
            "ylabel": "power (lower bound)",
            "logx": True,
            "logy": False,
        }
    ]
    write_results(
        "audit",
        "Audit: sampler-level throughput and time to a verdict",
        (
            f"Sampler-level audits of the numpy reference sampler `standard_sd` "
            f"(`specproof.audit.controls`). N is planned so that the joint test has power "
            f"{POWER} against every alternative whose TV from standard SD's exact law (on the "
            f"tested cells) is at least {tv:g}, at family-wise alpha = {ALPHA:g} (Bonferroni over "
            "the case's 3 + K tests). *sample s*: calling the implementation N times (with the "
            "auditor's draft draws and output checks); *test s*: planning, exact law and the "
            "tests. Throughput = N / sample s (one Python call per sample; the implementation's "
            "own cost dominates). The plot shows the guaranteed power "
            "(noncentral chi-square bound, level alpha / (3 + K)) against N for each case's "
            "degrees of freedom. Timings are from a shared 2-core machine (other jobs running)."
        ),
        [
            table(
                f"Time to a verdict (power {POWER} at TV = {tv:g}, alpha = {ALPHA:g})",
                [
                    "case",
                    "N",
                    "dof",
                    "sample s",
                    "test s",
                    "total s",
                    "samples/s",
                    "verdict",
                    "TV<=",
                ],
                rows,
            )
        ],
        plots,
        finding=finding,
    )


if __name__ == "__main__":
    main()
