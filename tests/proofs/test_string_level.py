"""Claims of SLEM and SLRS: they hold, and their negative controls fail."""

from __future__ import annotations

from fractions import Fraction

from specproof.proofs.checking import check_by_hypothesis
from specproof.proofs.heterogeneous import check_cross_lossless
from specproof.proofs.registry import REGISTRY, CheckOptions, default_registry, run_claim
from specproof.proofs.string_level import slem_equality, slem_instances
from specproof.reference.heterogeneous import CrossVocabularyAlgorithm
from specproof.reference.slrs import PsiVerifiedRound
from specproof.reference.string_level import LookbehindSlemRound

FAST = CheckOptions(timeout_s=30)


def test_claims_hold():
    default_registry()
    expected = {
        "slem_lookbehind_lossless": "checked",
        "slem_text_level_needs_canonical_outputs": "checked",
        "slem_first_acceptance_formula": "checked",
        "slrs_acceptance_ge_slem": "checked",
        "slrs_acceptance_ge_slem_any_vocabulary": "proved",
        "slrs_segmentation_count": "checked",
        "slrs_segmentation_count_worst_case": "proved",
        "slrs_psi_verification_not_lossless": "checked",
    }
    for name, status in expected.items():
        result = run_claim(REGISTRY[name], FAST)
        assert result.status == status, (name, result.certificate)
    assert "slrs_lossless" in {c.name for c in REGISTRY}


class TargetAlwaysAgrees(LookbehindSlemRound):
    """Broken: the first position outputs the proposed token whatever the target drew."""

    def verify_law(self, context, proposal):
        law = super().verify_law(context, proposal)
        if not proposal:
            return law
        out: dict = {}
        for output, prob in law.items():
            fixed = (proposal[0], *output[1:]) if output[0] != proposal[0] else output
            out[fixed] = out.get(fixed, Fraction(0)) + prob
        return out


def test_slem_check_refutes_a_broken_kernel():
    outcome = check_by_hypothesis(
        slem_instances(),
        lambda case: slem_equality(case, TargetAlwaysAgrees),
        FAST,
        examples=200,
        thorough_examples=200,
        generator="negative control",
    )
    assert outcome.status == "refuted"
    assert outcome.certificate["counterexample"]["law_difference"]


def test_lossless_check_refutes_psi_verification():
    algorithm = CrossVocabularyAlgorithm("psi_verified", PsiVerifiedRound)
    outcome = check_cross_lossless(algorithm, FAST, examples=200)
    assert outcome.status == "refuted"


def test_a_wrong_worst_case_closed_form_is_refuted():
    from specproof.proofs.slrs import prove_worst_case_closed_form

    assert prove_worst_case_closed_form(lambda length: 2 ** (length - 1)).status == "proved"
    outcome = prove_worst_case_closed_form(lambda length: 2**length)
    assert outcome.status == "refuted"
    assert outcome.certificate["counterexample"]["L"] == 1
