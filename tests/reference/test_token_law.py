"""The token-law criterion in exact arithmetic: hand-computed laws, lossless and broken rules."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from specproof.reference import Dist, ToyLM
from specproof.reference import round_rules as rr
from specproof.reference import token_law as tl

HALF = F(1, 2)


def _rows() -> tuple[list[Dist], list[Dist]]:
    # p0 = q0 = (1/2, 1/2), p1 = point mass on 0.
    return [Dist({0: HALF, 1: HALF}), Dist({0: 1, 1: 0})], [Dist({0: HALF, 1: HALF})]


def test_enumerate_law_refuses_impossible_draws():
    with pytest.raises(ValueError, match="cannot draw"):
        tl.enumerate_law(lambda choose: choose([F(0), F(0)]))


def test_sibling_round_law_differs_from_standard_sd_but_its_token_law_does_not():
    target_rows, draft_rows = _rows()
    # q = p: standard SD accepts every draft, then the bonus is 0.
    assert tl.round_law(rr.standard_sd, target_rows, draft_rows) == {(0, 0): HALF, (1, 0): HALF}
    # Sibling: accept the draft with probability 1/2, else the other token (probability 1).
    quarter = F(1, 4)
    sibling = {(0,): quarter, (0, 0): quarter, (1,): quarter, (1, 0): quarter}
    assert tl.round_law(rr.sequential_sibling, target_rows, draft_rows) == sibling
    expected = {(0, 0): HALF, (1, 0): HALF}
    assert tl.token_law(rr.sequential_sibling, target_rows, draft_rows) == expected
    assert tl.target_token_law(target_rows) == expected
    assert tl.check_token_law(rr.sequential_sibling, target_rows, draft_rows).holds


@pytest.mark.parametrize("name", sorted(rr.LOSSLESS_RULES))
def test_lossless_rules_satisfy_the_criterion(name):
    rule = rr.LOSSLESS_RULES[name]
    third = F(1, 3)
    target_rows = [Dist({0: third, 1: 0, 2: 2 * third}), Dist({0: F(1, 4), 1: F(1, 4), 2: HALF})]
    target_rows.append(Dist({0: 1, 1: 0, 2: 0}))
    draft_rows = [Dist({0: HALF, 1: F(1, 4), 2: F(1, 4)}), Dist({0: F(3, 4), 1: 0, 2: F(1, 4)})]
    check = tl.check_token_law(rule, target_rows, draft_rows)
    assert check.holds and check.positions_hold


@pytest.mark.parametrize("name", sorted(rr.BROKEN_RULES))
def test_broken_rules_violate_it_somewhere(name):
    from specproof.proofs.token_law import broken_instances

    rule = rr.BROKEN_RULES[name]
    assert any(not tl.check_token_law(rule, *rows).holds for rows in broken_instances(0, 25))


def test_accept_always_breaks_condition_b_and_a_mismatching_rule_breaks_a():
    target_rows, draft_rows = _rows()
    target_rows = [Dist({0: F(1, 4), 1: F(3, 4)}), target_rows[1]]
    assert not tl.check_token_law(rr.BROKEN_RULES["accept-always"], target_rows, draft_rows).holds

    def wrong_first(target_rows, draft_rows, draft_tokens, choose):
        out = rr.standard_sd(target_rows, draft_rows, draft_tokens, choose)
        return ((out[0] + 1) % 2, *out[1:]) if len(out) > 1 else out

    check = tl.check_token_law(wrong_first, target_rows, draft_rows)
    assert check.mismatch_probability > 0 and not check.holds


def test_generation_law_of_standard_sd_is_the_autoregressive_law_and_lossy_stopping_is_not():
    target = ToyLM(
        (0, 1),
        1,
        {(): {0: F(1, 3), 1: F(2, 3)}, (0,): {0: HALF, 1: HALF}, (1,): {0: F(3, 4), 1: F(1, 4)}},
    )
    draft = ToyLM((0, 1), 0, {(): {0: F(7, 8), 1: F(1, 8)}})
    for rule in rr.LOSSLESS_RULES.values():
        assert tl.is_lossless_generation(rule, target, draft, (), 3, 2)
    assert not tl.is_lossless_generation(
        rr.BROKEN_RULES["stop-on-unconfident-draft"], target, draft, (), 2, 2
    )


def test_bad_rows_are_refused():
    target_rows, draft_rows = _rows()
    with pytest.raises(ValueError, match="K\\+1 target rows"):
        tl.round_law(rr.standard_sd, target_rows[:1], draft_rows)
    with pytest.raises(ValueError, match="1..K\\+1"):
        tl.round_law(lambda *a: (), target_rows, draft_rows)
