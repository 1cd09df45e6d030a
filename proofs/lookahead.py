"""Claims about dynamic lookahead (DISCO): any drafter-side policy keeps the target's law."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from specproof.reference import STANDARD_SD, Dist, ToyLM, Verifier, autoregressive_law
from specproof.reference.lookahead import (
    FixedLookahead,
    LookaheadPolicy,
    LookaheadRound,
    PeekingLookaheadRound,
)
from specproof.reference.rounds import round_kernel_law
from specproof.reference.strategies import lm_pairs, lookahead_policies, prefixes

from .checking import check_by_hypothesis, law_difference, lm_json
from .registry import REGISTRY, CheckOptions, Outcome

LookaheadInstance = tuple[ToyLM, ToyLM, tuple[Any, ...], int, LookaheadPolicy, int]


@st.composite
def lookahead_instances(
    draw: st.DrawFn, max_vocab: int = 3, max_order: int = 1, max_n: int = 3, max_k: int = 3
) -> LookaheadInstance:
    """`(target, draft, prefix, n, policy, max_k)`: toy-LM pairs and a generated policy."""
    target, draft = draw(lm_pairs(max_vocab=max_vocab, max_order=max_order))
    prefix = draw(prefixes(target.vocab, max_length=2))
    n = draw(st.integers(0, max_n))
    k = draw(st.integers(0, max_k))
    policy = draw(lookahead_policies(target.vocab, k))
    return target, draft, prefix, n, policy, k


def lookahead_equality(
    instance: LookaheadInstance,
    verifier: Verifier = STANDARD_SD,
    kernel: type[LookaheadRound] = LookaheadRound,
) -> dict[str, Any] | None:
    """`None` if the law under the instance's policy is the target's own, else the difference.

    The target's own law is greedy decoding for verifiers that draft greedily.

    Args:
        instance: `(target, draft, prefix, n, policy, max_k)`.
        verifier: the per-position verifier.
        kernel: the round kernel class (`PeekingLookaheadRound` for the negative control).
    """
    target, draft, prefix, n, policy, max_k = instance
    expected = autoregressive_law(target, prefix, n, greedy=verifier.drafting == "greedy")
    actual = round_kernel_law(kernel(target, draft, policy, max_k, verifier), prefix, n)
    if expected == actual:
        return None
    return {
        "target": lm_json(target),
        "draft": lm_json(draft),
        "prefix": [repr(t) for t in prefix],
        "n": n,
        "policy": repr(policy),
        "max_k": max_k,
        "law_difference": law_difference(expected, actual),
    }


def check_lookahead_lossless(
    options: CheckOptions, kernel: type[LookaheadRound] = LookaheadRound
) -> Outcome:
    """Law equality under generated policies (fixed K, confidence thresholds, random tables).

    Args:
        options: the run's options.
        kernel: the round kernel class (`PeekingLookaheadRound` must be refuted).
    """
    return check_by_hypothesis(
        lookahead_instances(),
        lambda instance: lookahead_equality(instance, kernel=kernel),
        options,
        examples=150,
        thorough_examples=1000,
        generator="toy-LM pairs: V<=3, orders 0-1, prefix<=2, n<=3, max K<=3; lookahead policies",
    )


@REGISTRY.claim(
    "disco_lookahead_lossless",
    "Standard SD whose number of drafts per round is decided after each draft by a policy that "
    "reads only drafter-side state (drafts so far, their draft rows, the next draft row, the "
    "position), deterministic or randomised, with at most $K$ drafts, is lossless: for every "
    "generated toy-LM pair, policy, prefix and $n$ the exact law of the first $n$ output tokens "
    "equals the target's autoregressive law.",
    "hypothesis + exact enumeration",
    scope="generated instances (see certificate)",
)
def check_disco_lookahead_lossless(options: CheckOptions) -> Outcome:
    """Law equality under generated policies."""
    return check_lookahead_lossless(options)


def peeking_witness() -> tuple[ToyLM, Fraction, Fraction]:
    r"""A witness that peeking changes the law: `(target, P_target(x), P_peeking(x))`, one token.

    Target $p = (1/2, 1/2)$, draft $q = (1, 0)$, $K = 1$, $n = 1$. The peeking round drafts $a$
    and keeps it iff it will be accepted (probability $1/2$), else takes a bonus from $p$: it
    outputs $a$ with probability $1/2 + 1/2 \cdot 1/2 = 3/4$ instead of $1/2$.
    """
    vocab = ("a", "b")
    target = ToyLM(vocab, 0, {(): Dist.over(vocab, [Fraction(1, 2), Fraction(1, 2)])})
    draft = ToyLM(vocab, 0, {(): Dist.point(vocab, "a")})
    peeking = round_kernel_law(PeekingLookaheadRound(target, draft, FixedLookahead(1), 1), (), 1)
    honest = round_kernel_law(LookaheadRound(target, draft, FixedLookahead(1), 1), (), 1)
    assert honest == dict(autoregressive_law(target, (), 1))
    return target, honest[("a",)], peeking[("a",)]


@REGISTRY.claim(
    "disco_peeking_lookahead_not_lossless",
    "A lookahead that reads the verifier's coin (drafts once more only if that draft will be "
    "accepted, else takes a bonus token) is NOT lossless. Witness: $p = (1/2, 1/2)$, "
    "$q = (1, 0)$, $K = 1$: it outputs the first token with probability $3/4$, not $1/2$.",
    "exact witness",
    scope="one exact witness",
)
def check_disco_peeking_lookahead_not_lossless(options: CheckOptions) -> Outcome:
    """Compute the witness's laws exactly."""
    _, honest, peeking = peeking_witness()
    if honest == peeking:
        return Outcome(
            "refuted",
            {"counterexample": {"honest": str(honest), "peeking": str(peeking)}},
        )
    return Outcome(
        "checked",
        {
            "witness": {"target": "(1/2, 1/2)", "draft": "(1, 0)", "K": 1, "n": 1},
            "target_probability": str(honest),
            "peeking_probability": str(peeking),
        },
    )
