"""Claims of the union baseline and TLI: they hold, and their negative controls fail."""

from __future__ import annotations

import z3

from specproof.proofs.claims import ACCEPTANCE_METHOD, GENERATED_SCOPE
from specproof.proofs.heterogeneous import cross_rows_claim, law_equality
from specproof.proofs.registry import (
    REGISTRY,
    CheckOptions,
    Registry,
    default_registry,
    run_claim,
)
from specproof.proofs.tli import prove_tli_ge_union
from specproof.proofs.union import union_acceptance_matches_formula
from specproof.reference import ToyLM
from specproof.reference.heterogeneous import CrossVocabularyAlgorithm
from specproof.reference.rounds import VerifierRound
from specproof.reference.tli import TliRound
from specproof.reference.tokenizers import ToyTokenizer
from specproof.reference.union import union_acceptance_rate

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


def test_cross_rows_claim_registers_a_row_claim_and_refutes_a_false_one():
    registry = Registry()
    cross_rows_claim(
        "union_closed_form", "true", union_acceptance_matches_formula, registry=registry
    )

    def always_accepts(target, draft, shared):
        # False whenever the rows differ on the shared tokens or put mass outside them.
        executed = union_acceptance_rate(target, draft)
        return None if executed == 1 else {"executed": str(executed)}

    cross_rows_claim("union_always_accepts", "false", always_accepts, registry=registry)
    assert {(c.method, c.scope) for c in registry} == {(ACCEPTANCE_METHOD, GENERATED_SCOPE)}
    true, false = (run_claim(c, FAST) for c in registry)
    assert true.status == "checked", true.certificate
    assert false.status == "refuted"
    counterexample = false.certificate["counterexample"]
    assert {"target", "draft"} <= set(counterexample) and counterexample["executed"] != "1"
