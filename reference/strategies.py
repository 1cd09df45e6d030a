"""Hypothesis strategies for exact distributions, toy LMs, draws and verification rounds.

Public: import them to test your own speculative-decoding code. Everything is valid by
construction (positive integer weights normalised into `Fraction`s, never filtered), with
deliberate weight on the corners that break implementations: zeros in the draft where the
target has mass, point masses, identical target and draft, near-ties.

Examples:
    >>> from hypothesis import given
    >>> from specproof.reference.strategies import dist_pairs
    >>> @given(dist_pairs(max_size=4))
    ... def test_pairs_share_a_vocabulary(pair):
    ...     target, draft = pair
    ...     assert target.tokens == draft.tokens
    >>> test_pairs_share_a_vocabulary()
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from .dist import Dist, Token
from .toylm import ToyLM
from .verifier import Draws

__all__ = [
    "dist_pairs",
    "dists",
    "draws",
    "kernels",
    "ks",
    "lm_pairs",
    "prefixes",
    "rounds",
    "toy_lms",
    "uniforms",
    "vocabularies",
]


def vocabularies(min_size: int = 1, max_size: int = 5) -> st.SearchStrategy[tuple[int, ...]]:
    """Vocabularies `(0, 1, ..., V-1)` with `min_size <= V <= max_size`."""
    return st.integers(min_size, max_size).map(lambda size: tuple(range(size)))


@st.composite
def dists(
    draw: st.DrawFn,
    vocab: Sequence[Token],
    *,
    allow_zeros: bool = True,
    max_weight: int = 6,
) -> Dist:
    """Exact distributions over `vocab`: random weights, point masses, uniform, zeros.

    Args:
        vocab: the tokens.
        allow_zeros: whether tokens may get probability zero (never all of them).
        max_weight: the largest integer weight before normalisation.
    """
    vocab = tuple(vocab)
    kind = draw(st.sampled_from(["weights", "point", "uniform"] if allow_zeros else ["weights"]))
    if kind == "point":
        return Dist.point(vocab, draw(st.sampled_from(vocab)))
    if kind == "uniform":
        return Dist.uniform(vocab)
    low = 0 if allow_zeros else 1
    weights = draw(st.lists(st.integers(low, max_weight), min_size=len(vocab), max_size=len(vocab)))
    if sum(weights) == 0:
        weights[draw(st.integers(0, len(vocab) - 1))] = 1
    mass = sum(weights)
    return Dist.over(vocab, [Fraction(w, mass) for w in weights])


@st.composite
def dist_pairs(draw: st.DrawFn, min_size: int = 1, max_size: int = 5) -> tuple[Dist, Dist]:
    """`(target, draft)` over one vocabulary; sometimes identical, sometimes disjoint supports."""
    vocab = draw(vocabularies(min_size, max_size))
    target = draw(dists(vocab))
    relation = draw(st.sampled_from(["independent", "identical", "disjoint"]))
    if relation == "identical":
        return target, target
    if relation == "disjoint" and len(target.support) < len(vocab):
        outside = [t for t in vocab if target[t] == 0]
        weights = draw(st.lists(st.integers(1, 6), min_size=len(outside), max_size=len(outside)))
        mass = sum(weights)
        draft = Dist(
            {t: Fraction(weights[outside.index(t)], mass) if t in outside else 0 for t in vocab}
        )
        return target, draft
    return target, draw(dists(vocab))


@st.composite
def toy_lms(
    draw: st.DrawFn, vocab: Sequence[Token], order: int, *, allow_zeros: bool = True
) -> ToyLM:
    """Toy LMs of Markov order `order` over `vocab` (one random `Dist` per context)."""
    vocab = tuple(vocab)
    table = {
        context: draw(dists(vocab, allow_zeros=allow_zeros))
        for length in range(order + 1)
        for context in itertools.product(vocab, repeat=length)
    }
    return ToyLM(vocab, order, table)


@st.composite
def lm_pairs(draw: st.DrawFn, max_vocab: int = 4, max_order: int = 2) -> tuple[ToyLM, ToyLM]:
    """`(target, draft)` toy LMs over one vocabulary, of independent orders; sometimes equal."""
    vocab = draw(vocabularies(1, max_vocab))
    target = draw(toy_lms(vocab, draw(st.integers(0, max_order))))
    if draw(st.integers(0, 7)) == 0:
        return target, target
    return target, draw(toy_lms(vocab, draw(st.integers(0, max_order))))


def prefixes(vocab: Sequence[Token], max_length: int = 3) -> st.SearchStrategy[tuple[Token, ...]]:
    """Prefixes (tuples of tokens of `vocab`) of length 0 to `max_length`."""
    return st.lists(st.sampled_from(tuple(vocab)), max_size=max_length).map(tuple)


def ks(max_k: int = 4, min_k: int = 0) -> st.SearchStrategy[int]:
    """Numbers of drafts per round."""
    return st.integers(min_k, max_k)


def uniforms(max_denominator: int = 64) -> st.SearchStrategy[Fraction]:
    """Exact uniforms in [0, 1), including 0 and values that land on decision boundaries."""
    return st.integers(1, max_denominator).flatmap(
        lambda den: st.integers(0, den - 1).map(lambda num: Fraction(num, den))
    )


def draws(k: int, max_denominator: int = 64) -> st.SearchStrategy[Draws]:
    """[`Draws`][specproof.reference.verifier.Draws] for a round of `k` drafts."""
    return st.builds(
        Draws,
        st.lists(uniforms(max_denominator), min_size=k, max_size=k).map(tuple),
        uniforms(max_denominator),
    )


@st.composite
def rounds(
    draw: st.DrawFn, max_vocab: int = 5, max_k: int = 4
) -> tuple[list[Dist], list[Dist], list[Token], Draws]:
    """One verification round: `(target_rows [K+1], draft_rows [K], draft_tokens [K], draws)`.

    Draft tokens are drawn from the support of their draft row, as a drafter would.
    """
    vocab = draw(vocabularies(1, max_vocab))
    k = draw(ks(max_k))
    target_rows = [draw(dists(vocab)) for _ in range(k + 1)]
    draft_rows = []
    for i in range(k):
        if draw(st.booleans()):
            draft_rows.append(target_rows[i])
        else:
            draft_rows.append(draw(dists(vocab)))
    draft_tokens = [draw(st.sampled_from(row.support)) for row in draft_rows]
    return target_rows, draft_rows, draft_tokens, draw(draws(k))


@st.composite
def kernels(draw: st.DrawFn, vocab: Sequence[Token], max_weight: int = 4) -> Any:
    """Row-stochastic kernels over `vocab` (RDK): random rows, identity rows, point rows.

    Returns a [`Kernel`][specproof.reference.rdk.Kernel].
    """
    from .rdk import Kernel

    vocab = tuple(vocab)
    rows = {x: draw(dists(vocab, max_weight=max_weight)) for x in vocab}
    if draw(st.booleans()):
        keep = draw(st.sampled_from(vocab))
        rows[keep] = Dist.point(vocab, keep)
    return Kernel(vocab, rows)
