"""Claims of the union baseline and TLI: they hold, and their negative controls fail."""

from __future__ import annotations

import z3

from specproof.proofs.heterogeneous import law_equality
from specproof.proofs.registry import REGISTRY, CheckOptions, default_registry, run_claim
from specproof.proofs.tli import prove_tli_ge_union
from specproof.reference import ToyLM
from specproof.reference.heterogeneous import CrossVocabularyAlgorithm
from specproof.reference.rounds import VerifierRound
from specproof.reference.tli import TliRound
from specproof.reference.tokenizers import ToyTokenizer

from ..support.broken import RecoverFromTarget

FAST = CheckOptions(timeout_s=30)


def test_claims_are_registered_and_hold():
    default_registry()
    for name, status in [
        ("tli_acceptance_ge_union_smt", "proved"),
        ("tli_acceptance_ge_union_any_vocabulary", "proved"),
    ]:
        result = run_claim(REGISTRY[name], FAST)
        assert result.status == status, result.certificate
    for name in (
        "union_lossless",
        "tli_lossless",
        "union_acceptance_closed_form",
        "tli_acceptance_closed_form",
    ):
        assert name in {c.name for c in REGISTRY}


def test_a_wrong_equality_condition_is_refuted():
    # Dropping "q(I) = 1" from the condition: with q(I) = 1 and some p > q the rates are equal
    # but the wrong condition says they differ.
    def wrong(p_shared, q_shared, mass):
        return z3.And([z3.Or(q == 0, p <= q) for p, q in zip(p_shared, q_shared, strict=True)])

    outcome = prove_tli_ge_union(2, 2, 2, 30, condition=wrong)
    assert outcome.status == "refuted"
    assert outcome.certificate["counterexample"]["values"]


def test_law_equality_catches_a_broken_verifier():
    from fractions import Fraction as F

    target_tok, drafter_tok = ToyTokenizer(["a", "b", "ab"]), ToyTokenizer(["a", "b", "ba"])
    target = ToyLM(target_tok.tokens, 0, {(): {"a": F(1, 2), "b": F(1, 6), "ab": F(1, 3)}})
    drafter = ToyLM(drafter_tok.tokens, 0, {(): {"a": F(2, 3), "b": F(1, 6), "ba": F(1, 6)}})

    def broken(target, drafter, target_tokenizer, drafter_tokenizer, k):
        view = TliRound(target, drafter, target_tokenizer, drafter_tokenizer, k).draft
        return VerifierRound(target, view, k, RecoverFromTarget())

    instance = (target, drafter, target_tok, drafter_tok, (), 2, 1)
    assert law_equality(CrossVocabularyAlgorithm("tli", TliRound), instance) is None
    failure = law_equality(CrossVocabularyAlgorithm("broken", broken), instance)
    assert failure is not None and failure["law_difference"]
