r"""Token-level intersection (TLI): a drafter's row restricted to the target vocabulary.

With $T$ the target vocabulary, $D$ the drafter's, $I = T \cap D$ and $q$ the drafter's row over
$D$, TLI proposes $q_I(t) = q(t) / q(I)$ for $t \in I$ and $0$ for $t \in T \setminus D$: a
distribution over $T$ that standard SD can verify. For a drafter whose vocabulary is a pruned
subset of the target's ($D \subset T$, e.g. a pruned LM head) $q(I) = 1$ and TLI is the drafter's
own row, padded with zeros (vanilla SD).

This module holds only the restriction that other algorithms build on (RDK applies its kernel
to $q_I$); TLI as an algorithm of its own (its laws and theorems) is another module's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from .dist import Dist, Token


def tli_proposal(draft_row: Dist, target_tokens: Sequence[Token]) -> Dist:
    r"""The drafter's row restricted to $I = T \cap D$ and renormalised, as a distribution over $T$.

    Args:
        draft_row: the drafter's distribution over its own vocabulary $D$.
        target_tokens: the target vocabulary $T$, in the target's order (the result's order).

    Returns:
        $q_I$ over `target_tokens`: $q(t)/q(I)$ on $I$, zero on $T \setminus D$.

    Raises:
        ValueError: if `target_tokens` is empty or repeats a token, or if the drafter puts no
            mass on $I$ (nothing of its row survives the restriction).

    Examples:
        >>> from fractions import Fraction as F
        >>> tli_proposal(Dist({"a": F(1, 2), "b": F(1, 4), "z": F(1, 4)}), ["a", "b", "c"])
        Dist({'a': 2/3, 'b': 1/3, 'c': 0})
    """
    tokens = tuple(target_tokens)
    if not tokens:
        raise ValueError("target_tokens must not be empty")
    if len(set(tokens)) != len(tokens):
        raise ValueError(f"target_tokens must be distinct, got {list(tokens)!r}")
    kept = [draft_row[t] if t in draft_row else Fraction(0) for t in tokens]
    mass = sum(kept, Fraction(0))
    if mass == 0:
        raise ValueError(
            "draft_row puts no mass on the intersection of the two vocabularies: "
            "TLI cannot restrict it"
        )
    return Dist.over(tokens, [w / mass for w in kept])


__all__ = ["tli_proposal"]
