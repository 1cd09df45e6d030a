"""Toy SLEM: a string-level round kernel (not per position) whose law is the target's."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from specproof.proofs.slem import slem_equality, slem_instances
from specproof.reference import Dist, ToyLM, autoregressive_law
from specproof.reference.rounds import round_kernel_law
from specproof.reference.string_level import SLEM, LookbehindSlemRound
from specproof.reference.tokenizers import ToyTokenizer, vocabulary_relation

from ..support.broken import SlemKeepsDraftOnMismatch
from ..support.integrate import cdf_points, integrate

TARGET_TOK = ToyTokenizer(["a", "b", "ab"])
DRAFTER_TOK = ToyTokenizer(["a", "b", "aba", "x"])
TARGET = ToyLM(
    TARGET_TOK.tokens, 0, {(): Dist.over(TARGET_TOK.tokens, [F(1, 2), F(1, 4), F(1, 4)])}
)
DRAFTER = ToyLM(DRAFTER_TOK.tokens, 0, {(): Dist.point(DRAFTER_TOK.tokens, "aba")})


def test_one_drafter_token_becomes_several_target_tokens():
    """K = 1 drafter token "aba" is proposed as ("ab", "a"): rounds of up to 3 target tokens."""
    kernel = LookbehindSlemRound(TARGET, DRAFTER, TARGET_TOK, DRAFTER_TOK, 1)
    assert kernel.proposal_law(()) == {("ab", "a"): 1}
    law = kernel.round_law(())
    # ab (1/4) then a (1/2) then any bonus; or a mismatch at the first or the second step.
    assert law[("ab", "a", "b")] == F(1, 4) * F(1, 2) * F(1, 4)
    assert law[("a",)] == F(1, 2) and law[("ab", "ab")] == F(1, 4) * F(1, 4)
    assert max(len(outcome) for outcome in law) == 3
    assert round_kernel_law(kernel, (), 4) == autoregressive_law(TARGET, (), 4)


def test_string_matching_accepts_non_canonical_target_tokens():
    """Target tokens a, b spell the draft text "ab" too: string matching goes on, tokens stop."""
    args = (TARGET, DRAFTER, TARGET_TOK, DRAFTER_TOK, 1)
    by_tokens = LookbehindSlemRound(*args, match="tokens").round_law(())
    by_string = LookbehindSlemRound(*args, match="string").round_law(())
    assert ("a", "b", "a", "a") in by_string and by_string[("a", "b", "a", "a")] == F(1, 32)
    assert not any(len(outcome) > 3 for outcome in by_tokens)
    assert SLEM.law(TARGET, DRAFTER, TARGET_TOK, DRAFTER_TOK, (), 4, 1, match="string") == (
        autoregressive_law(TARGET, (), 4)
    )


@pytest.mark.parametrize("normalise", [{}, {"x": ""}, {"x": "ab"}], ids=["cut", "drop", "map"])
def test_characters_the_target_cannot_express_or_normalises(normalise):
    target_tok = ToyTokenizer(TARGET_TOK.tokens, normalise)
    drafter = ToyLM(DRAFTER_TOK.tokens, 0, {(): Dist.uniform(DRAFTER_TOK.tokens)})
    kernel = LookbehindSlemRound(TARGET, drafter, target_tok, DRAFTER_TOK, 2)
    expected_text = {"": "", "ab": "abab"}.get(normalise.get("x", "cut"), "a")
    texts = {"".join(proposal) for proposal in kernel.proposal_law(())}
    assert expected_text in texts  # from the draft "a" "x"
    assert round_kernel_law(kernel, ("b",), 3) == autoregressive_law(TARGET, ("b",), 3)


@pytest.mark.parametrize("relation", ["equal", "subset", "superset", "overlapping", "singles_only"])
@settings(max_examples=15)
@given(data=st.data())
def test_generated_instances_keep_the_target_law(relation, data):
    """Every relation of vocabularies explicitly (the claim's generator mixes them)."""
    instance = data.draw(slem_instances(relation))
    assert vocabulary_relation(instance[2], instance[3]) == relation
    assert slem_equality(instance) is None


def test_keeping_the_draft_on_a_mismatch_changes_the_law():
    """Negative control, by hand and on generated instances."""
    kernel = SlemKeepsDraftOnMismatch(TARGET, DRAFTER, TARGET_TOK, DRAFTER_TOK, 1)
    assert round_kernel_law(kernel, (), 2) != autoregressive_law(TARGET, (), 2)
    find(
        slem_instances(),
        lambda instance: slem_equality(instance, SlemKeepsDraftOnMismatch) is not None,
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"drafter_tokenizer": ToyTokenizer(["a", "b"])}, "drafter model and drafter_tokenizer"),
        ({"target_tokenizer": "ab"}, "target_tokenizer must be a ToyTokenizer"),
        ({"k": -1}, "k must be an int >= 0"),
        ({"match": "bytes"}, "match must be one of"),
    ],
)
def test_bad_arguments_are_refused(kwargs, message):
    args = {
        "target": TARGET,
        "drafter": DRAFTER,
        "target_tokenizer": TARGET_TOK,
        "drafter_tokenizer": DRAFTER_TOK,
        "k": 1,
    } | kwargs
    with pytest.raises(ValueError, match=message):
        LookbehindSlemRound(**args)


def test_a_drafter_that_cannot_read_the_target_is_refused():
    narrow = ToyTokenizer(["a", "x"])
    drafter = ToyLM(narrow.tokens, 0, {(): Dist.uniform(narrow.tokens)})
    with pytest.raises(ValueError, match=r"cannot express the target tokens \['b', 'ab'\]"):
        LookbehindSlemRound(TARGET, drafter, TARGET_TOK, narrow, 1)


@pytest.mark.parametrize("match", ["tokens", "string"])
def test_the_round_law_is_the_law_of_the_round_that_runs(match):
    """run_round, integrated exactly over its uniforms, has the law round_law enumerates."""
    drafter = ToyLM(
        DRAFTER_TOK.tokens,
        0,
        {(): Dist.over(DRAFTER_TOK.tokens, [F(1, 2), F(0), F(1, 2), F(0)])},
    )
    kernel = LookbehindSlemRound(TARGET, drafter, TARGET_TOK, DRAFTER_TOK, 2, match=match)
    longest = 2 * 3 + 1  # two drafter tokens of at most 3 characters, then the bonus
    grids = [cdf_points([drafter.table[()]])] * 2 + [cdf_points([TARGET.table[()]])] * longest
    law = integrate(lambda u: kernel.run_round((), u[:2], u[2:]), grids)
    assert law == kernel.round_law(())


def test_run_round_checks_its_uniforms():
    kernel = LookbehindSlemRound(TARGET, DRAFTER, TARGET_TOK, DRAFTER_TOK, 1, match="string")
    with pytest.raises(ValueError, match="drafter_u must have length K=1, got 2"):
        kernel.run_round((), [F(0), F(0)], [F(0)] * 4)
    with pytest.raises(ValueError, match="target_u must hold a uniform per output token"):
        kernel.run_round((), [F(0)], [F(0)])  # draft "aba", target samples "a" and goes on
