"""The token-law claims are registered, checked, and refute a criterion that is too lax."""

from __future__ import annotations

from specproof.proofs import token_law as claims
from specproof.proofs.registry import CheckOptions, default_registry, run_claim
from specproof.reference import round_rules as rr

NAMES = (
    "audit_token_law_lossless_rules",
    "audit_token_law_broken_controls_fail",
    "audit_token_law_implies_lossless_generation",
)


def test_the_claims_are_registered_and_checked():
    registry = default_registry()
    for name in NAMES:
        result = run_claim(registry[name], CheckOptions())
        assert result.status == "checked", (name, result.certificate)
    assert set(run_claim(registry[NAMES[1]], CheckOptions()).certificate["witnesses"]) == set(
        rr.BROKEN_RULES
    )


def test_a_lossless_rule_among_the_broken_ones_refutes_the_broken_claim(monkeypatch):
    monkeypatch.setitem(rr.BROKEN_RULES, "actually-fine", rr.sequential_sibling)
    outcome = claims.check_broken_rules_fail(CheckOptions())
    assert outcome.status == "refuted"
    assert outcome.certificate["counterexample"]["rule"] == "actually-fine"


def test_a_broken_rule_among_the_lossless_ones_refutes_the_lossless_claim(monkeypatch):
    monkeypatch.setitem(rr.LOSSLESS_RULES, "bonus", rr.BROKEN_RULES["bonus-off-by-one"])
    outcome = claims.check_lossless_rules(CheckOptions())
    assert outcome.status == "refuted"
    assert outcome.certificate["counterexample"]["rule"] == "bonus"
