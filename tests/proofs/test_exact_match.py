"""Exact-match proofs: the output law (sympy), the acceptance ordering (z3), and false variants."""

from __future__ import annotations

import time
from fractions import Fraction

from specproof.proofs import exact_match as em
from specproof.proofs.registry import CheckOptions
from specproof.proofs.smt import prove_for_distributions
from specproof.reference import Dist, acceptance_rate
from specproof.reference import formulas as f

FA = f.FRACTION_ARITH


def output_without_mismatch(target, draft, index, arith):
    """Forgets the target's own sample after a mismatch: only q(y) p(y)."""
    return draft[index] * target[index]


def test_output_is_target_is_proved_by_expansion_for_each_size():
    outcome = em.prove_output_is_target(range(1, 5))
    assert outcome.status == "proved"
    chain = outcome.certificate["chain"]
    assert len(chain) == 1 + 2 + 3 + 4
    assert all(step["proved"] and step["after"] == "0" for step in chain)
    assert chain[-1]["substitution"] == {"q_3": "-q_0 - q_1 - q_2 + 1"}


def test_output_without_the_mismatch_term_is_refuted_and_the_reference_confirms():
    outcome = em.prove_output_is_target(range(1, 4), output=output_without_mismatch)
    assert outcome.status == "refuted"
    example = outcome.certificate["counterexample"]
    target = [Fraction(v) for v in example["target"]]
    draft = [Fraction(v) for v in example["draft"]]
    y = example["token"]
    assert output_without_mismatch(target, draft, y, FA) != target[y]
    assert f.exact_match_output_probability(target, draft, y, FA) == target[y]
    law = {int(k): Fraction(v) for k, v in example["reference_one_step_law"].items()}
    assert law[y] == target[y]


def test_ordering_is_proved_directly_for_small_sizes():
    outcome = em.check_exact_match_acceptance_le_sd_smt(CheckOptions(timeout_s=30))
    assert outcome.status == "proved" and outcome.certificate["proved_sizes"] == [2, 3]
    assert all(r["result"] == "unsat" for r in outcome.certificate["per_size"])


def test_reversed_ordering_is_refuted_with_a_counterexample_the_reference_confirms():
    outcome = prove_for_distributions(em.ordering_claim(reverse=True), 3, timeout_s=30)
    assert outcome.status == "refuted"
    replay = outcome.certificate["counterexample"]["replay"]
    p = Dist(dict(enumerate(Fraction(v) for v in replay["target"])))
    q = Dist(dict(enumerate(Fraction(v) for v in replay["draft"])))
    # Executed by the reference's verifiers: SD accepts strictly more often than exact match.
    assert acceptance_rate(p, q, "sd") > acceptance_rate(p, q, "exact_match")
    assert replay["claim_holds_exactly"] is False


def test_ordering_for_every_size_by_lemma_combination_under_a_second_at_v_1000():
    start = time.perf_counter()
    outcome = em.prove_ordering_any_vocabulary(1000, timeout_s=30)
    seconds = time.perf_counter() - start
    assert outcome.status == "proved"
    cert = outcome.certificate
    assert cert["lemma"]["result"] == "unsat" and cert["bounds"]["result"] == "unsat"
    assert {"a_in_0_1", "b_in_0_1"} & set(cert["lemma"]["unsat_core"])
    assert cert["coordinates"] == 1000 and cert["combination"]["lemma_instances"] == 1000
    assert cert["combination"]["result"] == "unsat" and cert["farkas_checked"] is True
    # The performance target is 1 s; 5 s leaves room for a busy shared machine.
    assert seconds < 5


def test_a_false_per_token_lemma_is_refuted_before_any_combination():
    # False variant: "p q >= min(p, q)" per token (so exact match would dominate SD).
    outcome = em.prove_ordering_any_vocabulary(
        50,
        timeout_s=30,
        sd_term=lambda p, q, arith: p * q,
        exact_match_term=f.accepted_mass,
    )
    assert outcome.status == "refuted"
    example = outcome.certificate["counterexample"]
    a, b = Fraction(example["values"]["a"]), Fraction(example["values"]["b"])
    assert 0 <= a <= 1 and 0 <= b <= 1 and a * b < min(a, b)
    replay = example["replay"]
    assert Fraction(replay["sd_term_exactly"]) == a * b
    if replay["reference"] is not None:
        assert Fraction(replay["reference"]["sd_acceptance_executed"]) >= Fraction(
            replay["reference"]["exact_match_acceptance_executed"]
        )
