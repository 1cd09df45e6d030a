r"""What the heterogeneous-vocabulary algorithms share: the intersection and the drafter's view.

Timor et al. (ICML 2025, arXiv 2502.05202). The target has vocabulary $T$, the drafter $D$;
tokens are strings, and the *intersection* $I = T \cap D$ holds the strings that are tokens of
both (exact string equality). The token-level algorithms (the union baseline,
[`specproof.reference.union`][specproof.reference.union], and TLI,
[`specproof.reference.tli`][specproof.reference.tli]) draft tokens of $I$ and verify them with
standard SD against the target; the string-level ones (SLEM, SLRS) work on strings.

**The drafter reads the target's tokens token by token** (pinned here, as Hugging Face's
`UniversalSpeculativeDecodingGenerator` does): a target token that is also a drafter token is
that drafter token; any other target token is its string encoded with the drafter's tokenizer.
So the drafter's context is a function of the target's tokens, and a drafter of Markov order
$m$ read this way has order $m$ in target tokens (every target token becomes at least one
drafter token, unless the drafter's normaliser drops all its characters: then the order is
unbounded). Drafted tokens of $I$ are both at once, so the drafter's view within a round
and across rounds agree. [`DrafterView`][specproof.reference.heterogeneous.DrafterView] is the
drafter read this way, as a [`LanguageModel`][specproof.reference.lm.LanguageModel] over the
target's tokens whose rows are a *proposal* built from the drafter's row.

**Bad input** is refused at construction, naming the argument: a drafter tokenizer that cannot
express some target token (the drafter could not read the context), an empty intersection (the
token-level algorithms have nothing to draft), a model whose vocabulary is not its tokenizer's.
*Special tokens* (strings a tokenizer never produces from text, like `<eos>`) are tokens like
any other here: a special token present in only one vocabulary is outside $I$, so it is never
drafted; the target may still output it (the output law is the target's). The engine's
vocabulary map ([`specproof.engine.vocab_map`][specproof.engine.vocab_map]) matches a special
token only with a special token of the same string.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .dist import Dist, Token
from .laws import _check_count
from .lm import LanguageModel, check_language_model
from .rounds import Outcome, RoundKernel, VerifierRound, round_kernel_law
from .sd import STANDARD_SD
from .tokenizers import ToyTokenizer


def shared_tokens(
    target_vocab: Sequence[Token], drafter_vocab: Sequence[Token]
) -> tuple[Token, ...]:
    """The intersection $I$: tokens of both vocabularies (exact equality), in the target's order.

    Examples:
        >>> shared_tokens(["ab", "a", "b"], ["b", "a", "ba"])
        ('a', 'b')
    """
    drafter = set(drafter_vocab)
    return tuple(t for t in target_vocab if t in drafter)


def check_intersection(
    target_vocab: Sequence[Token], drafter_vocab: Sequence[Token]
) -> tuple[Token, ...]:
    """The intersection $I$, or `ValueError` if it is empty.

    Raises:
        ValueError: naming both vocabularies, when they share no token.
    """
    shared = shared_tokens(target_vocab, drafter_vocab)
    if not shared:
        raise ValueError(
            f"target and drafter vocabularies share no token (target: {list(target_vocab)!r}; "
            f"drafter: {list(drafter_vocab)!r}): a token-level drafter has nothing to propose"
        )
    return shared


def check_tokenizer(model: LanguageModel, tokenizer: object, what: str) -> ToyTokenizer:
    """Return `tokenizer` if it is a `ToyTokenizer` over exactly `model`'s vocabulary.

    Raises:
        ValueError: naming `what`, otherwise.
    """
    if not isinstance(tokenizer, ToyTokenizer):
        raise ValueError(f"{what}_tokenizer must be a ToyTokenizer, got {tokenizer!r}")
    if set(model.vocab) != set(tokenizer.tokens):
        raise ValueError(
            f"{what} model and {what}_tokenizer: vocabularies differ "
            f"(model only: {[t for t in model.vocab if t not in set(tokenizer.tokens)]!r}; "
            f"tokenizer only: {[t for t in tokenizer.tokens if t not in set(model.vocab)]!r})"
        )
    return tokenizer


def read_as_drafter(
    target_tokens: Sequence[Token], drafter_tokenizer: ToyTokenizer
) -> tuple[Token, ...]:
    """The drafter's tokens for a sequence of target tokens, read token by token (see the module).

    Raises:
        ValueError: if a target token's string is not something the drafter can express.

    Examples:
        >>> read_as_drafter(("ab", "a"), ToyTokenizer(["a", "b", "ba"]))
        ('a', 'b', 'a')
    """
    vocab = set(drafter_tokenizer.tokens)
    out: list[Token] = []
    for index, token in enumerate(target_tokens):
        if token in vocab:
            out.append(token)
        else:
            out.extend(drafter_tokenizer.encode(str(token), f"target token [{index}] {token!r}"))
    return tuple(out)


def check_drafter_reads_target(
    target_tokenizer: ToyTokenizer, drafter_tokenizer: ToyTokenizer
) -> None:
    """Raise `ValueError` unless the drafter's tokenizer can express every target token.

    Raises:
        ValueError: naming the target tokens the drafter cannot express.
    """
    unexpressed = [t for t in target_tokenizer.tokens if not drafter_tokenizer.can_express(t)]
    if unexpressed:
        raise ValueError(
            f"drafter_tokenizer cannot express the target tokens {unexpressed!r}: the drafter "
            "could not read a context holding them"
        )


def check_model_pair(
    target: object, drafter: object, target_tokenizer: object, drafter_tokenizer: object
) -> tuple[LanguageModel, LanguageModel, ToyTokenizer, ToyTokenizer]:
    """Check two models, each with its own tokenizer, and that the drafter can read the target.

    Args:
        target: the target model.
        drafter: the drafter model.
        target_tokenizer: the target's tokenizer, over exactly the target's vocabulary.
        drafter_tokenizer: the drafter's tokenizer, over exactly the drafter's vocabulary; it
            must express every target token.

    Returns:
        `(target, drafter, target_tokenizer, drafter_tokenizer)`, checked.

    Raises:
        ValueError: naming the argument, on a model without the `LanguageModel` members, a
            tokenizer that is not a `ToyTokenizer` over its model's vocabulary, or a target
            token the drafter cannot express.
    """
    target = check_language_model(target, "target")
    drafter = check_language_model(drafter, "drafter")
    target_tokenizer = check_tokenizer(target, target_tokenizer, "target")
    drafter_tokenizer = check_tokenizer(drafter, drafter_tokenizer, "drafter")
    check_drafter_reads_target(target_tokenizer, drafter_tokenizer)
    return target, drafter, target_tokenizer, drafter_tokenizer


Proposal = Callable[[Dist], Dist]

#: The order of a view whose context is not bounded by any number of trailing tokens.
UNBOUNDED_ORDER = 1 << 30


@dataclass(frozen=True, init=False)
class DrafterView:
    """The drafter read through the target's tokens, its rows turned into proposals.

    A [`LanguageModel`][specproof.reference.lm.LanguageModel] over `vocab` (the tokens the
    proposals are over): `next_dist(seq)` is `proposal(drafter.next_dist(read(seq)))`, where
    `read` is [`read_as_drafter`][specproof.reference.heterogeneous.read_as_drafter]. Sequences
    it is asked about hold target tokens (and, for the union baseline, never a drafter-only
    token: such a draft is always rejected).

    Args:
        drafter: the drafter model, over `drafter_tokenizer`'s tokens.
        drafter_tokenizer: the drafter's tokenizer.
        vocab: the vocabulary of the proposals.
        proposal: maps a drafter row (a `Dist` over the drafter's tokens) to a `Dist` over `vocab`.
    """

    drafter: LanguageModel
    drafter_tokenizer: ToyTokenizer
    vocab: tuple[Token, ...]
    proposal: Proposal

    def __init__(
        self,
        drafter: LanguageModel,
        drafter_tokenizer: ToyTokenizer,
        vocab: Sequence[Token],
        proposal: Proposal,
    ) -> None:
        object.__setattr__(self, "drafter", check_language_model(drafter, "drafter"))
        object.__setattr__(
            self, "drafter_tokenizer", check_tokenizer(drafter, drafter_tokenizer, "drafter")
        )
        object.__setattr__(self, "vocab", tuple(vocab))
        object.__setattr__(self, "proposal", proposal)

    @property
    def order(self) -> int:
        """The drafter's order, or `UNBOUNDED_ORDER` if a token of `vocab` reads as no drafter token.

        Each token read as at least one drafter token keeps the drafter's order; a token the
        drafter's normaliser drops entirely (read as nothing) leaves the context unbounded.
        """
        for token in self.vocab:
            if not read_as_drafter((token,), self.drafter_tokenizer):
                return UNBOUNDED_ORDER
        return self.drafter.order

    def next_dist(self, sequence: Sequence[Token]) -> Dist:
        """The proposal after the target-side `sequence`."""
        return self.proposal(
            self.drafter.next_dist(read_as_drafter(sequence, self.drafter_tokenizer))
        )

    def check_prefix(self, prefix: Sequence[Token], what: str = "prefix") -> tuple[Token, ...]:
        """Return `prefix` as a tuple, or raise `ValueError` if it leaves `vocab`."""
        outside = [t for t in prefix if t not in set(self.vocab)]
        if outside:
            raise ValueError(f"{what} holds tokens outside the vocabulary: {outside!r}")
        return tuple(prefix)


class TokenLevelRound(VerifierRound):
    """A token-level round across vocabularies: $K$ drafts from a proposal, standard SD.

    The shared part of TLI and the union baseline: the checks, the drafter read through the
    target's tokens ([`DrafterView`][specproof.reference.heterogeneous.DrafterView]) and
    standard SD. A subclass says what the proposal is over and how a drafter row becomes one
    (`proposal_space`).

    Args:
        target: the target model, over `target_tokenizer`'s tokens.
        drafter: the drafter model, over `drafter_tokenizer`'s tokens.
        target_tokenizer: the target's tokenizer.
        drafter_tokenizer: the drafter's tokenizer; it must express every target token.
        k: drafts per round.

    Raises:
        ValueError: on an empty intersection, a target token the drafter cannot express, a model
            and tokenizer with different vocabularies, or a bad `k`.
    """

    def __init__(
        self,
        target: LanguageModel,
        drafter: LanguageModel,
        target_tokenizer: ToyTokenizer,
        drafter_tokenizer: ToyTokenizer,
        k: int,
    ) -> None:
        target, drafter, target_tokenizer, drafter_tokenizer = check_model_pair(
            target, drafter, target_tokenizer, drafter_tokenizer
        )
        check_intersection(tuple(target.vocab), drafter.vocab)
        verified, vocab, proposal = self.proposal_space(target, drafter)
        view = DrafterView(drafter, drafter_tokenizer, vocab, proposal)
        super().__init__(verified, view, _check_count(k, "k"), STANDARD_SD)

    def proposal_space(
        self, target: LanguageModel, drafter: LanguageModel
    ) -> tuple[LanguageModel, tuple[Token, ...], Proposal]:
        """`(the target as verified, the proposal's vocabulary, drafter row -> proposal)`."""
        raise NotImplementedError


@dataclass(frozen=True)
class CrossVocabularyAlgorithm:
    """A heterogeneous-vocabulary algorithm's reference object: its round kernel, by name.

    Attributes:
        name: the algorithm's registry name.
        kernel: `kernel(target, drafter, target_tokenizer, drafter_tokenizer, k, **options)`
            returns the round kernel.
    """

    name: str
    kernel: Callable[..., RoundKernel]

    def round(self, *args: Any, **options: Any) -> RoundKernel:
        """The round kernel: `kernel(target, drafter, target_tokenizer, drafter_tokenizer, k)`.

        Args:
            *args: the kernel's arguments, in that order.
            **options: the kernel's options (e.g. `mode`, `lookbehind`, `match`).
        """
        return self.kernel(*args, **options)

    def law(
        self,
        target: LanguageModel,
        drafter: LanguageModel,
        target_tokenizer: ToyTokenizer,
        drafter_tokenizer: ToyTokenizer,
        prefix: Sequence[Token],
        n: int,
        k: int,
        **options: Any,
    ) -> dict[Outcome, Fraction]:
        """Exact law of the first `n` target tokens the algorithm outputs from `prefix`.

        Args:
            target: the target model.
            drafter: the drafter model.
            target_tokenizer: the target's tokenizer.
            drafter_tokenizer: the drafter's tokenizer.
            prefix: the target tokens before generation starts.
            n: how many output tokens.
            k: drafts per round.
            **options: passed to the kernel.

        Raises:
            ValueError: on bad arguments (see the kernel and `round_kernel_law`).
        """
        kernel = self.round(target, drafter, target_tokenizer, drafter_tokenizer, k, **options)
        return round_kernel_law(kernel, prefix, n)


__all__ = [
    "CrossVocabularyAlgorithm",
    "DrafterView",
    "Proposal",
    "TokenLevelRound",
    "UNBOUNDED_ORDER",
    "check_drafter_reads_target",
    "check_intersection",
    "check_tokenizer",
    "read_as_drafter",
    "shared_tokens",
]
