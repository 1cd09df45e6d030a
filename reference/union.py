r"""The union baseline (Timor et al., ICML 2025, arXiv 2502.05202, Alg. 1).

Standard SD over the union vocabulary $U = T \cup D$ ([`union_vocabulary`][specproof.reference.union.union_vocabulary]:
the target's tokens in order, then the drafter-only ones in the drafter's order): the target's
row $p$ is extended by zeros on $D \setminus T$, the drafter's row $q$ by zeros on
$T \setminus D$ ([`union_rows`][specproof.reference.union.union_rows]), and
[`StandardSD`][specproof.reference.sd.StandardSD] verifies. A draft in $D \setminus T$ has
$p = 0$ and is always rejected; the recovered token comes from $(p - q)_+$, which is zero off
$T$, so every output token is a target token.

Per position the acceptance rate is $\alpha_{union} = \sum_{x \in I} \min(p(x), q(x))$
([`union_acceptance_rate`][specproof.reference.union.union_acceptance_rate], computed by
integrating the SD rule), at most TLI's.

The whole loop: [`UnionRound`][specproof.reference.union.UnionRound].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from . import formulas as f
from .dist import Dist, Token
from .heterogeneous import (
    CrossVocabularyAlgorithm,
    Proposal,
    TokenLevelRound,
    check_intersection,
)
from .laws import acceptance_rate
from .lm import LanguageModel


def union_vocabulary(
    target_vocab: Sequence[Token], drafter_vocab: Sequence[Token]
) -> tuple[Token, ...]:
    r"""$U = T \cup D$: the target's tokens in order, then the drafter-only tokens in order.

    Examples:
        >>> union_vocabulary(["a", "b", "ab"], ["b", "ba", "a"])
        ('a', 'b', 'ab', 'ba')
    """
    target = tuple(target_vocab)
    known = set(target)
    return target + tuple(t for t in drafter_vocab if t not in known)


def extend(dist: Dist, vocab: Sequence[Token]) -> Dist:
    """`dist` over `vocab` (a superset of its tokens), zero on the tokens it lacks.

    Raises:
        ValueError: if `dist` holds a token outside `vocab`.
    """
    outside = [t for t in dist.tokens if t not in set(vocab)]
    if outside:
        raise ValueError(f"dist holds tokens outside vocab: {outside!r}")
    return Dist({t: dist[t] if t in dist else Fraction(0) for t in vocab})


def union_rows(target_dist: Dist, draft_dist: Dist) -> tuple[Dist, Dist]:
    """The target's and the drafter's rows, both over the union vocabulary, zero-extended.

    Raises:
        ValueError: if the vocabularies share no token.

    Examples:
        >>> from fractions import Fraction as F
        >>> p, q = Dist({"a": F(1, 2), "ab": F(1, 2)}), Dist({"a": F(1, 4), "ba": F(3, 4)})
        >>> union_rows(p, q)
        (Dist({'a': 1/2, 'ab': 1/2, 'ba': 0}), Dist({'a': 1/4, 'ab': 0, 'ba': 3/4}))
    """
    check_intersection(target_dist.tokens, draft_dist.tokens)
    vocab = union_vocabulary(target_dist.tokens, draft_dist.tokens)
    return extend(target_dist, vocab), extend(draft_dist, vocab)


def union_acceptance_rate(target_dist: Dist, draft_dist: Dist) -> Fraction:
    """Exact per-position acceptance of the union baseline: SD's rule integrated over $U$.

    Raises:
        ValueError: if the vocabularies share no token.

    Examples:
        >>> from fractions import Fraction as F
        >>> p = Dist({"a": F(1, 2), "b": F(1, 2)})
        >>> q = Dist({"a": F(1, 2), "c": F(1, 2)})
        >>> union_acceptance_rate(p, q)
        Fraction(1, 2)
    """
    return acceptance_rate(*union_rows(target_dist, draft_dist), "sd")


def union_acceptance_formula(
    target_shared: Sequence[Any], draft_shared: Sequence[Any], arith: f.Arith
) -> Any:
    r"""$\sum_{x \in I} \min(p(x), q(x))$.

    Args:
        target_shared: $p(x)$ for $x \in I$.
        draft_shared: $q(x)$ for $x \in I$ (same order).
        arith: the arithmetic (Fractions, sympy or z3).
    """
    return f.total(
        [f.accepted_mass(p, q, arith) for p, q in zip(target_shared, draft_shared, strict=True)],
        arith,
    )


@dataclass(frozen=True, init=False)
class UnionTarget:
    """The target read over the union vocabulary: its rows zero-extended to $U$.

    Args:
        target: the target model.
        vocab: the union vocabulary.
    """

    target: LanguageModel
    vocab: tuple[Token, ...]

    def __init__(self, target: LanguageModel, vocab: Sequence[Token]) -> None:
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "vocab", tuple(vocab))

    @property
    def order(self) -> int:
        """The target's order."""
        return self.target.order

    def next_dist(self, sequence: Sequence[Token]) -> Dist:
        """The target's row after `sequence`, zero-extended.

        Raises:
            ValueError: if `sequence` holds a drafter-only token (unreachable: never accepted).
        """
        return extend(
            self.target.next_dist(self.target.check_prefix(sequence, "sequence")), self.vocab
        )

    def check_prefix(self, prefix: Sequence[Token], what: str = "prefix") -> tuple[Token, ...]:
        """Return `prefix` as a tuple, or raise `ValueError` if it leaves the target's vocabulary."""
        return self.target.check_prefix(prefix, what)


class UnionRound(TokenLevelRound):
    """The round kernel of the union baseline: $K$ drafts from $q$, standard SD over $U$.

    Arguments and errors: [`TokenLevelRound`][specproof.reference.heterogeneous.TokenLevelRound].

    Examples:
        A drafter-only token ("c") is drafted but never output; the law is the target's:

        >>> from fractions import Fraction as F
        >>> from specproof.reference import ToyLM
        >>> from specproof.reference.tokenizers import ToyTokenizer
        >>> narrow, wide = ToyTokenizer(["a", "b"]), ToyTokenizer(["a", "b", "c"])
        >>> target = ToyLM(narrow.tokens, 0, {(): {"a": F(1, 4), "b": F(3, 4)}})
        >>> drafter = ToyLM(wide.tokens, 0, {(): {"a": F(1, 2), "b": F(0), "c": F(1, 2)}})
        >>> UNION.law(target, drafter, narrow, wide, (), 1, 1) == {("a",): F(1, 4), ("b",): F(3, 4)}
        True
    """

    def proposal_space(
        self, target: LanguageModel, drafter: LanguageModel
    ) -> tuple[LanguageModel, tuple[Token, ...], Proposal]:
        """The target extended by zeros to $U$, $U$, and $q$ extended by zeros to $U$."""
        vocab = union_vocabulary(target.vocab, drafter.vocab)
        return UnionTarget(target, vocab), vocab, lambda row: extend(row, vocab)


UNION = CrossVocabularyAlgorithm("union", UnionRound)
"""The union baseline's reference object (its entry in the algorithm registry)."""

__all__ = [
    "UNION",
    "UnionRound",
    "UnionTarget",
    "extend",
    "union_acceptance_formula",
    "union_acceptance_rate",
    "union_rows",
    "union_vocabulary",
]
