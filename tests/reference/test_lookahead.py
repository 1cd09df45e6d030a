"""Lookahead policies: any drafter-side policy keeps the target's law; peeking does not."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import find, given, settings

from specproof.proofs.lookahead import lookahead_equality, lookahead_instances, peeking_witness
from specproof.reference import (
    EXACT_MATCH,
    GREEDY,
    STANDARD_SD,
    Dist,
    ToyLM,
    autoregressive_law,
    speculative_law,
)
from specproof.reference.lookahead import (
    ConfidenceThreshold,
    FixedLookahead,
    LookaheadRound,
    PeekingLookaheadRound,
    TablePolicy,
    keeps_drafting,
    lookahead_law,
)
from specproof.reference.rounds import DraftState, VerifierRound, round_kernel_law

VOCAB = ("a", "b", "c")
TARGET = ToyLM(
    VOCAB,
    1,
    {
        (): Dist.over(VOCAB, [F(1, 2), F(1, 3), F(1, 6)]),
        ("a",): Dist.over(VOCAB, [F(1, 5), F(1, 5), F(3, 5)]),
        ("b",): Dist.over(VOCAB, [F(1, 2), 0, F(1, 2)]),
        ("c",): Dist.over(VOCAB, [F(1, 3), F(1, 3), F(1, 3)]),
    },
)
DRAFT = ToyLM(
    VOCAB,
    1,
    {
        (): Dist.over(VOCAB, [F(3, 4), F(1, 4), 0]),
        ("a",): Dist.over(VOCAB, [F(1, 4), F(1, 4), F(1, 2)]),
        ("b",): Dist.over(VOCAB, [1, 0, 0]),
        ("c",): Dist.over(VOCAB, [0, F(1, 2), F(1, 2)]),
    },
)


def round_lengths(kernel, context=()):
    return {len(outcome) for outcome in kernel.round_law(context)}


def test_a_confidence_threshold_varies_k_and_keeps_the_target_law():
    """Non-constant policy: after a confident draft it goes on, after an unsure one it stops."""
    policy = ConfidenceThreshold(F(1, 2))
    kernel = LookaheadRound(TARGET, DRAFT, policy, 3)
    # Drafting "a" (q = 3/4) goes on, "b" (q = 1/4) stops: rounds of 2 tokens and of up to 4.
    assert round_lengths(kernel) == {1, 2, 3, 4}
    fixed = [VerifierRound(TARGET, DRAFT, k).round_law(()) for k in range(4)]
    assert all(kernel.round_law(()) != law for law in fixed)
    assert lookahead_law(TARGET, DRAFT, (), 4, policy, 3) == autoregressive_law(TARGET, (), 4)


def test_a_randomised_table_policy_keeps_the_target_law():
    policy = TablePolicy({(0, None): F(2, 3), (1, "a"): F(1, 4), (1, "b"): 0}, F(1, 2))
    for verifier in (STANDARD_SD, EXACT_MATCH):
        law = lookahead_law(TARGET, DRAFT, ("c",), 4, policy, 3, verifier)
        assert law == autoregressive_law(TARGET, ("c",), 4)
    assert lookahead_law(TARGET, DRAFT, (), 3, policy, 3, GREEDY) == autoregressive_law(
        TARGET, (), 3, greedy=True
    )


@pytest.mark.parametrize("verifier", [STANDARD_SD, EXACT_MATCH, GREEDY], ids=lambda v: v.name)
@settings(max_examples=40)
@given(instance=lookahead_instances())
def test_generated_policies_keep_the_target_law(verifier, instance):
    assert lookahead_equality(instance, verifier) is None


@pytest.mark.parametrize("k", range(4))
def test_fixed_lookahead_is_todays_speculative_law(k):
    law = lookahead_law(TARGET, DRAFT, ("a",), 3, FixedLookahead(k), 3)
    assert law == dict(speculative_law(TARGET, DRAFT, ("a",), 3, k).items())


def test_peeking_at_the_coin_changes_the_law():
    """Negative control: the witness, by hand, and the same on this page's pair."""
    _, honest, peeking = peeking_witness()
    assert (honest, peeking) == (F(1, 2), F(3, 4))
    law = round_kernel_law(PeekingLookaheadRound(TARGET, DRAFT, FixedLookahead(3), 3), (), 3)
    assert sum(law.values()) == 1 and law != autoregressive_law(TARGET, (), 3)


def test_peeking_is_caught_on_generated_instances():
    find(
        lookahead_instances(),
        lambda instance: lookahead_equality(instance, kernel=PeekingLookaheadRound) is not None,
    )


def test_keeps_drafting_compares_its_own_uniform():
    row = Dist.over(VOCAB, [F(1, 2), F(1, 2), 0])
    state = DraftState((), ("a",), (row,), row)
    policy = TablePolicy({(1, "a"): F(1, 3)})
    assert keeps_drafting(policy, state, F(0)) and keeps_drafting(policy, state, F(1, 4))
    assert not keeps_drafting(policy, state, F(1, 3))
    assert policy.continue_probability(DraftState((), (), (), row)) == 1  # the default
    with pytest.raises(ValueError, match=r"u must lie in \[0, 1\)"):
        keeps_drafting(policy, state, F(1))


class OutOfRange:
    def continue_probability(self, state):
        return F(2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: FixedLookahead(-1), "k must be an int >= 0"),
        (lambda: ConfidenceThreshold(0.5), "threshold must be an exact rational"),
        (lambda: ConfidenceThreshold(F(3, 2)), r"threshold must lie in \[0, 1\]"),
        (lambda: TablePolicy({(0, None): F(-1)}), r"table\[\(0, None\)\] must lie in"),
        (lambda: LookaheadRound(TARGET, DRAFT, "policy", 2), "policy must have"),
        (lambda: LookaheadRound(TARGET, DRAFT, FixedLookahead(1), -2), "max_k must be"),
        (
            lambda: lookahead_law(TARGET, DRAFT, (), 2, OutOfRange(), 2),
            r"continue_probability must lie in \[0, 1\], got 2",
        ),
    ],
)
def test_bad_policies_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()
