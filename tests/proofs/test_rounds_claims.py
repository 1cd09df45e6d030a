"""The DISCO and toy-SLEM claims: checked as stated, and their checks refute the broken forms."""

from __future__ import annotations

from fractions import Fraction

from specproof.proofs.lookahead import (
    check_disco_peeking_lookahead_not_lossless,
    check_lookahead_lossless,
)
from specproof.proofs.registry import CheckOptions, default_registry
from specproof.proofs.slem import check_slem_lossless
from specproof.reference.lookahead import PeekingLookaheadRound

from ..support.broken import SlemKeepsDraftOnMismatch

OPTIONS = CheckOptions()


def assert_registered(*names: str) -> None:
    """Fail naming the claims among `names` that the default registry lacks."""
    missing = set(names) - {claim.name for claim in default_registry()}
    assert not missing, f"claims not registered: {sorted(missing)}"


def test_the_claims_are_registered():
    assert_registered(
        "disco_lookahead_lossless", "disco_peeking_lookahead_not_lossless", "slem_toy_lossless"
    )


def test_honest_lookahead_and_slem_are_checked():
    for outcome in (check_lookahead_lossless(OPTIONS), check_slem_lossless(OPTIONS)):
        assert outcome.status == "checked" and outcome.certificate["examples"] >= 100


def test_the_peeking_lookahead_is_refuted_with_a_law_difference():
    outcome = check_lookahead_lossless(OPTIONS, PeekingLookaheadRound)
    assert outcome.status == "refuted"
    difference = outcome.certificate["counterexample"]["law_difference"]
    assert difference and all(d["expected"] != d["actual"] for d in difference.values())


def test_a_broken_slem_is_refuted_with_a_law_difference():
    outcome = check_slem_lossless(OPTIONS, SlemKeepsDraftOnMismatch)
    assert outcome.status == "refuted"
    assert outcome.certificate["counterexample"]["law_difference"]


def test_the_peeking_witness_is_checked():
    outcome = check_disco_peeking_lookahead_not_lossless(OPTIONS)
    assert outcome.status == "checked"
    assert (
        outcome.certificate["target_probability"],
        outcome.certificate["peeking_probability"],
    ) == (
        "1/2",
        "3/4",
    )


def test_the_disco_cost_claims_are_registered_and_checked():
    from specproof.proofs import lookahead

    assert_registered(
        "disco_oracle_lookahead_bound",
        "disco_oracle_attained_by_peeking",
        "disco_static_cost_closed_form",
    )
    for check in (
        lookahead.check_disco_oracle_lookahead_bound,
        lookahead.check_disco_oracle_attained_by_peeking,
        lookahead.check_disco_static_cost_closed_form,
    ):
        outcome = check(OPTIONS)
        assert outcome.status == "checked" and outcome.certificate["examples"] >= 60


def test_the_cost_claims_refute_broken_forms(monkeypatch):
    """Negative controls: free drafting beats the oracle; an honest loop does not attain it."""
    from dataclasses import replace

    from specproof.proofs import lookahead

    real = lookahead.loop_costs
    monkeypatch.setattr(
        lookahead, "loop_costs", lambda *args: replace(real(*args), drafted=Fraction(0))
    )
    assert lookahead.check_disco_oracle_lookahead_bound(OPTIONS).status == "refuted"
    monkeypatch.setattr(lookahead, "loop_costs", real)
    monkeypatch.setattr(lookahead, "PeekingLookaheadRound", lookahead.LookaheadRound)
    assert lookahead.check_disco_oracle_attained_by_peeking(OPTIONS).status == "refuted"
    monkeypatch.setattr(lookahead, "PeekingLookaheadRound", PeekingLookaheadRound)
    fixed = lookahead.FixedLookahead  # one draft fewer than the round's K
    monkeypatch.setattr(lookahead, "FixedLookahead", lambda k: fixed(max(k - 1, 0)))
    outcome = lookahead.check_disco_static_cost_closed_form(OPTIONS)
    assert outcome.status == "refuted" and "expected" in outcome.certificate["counterexample"]
