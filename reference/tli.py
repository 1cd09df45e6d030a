r"""TLI, token-level intersection (Timor et al., ICML 2025, arXiv 2502.05202, Alg. 4).

The drafter's row $q$ over its vocabulary $D$ is restricted to the intersection $I = T \cap D$
and renormalised:

$$q_I(x) = \frac{q(x)}{q(I)} \text{ for } x \in I, \qquad q_I(x) = 0 \text{ for } x \in T \setminus I,$$

a distribution over the target's vocabulary $T$
([`tli_proposal`][specproof.reference.tli.tli_proposal]). The drafter drafts from $q_I$ (so
every draft is a target token) and the target verifies with standard SD
([`StandardSD`][specproof.reference.sd.StandardSD]) against $q_I$: lossless by the standard SD
argument, since $q_I$ is a distribution over $T$.

Per position the acceptance rate is $\alpha_{TLI} = \sum_{x \in I} \min(p(x), q(x)/q(I))$
([`tli_acceptance_rate`][specproof.reference.tli.tli_acceptance_rate], computed by integrating
the SD rule), at least the union baseline's $\sum_{x \in I} \min(p(x), q(x))$, with equality iff
$q(I) = 1$ or $p(x) \le q(x)$ for every $x \in I$ with $q(x) > 0$ (claims `tli_*`).

The whole loop: [`TliRound`][specproof.reference.tli.TliRound], a round kernel whose drafter
reads the target's tokens as in [`specproof.reference.heterogeneous`][specproof.reference.heterogeneous].
"""

from __future__ import annotations

from collections.abc import Sequence
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


def tli_proposal(draft_dist: Dist, target_vocab: Sequence[Token]) -> Dist:
    r"""The TLI proposal $q_I$: `draft_dist` restricted to the shared tokens, renormalised.

    Args:
        draft_dist: the drafter's row $q$, over the drafter's vocabulary.
        target_vocab: the target's vocabulary $T$ (its order is the result's order).

    Returns:
        A `Dist` over exactly `target_vocab`: $q(x)/q(I)$ on $I$, zero elsewhere.

    Raises:
        ValueError: if `target_vocab` repeats a token, the vocabularies share no token, or the
            drafter puts no mass on the shared tokens (nothing to renormalise: the drafter
            cannot propose anything).

    Examples:
        >>> from fractions import Fraction as F
        >>> q = Dist({"a": F(1, 2), "ab": F(1, 4), "b": F(1, 4)})
        >>> tli_proposal(q, ["a", "b", "ba"])
        Dist({'a': 2/3, 'b': 1/3, 'ba': 0})
    """
    if not isinstance(draft_dist, Dist):
        raise ValueError(f"draft_dist must be a Dist, got {type(draft_dist).__name__}")
    target_vocab = tuple(target_vocab)
    if len(set(target_vocab)) != len(target_vocab):
        raise ValueError(f"target_vocab must hold distinct tokens, got {list(target_vocab)!r}")
    shared = set(check_intersection(target_vocab, draft_dist.tokens))
    mass = sum((draft_dist[t] for t in shared), Fraction(0))
    if mass == 0:
        raise ValueError(
            f"draft_dist puts no probability on the shared tokens {sorted(map(repr, shared))}: "
            "the TLI proposal q / q(I) is undefined"
        )
    return Dist({t: draft_dist[t] / mass if t in shared else Fraction(0) for t in target_vocab})


def tli_acceptance_rate(target_dist: Dist, draft_dist: Dist) -> Fraction:
    r"""Exact per-position TLI acceptance: standard SD's rule integrated against $q_I$.

    Args:
        target_dist: the target's row $p$ over $T$.
        draft_dist: the drafter's row $q$ over $D$.

    Raises:
        ValueError: as [`tli_proposal`][specproof.reference.tli.tli_proposal].

    Examples:
        >>> from fractions import Fraction as F
        >>> p = Dist({"a": F(1, 2), "b": F(1, 2)})
        >>> q = Dist({"a": F(1, 2), "c": F(1, 2)})
        >>> tli_acceptance_rate(p, q)  # q_I = point mass on 'a'
        Fraction(1, 2)
    """
    return acceptance_rate(target_dist, tli_proposal(draft_dist, target_dist.tokens), "sd")


def tli_acceptance_formula(
    target_shared: Sequence[Any], draft_shared: Sequence[Any], arith: f.Arith
) -> Any:
    r"""$\sum_{x \in I} \min(p(x), q(x)/q(I))$, with $q(I) = \sum_{x \in I} q(x)$.

    Args:
        target_shared: $p(x)$ for $x \in I$.
        draft_shared: $q(x)$ for $x \in I$ (same order).
        arith: the arithmetic (Fractions, sympy or z3).
    """
    mass = f.total(draft_shared, arith)
    return f.total(
        [
            f.accepted_mass(p, q / mass, arith)
            for p, q in zip(target_shared, draft_shared, strict=True)
        ],
        arith,
    )


class TliRound(TokenLevelRound):
    """The round kernel of TLI: $K$ drafts from $q_I$, verified by standard SD.

    Arguments and errors: [`TokenLevelRound`][specproof.reference.heterogeneous.TokenLevelRound]
    (a drafter row with no mass on $I$ raises when it is reached).

    Examples:
        >>> from fractions import Fraction as F
        >>> from specproof.reference import ToyLM, autoregressive_law
        >>> from specproof.reference.tokenizers import ToyTokenizer
        >>> big, small = ToyTokenizer(["a", "b", "ab"]), ToyTokenizer(["a", "b", "ba"])
        >>> target = ToyLM(big.tokens, 0, {(): {"a": F(1, 2), "b": F(1, 6), "ab": F(1, 3)}})
        >>> drafter = ToyLM(small.tokens, 0, {(): {"a": F(1, 3), "b": F(1, 3), "ba": F(1, 3)}})
        >>> TLI.law(target, drafter, big, small, (), 3, 2) == autoregressive_law(target, (), 3)
        True
    """

    def proposal_space(
        self, target: LanguageModel, drafter: LanguageModel
    ) -> tuple[LanguageModel, tuple[Token, ...], Proposal]:
        """The target itself, its vocabulary, and the map from q to q_I."""
        vocab = tuple(target.vocab)
        return target, vocab, lambda row: tli_proposal(row, vocab)


TLI = CrossVocabularyAlgorithm("tli", TliRound)
"""TLI's reference object (its entry in the algorithm registry): `TLI.law(...)` is its exact law."""


__all__ = ["TLI", "TliRound", "tli_acceptance_formula", "tli_acceptance_rate", "tli_proposal"]
