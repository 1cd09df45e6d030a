"""The checks every algorithm's claims share: losslessness and the acceptance rate, on the reference.

- [`check_lossless`][specproof.proofs.harness.check_lossless]: on generated toy-LM pairs,
  the exact law of the speculative loop equals the target's own law
  ([`law_equality`][specproof.proofs.harness.law_equality] on
  [`speculative_instances`][specproof.proofs.harness.speculative_instances]);
- [`check_acceptance`][specproof.proofs.harness.check_acceptance]: on generated distribution
  pairs, the acceptance rate the reference executes equals closed forms and is bounded by
  others;
- [`check_distribution_claim`][specproof.proofs.harness.check_distribution_claim]: a claim
  about every pair of distributions proved by z3, one vocabulary size after another.

The first two take the algorithm (a name the reference knows, or a `Verifier`) as an argument; the claim
factories in [`specproof.proofs.claims`][specproof.proofs.claims] register them under an
algorithm's standard claim names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hypothesis import strategies as st

from specproof.reference import (
    ToyLM,
    Verifier,
    acceptance_rate,
    autoregressive_law,
    get_verifier,
    speculative_law,
)
from specproof.reference import formulas as f
from specproof.reference.strategies import dist_pairs, ks, lm_pairs, prefixes

from .arith import RateFormula
from .checking import Examples, check_by_hypothesis, dist_json, law_difference, loop_json
from .registry import CheckOptions, Outcome
from .smt import DistributionClaim, prove_for_distributions, prove_for_sizes

Instance = tuple[ToyLM, ToyLM, tuple[Any, ...], int, int]
"""`(target, draft, prefix, n, k)`: a speculative loop's setting."""


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
    return loop_json(target, draft, prefix, n, k=k, law_difference=law_difference(expected, actual))


def check_lossless(algorithm: str | Verifier, options: CheckOptions) -> Outcome:
    """Check law equality on generated toy-LM pairs (V <= 4, orders 0-2, n <= 4, K <= 4)."""
    return check_by_hypothesis(
        speculative_instances(),
        lambda instance: law_equality(algorithm, instance),
        options,
        Examples(400, 2000, "toy-LM pairs: V<=4, orders 0-2, prefix<=2, n<=4, K<=4"),
    )


def check_acceptance(
    algorithm: str | Verifier,
    options: CheckOptions,
    *,
    equal_to: Mapping[str, RateFormula],
    at_most: Mapping[str, RateFormula] | None = None,
) -> Outcome:
    """Check the executed acceptance rate against rate formulas, exactly, on distribution pairs.

    For each generated pair $(p, q)$ (V <= 6, with zeros, point masses, identical and disjoint
    pairs), the acceptance rate the reference executes for `algorithm` must equal every formula
    of `equal_to` and be at most every formula of `at_most`, all in `Fraction`s. A failing pair
    is reported with the executed rate and every formula's value under its name.

    Args:
        algorithm: the algorithm's name (as the reference knows it) or a `Verifier`.
        options: the run's options (seed, thorough).
        equal_to: formulas the executed rate must equal, by name (e.g. `sum_min`).
        at_most: formulas the executed rate must not exceed, by name.
    """
    bounds = at_most or {}

    def prop(pair: Any) -> dict[str, Any] | None:
        target, draft = pair
        target_probs, draft_probs = target.probs, [draft[t] for t in target]
        executed = acceptance_rate(target, draft, algorithm)
        equal = {
            n: rate(target_probs, draft_probs, f.FRACTION_ARITH) for n, rate in equal_to.items()
        }
        upper = {n: rate(target_probs, draft_probs, f.FRACTION_ARITH) for n, rate in bounds.items()}
        if all(executed == v for v in equal.values()) and all(
            executed <= v for v in upper.values()
        ):
            return None
        return {
            "target": dist_json(target),
            "draft": dist_json(draft),
            "executed": str(executed),
            **{n: str(v) for n, v in {**equal, **upper}.items()},
        }

    return check_by_hypothesis(
        dist_pairs(max_size=6),
        prop,
        options,
        Examples(
            300, 5000, "distribution pairs, V<=6, with zeros, point masses, identical and disjoint"
        ),
    )


def check_distribution_claim(
    claim: DistributionClaim,
    sizes: Sequence[int],
    thorough_sizes: Sequence[int],
    options: CheckOptions,
    *,
    track: bool = True,
) -> Outcome:
    r"""Prove `claim` for every pair of distributions over $V$ tokens, for each $V$ in turn (z3).

    Hypotheses: $p, q \ge 0$, $\sum p = \sum q = 1$. Certificate: per $V$, z3's result, unsat
    core (with `track`), formula size and statistics; sizes after the first that is not proved
    are listed as skipped
    ([`prove_for_sizes`][specproof.proofs.smt.prove_for_sizes]).

    Args:
        claim: the claim, built from the reference's formulas.
        sizes: the sizes $V$ to prove.
        thorough_sizes: the sizes under `--thorough`.
        options: the run's options (thorough, z3's time limit per size).
        track: ask z3 for an unsat core (it can block z3's preprocessing on nonlinear claims).
    """
    return prove_for_sizes(
        lambda v: prove_for_distributions(claim, v, options.timeout_s, track=track),
        thorough_sizes if options.thorough else sizes,
    )


def one_minus_total_variation(target: Sequence[Any], draft: Sequence[Any], arith: f.Arith) -> Any:
    r"""$1 - \mathrm{TV}(p, q)$, from the reference's `total_variation`."""
    return 1 - f.total_variation(target, draft, arith)


__all__ = [
    "Instance",
    "check_acceptance",
    "check_distribution_claim",
    "check_lossless",
    "law_equality",
    "one_minus_total_variation",
    "speculative_instances",
]
