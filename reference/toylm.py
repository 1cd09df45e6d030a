"""Toy language models given by exact probability tables."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .dist import Dist, Token


@dataclass(frozen=True, init=False)
class ToyLM:
    """A Markov language model of a given order, defined by exact tables.

    The next-token distribution depends on the last `order` tokens of the sequence (on the whole
    sequence while it is shorter than `order`). `table` must therefore hold a context for every
    tuple of vocabulary tokens of length `0, 1, ..., order`, each mapped to a
    [`Dist`][specproof.reference.dist.Dist] over exactly `vocab`.

    Args:
        vocab: the tokens, in order (the order the verifiers' inverse-CDF rules walk).
        order: the Markov order, an int >= 0.
        table: `{context tuple: Dist}`; plain `{token: probability}` mappings are accepted and
            validated as `Dist`s.

    Raises:
        ValueError: on an empty or repeating vocabulary, a negative order, a missing or extra
            context, a context holding a token outside the vocabulary, or a distribution whose
            tokens are not exactly the vocabulary.

    Examples:
        >>> from fractions import Fraction as F
        >>> lm = ToyLM(["a", "b"], 0, {(): {"a": F(1, 4), "b": F(3, 4)}})
        >>> lm.next_dist(("a", "a"))["b"]
        Fraction(3, 4)
    """

    vocab: tuple[Token, ...]
    order: int
    table: Mapping[tuple[Token, ...], Dist]

    def __init__(
        self,
        vocab: Sequence[Token],
        order: int,
        table: Mapping[tuple[Token, ...], Dist | Mapping[Token, object]],
    ) -> None:
        vocab = tuple(vocab)
        if len(vocab) == 0:
            raise ValueError("vocab must not be empty")
        if len(set(vocab)) != len(vocab):
            raise ValueError(f"vocab must hold distinct tokens, got {list(vocab)!r}")
        if isinstance(order, bool) or not isinstance(order, int) or order < 0:
            raise ValueError(f"order must be an int >= 0, got {order!r}")
        if not isinstance(table, Mapping):
            raise ValueError(f"table must be a mapping {{context: Dist}}, got {type(table)!r}")
        vocab_set = set(vocab)
        checked: dict[tuple[Token, ...], Dist] = {}
        for context, dist in table.items():
            if not isinstance(context, tuple):
                raise ValueError(f"table: context {context!r} must be a tuple of tokens")
            if len(context) > order:
                raise ValueError(f"table: context {context!r} is longer than order {order}")
            outside = [t for t in context if t not in vocab_set]
            if outside:
                raise ValueError(
                    f"table: context {context!r} holds tokens outside the vocabulary: {outside!r}"
                )
            if not isinstance(dist, Dist):
                try:
                    dist = Dist(dist)
                except ValueError as exc:
                    raise ValueError(f"table[{context!r}]: {exc}") from None
            if set(dist.tokens) != vocab_set:
                extra = [t for t in dist.tokens if t not in vocab_set]
                missing = [t for t in vocab if t not in set(dist.tokens)]
                raise ValueError(
                    f"table[{context!r}]: distribution tokens differ from the vocabulary "
                    f"(outside the vocabulary: {extra!r}; missing: {missing!r})"
                )
            checked[context] = dist if dist.tokens == vocab else dist.reordered(vocab)
        for length in range(order + 1):
            for context in itertools.product(vocab, repeat=length):
                if context not in checked:
                    raise ValueError(f"table: missing context {context!r}")
        object.__setattr__(self, "vocab", vocab)
        object.__setattr__(self, "order", order)
        object.__setattr__(self, "table", checked)

    def context(self, sequence: Sequence[Token]) -> tuple[Token, ...]:
        """The context of `sequence` that the next token depends on."""
        if self.order == 0:
            return ()
        return tuple(sequence[-self.order :])

    def next_dist(self, sequence: Sequence[Token]) -> Dist:
        """The distribution of the token that follows `sequence`.

        Raises:
            ValueError: if `sequence` holds a token outside the vocabulary.
        """
        # The whole sequence is checked, not only the context the table is keyed by.
        context = self.context(self.check_prefix(sequence, "sequence"))
        return self.table[context]

    def check_prefix(self, prefix: Sequence[Token], what: str = "prefix") -> tuple[Token, ...]:
        """Return `prefix` as a tuple, or raise `ValueError` if it leaves the vocabulary."""
        vocab_set = set(self.vocab)
        outside = [t for t in prefix if t not in vocab_set]
        if outside:
            raise ValueError(f"{what} holds tokens outside the vocabulary: {outside!r}")
        return tuple(prefix)
