"""Dynamic lookahead with a history, the exact cost model and the hindsight oracle."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import given, settings

from specproof.proofs.lookahead import cost_instances
from specproof.reference import Dist, ToyLM, autoregressive_law
from specproof.reference.lookahead import (
    ConfidenceThreshold,
    FixedLookahead,
    LookaheadRound,
    PeekingLookaheadRound,
    lookahead_law,
    lookahead_run_law,
)
from specproof.reference.lookahead_cost import (
    AdaptiveLookahead,
    EntropyStop,
    HeuristicLookahead,
    HistoryTablePolicy,
    entropy,
    expected_accepted_run,
    loop_costs,
)
from specproof.reference.rounds import DraftState, RoundRecord

from ..support.toy_lms import ORDER_ONE_TARGET, VOCAB

HALF = ToyLM(("a", "b"), 0, {(): Dist.over(("a", "b"), [F(1, 2), F(1, 2)])})
ALWAYS_A = ToyLM(("a", "b"), 0, {(): Dist.point(("a", "b"), "a")})


def test_drafts_after_a_rejection_are_counted():
    """p = (1/2, 1/2), q = point on a, K = 2: both drafts are made even if the first fails."""
    law = LookaheadRound(HALF, ALWAYS_A, FixedLookahead(2), 2).round_history_law(())
    assert law == {
        (("b",), 2): F(1, 2),
        (("a", "b"), 2): F(1, 4),
        (("a", "a", "a"), 2): F(1, 8),
        (("a", "a", "b"), 2): F(1, 8),
    }
    # The peeking control stops before the rejection: it drafts only what is accepted.
    peek = PeekingLookaheadRound(HALF, ALWAYS_A, FixedLookahead(2), 2).round_history_law(())
    assert {drafted for (_, drafted) in peek} == {0, 1, 2}
    assert all(drafted == len(tokens) - 1 for (tokens, drafted) in peek)


@settings(max_examples=30)
@given(instance=cost_instances())
def test_the_history_law_marginal_is_the_round_law(instance):
    target, draft, prefix, _, policy, max_k = instance
    kernel = LookaheadRound(target, draft, policy, max_k)
    marginal: dict = {}
    for (tokens, drafted), prob in kernel.round_history_law(prefix).items():
        assert len(tokens) - 1 <= drafted <= max_k
        marginal[tokens] = marginal.get(tokens, F(0)) + prob
    assert marginal == kernel.round_law(prefix)


def test_the_heuristic_schedule():
    policy = HeuristicLookahead(2, 5)
    records = [RoundRecord(2, 2), RoundRecord(4, 1), RoundRecord(3, 3), RoundRecord(5, 5)]
    assert [policy.round_k(tuple(records[:i])) for i in range(5)] == [2, 4, 3, 5, 5]
    assert HeuristicLookahead(1, 3).round_k((RoundRecord(1, 0),)) == 1  # never below 1


def test_history_policies_change_k_and_keep_the_target_law():
    vocab, target = VOCAB, ORDER_ONE_TARGET
    draft = ToyLM(vocab, 0, {(): Dist.over(vocab, [F(3, 4), F(1, 4), 0])})
    policies = [
        HeuristicLookahead(1, 3),
        AdaptiveLookahead(0, 3, F(1, 2)),
        HistoryTablePolicy({(0, None, 0): F(0), (1, "a", None): F(1, 3)}, F(2, 3)),
        EntropyStop(0.6),
    ]
    for policy in policies:
        kernel = LookaheadRound(target, draft, policy, 3)
        run = lookahead_run_law(kernel, (), 4)
        # The drafts per round depend on the past: several first-round choices lead to
        # different second-round drafts.
        second = {records[1].drafted for (_, records) in run if len(records) > 1}
        assert len(second) > 1 or isinstance(policy, EntropyStop)
        assert lookahead_law(target, draft, (), 4, policy, 3) == autoregressive_law(target, (), 4)


def test_past_acceptance_and_entropy():
    row = Dist.over(("a", "b"), [F(1, 2), F(1, 2)])
    state = DraftState((), (), (), row, (RoundRecord(3, 1), RoundRecord(1, 1)))
    assert (state.rounds, state.past_acceptance) == (2, F(2, 4))
    assert DraftState((), (), (), row, (RoundRecord(0, 0),)).past_acceptance is None
    assert entropy(row) == pytest.approx(0.6931471805599453)
    assert entropy(Dist.point(("a", "b"), "a")) == 0


@pytest.mark.parametrize("k", range(4))
def test_static_cost_by_hand(k):
    """One round, p = (1/2, 1/2), q = point on a: alpha = 1/2."""
    costs = loop_costs(LookaheadRound(HALF, ALWAYS_A, FixedLookahead(k), k), (), 1)
    tokens = sum(F(1, 2**j) for j in range(k + 1))
    assert (costs.rounds, costs.drafted, costs.tokens) == (1, k, tokens)
    assert costs.oracle_accepted == tokens - 1
    assert costs.cost_per_token(F(1, 4)) == (1 + F(k, 4)) / tokens
    # Oracle: K = A accepted drafts, 1 + A/4 for A + 1 tokens; 1 for c > 1.
    assert costs.oracle_cost_per_token(F(1, 4)) == (1 + (tokens - 1) / 4) / tokens
    assert costs.oracle_cost_per_token(F(2)) == 1


def test_the_oracle_is_strictly_better_than_a_static_k_and_met_by_peeking():
    honest = loop_costs(LookaheadRound(HALF, ALWAYS_A, FixedLookahead(3), 3), (), 3)
    peek = loop_costs(PeekingLookaheadRound(HALF, ALWAYS_A, FixedLookahead(3), 3), (), 3)
    c = F(1, 2)
    assert honest.cost_per_token(c) > honest.oracle_cost_per_token(c)
    assert peek.cost_per_token(c) == peek.oracle_cost_per_token(c)
    confident = loop_costs(LookaheadRound(HALF, ALWAYS_A, ConfidenceThreshold(F(1)), 3), (), 3)
    assert confident.cost_per_token(c) >= confident.oracle_cost_per_token(c)


def test_expected_accepted_run():
    kernel = LookaheadRound(HALF, ALWAYS_A, FixedLookahead(2), 2)
    assert expected_accepted_run(kernel, ()) == F(1, 2) + F(1, 4)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: HeuristicLookahead(0, 2), "k0 must be an int >= 1"),
        (lambda: HeuristicLookahead(3, 2), r"max_k must be >= k0 \(3\)"),
        (lambda: EntropyStop(-1.0), "threshold must be a number >= 0"),
        (lambda: AdaptiveLookahead(1, 2, F(2)), r"threshold must lie in \[0, 1\]"),
        (lambda: HistoryTablePolicy({(0, None, None): F(-1)}), "table"),
        (
            lambda: loop_costs(LookaheadRound(HALF, ALWAYS_A, FixedLookahead(1), 1), (), 0),
            "n must be >= 1",
        ),
        (
            lambda: loop_costs(LookaheadRound(HALF, ALWAYS_A, FixedLookahead(1), 1), ("z",), 1),
            "prefix holds tokens outside",
        ),
        (
            lambda: loop_costs(
                LookaheadRound(HALF, ALWAYS_A, FixedLookahead(1), 1), (), 1
            ).cost_per_token(F(-1)),
            "c must be >= 0",
        ),
    ],
)
def test_bad_input_is_refused_by_name(call, message):
    with pytest.raises(ValueError, match=message):
        call()
