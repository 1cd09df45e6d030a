"""RDK reference: kernels, the pinned two-stage rule on golden cases, laws, the rank-one form."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import given, settings

from specproof.reference import STANDARD_SD, Dist, Draws, autoregressive_law, speculative_law
from specproof.reference.rdk import (
    RDK,
    Kernel,
    StageDraws,
    draw_rdk,
    identity_kernel,
    rank_one_kernel,
    rdk_proposal,
    top_k_kernel,
    two_stage_law,
)
from specproof.reference.rdk_mixture import (
    frequency_mix,
    mixture_acceptance,
    mixture_breakpoints,
    mixture_slope_at_zero,
    optimal_mix,
    pruned_prior,
)
from specproof.reference.strategies import kernels
from specproof.reference.tli import tli_proposal
from specproof.reference.toylm import ToyLM

T = ("a", "b", "c", "d")
# Pruned drafter over D = {a, b}; prior r on the pruned tokens {c, d}.
DRAFT = Dist({"a": F(1, 2), "b": F(1, 2)})
PRIOR = Dist.over(T, [0, 0, F(1, 3), F(2, 3)])


def test_tli_restricts_and_renormalises_and_refuses_no_overlap():
    assert tli_proposal(Dist({"a": F(1, 2), "z": F(1, 2)}), T) == Dist.over(T, [1, 0, 0, 0])
    with pytest.raises(ValueError, match="share no token"):
        tli_proposal(Dist({"z": 1}), T)
    with pytest.raises(ValueError, match="no probability on the shared tokens"):
        tli_proposal(Dist({"a": 0, "z": 1}), T)
    with pytest.raises(ValueError, match="distinct"):
        tli_proposal(DRAFT, ["a", "a"])


def test_rank_one_proposal_by_hand():
    # (1 - 1/4) * (1/2, 1/2, 0, 0) + 1/4 * (0, 0, 1/3, 2/3)
    kernel = rank_one_kernel(PRIOR, F(1, 4))
    assert rdk_proposal(DRAFT, kernel) == Dist.over(T, [F(3, 8), F(3, 8), F(1, 12), F(1, 6)])


def test_identity_kernel_gives_tli():
    assert rdk_proposal(DRAFT, identity_kernel(T)) == tli_proposal(DRAFT, T)


@pytest.mark.parametrize(
    ("first_u", "second_u", "expected"),
    [
        # x: cumsum(q') = (1/2, 1, 1, 1); row of a under M_{1/4} = (3/4 + 0, 0, 1/12, 1/6).
        (F(0), F(0), ("a", "a")),
        (F(1, 2) - F(1, 100), F(3, 4) - F(1, 100), ("a", "a")),
        (F(0), F(3, 4), ("a", "c")),  # 3/4 < 3/4 + 1/12: the first cumsum above is c's
        (F(0), F(5, 6), ("a", "d")),  # exactly at c's cumsum 5/6: strict rule moves on to d
        (F(1, 2), F(0), ("b", "b")),  # exactly at a's cumsum: x = b; row b = (0, 3/4, 1/12, 1/6)
        (F(1, 2), F(0) + F(3, 4), ("b", "c")),
    ],
)
def test_two_stage_draw_golden(first_u, second_u, expected):
    assert draw_rdk(DRAFT, rank_one_kernel(PRIOR, F(1, 4)), first_u, second_u) == expected


def test_draw_refuses_bad_uniforms():
    kernel = identity_kernel(T)
    with pytest.raises(ValueError, match="first_u"):
        draw_rdk(DRAFT, kernel, F(1), F(0))
    with pytest.raises(ValueError, match="second_u"):
        draw_rdk(DRAFT, kernel, F(0), F(-1, 2))


def test_kernel_validation_names_the_row():
    with pytest.raises(ValueError, match=r"rows\['b'\]"):
        Kernel("ab", {"a": {"a": 1, "b": 0}, "b": {"a": F(1, 2), "b": F(1, 3)}})
    with pytest.raises(ValueError, match="missing"):
        Kernel("ab", {"a": {"a": 1, "b": 0}})
    with pytest.raises(ValueError, match="mix"):
        rank_one_kernel(PRIOR, F(3, 2))
    with pytest.raises(ValueError, match="mix"):
        rank_one_kernel(PRIOR, 0.5)


def test_top_k_kernel_keeps_the_k_best_with_ties_in_vocabulary_order():
    affinity = {
        "a": {"a": 2, "b": 1, "c": 1},
        "b": {"b": 1},
        "c": {"a": 1, "c": 3},
        "d": {"d": 1, "a": 1},
    }
    kernel = top_k_kernel(T, affinity, 2)
    assert kernel.row("a") == Dist.over(T, [F(2, 3), F(1, 3), 0, 0])  # b beats c on the tie
    assert kernel.row("b") == Dist.over(T, [0, 1, 0, 0])
    assert kernel.row("c") == Dist.over(T, [F(1, 4), 0, F(3, 4), 0])
    with pytest.raises(ValueError, match="k must be"):
        top_k_kernel(T, affinity, 0)
    with pytest.raises(ValueError, match="all zero"):
        top_k_kernel(T, {**affinity, "b": {"a": 0}}, 1)


def test_step_law_by_hand():
    # p uniform; q_RDK = (3/8, 3/8, 1/12, 1/6): accepted mass sum min = 1/4+1/4+1/12+1/6 = 3/4.
    p = Dist.uniform(T)
    law, accepted = RDK(rank_one_kernel(PRIOR, F(1, 4))).step_law(p, DRAFT)
    assert accepted == F(3, 4)
    assert law == {t: F(1, 4) for t in T}
    # Vanilla (identity kernel) accepts only 1/2.
    assert RDK(identity_kernel(T)).step_law(p, DRAFT)[1] == F(1, 2)


def test_verify_runs_standard_sd_on_the_proposals():
    rdk = RDK(rank_one_kernel(PRIOR, F(1, 4)))
    p = Dist.uniform(T)
    drafts = rdk.draft([DRAFT], StageDraws((F(0),), (F(3, 4),)))
    assert drafts == ("c",)
    draws = Draws((F(1, 2),), F(0))
    verdict = rdk.verify([p, p], [DRAFT], drafts, draws)
    # q_RDK(c) = 1/12 < p(c) = 1/4: accepted; bonus from p at 0 is a.
    assert verdict.tokens == ("c", "a")
    # Verifying against q' instead of q'M cannot even take the draft (q'(c) = 0).
    with pytest.raises(ValueError, match="zero draft probability"):
        STANDARD_SD.verify([p, p], [tli_proposal(DRAFT, T)], drafts, draws)


@settings(max_examples=60, deadline=None)
@given(kernels(T))
def test_two_stage_law_is_the_product_for_generated_kernels(kernel):
    expected = {t: v for t, v in rdk_proposal(DRAFT, kernel).items() if v > 0}
    assert two_stage_law(DRAFT, kernel) == expected


def test_proposal_lm_is_lossless_on_a_small_loop_and_a_swap_is_not():
    vocab = ("a", "b", "c")
    target = ToyLM(
        vocab,
        1,
        {
            (): {"a": F(1, 3), "b": F(1, 3), "c": F(1, 3)},
            **{(x,): {"a": F(1, 2), "b": 0, "c": F(1, 2)} for x in vocab},
        },
    )
    drafter = ToyLM(vocab, 0, {(): {"a": F(1, 4), "b": F(1, 4), "c": F(1, 2)}})
    kernel = rank_one_kernel(Dist.over(vocab, [0, F(1, 2), F(1, 2)]), F(1, 3))
    proposals = RDK(kernel).proposal_lm(drafter, ("a", "b"))
    expected = autoregressive_law(target, (), 3)
    assert speculative_law(target, proposals, (), 3, 2, "sd") == expected
    # Negative control: the same proposals presented as the *target* give a different law.
    assert speculative_law(proposals, proposals, (), 3, 2, "sd") != expected


def test_mixture_oracle_by_hand():
    # p = (0, 1/2, 1/2) over T' = (a, b, c); q' = (1, 0, 0); r = (0, 0, 1).
    tokens = ("a", "b", "c")
    p = Dist.over(tokens, [0, F(1, 2), F(1, 2)])
    source = Dist.over(tokens, [1, 0, 0])
    prior = Dist.over(tokens, [0, 0, 1])
    # alpha(lambda) = min(1/2, lambda): kink at 1/2; slope at 0 is r(b)-0 + r(c)-0 = 1.
    assert mixture_breakpoints(p, source, prior) == [F(1, 2)]
    assert mixture_slope_at_zero(p, source, prior) == 1
    assert optimal_mix(p, source, prior) == (F(1, 2), F(1, 2))
    assert mixture_acceptance(p, source, prior, F(1, 4)) == F(1, 4)


def test_mixture_slope_counts_equality_tokens_only_when_r_is_smaller():
    tokens = ("a", "b")
    p = Dist.over(tokens, [F(1, 2), F(1, 2)])
    source = Dist.over(tokens, [F(1, 2), F(1, 2)])  # q' = p: vanilla is perfect
    prior = Dist.over(tokens, [1, 0])
    assert mixture_slope_at_zero(p, source, prior) == F(-1, 2)
    assert optimal_mix(p, source, prior) == (0, 1)


def test_frequency_prior_and_mix():
    frequencies = {"a": 5, "b": 3, "c": 1, "d": 1}
    assert frequency_mix(frequencies, ("a", "b")) == F(1, 5)
    assert pruned_prior(frequencies, ("a", "b"), T) == Dist.over(T, [0, 0, F(1, 2), F(1, 2)])
    with pytest.raises(ValueError, match="no pruned token"):
        pruned_prior(frequencies, T, T)
    with pytest.raises(ValueError, match="at least one"):
        frequency_mix({}, ("a",))
