"""The public strategies: valid by construction, and they reach the corners they promise."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import find, given
from hypothesis import strategies as st

from specproof.reference import Dist, Draws, ToyLM
from specproof.reference.lookahead import (
    ConfidenceThreshold,
    FixedLookahead,
    LookaheadPolicy,
    TablePolicy,
)
from specproof.reference.rounds import DraftState
from specproof.reference.strategies import (
    dist_pairs,
    dists,
    draws,
    ks,
    lm_pairs,
    lookahead_policies,
    prefixes,
    probabilities,
    rounds,
    tokenizer_pairs,
    toy_lms,
    toy_tokenizers,
    uniforms,
)
from specproof.reference.tokenizers import VOCABULARY_RELATIONS, ToyTokenizer, vocabulary_relation


@given(dists((0, 1, 2, 3)))
def test_dists_are_valid_and_over_the_vocabulary(d):
    assert isinstance(d, Dist) and d.tokens == (0, 1, 2, 3) and sum(d.probs) == 1


@given(dists(("a", "b", "c"), allow_zeros=False))
def test_dists_without_zeros_have_full_support(d):
    assert all(p > 0 for p in d.probs)


def test_dists_reach_point_masses_zeros_and_uniform():
    vocab = (0, 1, 2)
    find(dists(vocab), lambda d: max(d.probs) == 1)
    find(dists(vocab), lambda d: 0 in d.probs and max(d.probs) < 1)
    find(dists(vocab), lambda d: d.probs == (F(1, 3),) * 3)


def test_dist_pairs_reach_identical_disjoint_and_zero_draft_on_target_mass():
    find(dist_pairs(), lambda pair: pair[0] is pair[1] and len(pair[0]) > 1)
    find(dist_pairs(), lambda pair: all(pair[0][t] == 0 or pair[1][t] == 0 for t in pair[0]))
    find(dist_pairs(), lambda pair: any(pair[0][t] > 0 and pair[1][t] == 0 for t in pair[0]))


@given(st.integers(0, 2).flatmap(lambda order: toy_lms((0, 1), order)))
def test_toy_lms_are_valid_with_every_context(lm):
    assert isinstance(lm, ToyLM) and len(lm.table) == sum(2**n for n in range(lm.order + 1))


@given(lm_pairs(max_vocab=3, max_order=2))
def test_lm_pairs_share_a_vocabulary(pair):
    assert pair[0].vocab == pair[1].vocab


def test_lm_pairs_reach_different_orders():
    find(lm_pairs(), lambda pair: pair[0].order != pair[1].order)


@given(prefixes((0, 1), 3), ks(4), uniforms())
def test_prefixes_ks_and_uniforms_are_in_range(prefix, k, u):
    assert len(prefix) <= 3 and set(prefix) <= {0, 1}
    assert 0 <= k <= 4
    assert 0 <= u < 1 and isinstance(u, F)


def test_uniforms_reach_zero_and_values_near_one():
    find(uniforms(), lambda u: u == 0)
    find(uniforms(), lambda u: u > F(9, 10))


@given(st.integers(0, 4).flatmap(lambda k: st.tuples(st.just(k), draws(k))))
def test_draws_match_k(case):
    k, d = case
    assert isinstance(d, Draws) and len(d.accept_u) == k


@given(rounds())
def test_rounds_are_well_formed(case):
    target_rows, draft_rows, draft_tokens, d = case
    k = len(draft_tokens)
    assert len(target_rows) == k + 1 and len(draft_rows) == k and len(d.accept_u) == k
    assert all(row[t] > 0 for row, t in zip(draft_rows, draft_tokens, strict=True))


@given(toy_tokenizers())
def test_toy_tokenizers_are_valid_and_hold_every_character(tokenizer):
    assert isinstance(tokenizer, ToyTokenizer)
    assert set("abc") <= set(tokenizer.tokens) and tokenizer.alphabet == frozenset("abc")
    assert all(1 <= len(t) <= 3 for t in tokenizer.tokens) and len(tokenizer.tokens) <= 3 + 4


def test_toy_tokenizers_reach_lossy_and_multi_character_tokens():
    lossy = find(toy_tokenizers(), lambda t: not t.is_injective)
    assert lossy.decode(lossy.encode("aX")) != "aX"
    find(toy_tokenizers(lossy=False), lambda t: sum(len(x) == 3 for x in t.tokens) >= 2)


@given(toy_tokenizers(lossy=True), toy_tokenizers(lossy=False))
def test_toy_tokenizers_honour_lossy(lossy, exact):
    assert not lossy.is_injective and exact.is_injective


@pytest.mark.parametrize("relation", VOCABULARY_RELATIONS)
@given(data=st.data())
def test_tokenizer_pairs_have_the_relation_asked_for(relation, data):
    target, drafter = data.draw(tokenizer_pairs(relation))
    assert vocabulary_relation(target, drafter) == relation
    if relation != "disjoint":
        assert all(drafter.can_express(t) for t in target.tokens)


def test_tokenizer_pairs_reach_every_relation_and_the_extra_character():
    for relation in ("equal", "subset", "superset", "overlapping", "singles_only"):
        find(tokenizer_pairs(), lambda pair, r=relation: vocabulary_relation(*pair) == r)
    find(tokenizer_pairs(), lambda pair: "x" in pair[1].tokens and pair[0].can_express("x"))
    find(tokenizer_pairs(), lambda pair: "x" in pair[1].tokens and not pair[0].can_express("x"))


STATE = DraftState(
    (0,), (1,), (Dist.over((0, 1), [F(1, 3), F(2, 3)]),), Dist.over((0, 1), [F(1, 2), F(1, 2)])
)


@given(lookahead_policies((0, 1), max_k=3))
def test_lookahead_policies_give_probabilities(policy):
    assert isinstance(policy, LookaheadPolicy)
    assert 0 <= policy.continue_probability(STATE) <= 1


def test_lookahead_policies_reach_every_kind_and_randomised_answers():
    from specproof.reference.lookahead_cost import (
        AdaptiveLookahead,
        EntropyStop,
        HeuristicLookahead,
        HistoryTablePolicy,
    )
    from specproof.reference.rounds import RoundRecord

    kinds = (FixedLookahead, ConfidenceThreshold, TablePolicy, EntropyStop, HeuristicLookahead)
    for kind in (*kinds, AdaptiveLookahead, HistoryTablePolicy):
        find(lookahead_policies((0, 1)), lambda p, kind=kind: isinstance(p, kind))
    find(lookahead_policies((0, 1)), lambda p: 0 < p.continue_probability(STATE) < 1)
    # Some generated policies answer differently once the loop has a past.
    past = DraftState(
        STATE.context, STATE.drafts, STATE.draft_rows, STATE.next_draft_row, (RoundRecord(2, 0),)
    )
    find(
        lookahead_policies((0, 1), max_k=3),
        lambda p: p.continue_probability(past) != p.continue_probability(STATE),
    )
    find(probabilities(), lambda p: p == 1)
    find(probabilities(), lambda p: p == 0)
