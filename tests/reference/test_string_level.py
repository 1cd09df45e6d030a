"""SLEM (look-behind) and SLRS, reference: laws, explicit uniforms, psi, bad input."""

from __future__ import annotations

import itertools
from fractions import Fraction as F

import pytest

from specproof.reference import ALGORITHMS, ToyLM, autoregressive_law
from specproof.reference.rounds import round_kernel_law
from specproof.reference.slrs import (
    SLRS,
    PsiVerifiedRound,
    SlrsRound,
    psi,
    segmentation_count,
    segmentations,
)
from specproof.reference.string_level import (
    SLEM,
    LookbehindSlemRound,
    first_token_law,
    retokenize_with_lookbehind,
    text_level_slem_law,
)
from specproof.reference.tokenizers import ToyTokenizer

from .test_heterogeneous import PAIRS, lm, models


@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[3]}-{bool(p[2])}")
@pytest.mark.parametrize("k", [0, 1, 2])
def test_slem_and_slrs_laws_are_the_targets(pair, k):
    target_tokens, drafter_tokens, normalise, _ = pair
    target_tok, drafter_tok = ToyTokenizer(target_tokens, normalise), ToyTokenizer(drafter_tokens)
    target, drafter = models(target_tokens, drafter_tokens)
    prefix = (target_tokens[-1],)
    expected = autoregressive_law(target, prefix, 3)
    for lookbehind in (0, 2):
        law = SLEM.law(
            target, drafter, target_tok, drafter_tok, prefix, 3, k, lookbehind=lookbehind
        )
        assert law == expected
    greedy = SLEM.law(target, drafter, target_tok, drafter_tok, prefix, 3, k, mode="greedy")
    assert greedy == autoregressive_law(target, prefix, 3, greedy=True)
    assert len(greedy) == 1
    assert SLRS.law(target, drafter, target_tok, drafter_tok, prefix, 3, k) == expected


def test_lookbehind_never_changes_committed_tokens_and_matches_encode_for_greedy_tokenizers():
    tok = ToyTokenizer(["a", "b", "ab", "ba", "aba"])
    for committed in itertools.product(tok.tokens, repeat=2):
        for length in range(4):
            for chars in itertools.product("ab", repeat=length):
                text = "".join(chars)
                for lookbehind in range(3):
                    proposal = retokenize_with_lookbehind(tok, committed, text, lookbehind)
                    assert "".join(proposal) == text
                    assert proposal == tok.encode(text)


def uniforms(denominator, count):
    grid = [F(i, denominator) for i in range(denominator)]
    return itertools.product(grid, repeat=count)


def test_slem_run_round_integrates_to_round_law():
    # Dyadic rows (multiples of 1/4): every inverse-CDF breakpoint is on the grid of quarters,
    # so evaluating run_round at the grid's left ends integrates it exactly.
    target_tok, drafter_tok = ToyTokenizer(["a", "b", "ab", "ba"]), ToyTokenizer(["a", "b", "ba"])
    target = lm(target_tok.tokens, 1, lambda c: [1, 1, 2, 0] if c else [0, 2, 1, 1])
    drafter = lm(drafter_tok.tokens, 1, lambda c: [2, 1, 1] if c == ("a",) else [1, 1, 2])
    for mode in ("sample", "greedy"):
        kernel = LookbehindSlemRound(target, drafter, target_tok, drafter_tok, 1, mode=mode)
        for context in [(), ("ab",)]:
            law: dict = {}
            for u in uniforms(4, 4):
                out = kernel.run_round(context, u[:1], u[1:])
                law[out] = law.get(out, F(0)) + F(1, 4**4)
            assert law == {k: v for k, v in kernel.round_law(context).items() if v}


def test_slrs_run_round_integrates_to_round_law():
    # p = (1/8, 1/8, 3/4), q = (1/2, 1/2) over single characters: ratios, residuals and the
    # bonus CDF all break on eighths.
    target_tok, drafter_tok = ToyTokenizer(["a", "b", "ab"]), ToyTokenizer(["a", "b"])
    target = ToyLM(target_tok.tokens, 0, {(): {"a": F(1, 8), "b": F(1, 8), "ab": F(3, 4)}})
    drafter = ToyLM(drafter_tok.tokens, 0, {(): {"a": F(1, 2), "b": F(1, 2)}})
    kernel = SlrsRound(target, drafter, target_tok, drafter_tok, 1)
    law: dict = {}
    for u in uniforms(8, 3):
        out = kernel.run_slrs_round((), u[:1], u[1:2], u[2])
        law[out] = law.get(out, F(0)) + F(1, 8**3)
    assert law == kernel.round_law(())


def test_bad_uniforms_and_counts_are_refused():
    target_tok, drafter_tok = ToyTokenizer(["a", "b"]), ToyTokenizer(["a", "b"])
    target, drafter = models(target_tok.tokens, drafter_tok.tokens)
    kernel = LookbehindSlemRound(target, drafter, target_tok, drafter_tok, 2)
    with pytest.raises(ValueError, match="drafter_u must have length K=2"):
        kernel.run_round((), [F(0)], [F(0)] * 3)
    with pytest.raises(ValueError, match=r"drafter_u\[0\] must lie in \[0, 1\)"):
        kernel.run_round((), [F(1), F(0)], [F(0)] * 3)
    with pytest.raises(ValueError, match="mode must be one of"):
        LookbehindSlemRound(target, drafter, target_tok, drafter_tok, 1, mode="beam")
    with pytest.raises(ValueError, match="mode must be 'sample' for SLRS"):
        SlrsRound(target, drafter, target_tok, drafter_tok, 1, mode="greedy")
    with pytest.raises(ValueError, match="cannot express the target tokens"):
        SLEM.round(target, lm(("c",), 0, lambda c: [1]), target_tok, ToyTokenizer(["c"]), 1)


def test_text_level_slem_breaks_on_non_canonical_outputs():
    target_tok, drafter_tok = ToyTokenizer(["a", "b", "ab"]), ToyTokenizer(["a", "b"])
    # The target emits ("a", "b") surely; its tokenizer writes that text ("ab",).
    target = lm(target_tok.tokens, 1, lambda c: [0, 1, 0] if c == ("a",) else [1, 0, 0])
    drafter = lm(drafter_tok.tokens, 0, lambda c: [1, 1])
    kernel = LookbehindSlemRound(target, drafter, target_tok, drafter_tok, 1)
    assert autoregressive_law(target, (), 2) == {("a", "b"): 1}
    assert round_kernel_law(kernel, (), 2) == {("a", "b"): 1}
    assert ("a", "b") not in text_level_slem_law(kernel, (), 2)
    # With only canonical outputs (single-character target tokens) it is lossless.
    flat = ToyTokenizer(["a", "b"])
    flat_target = lm(flat.tokens, 1, lambda c: [1, 2])
    flat_kernel = LookbehindSlemRound(flat_target, drafter, flat, drafter_tok, 2)
    assert text_level_slem_law(flat_kernel, ("a",), 3) == {
        ("a", *y): w for y, w in autoregressive_law(flat_target, ("a",), 3).items()
    }


def test_psi_of_hey_sums_the_four_segmentations():
    vocab = ["h", "e", "y", "he", "ey", "hey"]
    rows = {
        (): [1, 2, 3, 4, 5, 6],
        ("h",): [1, 1, 2, 1, 3, 1],
        ("he",): [3, 1, 1, 1, 1, 1],
    }
    drafter = lm(vocab, 2, lambda c: rows.get(c[-2:] if c[-2:] == ("h", "e") else c[-1:], [1] * 6))

    def q(context, token):
        return drafter.next_dist(context)[token]

    expected = (
        q((), "hey")
        + q((), "he") * q(("he",), "y")
        + q((), "h") * q(("h",), "ey")
        + q((), "h") * q(("h",), "e") * q(("h", "e"), "y")
    )
    assert psi(drafter, (), "hey") == expected
    assert segmentations("hey", vocab) == [("h", "e", "y"), ("h", "ey"), ("he", "y"), ("hey",)]


def test_psi_refuses_past_its_segmentation_bound():
    vocab = ["a", "aa", "aaa"]
    drafter = lm(vocab, 0, lambda c: [1, 1, 1])
    assert segmentation_count("aaaaaa", vocab) == 24
    assert psi(drafter, (), "aaaaaa", max_segmentations=24) > 0
    with pytest.raises(ValueError, match="24 segmentations into drafter tokens, more than"):
        psi(drafter, (), "aaaaaa", max_segmentations=23)


def test_psi_is_not_the_proposal_law():
    tok = ToyTokenizer(["a", "b", "ab"])
    target = ToyLM(tok.tokens, 0, {(): {"a": F(1, 2), "b": F(1, 2), "ab": F(0)}})
    drafter = ToyLM(tok.tokens, 0, {(): {"a": F(1, 2), "b": F(1, 4), "ab": F(1, 4)}})
    kernel = LookbehindSlemRound(target, drafter, tok, tok, 2)
    assert {t: psi(drafter, (), t) for t in tok.tokens} == {
        "a": F(1, 2),
        "b": F(1, 4),
        "ab": F(3, 8),
    }
    assert first_token_law(kernel, ()) == {"a": F(3, 8), "ab": F(3, 8), "b": F(1, 4)}
    broken = round_kernel_law(PsiVerifiedRound(target, drafter, tok, tok, 2), (), 2)
    assert broken != autoregressive_law(target, (), 2)
    assert SLRS.law(target, drafter, tok, tok, (), 2, 2) == autoregressive_law(target, (), 2)


def test_registered():
    assert ALGORITHMS.get("slem").reference is SLEM
    assert ALGORITHMS.get("slrs").reference is SLRS
