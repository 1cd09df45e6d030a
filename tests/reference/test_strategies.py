"""The public strategies: valid by construction, and they reach the corners they promise."""

from __future__ import annotations

from fractions import Fraction as F

from hypothesis import find, given
from hypothesis import strategies as st

from specproof.reference import Dist, Draws, ToyLM
from specproof.reference.strategies import (
    dist_pairs,
    dists,
    draws,
    ks,
    lm_pairs,
    prefixes,
    rounds,
    toy_lms,
    uniforms,
)


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
