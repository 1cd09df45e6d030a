"""Round kernels: the per-position form equals `speculative_law`; kernels are validated."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import given, settings

from specproof.proofs.sd import speculative_instances
from specproof.reference import (
    EXACT_MATCH,
    GREEDY,
    STANDARD_SD,
    Dist,
    ToyLM,
    autoregressive_law,
    speculative_law,
)
from specproof.reference.lm import LanguageModel, check_language_model
from specproof.reference.rounds import VerifierRound, round_kernel_law

from ..support.broken import BROKEN_VERIFIERS

VERIFIERS = [STANDARD_SD, EXACT_MATCH, GREEDY, *BROKEN_VERIFIERS]


@pytest.mark.parametrize("verifier", VERIFIERS, ids=lambda v: v.name)
@settings(max_examples=30)
@given(instance=speculative_instances(max_vocab=3, max_n=3, max_k=3))
def test_round_kernel_form_equals_speculative_law(verifier, instance):
    """Also for the broken verifiers: the two paths agree on wrong laws too."""
    target, draft, prefix, n, k = instance
    dense = speculative_law(target, draft, prefix, n, k, verifier)
    assert round_kernel_law(VerifierRound(target, draft, k, verifier), prefix, n) == dict(
        dense.items()
    )


class CountingLM:
    """A language model that is not a ToyLM: rows computed from the sequence on the fly."""

    vocab = (0, 1, 2)
    order = 1

    def next_dist(self, sequence):
        last = sequence[-1] if sequence else 0
        weights = [1 + (last + i) % 3 for i in range(3)]
        return Dist.over(self.vocab, [F(w, sum(weights)) for w in weights])

    def check_prefix(self, prefix, what="prefix"):
        outside = [t for t in prefix if t not in self.vocab]
        if outside:
            raise ValueError(f"{what} holds tokens outside the vocabulary: {outside!r}")
        return tuple(prefix)


def test_laws_accept_any_language_model():
    target = CountingLM()
    draft = ToyLM(target.vocab, 0, {(): Dist.uniform(target.vocab)})
    assert isinstance(target, LanguageModel) and isinstance(draft, LanguageModel)
    expected = autoregressive_law(target, (1,), 3)
    # after 1 the weights are (2, 3, 1), after 0 they are (1, 2, 3)
    assert expected[(0, 0, 0)] == F(2, 6) * F(1, 6) * F(1, 6)
    assert speculative_law(target, draft, (1,), 3, 2) == expected
    assert round_kernel_law(VerifierRound(target, draft, 2), (1,), 3) == dict(expected.items())


def test_something_that_is_not_a_language_model_is_refused():
    with pytest.raises(
        ValueError, match=r"target must be a LanguageModel .* lacks \['vocab', 'order'"
    ):
        check_language_model(object(), "target")
    with pytest.raises(ValueError, match="draft must be a LanguageModel"):
        VerifierRound(CountingLM(), "not a model", 2)


class FixedKernel:
    """A kernel returning a given round law whatever the context."""

    vocab = ("a", "b")

    def __init__(self, law):
        self.law = law

    def round_law(self, context):
        return self.law


def test_round_kernel_law_cuts_the_last_round_and_iterates_exactly():
    kernel = FixedKernel({("a", "b", "b"): F(1, 3), ("b",): F(2, 3)})
    law = round_kernel_law(kernel, (), 2)
    assert law == {("a", "b"): F(1, 3), ("b", "a"): F(2, 9), ("b", "b"): F(4, 9)}
    assert round_kernel_law(kernel, (), 0) == {(): 1}


@pytest.mark.parametrize(
    ("law", "message"),
    [
        ({(): F(1)}, "must be a non-empty tuple"),
        ({("a",): F(1, 2)}, "must sum to exactly 1, got 1/2"),
        ({("c",): F(1)}, "holds tokens outside the vocabulary"),
        ({("a",): 0.5, ("b",): 0.5}, "must be a Fraction >= 0"),
        ({("a",): F(3, 2), ("b",): F(-1, 2)}, "must be a Fraction >= 0"),
    ],
)
def test_an_invalid_round_law_is_refused(law, message):
    with pytest.raises(ValueError, match=message):
        round_kernel_law(FixedKernel(law), (), 2)


def test_round_kernel_law_arguments_are_validated():
    kernel = FixedKernel({("a",): F(1)})
    with pytest.raises(ValueError, match="n must be an int >= 0"):
        round_kernel_law(kernel, (), -1)
    with pytest.raises(ValueError, match=r"prefix holds tokens outside the vocabulary: \['z'\]"):
        round_kernel_law(kernel, ("z",), 1)
    with pytest.raises(ValueError, match="kernel must be a RoundKernel"):
        round_kernel_law(object(), (), 1)
    target = ToyLM((0, 1), 0, {(): Dist.uniform((0, 1))})
    other = ToyLM((0, 2), 0, {(): Dist.uniform((0, 2))})
    with pytest.raises(ValueError, match="vocabularies differ"):
        VerifierRound(target, other, 1)
    with pytest.raises(ValueError, match="k must be an int >= 0"):
        VerifierRound(target, target, -1)
    with pytest.raises(ValueError, match="verifier must be a Verifier"):
        VerifierRound(target, target, 1, "sd")
