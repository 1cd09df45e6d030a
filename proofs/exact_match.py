"""Claims about exact-match (sample-and-match) verification."""

from __future__ import annotations

from typing import Any

from specproof.reference import acceptance_rate
from specproof.reference import formulas as f
from specproof.reference.strategies import dist_pairs

from .checking import check_by_hypothesis, dist_json
from .registry import REGISTRY, CheckOptions, Outcome
from .sd import check_lossless


@REGISTRY.claim(
    "exact_match_lossless",
    "Exact-match verification is lossless: for every generated target/draft toy-LM pair, "
    "prefix, $n$ and $K$, the law of the first $n$ output tokens equals the target's "
    "autoregressive law.",
    "hypothesis + exact enumeration",
)
def check_exact_match_lossless(options: CheckOptions) -> Outcome:
    """Law equality for exact-match verification."""
    return check_lossless("exact_match", options)


@REGISTRY.claim(
    "exact_match_acceptance_le_sd",
    r"The acceptance rate of exact-match verification, obtained by integrating its rule, equals "
    r"$\sum_x p(x)\,q(x)$, which is at most standard SD's $\sum_x \min(p(x), q(x))$.",
    "hypothesis + exact arithmetic",
)
def check_exact_match_acceptance(options: CheckOptions) -> Outcome:
    """Executed exact-match acceptance == sum p q <= sum min(p, q)."""

    def prop(pair: Any) -> dict[str, Any] | None:
        target, draft = pair
        draft_probs = [draft[t] for t in target]
        executed = acceptance_rate(target, draft, "exact_match")
        sum_pq = f.exact_match_acceptance_rate(target.probs, draft_probs, f.FRACTION_ARITH)
        sum_min = f.acceptance_rate(target.probs, draft_probs, f.FRACTION_ARITH)
        if executed == sum_pq <= sum_min:
            return None
        return {
            "target": dist_json(target),
            "draft": dist_json(draft),
            "executed": str(executed),
            "sum_pq": str(sum_pq),
            "sum_min": str(sum_min),
        }

    return check_by_hypothesis(
        dist_pairs(max_size=6),
        prop,
        options,
        examples=300,
        thorough_examples=5000,
        generator="distribution pairs, V<=6, with zeros, point masses, identical and disjoint",
    )
