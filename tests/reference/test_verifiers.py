"""Verifiers: pinned rules on golden cases, validation, and exact laws derived from the rules."""

from __future__ import annotations

import itertools
from fractions import Fraction as F

import pytest
from hypothesis import given

from specproof.reference import (
    ACCEPT,
    EXACT_MATCH,
    GREEDY,
    STANDARD_SD,
    Dist,
    Draws,
    argmax,
    inverse_cdf,
)
from specproof.reference import formulas as f
from specproof.reference.strategies import dist_pairs, rounds
from specproof.reference.verifier import _intervals

from ..support.broken import dist

VERIFIERS = [STANDARD_SD, EXACT_MATCH, GREEDY]

# Golden round: target rows p0 = (1/4, 3/4), p1 = (1/2, 1/2); draft rows q0 = (1/2, 1/2).
P0, P1, Q0 = dist(F(1, 4), F(3, 4)), dist(F(1, 2), F(1, 2)), dist(F(1, 2), F(1, 2))


@pytest.mark.parametrize(
    ("u", "final_u", "tokens", "n_accepted", "last"),
    [
        (F(0), F(0), (0, 0), 1, "bonus"),  # 0 * 1/2 < 1/4: accept; bonus from p1 at 0 -> 0
        (F(1, 2) - F(1, 100), F(1, 2), (0, 1), 1, "bonus"),  # just below p/q = 1/2: accept
        (F(1, 2), F(0), (1,), 0, "recovered"),  # exactly p/q: strict rule rejects; r = (0, 1/4)
        (F(99, 100), F(99, 100), (1,), 0, "recovered"),
    ],
)
def test_sd_golden_round(u, final_u, tokens, n_accepted, last):
    verdict = STANDARD_SD.verify([P0, P1], [Q0], [0], Draws((u,), final_u))
    assert (verdict.tokens, verdict.n_accepted, verdict.last) == (tokens, n_accepted, last)


def test_exact_match_uses_the_target_sample_as_recovered_token():
    # target sample at u: token 0 iff u < 1/4.
    assert EXACT_MATCH.verify([P0, P1], [Q0], [0], Draws((F(1, 5),), F(3, 4))).tokens == (0, 1)
    assert EXACT_MATCH.verify([P0, P1], [Q0], [0], Draws((F(1, 4),), F(0))).tokens == (1,)


def test_greedy_ties_go_to_the_lowest_index():
    assert argmax(dist(F(1, 3), F(1, 3), F(1, 3))) == 0
    assert argmax(dist(0, F(1, 2), F(1, 2))) == 1
    verdict = GREEDY.verify([P1, P0], [Q0], [1], Draws((F(0),), F(0)))
    assert verdict.tokens == (0,) and verdict.last == "recovered"


def test_inverse_cdf_is_strict_and_skips_zero_weights():
    assert inverse_cdf([F(0), F(1, 2), F(1, 2)], [0, 1, 2], F(0)) == 1
    assert inverse_cdf([F(1, 2), F(0), F(1, 2)], [0, 1, 2], F(1, 2)) == 2
    with pytest.raises(ValueError, match="all-zero"):
        inverse_cdf([F(0), F(0)], [0, 1], F(0))


@pytest.mark.parametrize("verifier", VERIFIERS, ids=lambda v: v.name)
def test_round_validation_names_the_argument(verifier):
    ok = Draws((F(0),), F(0))
    with pytest.raises(ValueError, match="target_rows must have length K\\+1=2"):
        verifier.verify([P0], [Q0], [0], ok)
    with pytest.raises(ValueError, match="draft_rows must have length K=1"):
        verifier.verify([P0, P1], [], [0], ok)
    with pytest.raises(ValueError, match="draft_tokens\\[0\\] = 7 is outside the vocabulary"):
        verifier.verify([P0, P1], [Q0], [7], ok)
    with pytest.raises(ValueError, match="zero draft probability"):
        verifier.verify([P0, P1], [dist(0, 1)], [0], ok)
    with pytest.raises(ValueError, match="vocabularies differ"):
        verifier.verify([P0, P1], [Dist({"a": 1})], ["a"], ok)
    with pytest.raises(ValueError, match="accept_u must have length K=1"):
        verifier.verify([P0, P1], [Q0], [0], Draws((), F(0)))
    with pytest.raises(ValueError, match="target_rows\\[0\\] must be a Dist"):
        verifier.verify([[F(1)], P1], [Q0], [0], ok)


@pytest.mark.parametrize(
    ("accept_u", "final_u", "message"),
    [
        ((F(1),), F(0), r"accept_u\[0\] must lie in \[0, 1\)"),
        ((F(0),), F(-1, 2), "final_u"),
        ((0.5,), F(0), "exact rational"),
    ],
)
def test_draws_are_validated(accept_u, final_u, message):
    with pytest.raises(ValueError, match=message):
        Draws(accept_u, final_u)


def test_k_zero_is_a_bonus_only_round():
    verdict = STANDARD_SD.verify([P0], [], [], Draws((), F(1, 2)))
    assert verdict.tokens == (1,) and verdict.n_accepted == 0 and verdict.last == "bonus"


@given(dist_pairs(max_size=5))
def test_sd_position_law_is_the_formula(pair):
    """The law integrated from the rule u*q(x) < p(x) matches min(1, p/q) and the residual."""
    target, draft = pair
    draft_probs = [draft[t] for t in target]
    res = f.residual(target.probs, draft_probs, f.FRACTION_ARITH)
    for x in draft.support:
        law = STANDARD_SD.position_law(target, draft, x)
        accept = f.acceptance_probability(target[x], draft[x], f.FRACTION_ARITH)
        assert law.get(ACCEPT, 0) == accept
        for y, r in zip(target.tokens, res, strict=True):
            expected = (1 - accept) * r / sum(res) if accept < 1 else 0
            assert law.get(y, 0) == expected


def _round_law_by_brute_force(verifier, target_rows, draft_rows, draft_tokens):
    """The exact law of verify()'s output over all K+1 uniforms jointly, from verify alone."""
    k = len(draft_tokens)
    accept_points = [
        verifier.decide_breakpoints(target_rows[i], draft_rows[i], draft_tokens[i])[0]
        for i in range(k)
    ]
    final_points = [
        p
        for i in range(k)
        for p in verifier.decide_breakpoints(target_rows[i], draft_rows[i], draft_tokens[i])[1]
    ]
    final_points += verifier.bonus_breakpoints(target_rows[k])
    law = {}
    boxes = [_intervals(points) for points in accept_points] + [_intervals(final_points)]
    for box in itertools.product(*boxes):
        weight = F(1)
        for lo, hi in box:
            weight *= hi - lo
        verdict = verifier.verify(
            target_rows,
            draft_rows,
            draft_tokens,
            Draws(tuple(lo for lo, _ in box[:-1]), box[-1][0]),
        )
        law[verdict.tokens] = law.get(verdict.tokens, 0) + weight
    return law


def _round_law_from_position_laws(verifier, target_rows, draft_rows, draft_tokens):
    law, weight = {}, F(1)
    for i, token in enumerate(draft_tokens):
        position = verifier.position_law(target_rows[i], draft_rows[i], token)
        for outcome, prob in position.items():
            if outcome is not ACCEPT:
                key = (*draft_tokens[:i], outcome)
                law[key] = law.get(key, 0) + weight * prob
        weight *= position.get(ACCEPT, 0)
    for token, prob in verifier.bonus_law(target_rows[-1]).items():
        key = (*draft_tokens, token)
        law[key] = law.get(key, 0) + weight * prob
    return {key: prob for key, prob in law.items() if prob}


@pytest.mark.parametrize("verifier", VERIFIERS, ids=lambda v: v.name)
@given(case=rounds(max_vocab=4, max_k=3))
def test_position_laws_compose_to_the_law_of_verify(verifier, case):
    """Integrating verify() over all uniforms jointly equals the product of per-position laws."""
    target_rows, draft_rows, draft_tokens, _ = case
    brute = _round_law_by_brute_force(verifier, target_rows, draft_rows, draft_tokens)
    composed = _round_law_from_position_laws(verifier, target_rows, draft_rows, draft_tokens)
    assert brute == composed
    assert sum(brute.values()) == 1


@pytest.mark.parametrize("verifier", VERIFIERS, ids=lambda v: v.name)
@given(case=rounds())
def test_verdicts_are_well_formed(verifier, case):
    target_rows, draft_rows, draft_tokens, draws = case
    verdict = verifier.verify(target_rows, draft_rows, draft_tokens, draws)
    assert len(verdict.tokens) == verdict.n_accepted + 1
    assert tuple(verdict.tokens[:-1]) == tuple(draft_tokens[: verdict.n_accepted])
    assert verdict.last == ("bonus" if verdict.n_accepted == len(draft_tokens) else "recovered")
    assert (
        target_rows[verdict.n_accepted][verdict.tokens[-1]] > 0
    )  # never outputs a zero-mass token


def test_position_law_catches_missing_breakpoints():
    class Sloppy(type(STANDARD_SD)):
        name = "sloppy"

        def decide_breakpoints(self, target_row, draft_row, draft_token):
            return [], []

    with pytest.raises(AssertionError, match="breakpoints miss"):
        Sloppy().position_law(P0, Q0, 0)
