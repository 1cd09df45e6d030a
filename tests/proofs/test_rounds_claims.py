"""The DISCO and toy-SLEM claims: checked as stated, and their checks refute the broken forms."""

from __future__ import annotations

from specproof.proofs.lookahead import (
    check_disco_peeking_lookahead_not_lossless,
    check_lookahead_lossless,
)
from specproof.proofs.registry import CheckOptions, default_registry
from specproof.proofs.slem import check_slem_lossless
from specproof.reference.lookahead import PeekingLookaheadRound

from ..support.broken import SlemKeepsDraftOnMismatch

OPTIONS = CheckOptions()


def test_the_claims_are_registered():
    names = {claim.name for claim in default_registry()}
    assert {
        "disco_lookahead_lossless",
        "disco_peeking_lookahead_not_lossless",
        "slem_toy_lossless",
    } <= names


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
