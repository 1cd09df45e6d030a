"""Exact laws: the speculative loop reproduces the target's law; broken verifiers do not."""

from __future__ import annotations

import itertools
from fractions import Fraction as F

import pytest
from hypothesis import example, given, settings

from specproof.proofs.harness import law_equality, speculative_instances
from specproof.reference import (
    Dist,
    ToyLM,
    acceptance_rate,
    autoregressive_law,
    expected_tokens_per_round,
    speculative_law,
)

from ..support.broken import BROKEN_VERIFIERS


def lm(vocab, order, rows):
    """A toy LM whose every context maps to a row chosen by `rows(context)`."""
    table = {
        c: Dist.over(vocab, rows(c))
        for n in range(order + 1)
        for c in itertools.product(vocab, repeat=n)
    }
    return ToyLM(vocab, order, table)


V3 = (0, 1, 2)
TARGET = lm(
    V3, 1, lambda c: [F(1, 2), F(1, 3), F(1, 6)] if c[-1:] != (2,) else [F(1, 5), 0, F(4, 5)]
)
DRAFT_ZERO_ON_TARGET_MASS = lm(V3, 0, lambda c: [0, F(1, 4), F(3, 4)])
DRAFT_POINT = lm(V3, 1, lambda c: [0, 0, 1])
INSTANCES = [
    (TARGET, TARGET, (), 3, 2),
    (TARGET, DRAFT_ZERO_ON_TARGET_MASS, (0,), 3, 3),
    (TARGET, DRAFT_POINT, (2,), 4, 1),
    (DRAFT_POINT, TARGET, (), 2, 4),
]


def test_autoregressive_law_by_hand():
    law = autoregressive_law(TARGET, (2,), 2)
    assert law == {
        (0, 0): F(1, 10),
        (0, 1): F(1, 15),
        (0, 2): F(1, 30),
        (2, 0): F(4, 25),
        (2, 2): F(16, 25),
    }


@pytest.mark.parametrize("algorithm", ["sd", "exact_match", "greedy"])
@pytest.mark.parametrize(
    "instance",
    INSTANCES,
    ids=["identical", "draft-zero-where-target-has-mass", "draft-point-mass", "target-point-mass"],
)
def test_loop_reproduces_the_target_law_on_hand_picked_pairs(algorithm, instance):
    assert law_equality(algorithm, instance) is None


@pytest.mark.parametrize("algorithm", ["sd", "exact_match", "greedy"])
@settings(max_examples=60)
@given(instance=speculative_instances(max_vocab=5))
@example(instance=INSTANCES[1])
def test_loop_reproduces_the_target_law_on_generated_pairs(algorithm, instance):
    """Orders 0-2, V <= 4, K <= 4, n <= 4; exact Fraction equality of laws."""
    assert law_equality(algorithm, instance) is None


def test_law_sums_to_one_and_has_only_full_length_outcomes():
    law = speculative_law(TARGET, DRAFT_ZERO_ON_TARGET_MASS, (0,), 4, 3)
    assert sum(law.values()) == 1 and {len(k) for k in law} == {4}


@pytest.mark.parametrize("verifier", BROKEN_VERIFIERS, ids=lambda v: v.name)
def test_broken_verifiers_change_the_law(verifier):
    """Negative control: each deliberately broken rule yields a law different from the target's."""
    target = lm(V3, 0, lambda c: [F(1, 2), F(1, 3), F(1, 6)])
    draft = lm(V3, 0, lambda c: [F(1, 6), F(1, 6), F(2, 3)])
    law = speculative_law(target, draft, (), 2, 2, verifier)
    assert sum(law.values()) == 1  # still a law: the difference is in where the mass goes
    assert law != autoregressive_law(target, (), 2)


def test_acceptance_rates_by_hand():
    p, q = Dist.over(V3, [F(1, 2), F(1, 3), F(1, 6)]), Dist.over(V3, [F(1, 6), F(1, 6), F(2, 3)])
    assert acceptance_rate(p, q) == F(1, 6) + F(1, 6) + F(1, 6)
    assert acceptance_rate(p, q, "exact_match") == F(1, 12) + F(1, 18) + F(1, 9)
    assert acceptance_rate(p, q, "greedy") == 0  # the draft's argmax (2) is not the target's (0)
    alpha = F(1, 2)
    assert expected_tokens_per_round(p, q, 3) == 1 + alpha + alpha**2 + alpha**3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": -1}, "n must be an int >= 0"),
        ({"k": -1}, "k must be an int >= 0"),
        ({"k": 1.5}, "k must be an int >= 0"),
        ({"algorithm": "nope"}, "algorithm must be one of"),
        ({"prefix": (9,)}, r"prefix holds tokens outside the vocabulary: \[9\]"),
    ],
)
def test_law_arguments_are_validated(kwargs, message):
    args = {"target": TARGET, "draft": TARGET, "prefix": (), "n": 2, "k": 2} | kwargs
    with pytest.raises(ValueError, match=message):
        speculative_law(**args)


def test_mismatched_vocabularies_are_refused():
    other = lm((0, 1, 3), 0, lambda c: [F(1, 3)] * 3)
    with pytest.raises(ValueError, match="target and draft models: vocabularies differ"):
        speculative_law(TARGET, other, (), 2, 2)
    with pytest.raises(ValueError, match="vocabularies differ"):
        acceptance_rate(TARGET.table[()], other.table[()])


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("algorithm", ["sd", "exact_match"])
def test_loop_reproduces_the_target_law_at_the_largest_sizes(algorithm, seed):
    """V = 5, orders 2 and 1, n = 4, K = 4, random weights with zeros (hypothesis favours small)."""
    import random

    rng = random.Random(seed)

    def row(c):
        weights = [rng.randint(0, 4) for _ in range(5)]
        weights[rng.randrange(5)] += 1
        return [F(w, sum(weights)) for w in weights]

    vocab = tuple(range(5))
    target, draft = lm(vocab, 2, row), lm(vocab, 1, row)
    assert law_equality(algorithm, (target, draft, (1,), 4, 4)) is None
    assert law_equality(algorithm, (target, draft, (), 4, 1)) is None
