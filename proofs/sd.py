"""Claims about standard speculative decoding, checked against the exact reference."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from specproof.reference import (
    ToyLM,
    Verifier,
    acceptance_rate,
    autoregressive_law,
    expected_tokens_per_round,
    get_verifier,
    speculative_law,
)
from specproof.reference import formulas as f
from specproof.reference.strategies import dist_pairs, ks, lm_pairs, prefixes

from .checking import check_by_hypothesis, dist_json, law_difference, lm_json
from .registry import REGISTRY, CheckOptions, Outcome

Instance = tuple[ToyLM, ToyLM, tuple[Any, ...], int, int]


@st.composite
def speculative_instances(
    draw: st.DrawFn, max_vocab: int = 4, max_order: int = 2, max_n: int = 4, max_k: int = 4
) -> Instance:
    """`(target, draft, prefix, n, k)`: toy-LM pairs of orders 0..max_order and a loop setting."""
    target, draft = draw(lm_pairs(max_vocab=max_vocab, max_order=max_order))
    prefix = draw(prefixes(target.vocab, max_length=2))
    n = draw(st.integers(0, max_n))
    k = draw(ks(max_k))
    return target, draft, prefix, n, k


def law_equality(algorithm: str | Verifier, instance: Instance) -> dict[str, Any] | None:
    """`None` if the speculative law equals the target's own law, else the difference.

    The target's own law is plain sampling for sampling verifiers and greedy decoding for
    greedy verifiers (those that draft greedily).
    """
    target, draft, prefix, n, k = instance
    verifier = get_verifier(algorithm)
    expected = autoregressive_law(target, prefix, n, greedy=verifier.drafting == "greedy")
    actual = speculative_law(target, draft, prefix, n, k, verifier)
    if actual == expected:
        return None
    return {
        "target": lm_json(target),
        "draft": lm_json(draft),
        "prefix": [repr(t) for t in prefix],
        "n": n,
        "k": k,
        "law_difference": law_difference(expected, actual),
    }


def check_lossless(algorithm: str | Verifier, options: CheckOptions) -> Outcome:
    """Check law equality on generated toy-LM pairs (V <= 4, orders 0-2, n <= 4, K <= 4)."""
    return check_by_hypothesis(
        speculative_instances(),
        lambda instance: law_equality(algorithm, instance),
        options,
        examples=400,
        thorough_examples=2000,
        generator="toy-LM pairs: V<=4, orders 0-2, prefix<=2, n<=4, K<=4",
    )


@REGISTRY.claim(
    "sd_lossless",
    "Standard SD is lossless: for every generated target/draft toy-LM pair, prefix, $n$ and $K$, "
    "the exact law of the first $n$ output tokens of the speculative loop equals the target's "
    "autoregressive law.",
    "hypothesis + exact enumeration",
)
def check_sd_lossless(options: CheckOptions) -> Outcome:
    """Law equality for standard SD."""
    return check_lossless("sd", options)


@REGISTRY.claim(
    "sd_acceptance_is_one_minus_tv",
    r"The probability that standard SD accepts a drafted token, obtained by integrating the rule "
    r"$u\,q(x) < p(x)$, equals $\sum_x \min(p(x), q(x)) = 1 - \mathrm{TV}(p, q)$.",
    "hypothesis + exact arithmetic",
)
def check_sd_acceptance(options: CheckOptions) -> Outcome:
    """Executed acceptance rate == sum of minima == 1 - TV, exactly."""

    def prop(pair: Any) -> dict[str, Any] | None:
        target, draft = pair
        executed = acceptance_rate(target, draft, "sd")
        sum_min = f.acceptance_rate(target.probs, [draft[t] for t in target], f.FRACTION_ARITH)
        one_minus_tv = 1 - f.total_variation(
            target.probs, [draft[t] for t in target], f.FRACTION_ARITH
        )
        if executed == sum_min == one_minus_tv:
            return None
        return {
            "target": dist_json(target),
            "draft": dist_json(draft),
            "executed": str(executed),
            "sum_min": str(sum_min),
            "one_minus_tv": str(one_minus_tv),
        }

    return check_by_hypothesis(
        dist_pairs(max_size=6),
        prop,
        options,
        examples=300,
        thorough_examples=5000,
        generator="distribution pairs, V<=6, with zeros, point masses, identical and disjoint",
    )


@REGISTRY.claim(
    "sd_expected_tokens_per_round",
    r"With $K$ drafts and i.i.d. acceptance $\alpha$ (the same rows $p, q$ at every position), the "
    r"expected output tokens per target call, enumerated exactly, equal "
    r"$(1 - \alpha^{K+1})/(1 - \alpha)$ (and $K + 1$ when $\alpha = 1$).",
    "hypothesis + exact enumeration",
)
def check_sd_expected_tokens(options: CheckOptions) -> Outcome:
    """Enumerated E[N+1] == closed form."""

    def prop(case: Any) -> dict[str, Any] | None:
        (target, draft), k = case
        enumerated = expected_tokens_per_round(target, draft, k, "sd")
        alpha = acceptance_rate(target, draft, "sd")
        closed = Fraction(k + 1) if alpha == 1 else (1 - alpha ** (k + 1)) / (1 - alpha)
        if enumerated == closed:
            return None
        return {
            "target": dist_json(target),
            "draft": dist_json(draft),
            "k": k,
            "enumerated": str(enumerated),
            "closed_form": str(closed),
        }

    return check_by_hypothesis(
        st.tuples(dist_pairs(max_size=5), ks(8)),
        prop,
        options,
        examples=300,
        thorough_examples=5000,
        generator="distribution pairs V<=5, K<=8",
    )
