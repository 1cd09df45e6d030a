"""Hypothesis strategies for exact distributions, toy LMs, draws, rounds, tokenizers, policies.

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

import functools
import itertools
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from .dist import Dist, Token
from .lookahead import ConfidenceThreshold, FixedLookahead, LookaheadPolicy, TablePolicy
from .tokenizers import VOCABULARY_RELATIONS, ToyTokenizer, VocabularyRelation
from .toylm import ToyLM
from .verifier import Draws

__all__ = [
    "dist_pairs",
    "dists",
    "draws",
    "kernels",
    "ks",
    "lm_pairs",
    "lookahead_policies",
    "prefixes",
    "probabilities",
    "rounds",
    "tokenizer_pairs",
    "toy_lms",
    "toy_tokenizers",
    "uniforms",
    "vocabularies",
]


# Strategy objects are immutable, and hypothesis validates each new one when it is first drawn
# from: the composites below draw through cached ones (one per argument tuple) instead of
# building fresh ones for every example. Building `draws(k)` anew for each round took about a
# fifth of the time of a failing `rounds()` test, shrinking included.
_KINDS = st.sampled_from(["weights", "point", "uniform"])
_WEIGHTS_ONLY = st.sampled_from(["weights"])


@functools.lru_cache(maxsize=256)
def _weights(size: int, low: int, high: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(low, high), min_size=size, max_size=size)


@functools.lru_cache(maxsize=1024)
def _sampled(values: tuple[Any, ...]) -> st.SearchStrategy[Any]:
    return st.sampled_from(values)


@functools.lru_cache(maxsize=1024)
def _dists(vocab: tuple[Token, ...], allow_zeros: bool = True, max_weight: int = 6) -> Any:
    """`dists(vocab, ...)`, one strategy object per distinct arguments."""
    return dists(vocab, allow_zeros=allow_zeros, max_weight=max_weight)


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
    kind = draw(_KINDS if allow_zeros else _WEIGHTS_ONLY)
    if kind == "point":
        return Dist.point(vocab, draw(_sampled(vocab)))
    if kind == "uniform":
        return Dist.uniform(vocab)
    low = 0 if allow_zeros else 1
    weights = draw(_weights(len(vocab), low, max_weight))
    if sum(weights) == 0:
        weights[draw(st.integers(0, len(vocab) - 1))] = 1
    mass = sum(weights)
    return Dist.over(vocab, [Fraction(w, mass) for w in weights])


@st.composite
def dist_pairs(draw: st.DrawFn, min_size: int = 1, max_size: int = 5) -> tuple[Dist, Dist]:
    """`(target, draft)` over one vocabulary; sometimes identical, sometimes disjoint supports."""
    vocab = draw(vocabularies(min_size, max_size))
    target = draw(_dists(vocab))
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
    return target, draw(_dists(vocab))


@st.composite
def toy_lms(
    draw: st.DrawFn, vocab: Sequence[Token], order: int, *, allow_zeros: bool = True
) -> ToyLM:
    """Toy LMs of Markov order `order` over `vocab` (one random `Dist` per context)."""
    vocab = tuple(vocab)
    table = {
        context: draw(_dists(vocab, allow_zeros))
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


@functools.lru_cache(maxsize=64)
def uniforms(max_denominator: int = 64) -> st.SearchStrategy[Fraction]:
    """Exact uniforms in [0, 1), including 0 and values that land on decision boundaries."""
    # Two independent integers, not a flatmap: hypothesis shrinks each one on its own (a
    # flatmap's inner draw is redrawn whenever the outer one changes, which made shrinking a
    # failing round take tens of seconds). num % den keeps every num/den in [0, 1).
    return st.tuples(st.integers(1, max_denominator), st.integers(0, max_denominator - 1)).map(
        lambda pair: Fraction(pair[1] % pair[0], pair[0])
    )


@functools.lru_cache(maxsize=256)
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
    target_rows = [draw(_dists(vocab)) for _ in range(k + 1)]
    draft_rows = []
    for i in range(k):
        if draw(st.booleans()):
            draft_rows.append(target_rows[i])
        else:
            draft_rows.append(draw(_dists(vocab)))
    draft_tokens = [draw(_sampled(tuple(row.support))) for row in draft_rows]
    return target_rows, draft_rows, draft_tokens, draw(draws(k))


def probabilities(max_denominator: int = 6) -> st.SearchStrategy[Fraction]:
    """Exact probabilities in [0, 1], including 0 and 1."""
    return st.integers(1, max_denominator).flatmap(
        lambda den: st.integers(0, den).map(lambda num: Fraction(num, den))
    )


def _multi_character_strings(alphabet: str, max_length: int) -> list[str]:
    return [
        "".join(chars)
        for length in range(2, max_length + 1)
        for chars in itertools.product(alphabet, repeat=length)
    ]


@st.composite
def toy_tokenizers(
    draw: st.DrawFn,
    alphabet: str = "abc",
    *,
    max_multi: int = 4,
    max_length: int = 3,
    lossy: bool | None = None,
) -> ToyTokenizer:
    """Toy tokenizers: every character of `alphabet`, plus up to `max_multi` longer tokens.

    Args:
        alphabet: the characters (each one a token).
        max_multi: the most multi-character tokens.
        max_length: the longest token.
        lossy: with a normaliser (`True`: `decode(encode(s)) != s` for some `s`), without one
            (`False`), or either (`None`). The normaliser maps `"X"` and `"-"` (outside the
            alphabet) to strings over the alphabet, possibly empty.
    """
    multi = draw(
        st.lists(
            st.sampled_from(_multi_character_strings(alphabet, max_length)),
            unique=True,
            max_size=max_multi,
        )
    )
    tokens = [*alphabet, *multi]
    tokens = draw(st.permutations(tokens))
    if lossy is None:
        lossy = draw(st.booleans())
    normalise = {}
    if lossy:
        replacements = st.text(alphabet=alphabet, max_size=2)
        normalise = {"X": draw(replacements), "-": draw(replacements)}
    return ToyTokenizer(tokens, normalise)


# Which groups of multi-character tokens (shared, target only, drafter only) each relation
# requires to be non-empty, and which it allows.
_GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "equal": ((), ("shared",)),
    "subset": (("drafter",), ("shared", "drafter")),
    "superset": (("target",), ("shared", "target")),
    "overlapping": (("shared", "target", "drafter"), ("shared", "target", "drafter")),
    "singles_only": (("target", "drafter"), ("target", "drafter")),
}


@st.composite
def tokenizer_pairs(
    draw: st.DrawFn,
    relation: VocabularyRelation | None = None,
    alphabet: str = "ab",
    *,
    max_multi: int = 4,
    max_length: int = 3,
    extra_character: str = "x",
) -> tuple[ToyTokenizer, ToyTokenizer]:
    """`(target, drafter)` tokenizers whose vocabularies relate as `relation`.

    Both hold every character of `alphabet`, so `"disjoint"` is built over two halves of it
    instead (such a drafter cannot read the target's text). Except for `"equal"`,
    `"superset"` and `"disjoint"`, the drafter may also hold `extra_character` (alone and after
    `alphabet[0]`), which the target then either cannot express or normalises (lossy).

    Args:
        relation: one of `VOCABULARY_RELATIONS` (`vocabulary_relation(target, drafter)`), or
            any but `"disjoint"` when `None`.
        alphabet: the shared characters (at least 2 for `"disjoint"`).
        max_multi: the most multi-character tokens in all.
        max_length: the longest token.
        extra_character: a character outside `alphabet`, for the drafter only.
    """
    chosen: str = draw(st.sampled_from(tuple(_GROUPS))) if relation is None else relation
    if chosen == "disjoint":
        if len(alphabet) < 2:
            raise ValueError(
                f"alphabet must hold 2 characters or more for 'disjoint', got {alphabet!r}"
            )
        half = len(alphabet) // 2
        return draw(toy_tokenizers(alphabet[:half], lossy=False)), draw(
            toy_tokenizers(alphabet[half:], lossy=False)
        )
    if chosen not in _GROUPS:
        raise ValueError(f"relation must be one of {list(VOCABULARY_RELATIONS)}, got {chosen!r}")
    required, allowed = _GROUPS[chosen]
    multi = draw(
        st.lists(
            st.sampled_from(_multi_character_strings(alphabet, max_length)),
            unique=True,
            min_size=len(required),
            max_size=max(max_multi, len(required)),
        )
    )
    groups = list(required) + [draw(st.sampled_from(allowed)) for _ in multi[len(required) :]]
    target = [*alphabet] + [t for t, g in zip(multi, groups, strict=True) if g != "drafter"]
    drafter = [*alphabet] + [t for t, g in zip(multi, groups, strict=True) if g != "target"]
    normalise: dict[str, str] = {}
    if "drafter" in allowed and draw(st.booleans()):
        drafter += [extra_character, alphabet[0] + extra_character]
        if draw(st.booleans()):
            normalise = {extra_character: draw(st.text(alphabet=alphabet, max_size=2))}
    return (
        ToyTokenizer(draw(st.permutations(target)), normalise),
        ToyTokenizer(draw(st.permutations(drafter))),
    )


@st.composite
def lookahead_policies(draw: st.DrawFn, vocab: Sequence[Token], max_k: int = 4) -> LookaheadPolicy:
    """Lookahead policies, deterministic and randomised, some reading the loop's past rounds.

    Kinds: fixed $K$, a confidence threshold, an entropy threshold, a random table on
    `(position, last draft)`, transformers' heuristic schedule, an acceptance-adaptive $K$, and
    a random table on `(position, last draft, last round's accepted count)`. The tables are
    randomised: one probability (0 and 1 included) of drafting again per key.
    """
    from .lookahead_cost import (
        AdaptiveLookahead,
        EntropyStop,
        HeuristicLookahead,
        HistoryTablePolicy,
    )

    kind = draw(
        st.sampled_from(
            ["fixed", "threshold", "entropy", "table", "heuristic", "adaptive", "history"]
        )
    )
    if kind == "fixed":
        return FixedLookahead(draw(st.integers(0, max_k)))
    if kind == "threshold":
        return ConfidenceThreshold(draw(probabilities()))
    if kind == "entropy":
        return EntropyStop(draw(st.sampled_from([0.0, 0.3, 0.6, 1.0, 2.0])))
    if kind == "heuristic" and max_k >= 1:
        k0 = draw(st.integers(1, max_k))
        return HeuristicLookahead(k0, draw(st.integers(k0, max_k)))
    if kind == "adaptive":
        return AdaptiveLookahead(
            draw(st.integers(0, max_k)), draw(st.integers(0, max_k)), draw(probabilities())
        )
    if kind == "history":
        lasts: list[Token | None] = [None, *vocab]
        accepts: list[int | None] = [None, *range(max_k + 1)]
        history_keys = [
            (position, last, accepted)
            for position in range(max_k)
            for last in (lasts if position else [None])
            for accepted in accepts
        ]
        history_table = {key: draw(probabilities()) for key in history_keys if draw(st.booleans())}
        return HistoryTablePolicy(history_table, draw(probabilities()))
    keys = [(0, None)] + [(position, t) for position in range(1, max_k) for t in vocab]
    table = {key: draw(probabilities()) for key in keys if draw(st.booleans())}
    return TablePolicy(table, draw(probabilities()))


@st.composite
def kernels(draw: st.DrawFn, vocab: Sequence[Token], max_weight: int = 4) -> Any:
    """Row-stochastic kernels over `vocab` (RDK): random rows, identity rows, point rows.

    Returns a [`Kernel`][specproof.reference.rdk.Kernel].
    """
    from .rdk import Kernel

    vocab = tuple(vocab)
    rows = {x: draw(_dists(tuple(vocab), True, max_weight)) for x in vocab}
    if draw(st.booleans()):
        keep = draw(st.sampled_from(vocab))
        rows[keep] = Dist.point(vocab, keep)
    return Kernel(vocab, rows)
