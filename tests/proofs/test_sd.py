"""SD proofs: each proved claim's certificate, and a false variant of each claim refuted.

Every negative control hands the prover a deliberately wrong formula or claim; it must come back
`refuted` with a counterexample, which the test recomputes in Fractions (and, where the
reference has an executed counterpart, there too) to confirm that the false claim really fails.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from specproof.proofs import sd, sd_smt, sd_symbolic
from specproof.proofs.registry import CheckOptions, default_registry, run_claim
from specproof.proofs.smt import prove_for_distributions
from specproof.reference import Dist, acceptance_rate, expected_tokens_per_round
from specproof.reference import formulas as f

FA = f.FRACTION_ARITH
OPTIONS = CheckOptions(timeout_s=30)


def wrong_residual(target, draft, arith):
    """The residual without its positive part: p - q."""
    return [p - q for p, q in zip(target, draft, strict=True)]


def output_with_wrong_residual(target, draft, index, arith):
    """`sd_output_probability` with the residual p - q (no positive part)."""
    res = wrong_residual(target, draft, arith)
    rejected = f.total(
        [f.rejected_mass(p, q, arith) for p, q in zip(target, draft, strict=True)], arith
    )
    return f.accepted_mass(target[index], draft[index], arith) + rejected * arith.div_or_zero(
        res[index], f.total(res, arith)
    )


def _fractions(values):
    return {k: Fraction(v) for k, v in values.items()}


# --- sympy ------------------------------------------------------------------------------------


def test_residual_identity_is_proved_by_three_cases_and_a_sum_chain():
    outcome = sd_symbolic.prove_residual_identity()
    assert outcome.status == "proved"
    cert = outcome.certificate
    for identity in cert["identities"].values():
        assert identity["cases"] == 3
        assert [s["case"] for s in identity["chain"]] == ["a > b", "a < b", "a = b"]
        assert all(s["simplified"] == "0" for s in identity["chain"])
        assert "Min(a, b)" in identity["expression"]
    assert cert["sum_identity"][-1]["expression"] == "0"
    assert "Sum" in cert["sum_identity"][0]["expression"]


def test_residual_without_positive_part_is_refuted_and_confirmed_in_fractions():
    outcome = sd_symbolic.prove_residual_identity(residual=wrong_residual)
    assert outcome.status == "refuted"
    example = outcome.certificate["counterexample"]
    a, b = Fraction(example["values"]["a"]), Fraction(example["values"]["b"])
    assert example["case"] == "a < b"
    # min(a, b) + (a - b) = a fails here, while the true identity holds.
    assert f.accepted_mass(a, b, FA) + (a - b) != a
    assert f.accepted_mass(a, b, FA) + f.residual([a], [b], FA)[0] == a
    assert Fraction(example["difference_exactly"]) == f.accepted_mass(a, b, FA) + (a - b) - a


def test_output_is_target_is_proved_for_every_v_and_fixed_v():
    outcome = sd_symbolic.prove_output_is_target([2, 3])
    assert outcome.status == "proved"
    cert = outcome.certificate
    general = cert["every_vocab_size"]
    assert general["cases"] == 3 and all(s["simplified"] == "0" for s in general["chain"])
    sizes = {(r["vocab_size"], r["token"]) for r in cert["fixed_vocab_sizes"]}
    assert sizes == {(2, 0), (2, 1), (3, 0), (3, 1), (3, 2)}
    v3 = [r for r in cert["fixed_vocab_sizes"] if r["vocab_size"] == 3]
    # 3^3 sign patterns, of which 13 are feasible (all zero, or both a plus and a minus).
    assert all(r["cases"] == 13 and len(r["chain"]) == 13 for r in v3)


def test_output_with_wrong_residual_is_refuted_and_the_reference_law_is_the_target():
    outcome = sd_symbolic.prove_output_is_target([2], output=output_with_wrong_residual)
    assert outcome.status == "refuted"
    values = _fractions(outcome.certificate["counterexample"]["values"])
    target = [values["p_0"], values["p_1"]]
    draft = [values["q_0"], values["q_1"]]
    y = outcome.certificate["token"]
    assert output_with_wrong_residual(target, draft, y, FA) != target[y]
    assert f.sd_output_probability(target, draft, y, FA) == target[y]


def test_closed_form_is_proved_for_each_k_and_by_induction():
    outcome = sd_symbolic.prove_expected_tokens_closed_form(6)
    assert outcome.status == "proved"
    cert = outcome.certificate
    assert [s["k"] for s in cert["chain"]] == list(range(7))
    assert all(s["after"] == "0" and s["at_alpha_1"] == str(s["k"] + 1) for s in cert["chain"])
    assert cert["induction"]["base"]["after"] == "0" and cert["induction"]["step"]["after"] == "0"


def test_a_wrong_closed_form_is_refuted_and_the_reference_agrees_with_the_formula():
    outcome = sd_symbolic.prove_expected_tokens_closed_form(
        4, closed_form=lambda alpha, k: (1 - alpha**k) / (1 - alpha)
    )
    assert outcome.status == "refuted"
    example = outcome.certificate["counterexample"]
    k, alpha = example["k"], Fraction(example["alpha"])
    wrong = (1 - alpha**k) / (1 - alpha)
    executed = expected_tokens_per_round(
        Dist({0: Fraction(1), 1: Fraction(0)}), Dist({0: alpha, 1: 1 - alpha}), k
    )
    assert executed == f.expected_tokens_per_round(alpha, k, FA) != wrong
    assert Fraction(example["reference_expected_tokens"]) == executed


# --- z3 ---------------------------------------------------------------------------------------


def test_sd_lossless_smt_is_proved_per_size_with_unsat():
    outcome = sd.check_sd_lossless_smt(OPTIONS)
    assert outcome.status == "proved"
    cert = outcome.certificate
    assert cert["proved_sizes"] == list(range(2, 9)) and cert["skipped"] == []
    # The residual lemmas are proved first, for all reals, and only their instances are added.
    assert cert["lemmas"]["result"] == "unsat" and cert["lemmas"]["hypotheses"] == []
    for record in cert["per_size"]:
        v = record["vocab_size"]
        assert record["result"] == "unsat" and record["negated_claim_size"] > 20
        assert "p_sums_to_one" in record["hypotheses"]
        assert f"lemma_accepted_plus_residual_{v - 1}" in record["hypotheses"]


def test_sd_lossless_smt_without_lemmas_proves_small_sizes_directly():
    outcome = sd_smt.prove_sd_lossless_smt([2, 3, 4], 30, lemmas=False)
    assert outcome.status == "proved" and "lemmas" not in outcome.certificate
    assert not any("lemma" in h for r in outcome.certificate["per_size"] for h in r["hypotheses"])


def _replayed_wrong_output(outcome):
    """The refuted outcome's replayed distributions, confirmed to break the wrong formula."""
    assert outcome.status == "refuted"
    replay = outcome.certificate["counterexample"]["replay"]
    target = [Fraction(v) for v in replay["target"]]
    draft = [Fraction(v) for v in replay["draft"]]
    assert replay["claim_holds_exactly"] is False
    assert any(
        output_with_wrong_residual(target, draft, y, FA) != target[y] for y in range(len(target))
    )
    return replay, target


def test_sd_lossless_smt_with_lemmas_still_refutes_a_wrong_output_formula():
    _replayed_wrong_output(
        sd_smt.prove_sd_lossless_smt([2, 3], 30, output=output_with_wrong_residual)
    )


def test_sd_lossless_with_wrong_residual_is_refuted_and_replayed_in_the_reference():
    claim = sd_smt.sd_lossless_claim(output=output_with_wrong_residual)
    replay, target = _replayed_wrong_output(prove_for_distributions(claim, 2, timeout_s=30))
    # The reference's exact one-step SD law is the target itself (the real SD is lossless).
    law = {int(k): Fraction(v) for k, v in replay["reference"]["sd_one_step_law"].items()}
    assert law == {i: p for i, p in enumerate(target) if p > 0}


def test_acceptance_is_one_minus_tv_is_proved_and_two_tv_is_refuted():
    outcome = sd.check_sd_acceptance_tv_smt(OPTIONS)
    assert outcome.status == "proved" and outcome.certificate["proved_sizes"] == list(range(2, 9))
    assert all("q_sums_to_one" in r["unsat_core"] for r in outcome.certificate["per_size"])
    wrong = prove_for_distributions(sd_smt.acceptance_tv_claim(scale=2), 3, timeout_s=30)
    assert wrong.status == "refuted"
    replay = wrong.certificate["counterexample"]["replay"]
    p = Dist(dict(enumerate(Fraction(v) for v in replay["target"])))
    q = Dist(dict(enumerate(Fraction(v) for v in replay["draft"])))
    tv = f.total_variation(p.probs, q.probs, FA)
    assert acceptance_rate(p, q) == 1 - tv != 1 - 2 * tv


def test_acceptance_is_maximal_is_proved_by_lemma_and_directly():
    outcome = sd_smt.prove_acceptance_is_maximal([2, 3], timeout_s=30)
    assert outcome.status == "proved"
    cert = outcome.certificate
    assert cert["lemma"]["result"] == "unsat"
    # The lemma needs losslessness at y and R >= 0 (the rejected mass redistributed to y).
    assert {"lossless_at_y", "R_nonnegative", "negated_claim"} <= set(cert["lemma"]["unsat_core"])
    assert cert["direct"]["proved_sizes"] == [2, 3]
    assert cert["rejected_mass_nonnegative"]["result"] == "unsat"
    combination = cert["combination"]
    assert combination["coordinates"] == 1000 and combination["farkas_checked"] is True
    assert combination["combination"]["result"] == "unsat"


def test_a_bound_below_min_is_refuted_for_lossless_verifiers():
    # False variant: "every lossless verifier accepts at most sum p q" (SD itself beats it).
    outcome = sd_smt.prove_acceptance_is_maximal([2], timeout_s=30, bound=lambda p, q, a: p * q)
    assert outcome.status == "refuted"
    example = outcome.certificate["counterexample"]
    values = _fractions(example["values"])
    assert example["replay"]["claim_holds_exactly"] is False
    q_times_a = values["q"] * values["a"]
    assert values["q"] >= 0 and 0 <= values["a"] <= 1 and values["R"] >= 0
    assert q_times_a + values["R"] == values["p"] and q_times_a > values["p"] * values["q"]


# --- registry ---------------------------------------------------------------------------------

PROOF_CLAIMS = {
    "sd_residual_identity": "sympy",
    "sd_output_is_target_symbolic": "sympy",
    "sd_expected_tokens_closed_form": "sympy",
    "sd_lossless_smt": "z3",
    "sd_acceptance_is_one_minus_tv_smt": "z3",
    "sd_acceptance_is_maximal": "z3",
    "exact_match_output_is_target_symbolic": "sympy",
    "exact_match_acceptance_le_sd_smt": "z3",
    "exact_match_acceptance_le_sd_any_vocabulary": "z3",
}


@pytest.mark.parametrize("name", sorted(PROOF_CLAIMS))
def test_every_proof_claim_is_registered_and_proved_by_default(name):
    claim = default_registry()[name]
    assert claim.method == PROOF_CLAIMS[name] and not claim.thorough_only
    assert "$" in claim.statement
    result = run_claim(claim, OPTIONS)
    assert result.status == "proved", result.certificate
    assert result.certificate["backend"] == PROOF_CLAIMS[name]


def test_specproof_verify_json_reports_a_z3_proof_with_its_certificate(capsys):
    import json

    from specproof.cli.main import main

    assert main(["verify", "--json", "--only", "sd_acceptance_is_one_minus_tv_smt"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["status"] == "proved" and record["method"] == "z3"
    assert [r["result"] for r in record["certificate"]["per_size"]] == ["unsat"] * 7
