"""Exact distributions over a finite set of tokens.

A [`Dist`][specproof.reference.dist.Dist] maps each token of a finite vocabulary to an exact
probability (`fractions.Fraction`). Tokens are any hashable values (strings, ints). The order in
which the tokens are given is kept: the pinned inverse-CDF rules of the verifiers walk the
vocabulary in that order.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from numbers import Rational
from typing import Any

Token = Hashable


def as_fraction(value: object, what: str) -> Fraction:
    """Return `value` as a `Fraction`, refusing anything that is not exactly rational.

    Args:
        value: an `int`, a `Fraction` or another `numbers.Rational` (floats are refused: they
            are not exact, and a silent conversion would hide rounding).
        what: how to name the value in the error message.

    Raises:
        ValueError: if `value` is not rational (e.g. a float, a string, None).
    """
    if isinstance(value, bool) or not isinstance(value, Rational):
        raise ValueError(f"{what} must be an exact rational (int or Fraction), got {value!r}")
    return Fraction(value)


@dataclass(frozen=True, init=False)
class Dist(Mapping[Token, Fraction]):
    r"""An exact probability distribution over a finite, ordered set of tokens.

    Every probability is a `Fraction` in $[0, 1]$ and they sum to exactly 1. Tokens with
    probability zero may be listed (they are part of the vocabulary); the order of the tokens
    is the order given.

    Args:
        mapping: `{token: probability}`; probabilities are `int` or `Fraction`.

    Raises:
        ValueError: if the mapping is empty, a probability is not rational, is negative, or the
            probabilities do not sum to exactly 1.

    Examples:
        >>> from fractions import Fraction as F
        >>> d = Dist({"a": F(1, 3), "b": F(2, 3)})
        >>> d["b"]
        Fraction(2, 3)
        >>> Dist({"a": F(1, 2)})
        Traceback (most recent call last):
        ...
        ValueError: probabilities must sum to exactly 1, got 1/2
    """

    tokens: tuple[Token, ...]
    probs: tuple[Fraction, ...]
    _index: dict[Token, int] = field(repr=False, compare=False, hash=False)
    _hash: int = field(repr=False, compare=False, hash=False)

    def __init__(self, mapping: Mapping[Token, Any]) -> None:
        if not isinstance(mapping, Mapping):
            raise ValueError(f"mapping must be a mapping {{token: probability}}, got {mapping!r}")
        if len(mapping) == 0:
            raise ValueError("mapping must hold at least one token (empty vocabulary)")
        tokens = tuple(mapping)
        probs = tuple(as_fraction(mapping[t], f"probability of token {t!r}") for t in tokens)
        for t, p in zip(tokens, probs, strict=True):
            if p < 0:
                raise ValueError(f"probability of token {t!r} is negative: {p}")
        total = sum(probs, Fraction(0))
        if total != 1:
            raise ValueError(f"probabilities must sum to exactly 1, got {total}")
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "probs", probs)
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(tokens)})
        object.__setattr__(self, "_hash", hash((tokens, probs)))

    @classmethod
    def over(cls, tokens: Sequence[Token], probs: Sequence[Any]) -> Dist:
        """Build a distribution from parallel sequences of tokens and probabilities.

        Raises:
            ValueError: if the lengths differ, a token repeats, or the probabilities are invalid.
        """
        for name, value in (("tokens", tokens), ("probs", probs)):
            if not hasattr(value, "__len__"):
                raise ValueError(f"{name} must be a sequence, got {type(value).__name__}")
        if len(tokens) != len(probs):
            raise ValueError(
                f"tokens and probs must have the same length, got {len(tokens)} and {len(probs)}"
            )
        if len(set(tokens)) != len(tokens):
            raise ValueError(f"tokens must be distinct, got {list(tokens)!r}")
        return cls(dict(zip(tokens, probs, strict=True)))

    @classmethod
    def point(cls, tokens: Sequence[Token], token: Token) -> Dist:
        """The point mass on `token` over the vocabulary `tokens`."""
        if token not in tokens:
            raise ValueError(f"token {token!r} is not in tokens {list(tokens)!r}")
        return cls.over(tokens, [1 if t == token else 0 for t in tokens])

    @classmethod
    def uniform(cls, tokens: Sequence[Token]) -> Dist:
        """The uniform distribution over `tokens`."""
        return cls.over(tokens, [Fraction(1, len(tokens))] * len(tokens))

    def __getitem__(self, token: Token) -> Fraction:
        try:
            return self.probs[self._index[token]]
        except KeyError:
            raise KeyError(f"token {token!r} is not in this distribution's vocabulary") from None

    def __iter__(self) -> Iterator[Token]:
        return iter(self.tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Dist):
            return self is other or (self.tokens == other.tokens and self.probs == other.probs)
        return NotImplemented

    def __repr__(self) -> str:
        body = ", ".join(f"{t!r}: {p}" for t, p in zip(self.tokens, self.probs, strict=True))
        return f"Dist({{{body}}})"

    @property
    def support(self) -> tuple[Token, ...]:
        """The tokens with positive probability, in vocabulary order."""
        return tuple(t for t, p in zip(self.tokens, self.probs, strict=True) if p > 0)

    def reordered(self, tokens: Sequence[Token]) -> Dist:
        """The same distribution with its tokens listed in the order `tokens`.

        Raises:
            ValueError: if `tokens` is not exactly this distribution's vocabulary.
        """
        if len(tokens) != len(self.tokens) or set(tokens) != set(self.tokens):
            raise ValueError(
                f"tokens {list(tokens)!r} are not a reordering of this vocabulary "
                f"{list(self.tokens)!r}"
            )
        return Dist({t: self[t] for t in tokens})


def same_vocabulary(first: Dist, second: Dist, what: str) -> None:
    """Raise `ValueError` naming `what` unless both distributions share one vocabulary (as a set)."""
    if set(first.tokens) != set(second.tokens):
        only_first = [t for t in first.tokens if t not in second._index]
        only_second = [t for t in second.tokens if t not in first._index]
        raise ValueError(
            f"{what}: vocabularies differ (only in the first: {only_first!r}; "
            f"only in the second: {only_second!r})"
        )
