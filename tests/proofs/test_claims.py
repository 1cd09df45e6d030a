"""The claim factories register an algorithm's standard claims, and their checks can fail."""

from __future__ import annotations

from ast import literal_eval
from fractions import Fraction

import pytest
from hypothesis import strategies as st

from specproof.proofs.checking import Examples, check_by_hypothesis
from specproof.proofs.claims import (
    ACCEPTANCE_METHOD,
    LOSSLESS_METHOD,
    acceptance_claim,
    distribution_claim,
    hypothesis_claim,
    lossless_claim,
)
from specproof.proofs.harness import one_minus_total_variation
from specproof.proofs.registry import CheckOptions, Registry, default_registry, run_claim
from specproof.proofs.sd_smt import acceptance_tv_claim
from specproof.reference import Dist, acceptance_rate
from specproof.reference import formulas as f

from ..support.broken import BROKEN_VERIFIERS

FA = f.FRACTION_ARITH


def test_lossless_claim_registers_the_standard_name_and_method():
    registry = Registry()
    lossless_claim("sd", "SD is lossless.", registry=registry)
    lossless_claim(BROKEN_VERIFIERS[0], "A broken verifier is lossless.", registry=registry)
    assert [c.name for c in registry] == ["sd_lossless", f"{BROKEN_VERIFIERS[0].name}_lossless"]
    assert {c.method for c in registry} == {LOSSLESS_METHOD}
    assert registry["sd_lossless"].statement == "SD is lossless."
    with pytest.raises(ValueError, match="already registered"):
        lossless_claim("sd", "again", registry=registry)


def test_a_factory_lossless_claim_of_a_broken_verifier_is_refuted():
    registry = Registry()
    lossless_claim(BROKEN_VERIFIERS[1], "false", registry=registry)
    result = run_claim(next(iter(registry)), CheckOptions())
    assert result.status == "refuted"
    difference = result.certificate["counterexample"]["law_difference"]
    assert difference and all(d["expected"] != d["actual"] for d in difference.values())


def test_the_default_registry_holds_the_factory_claims_with_their_methods():
    registry = default_registry()
    for name in ("sd_lossless", "exact_match_lossless", "greedy_lossless"):
        assert registry[name].method == LOSSLESS_METHOD
    for name in ("sd_acceptance_is_one_minus_tv", "exact_match_acceptance_le_sd"):
        assert registry[name].method == ACCEPTANCE_METHOD


def test_acceptance_claim_holds_for_sd_and_is_refuted_with_a_wrong_closed_form():
    registry = Registry()
    acceptance_claim(
        "sd",
        "acceptance_is_one_minus_tv",
        "true",
        equal_to={"sum_min": f.acceptance_rate, "one_minus_tv": one_minus_total_variation},
        registry=registry,
    )
    # False: SD accepts with sum min(p, q), which exceeds sum p q unless p, q are point masses.
    acceptance_claim(
        "sd", "acceptance_is_sum_pq", "false", equal_to={"sum_pq": f.exact_match_acceptance_rate},
        registry=registry,
    )  # fmt: skip
    true, false = (run_claim(c, CheckOptions()) for c in registry)
    assert true.name == "sd_acceptance_is_one_minus_tv" and true.status == "checked"
    assert true.certificate["examples"] == 300
    assert false.status == "refuted"
    example = false.certificate["counterexample"]
    target = Dist({literal_eval(t): Fraction(p) for t, p in example["target"].items()})
    draft = Dist({literal_eval(t): Fraction(p) for t, p in example["draft"].items()})
    executed = acceptance_rate(target, draft, "sd")
    assert Fraction(example["executed"]) == executed
    assert Fraction(example["sum_pq"]) == f.exact_match_acceptance_rate(
        target.probs, [draft[t] for t in target], FA
    )
    assert executed != Fraction(example["sum_pq"])


def test_acceptance_claim_bounds_are_checked():
    registry = Registry()
    # False bound: exact match's acceptance is positive whenever p and q share a token.
    acceptance_claim(
        "exact_match", "acceptance_le_zero", "false",
        equal_to={"sum_pq": f.exact_match_acceptance_rate},
        at_most={"zero": lambda target, draft, arith: arith.zero},
        registry=registry,
    )  # fmt: skip
    result = run_claim(next(iter(registry)), CheckOptions())
    assert result.status == "refuted"
    example = result.certificate["counterexample"]
    assert Fraction(example["executed"]) > 0 == Fraction(example["zero"])


def test_distribution_claim_proves_each_size_and_refutes_a_false_claim():
    registry = Registry()
    distribution_claim(
        "sd_tv_smt", "true", acceptance_tv_claim(), sizes=[2, 3], thorough_sizes=[2, 3, 4],
        registry=registry,
    )  # fmt: skip
    distribution_claim(
        "sd_tv_twice_smt", "false", acceptance_tv_claim(scale=2), sizes=[2],
        thorough_sizes=[2], registry=registry,
    )  # fmt: skip
    assert {c.method for c in registry} == {"z3"}
    true = run_claim(registry["sd_tv_smt"], CheckOptions(timeout_s=30))
    assert true.status == "proved" and true.certificate["proved_sizes"] == [2, 3]
    thorough = run_claim(registry["sd_tv_smt"], CheckOptions(timeout_s=30, thorough=True))
    assert thorough.certificate["proved_sizes"] == [2, 3, 4]
    false = run_claim(registry["sd_tv_twice_smt"], CheckOptions(timeout_s=30))
    assert false.status == "refuted"
    replay = false.certificate["counterexample"]["replay"]
    target = [Fraction(v) for v in replay["target"]]
    draft = [Fraction(v) for v in replay["draft"]]
    assert f.acceptance_rate(target, draft, FA) != 1 - 2 * f.total_variation(target, draft, FA)


def _doubled_is_even(n: int) -> dict[str, int] | None:
    return None if (2 * n) % 2 == 0 else {"n": n}


def _below_five(n: int) -> dict[str, int] | None:
    return None if n < 5 else {"n": n}


def test_hypothesis_claim_generates_as_many_instances_as_its_examples_say():
    registry = Registry()
    even, small = Examples(7, 11, "integers"), Examples(50, 50, "0..100")
    hypothesis_claim(
        "probe_even", "true", st.integers(), _doubled_is_even, even, method=LOSSLESS_METHOD,
        registry=registry,
    )  # fmt: skip
    hypothesis_claim(
        "probe_small", "false", st.integers(0, 100), _below_five, small, method=LOSSLESS_METHOD,
        registry=registry,
    )  # fmt: skip
    default = run_claim(registry["probe_even"], CheckOptions(seed=3))
    thorough = run_claim(registry["probe_even"], CheckOptions(seed=3, thorough=True))
    assert default.status == thorough.status == "checked"
    assert default.certificate == {"examples": 7, "seed": 3, "generator": "integers"}
    assert thorough.certificate["examples"] == 11
    refuted = run_claim(registry["probe_small"], CheckOptions())
    assert refuted.status == "refuted"
    assert refuted.certificate["counterexample"] == {"n": 5}


@pytest.mark.parametrize(
    ("default", "thorough", "generator", "named"),
    [(0, 5, "g", "default"), (5, True, "g", "thorough"), (5, 5, None, "generator")],
)
def test_examples_rejects_bad_counts_and_generators(default, thorough, generator, named):
    with pytest.raises(ValueError, match=named):
        Examples(default, thorough, generator)


def test_check_by_hypothesis_needs_all_three_counts_with_an_int():
    with pytest.raises(ValueError, match="thorough_examples and generator"):
        check_by_hypothesis(st.integers(), lambda n: None, CheckOptions(), 5, generator="g")
