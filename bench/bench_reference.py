"""Exact reference: time to compute exact SD laws (issue target: n=6, V=8, K=4, order 1 < 1 s)."""

from __future__ import annotations

import itertools
import random
from fractions import Fraction
from functools import partial
from typing import Any

from common import best_time_and_value, goal, records, table, write_results

from specproof.reference import Dist, ToyLM, autoregressive_law, speculative_law


def random_lm(vocab: list[int], order: int, rng: random.Random, zeros: bool) -> ToyLM:
    def row() -> Dist:
        weights = [rng.randint(0 if zeros else 1, 9) for _ in vocab]
        if sum(weights) == 0:
            weights[0] = 1
        return Dist.over(vocab, [Fraction(w, sum(weights)) for w in weights])

    contexts = [c for n in range(order + 1) for c in itertools.product(vocab, repeat=n)]
    return ToyLM(vocab, order, {c: row() for c in contexts})


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The run's headline and how it was measured, from the tables written (the page opens with it)."""
    rows = records(tables[0])
    worst = max(rows, key=lambda r: r["speculative s"])
    return (
        f"Every exact law takes at most {worst['speculative s']:.2f} s ({worst['algorithm']}, "
        f"V = {worst['V']}, n = {worst['n']}, K = {worst['K']}, {worst['outcomes']:,} outcomes), "
        f"{min(r['ratio'] for r in rows):.1f}x to {max(r['ratio'] for r in rows):.1f}x the time "
        "of the target's own autoregressive law, and each equals it. Computed in exact rational "
        "arithmetic on random toy LMs, best of 3 runs."
    )


def main() -> None:
    rng = random.Random(0)
    rows = []
    headline = None
    for v, n, k, order, zeros in [
        (8, 6, 4, 1, False),
        (8, 6, 4, 1, True),
        (4, 6, 4, 2, False),
        (5, 5, 3, 2, False),
        (3, 8, 4, 1, False),
    ]:
        vocab = list(range(v))
        target, draft = random_lm(vocab, order, rng, zeros), random_lm(vocab, order, rng, zeros)
        for algorithm in ("sd", "exact_match"):
            seconds, law = best_time_and_value(
                partial(speculative_law, target, draft, (0,), n, k, algorithm)
            )
            ar_seconds, ar_law = best_time_and_value(partial(autoregressive_law, target, (0,), n))
            assert law == ar_law, "the exact law must equal the target's"
            rows.append(
                [
                    algorithm,
                    v,
                    n,
                    k,
                    order,
                    "with zeros" if zeros else "dense",
                    len(law),
                    round(seconds, 3),
                    round(ar_seconds, 3),
                    round(seconds / ar_seconds, 1),
                ]
            )
            if (v, n, k, order, zeros, algorithm) == (8, 6, 4, 1, False, "sd"):
                headline = seconds
    targets = [
        goal("SD law, n=6, V=8, K=4, order 1 (dense)", round(headline, 3), "< 1 s", headline < 1.0)
    ]
    write_results(
        "reference_law",
        "Exact reference laws",
        "Wall time (best of 3) to compute the exact law of the first $n$ output tokens of the "
        "speculative loop with `specproof.reference.speculative_law`, next to the target's own "
        "autoregressive law, on random toy LMs (weights 1-9, or 0-9 'with zeros'). Each law is "
        "checked equal to the autoregressive law in the same run.",
        [
            table(
                "Exact law computation time",
                [
                    "algorithm",
                    "V",
                    "n",
                    "K",
                    "order",
                    "tables",
                    "outcomes",
                    "speculative s",
                    "autoregressive s",
                    "ratio",
                ],
                rows,
            )
        ],
        targets=targets,
        finding=finding,
    )


if __name__ == "__main__":
    main()
