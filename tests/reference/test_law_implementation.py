"""The optimised exact laws (dense integers) equal a plain dict-of-Fractions implementation."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import given, settings

from specproof.proofs.harness import speculative_instances
from specproof.reference import Dist, ToyLM, autoregressive_law, speculative_law
from specproof.reference.laws import MAX_OUTCOMES, Law

from ..support.broken import BROKEN_VERIFIERS
from ..support.simple_laws import simple_autoregressive_law, simple_speculative_law

ALGORITHMS = ["sd", "exact_match", "greedy", *BROKEN_VERIFIERS]


@pytest.mark.parametrize("algorithm", ALGORITHMS, ids=lambda a: getattr(a, "name", a))
@settings(max_examples=40)
@given(instance=speculative_instances(max_vocab=3, max_n=3, max_k=3))
def test_speculative_law_equals_the_plain_implementation(algorithm, instance):
    target, draft, prefix, n, k = instance
    fast = speculative_law(target, draft, prefix, n, k, algorithm)
    plain = simple_speculative_law(target, draft, prefix, n, k, algorithm)
    assert dict(fast.items()) == plain


@settings(max_examples=40)
@given(instance=speculative_instances(max_vocab=3, max_n=3))
def test_autoregressive_law_equals_the_plain_implementation(instance):
    target, _, prefix, n, _ = instance
    for greedy in (False, True):
        fast = autoregressive_law(target, prefix, n, greedy=greedy)
        assert dict(fast.items()) == simple_autoregressive_law(target, prefix, n, greedy)


def test_law_is_a_read_only_mapping_of_fractions_without_zero_outcomes():
    lm = ToyLM(["a", "b", "c"], 0, {(): {"a": F(1, 2), "b": F(1, 2), "c": 0}})
    law = autoregressive_law(lm, (), 2)
    assert len(law) == 4 and set(law) == {("a", "a"), ("a", "b"), ("b", "a"), ("b", "b")}
    assert law[("a", "b")] == F(1, 4) and isinstance(law[("a", "b")], F)
    for missing in [("a", "c"), ("a",), ("z", "a"), "ab"]:
        with pytest.raises(KeyError):
            law[missing]
    assert law.get(("c", "c")) is None
    assert law == {
        ("a", "a"): F(1, 4),
        ("a", "b"): F(1, 4),
        ("b", "a"): F(1, 4),
        ("b", "b"): F(1, 4),
    }
    assert law != {("a", "a"): F(1, 4)}


def test_law_equality_is_exact_across_different_denominators():
    vocab = (0, 1)
    assert Law(vocab, 1, [1, 1], 2) == Law(vocab, 1, [3, 3], 6)
    assert Law(vocab, 1, [1, 1], 2) != Law(vocab, 1, [3, 4], 7)
    with pytest.raises(ValueError, match="one entry per outcome"):
        Law(vocab, 2, [1, 1], 2)


def test_too_many_outcomes_is_a_clear_error():
    vocab = list(range(64))
    lm = ToyLM(vocab, 0, {(): Dist.uniform(vocab)})
    with pytest.raises(ValueError, match=f"beyond the reference's limit of {MAX_OUTCOMES}"):
        autoregressive_law(lm, (), 5)
