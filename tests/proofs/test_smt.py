"""The proof machinery: arithmetics, z3 refutation (statuses, cores, counterexamples), sympy cases."""

from __future__ import annotations

from fractions import Fraction
from itertools import product

import pytest
import sympy
import z3
from hypothesis import given, settings

from specproof.proofs.arith import SYMPY_ARITH, Z3_ARITH
from specproof.proofs.registry import Outcome
from specproof.proofs.sd_smt import acceptance_tv_claim, sd_lossless_claim
from specproof.proofs.smt import (
    distribution_variables,
    formula_size,
    prove_by_refutation,
    prove_for_distributions,
    prove_for_sizes,
    prove_lemma_sum,
    status_of,
    to_fraction,
)
from specproof.proofs.symbolic import prove_zero_by_cases, sign_cases, sign_pattern_cases
from specproof.reference import formulas as f
from specproof.reference.strategies import dist_pairs


def _vectors(pair):
    target, draft = pair
    return list(target.probs), [draft[t] for t in target]


@settings(max_examples=20)
@given(dist_pairs(max_size=4))
def test_sympy_and_z3_run_the_reference_formulas_to_the_same_exact_values(pair):
    target, draft = _vectors(pair)
    size = len(target)
    p_sym = sympy.symbols(f"p0:{size}", real=True)
    q_sym = sympy.symbols(f"q0:{size}", real=True)
    p_z3 = [z3.Real(f"p{i}") for i in range(size)]
    q_z3 = [z3.Real(f"q{i}") for i in range(size)]
    values_sym = {**dict(zip(p_sym, target, strict=True)), **dict(zip(q_sym, draft, strict=True))}
    values_z3 = [(v, z3.RealVal(str(x))) for v, x in zip(p_z3 + q_z3, target + draft, strict=True)]
    for y in range(size):
        exact = f.sd_output_probability(target, draft, y, f.FRACTION_ARITH)
        symbolic = f.sd_output_probability(list(p_sym), list(q_sym), y, SYMPY_ARITH)
        assert sympy.Rational(symbolic.subs(values_sym)) == sympy.Rational(
            exact.numerator, exact.denominator
        )
        smt = z3.simplify(
            z3.substitute(f.sd_output_probability(p_z3, q_z3, y, Z3_ARITH), *values_z3)
        )
        assert to_fraction(smt) == (exact, True)
    exact_tv = f.total_variation(target, draft, f.FRACTION_ARITH)
    smt_tv = z3.simplify(z3.substitute(f.total_variation(p_z3, q_z3, Z3_ARITH), *values_z3))
    assert to_fraction(smt_tv)[0] == exact_tv


def test_div_or_zero_is_zero_at_zero_in_every_arithmetic():
    assert SYMPY_ARITH.div_or_zero(sympy.Integer(3), sympy.Integer(0)) == 0
    assert z3.simplify(Z3_ARITH.div_or_zero(z3.RealVal(3), z3.RealVal(0))) == z3.RealVal(0)
    assert SYMPY_ARITH.pos(sympy.Integer(-2)) == 0 and SYMPY_ARITH.pos(sympy.Integer(2)) == 2


def test_z3_answers_map_to_statuses_and_unknown_is_never_proved():
    assert status_of(z3.unsat) == "proved"
    assert status_of(z3.sat) == "refuted"
    assert status_of(z3.unknown) == "unknown"


def test_a_tiny_timeout_on_a_hard_instance_is_unknown_not_proved():
    # SD losslessness at V = 8 takes z3 over a minute; 10 ms cannot prove it.
    outcome = prove_for_distributions(sd_lossless_claim(), 8, timeout_s=0.01, track=False)
    assert outcome.status == "unknown"
    assert outcome.certificate["reason"] == "timeout"
    assert "unsat_core" not in outcome.certificate
    combined = prove_for_sizes(
        lambda v: prove_for_distributions(sd_lossless_claim(), v, 0.01, track=False), [8, 9]
    )
    assert combined.status == "unknown" and combined.certificate["skipped"] == [9]


def test_a_proof_certificate_has_the_core_size_statistics_and_result():
    outcome = prove_for_distributions(acceptance_tv_claim(), 3, timeout_s=10)
    assert outcome.status == "proved"
    cert = outcome.certificate
    assert cert["result"] == "unsat" and cert["backend"] == "z3" and cert["vocab_size"] == 3
    # 1 - TV needs the draft's normalisation: without it the claim fails (e.g. q = 0).
    assert "negated_claim" in cert["unsat_core"] and "q_sums_to_one" in cert["unsat_core"]
    assert set(cert["unsat_core"]) <= set(cert["hypotheses"]) | {"negated_claim"}
    assert cert["negated_claim_size"] > 10 and "(not" in cert["negated_claim"]
    assert cert["statistics"] and cert["seconds"] >= 0


def test_a_false_claim_is_refuted_with_an_exact_counterexample_replayed_in_the_reference():
    outcome = prove_for_distributions(acceptance_tv_claim(scale=2), 2, timeout_s=10)
    assert outcome.status == "refuted"
    example = outcome.certificate["counterexample"]
    assert example["exact"] is True
    replay = example["replay"]
    target = [Fraction(v) for v in replay["target"]]
    draft = [Fraction(v) for v in replay["draft"]]
    assert sum(target) == 1 == sum(draft) and min(target + draft) >= 0
    # Recompute in Fractions: the false claim really fails there...
    alpha = f.acceptance_rate(target, draft, f.FRACTION_ARITH)
    tv = f.total_variation(target, draft, f.FRACTION_ARITH)
    assert alpha != 1 - 2 * tv and replay["claim_holds_exactly"] is False
    # ... and the reference's executed acceptance rate is the true 1 - TV.
    assert Fraction(replay["reference"]["sd_acceptance_executed"]) == 1 - tv


def test_prove_by_refutation_converts_irrational_models_without_replaying_them():
    x = z3.Real("x")
    outcome = prove_by_refutation(
        {"square_is_two": x * x == 2}, x < 0, [x], 10, replay=lambda v: {"called": True}
    )
    assert outcome.status == "refuted"
    example = outcome.certificate["counterexample"]
    assert example["exact"] is False and "replay" not in example
    assert abs(Fraction(example["values"]["x"]) ** 2 - 2) < Fraction(1, 10**20)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="timeout_s"):
        prove_by_refutation({}, z3.BoolVal(True), [], 0)
    with pytest.raises(ValueError, match="vocab_size"):
        distribution_variables(0)
    with pytest.raises(ValueError, match="z3 real numeral"):
        to_fraction(z3.Real("y"))


def test_formula_size_counts_shared_subterms_once():
    a, b = z3.Reals("a b")
    shared = a + b
    assert formula_size(shared * shared) == formula_size(shared) + 1 == 4


def test_lemma_sum_refuses_an_abstraction_that_leaves_original_variables():
    a, b = z3.Reals("a b")
    lemma = Outcome("proved", {"backend": "z3"})
    m = z3.Real("m")
    # Only `a` is abstracted; `b` stays, so the linear step would not be about fresh reals only.
    outcome = prove_lemma_sum(lemma, (a + b, z3.RealVal(0)), [(a, m)], [m >= 0], [a, b], 10)
    assert outcome.status == "unknown" and "abstraction" in outcome.certificate["reason"]
    # A lemma that is not proved is passed through, never combined into a proof.
    assert prove_lemma_sum(Outcome("unknown"), (a, b), [], [], [a, b], 10).status == "unknown"


def test_sign_cases_cover_every_pair_and_witnesses_lie_in_their_case():
    names = [c.name for c in sign_cases("a", "b")]
    assert names == ["a > b", "a < b", "a = b"]
    for case in sign_cases("a", "b"):
        (w,) = case.witnesses
        relation = {"a > b": w["a"] > w["b"], "a < b": w["a"] < w["b"], "a = b": w["a"] == w["b"]}
        assert relation[case.name]


@pytest.mark.parametrize("size", [1, 2, 3])
def test_sign_patterns_are_the_feasible_ones_with_witness_distributions(size):
    cases = list(sign_pattern_cases(size))
    # Feasible patterns of p - q: all zero, or at least one plus and at least one minus.
    feasible = [c for c in product("+-0", repeat=size) if ("+" in c) == ("-" in c)]
    assert sorted(c.name for c in cases) == sorted("".join(c) for c in feasible)
    for case in cases:
        (w,) = case.witnesses
        target = [w[f"p_{i}"] for i in range(size)]
        draft = [w[f"q_{i}"] for i in range(size)]
        assert sum(target) == 1 == sum(draft) and min(target) >= 0
        signs = "".join(
            "+" if p > q else "-" if p < q else "0" for p, q in zip(target, draft, strict=True)
        )
        assert signs == case.name


def test_a_case_that_does_not_simplify_and_is_not_refuted_is_unknown():
    a, b = sympy.Symbol("a", real=True), sympy.Symbol("b", real=True)

    def difference(values, arith):
        # Symbolically a - b (nonzero when a > b), but 0 at every exact witness: the case
        # neither simplifies to 0 nor has a counterexample, so it is unknown, never proved.
        return values["a"] - values["b"] if arith is SYMPY_ARITH else 0

    outcome = prove_zero_by_cases("fake", [a, b], difference, sign_cases("a", "b"))
    assert outcome.status == "unknown" and "reason" in outcome.certificate


def test_lemma_sum_checks_the_unit_farkas_combination_exactly():
    a, b = z3.Reals("a b")
    m1, m2 = z3.Reals("m1 m2")
    lemma = Outcome("proved", {"backend": "z3"})
    totals = (a + b, z3.RealVal(0))
    unit = prove_lemma_sum(lemma, totals, [(a, m1), (b, m2)], [m1 >= 0, m2 >= 0], [a, b], 10)
    assert unit.status == "proved" and unit.certificate["farkas_checked"] is True
    # Still a valid refutation (2*(m1 >= 0) + (m2 >= m1)), but not the unit sum of instances.
    other = prove_lemma_sum(lemma, totals, [(a, m1), (b, m2)], [m1 >= 0, m2 >= m1], [a, b], 10)
    assert other.status == "proved" and other.certificate["farkas_checked"] is False
    # Instances too weak for the claim: z3 finds a model of the abstraction, so not proved.
    weak = prove_lemma_sum(lemma, totals, [(a, m1), (b, m2)], [m1 >= 0, m2 >= -1], [a, b], 10)
    assert weak.status == "unknown" and weak.certificate["combination"]["result"] == "sat"
