"""The language-model protocol: what the exact laws need from a model, and nothing more.

The laws of [`specproof.reference.laws`][specproof.reference.laws] and
[`specproof.reference.rounds`][specproof.reference.rounds] read a model only through
[`LanguageModel`][specproof.reference.lm.LanguageModel]: its vocabulary, the length of context
its next-token distribution depends on, the distribution itself, and a check of prefixes.
[`ToyLM`][specproof.reference.toylm.ToyLM] satisfies it; so does any object with the same four
members (a model wrapped around a real tokenizer's vocabulary, a model computed on the fly).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from .dist import Dist, Token


@runtime_checkable
class LanguageModel(Protocol):
    """A next-token model over a finite vocabulary with a bounded context.

    Attributes:
        vocab: the tokens, in order (the order the verifiers' inverse-CDF rules walk).
        order: how many trailing tokens `next_dist` depends on (its Markov order): two sequences
            that end with the same `order` tokens (or are equal, while shorter) must get the same
            distribution. The exact laws rely on it to share work between sequences.
    """

    @property
    def vocab(self) -> tuple[Token, ...]:
        """The tokens, in order."""
        ...

    @property
    def order(self) -> int:
        """How many trailing tokens the next-token distribution depends on."""
        ...

    def next_dist(self, sequence: Sequence[Token]) -> Dist:
        """The distribution, over exactly `vocab`, of the token that follows `sequence`."""
        ...

    def check_prefix(self, prefix: Sequence[Token], what: str = "prefix") -> tuple[Token, ...]:
        """Return `prefix` as a tuple, or raise `ValueError` naming `what` if it leaves `vocab`."""
        ...


def check_language_model(model: object, what: str) -> LanguageModel:
    """Return `model` if it has the members of `LanguageModel`, else raise `ValueError`.

    Args:
        model: the object to check.
        what: how to name it in the error message.

    Raises:
        ValueError: if a member is missing.
    """
    if not isinstance(model, LanguageModel):
        missing = [
            name
            for name in ("vocab", "order", "next_dist", "check_prefix")
            if not hasattr(model, name)
        ]
        raise ValueError(
            f"{what} must be a LanguageModel (vocab, order, next_dist, check_prefix); "
            f"{type(model).__name__} lacks {missing}"
        )
    return model


__all__ = ["LanguageModel", "check_language_model"]
