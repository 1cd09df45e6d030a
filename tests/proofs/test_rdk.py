"""RDK claims: each passes, and a broken variant of what it checks is caught (negative controls)."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from specproof.proofs import rdk, rdk_mixture, rdk_strategies
from specproof.proofs.checking import check_by_hypothesis
from specproof.proofs.registry import REGISTRY, CheckOptions
from specproof.reference import Dist
from specproof.reference.rdk import RDK
from specproof.reference.rdk_mixture import mixture_acceptance
from specproof.reference.tli import tli_proposal

OPTIONS = CheckOptions(seed=0, timeout_s=30)


class VerifiesAgainstTLI(RDK):
    """Broken: drafts from q'M but verifies with q' (a common slip: forgetting the kernel)."""

    def proposal(self, draft_row: Dist) -> Dist:
        return tli_proposal(draft_row, self.kernel.tokens)


class RedistributesOneSourceOnly(RDK):
    """Broken: verifies against the kernel row of q''s first supported token only."""

    def proposal(self, draft_row: Dist) -> Dist:
        source = tli_proposal(draft_row, self.kernel.tokens)
        return self.kernel.apply(Dist.point(source.tokens, source.support[0]))


@pytest.mark.parametrize(
    "name",
    [
        "rdk_lossless",
        "rdk_step_law_is_target",
        "rdk_lossless_symbolic",
        "rdk_first_order_is_kernel",
        "rdk_mixture_concave_smt",
        "rdk_mixture_piecewise_linear",
        "rdk_oracle_dominates_vanilla",
        "rdk_fixed_mix_can_lose",
    ],
)
def test_claim_holds(name):
    outcome = REGISTRY[name].check(OPTIONS)
    assert outcome.status in ("proved", "checked"), outcome.certificate


@pytest.mark.parametrize("broken", [VerifiesAgainstTLI, RedistributesOneSourceOnly])
def test_step_law_check_refutes_a_broken_rdk(broken):
    outcome = check_by_hypothesis(
        rdk_strategies.step_instances(),
        lambda instance: _catching(rdk.step_law_is_target, instance, broken),
        OPTIONS,
        examples=300,
        thorough_examples=300,
        generator="t",
    )
    assert outcome.status == "refuted"


def _catching(prop, instance, broken):
    # A broken verifier may meet its own draft with zero proposal mass (a division by zero in the
    # acceptance ratio): that is a failure too.
    try:
        return prop(instance, broken)
    except ZeroDivisionError as exc:
        return {"error": str(exc)}


def test_slope_check_refutes_the_formula_without_the_equality_term():
    def without_equality_term(target, source, prior):
        return sum((prior[t] - source[t] for t in target.tokens if source[t] < target[t]), F(0))

    outcome = check_by_hypothesis(
        rdk_strategies.mixture_instances(),
        lambda instance: rdk_mixture.piecewise_linear_and_slope(instance, without_equality_term),
        OPTIONS,
        examples=300,
        thorough_examples=300,
        generator="t",
    )
    assert outcome.status == "refuted"
    assert "formula" in outcome.certificate["counterexample"]


def test_symbolic_proof_reports_every_size():
    outcome = rdk.prove_proposal_is_distribution(range(1, 5))
    assert outcome.status == "proved"
    assert [step["after"] for step in outcome.certificate["chain"]] == ["0"] * 4
    assert all(step["entries_nonnegative"] for step in outcome.certificate["chain"])


def test_fixed_mix_witness_replays_exactly():
    outcome = rdk_mixture.find_fixed_mix_loss(3, F(1, 2), 30)
    assert outcome.status == "proved"
    witness = outcome.certificate["witness"]
    p, s, r = (
        Dist({int(k): F(v) for k, v in witness[role].items()})
        for role in ("target", "source", "prior")
    )
    assert mixture_acceptance(p, s, r, F(1, 2)) < mixture_acceptance(p, s, r, 0)


def test_midpoint_concavity_would_fail_for_a_convex_term():
    # Negative control for the z3 step: max instead of min is convex, and z3 must find that.
    import z3

    from specproof.proofs.smt import prove_by_refutation
    from specproof.reference.rdk import mixture_probs

    p, s, r, l1, l2 = z3.Reals("p s r lambda_1 lambda_2")

    def term(lam):
        q = mixture_probs([s], [r], lam)[0]
        return z3.If(p >= q, p, q)

    outcome = prove_by_refutation(
        {}, term((l1 + l2) / 2) >= (term(l1) + term(l2)) / 2, [p, s, r, l1, l2], 30
    )
    assert outcome.status == "refuted"
