r"""Exact laws built from a round kernel: one round of any speculative algorithm, as a law.

A speculative algorithm runs in *rounds*: from the target-side sequence so far, one round
outputs one or more target tokens. A [`RoundKernel`][specproof.reference.rounds.RoundKernel]
gives, for a sequence (the *context*), the exact law of the tuple of target tokens the next
round outputs: `{tuple of tokens: Fraction}`, over non-empty tuples, summing to 1. How the round
gets there (drafts, verification, re-tokenisation, a lookahead policy) is the kernel's business;
[`round_kernel_law`][specproof.reference.rounds.round_kernel_law] iterates rounds exactly until
$n$ tokens exist and keeps the first $n$.

Today's per-position verifiers are one case:
[`VerifierRound`][specproof.reference.rounds.VerifierRound] turns a
[`Verifier`][specproof.reference.verifier.Verifier], a draft model and $K$ into a kernel, and
its law equals [`speculative_law`][specproof.reference.laws.speculative_law]'s (a test ties the
two). String-level rounds, where one drafter round may become any number of target tokens, are
others ([`specproof.reference.slem`][specproof.reference.slem]); so are rounds whose number of
drafts a policy decides ([`specproof.reference.lookahead`][specproof.reference.lookahead]).

This path is plain dicts of `Fraction`s, written for clarity rather than speed: small
vocabularies and $n$ only.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol, runtime_checkable

from .dist import Dist, Token, same_vocabulary
from .laws import _check_count
from .lm import LanguageModel, check_language_model
from .sd import STANDARD_SD
from .verifier import ACCEPT, Verifier, _Accept

Outcome = tuple[Token, ...]


@runtime_checkable
class RoundKernel(Protocol):
    """One round of a speculative algorithm, as an exact law.

    Attributes:
        vocab: the target's tokens (every output token is one of them).
    """

    @property
    def vocab(self) -> tuple[Token, ...]:
        """The target's tokens."""
        ...

    def round_law(self, context: Outcome) -> Mapping[Outcome, Fraction]:
        """Exact law of the tokens one round outputs after `context`.

        Args:
            context: the target-side sequence so far (prefix and every token output before).

        Returns:
            `{non-empty tuple of target tokens: probability}`; probabilities sum to exactly 1.
        """
        ...


def check_round_law(
    law: Mapping[Outcome, Fraction], vocab: Sequence[Token], what: str
) -> dict[Outcome, Fraction]:
    """Validate one round's law and return it without its zero outcomes.

    Args:
        law: `{tuple of tokens: probability}`.
        vocab: the tokens an outcome may hold.
        what: how to name the law in error messages.

    Raises:
        ValueError: on an empty or non-tuple outcome, a token outside `vocab`, a probability that
            is not an exact non-negative rational, or a total other than exactly 1.
    """
    vocab_set = set(vocab)
    checked: dict[Outcome, Fraction] = {}
    for outcome, prob in law.items():
        if not isinstance(outcome, tuple) or not outcome:
            raise ValueError(f"{what}: outcome {outcome!r} must be a non-empty tuple of tokens")
        outside = [t for t in outcome if t not in vocab_set]
        if outside:
            raise ValueError(f"{what}: outcome {outcome!r} holds tokens outside the vocabulary")
        if isinstance(prob, bool) or not isinstance(prob, int | Fraction) or prob < 0:
            raise ValueError(f"{what}: probability of {outcome!r} must be a Fraction >= 0")
        if prob:
            checked[outcome] = Fraction(prob)
    total = sum(checked.values(), Fraction(0))
    if total != 1:
        raise ValueError(f"{what}: probabilities must sum to exactly 1, got {total}")
    return checked


def round_kernel_law(
    kernel: RoundKernel, prefix: Sequence[Token], n: int
) -> dict[Outcome, Fraction]:
    """Exact law of the first `n` output tokens when rounds of `kernel` run from `prefix`.

    Each round's law is validated; a round's tokens past the `n`-th are cut off (the loop
    stops once $n$ tokens exist).

    Args:
        kernel: the round kernel.
        prefix: the target-side tokens before generation starts.
        n: how many output tokens.

    Returns:
        `{output tuple of length n: probability}`, outcomes of probability zero left out.

    Raises:
        ValueError: on a bad `n`, a prefix outside the kernel's vocabulary, or an invalid round law.

    Examples:
        >>> from fractions import Fraction as F
        >>> from specproof.reference import ToyLM
        >>> p = ToyLM(["a", "b"], 0, {(): {"a": F(1, 4), "b": F(3, 4)}})
        >>> q = ToyLM(["a", "b"], 0, {(): {"a": F(1, 2), "b": F(1, 2)}})
        >>> law = round_kernel_law(VerifierRound(p, q, 2), (), 2)
        >>> law[("a", "b")]
        Fraction(3, 16)
    """
    n = _check_count(n, "n")
    if not isinstance(kernel, RoundKernel):
        raise ValueError(f"kernel must be a RoundKernel (vocab, round_law), got {kernel!r}")
    vocab = tuple(kernel.vocab)
    start = tuple(prefix)
    outside = [t for t in start if t not in set(vocab)]
    if outside:
        raise ValueError(f"prefix holds tokens outside the vocabulary: {outside!r}")
    rounds: dict[Outcome, dict[Outcome, Fraction]] = {}
    memo: dict[tuple[Outcome, int], dict[Outcome, Fraction]] = {}

    def rest(sequence: Outcome, remaining: int) -> dict[Outcome, Fraction]:
        if remaining == 0:
            return {(): Fraction(1)}
        key = (sequence, remaining)
        if key in memo:
            return memo[key]
        if sequence not in rounds:
            rounds[sequence] = check_round_law(
                kernel.round_law(sequence), vocab, f"round law after {sequence!r}"
            )
        out: dict[Outcome, Fraction] = {}
        for head, weight in rounds[sequence].items():
            head = head[:remaining]
            for tail, prob in rest(sequence + head, remaining - len(head)).items():
                out[head + tail] = out.get(head + tail, Fraction(0)) + weight * prob
        memo[key] = out
        return out

    return rest(start, n)


@dataclass(frozen=True)
class RoundRecord:
    """What a past round of the loop did: drafts made and drafts accepted.

    Attributes:
        drafted: drafts made in the round (all of them, also those after a rejection).
        accepted: drafts accepted (the round output `accepted + 1` tokens).
    """

    drafted: int
    accepted: int


@dataclass(frozen=True)
class DraftState:
    """What the drafter knows when it decides whether to draft once more: drafter-side only.

    Past rounds are known in full (their verification is over); of the current round, only the
    drafts and their draft rows.

    Attributes:
        context: the target-side sequence before the round.
        drafts: the tokens drafted so far in this round (`position = len(drafts)`).
        draft_rows: the draft distributions they were drawn from, one per draft.
        next_draft_row: the draft distribution the next draft would be drawn from.
        history: the loop's past rounds, oldest first (empty in the first round).
    """

    context: Outcome
    drafts: Outcome
    draft_rows: tuple[Dist, ...]
    next_draft_row: Dist
    history: tuple[RoundRecord, ...] = ()

    @property
    def position(self) -> int:
        """How many tokens are drafted so far in this round."""
        return len(self.drafts)

    @property
    def rounds(self) -> int:
        """Rounds run before this one."""
        return len(self.history)

    @property
    def past_acceptance(self) -> Fraction | None:
        """Accepted / drafted over the past rounds (None before any draft)."""
        drafted = sum(record.drafted for record in self.history)
        if not drafted:
            return None
        return Fraction(sum(record.accepted for record in self.history), drafted)


#: `keep_drafting(state, draft_token, verdict) -> probability of drafting again`; `draft_token`
#: is the next draft and `verdict` its verification outcome, which only a policy that peeks at
#: the verifier's coins reads.
KeepDrafting = Callable[[DraftState, Token, "Token | _Accept"], Fraction]


def verified_round_law(
    target: LanguageModel,
    draft: LanguageModel,
    verifier: Verifier,
    context: Outcome,
    max_k: int,
    keep_drafting: KeepDrafting,
) -> dict[Outcome, Fraction]:
    r"""Exact law of one per-position verified round whose number of drafts is decided as it goes.

    Before each draft (while fewer than `max_k` are drafted) the round drafts once more with
    probability `keep_drafting(...)`, else stops and outputs a bonus token from the target row
    there. Verifying left to right, a rejection ends the round with the recovered token. Drafting
    all tokens first and verifying them afterwards gives the same law, since the decision at
    position $i$ uses neither the target nor the uniforms of positions $\ge i$.

    Args:
        target: the target model.
        draft: the draft model, over the same vocabulary.
        verifier: the per-position verifier.
        context: the target-side sequence before the round.
        max_k: the most drafts in the round.
        keep_drafting: the probability of drafting again (see `KeepDrafting`).

    Raises:
        ValueError: if `keep_drafting` returns a probability outside $[0, 1]$.
    """
    out: dict[Outcome, Fraction] = {}

    def emit(tokens: Outcome, weight: Fraction) -> None:
        if weight:
            out[tokens] = out.get(tokens, Fraction(0)) + weight

    def walk(drafts: Outcome, rows: tuple[Dist, ...], weight: Fraction) -> None:
        sequence = context + drafts
        target_row = target.next_dist(sequence)
        stop = Fraction(0)
        if len(drafts) == max_k:
            stop = weight
        else:
            draft_row = draft.next_dist(sequence)
            state = DraftState(context, drafts, rows, draft_row)
            for token, draft_prob in verifier.draft_law(draft_row).items():
                for verdict, prob in verifier.position_law(target_row, draft_row, token).items():
                    go = keep_drafting(state, token, verdict)
                    if not 0 <= go <= 1:
                        raise ValueError(
                            f"probability of drafting again must be in [0, 1], got {go}"
                        )
                    mass = weight * draft_prob * prob
                    stop += mass * (1 - go)
                    if verdict is ACCEPT:
                        walk((*drafts, token), (*rows, draft_row), mass * go)
                    else:
                        emit((*drafts, verdict), mass * go)
        for token, prob in verifier.bonus_law(target_row).items():
            emit((*drafts, token), stop * prob)

    walk((), (), Fraction(1))
    return out


def _always(state: DraftState, draft_token: Token, verdict: Token | _Accept) -> Fraction:
    return Fraction(1)


class ModelPairKernel:
    """What the round kernels of a target and a draft model over one vocabulary share.

    A frozen dataclass subclass declares `target`, `draft` and `verifier` among its fields; on
    construction the models and the verifier are checked
    ([`set_models`][specproof.reference.rounds.set_models]), then the subclass's own fields
    (`check_fields`).
    """

    target: LanguageModel
    draft: LanguageModel
    verifier: Verifier

    def __post_init__(self) -> None:
        set_models(self, self.target, self.draft, self.verifier)
        self.check_fields()

    def check_fields(self) -> None:
        """Check the subclass's own fields, after the models (default: nothing to check)."""

    @property
    def vocab(self) -> tuple[Token, ...]:
        """The target's tokens."""
        return tuple(self.target.vocab)


@dataclass(frozen=True)
class VerifierRound(ModelPairKernel):
    r"""The round kernel of a per-position verifier with a draft model and a fixed $K$.

    Its law under [`round_kernel_law`][specproof.reference.rounds.round_kernel_law] is that of
    [`speculative_law`][specproof.reference.laws.speculative_law].

    Args:
        target: the target model.
        draft: the draft model, over the same vocabulary.
        k: drafts per round.
        verifier: the verifier (standard SD by default).

    Raises:
        ValueError: on a model without the `LanguageModel` members, mismatched vocabularies,
            a bad `k` or a verifier that is not a `Verifier`.
    """

    target: LanguageModel
    draft: LanguageModel
    k: int
    verifier: Verifier = STANDARD_SD

    def check_fields(self) -> None:
        """Check `k`."""
        object.__setattr__(self, "k", _check_count(self.k, "k"))

    def round_law(self, context: Outcome) -> dict[Outcome, Fraction]:
        """Exact law of one round: $K$ drafts, verified left to right, recovered or bonus."""
        return verified_round_law(
            self.target, self.draft, self.verifier, tuple(context), self.k, _always
        )


def set_models(
    kernel: object, target: LanguageModel, draft: LanguageModel, verifier: Verifier
) -> None:
    """Check and set a frozen round kernel's `target`, `draft` (one vocabulary) and `verifier`.

    Raises:
        ValueError: on a model without the `LanguageModel` members, mismatched vocabularies or
            a verifier that is not a `Verifier`.
    """
    object.__setattr__(kernel, "target", check_language_model(target, "target"))
    object.__setattr__(kernel, "draft", check_language_model(draft, "draft"))
    check_same_vocabulary(target, draft)
    if not isinstance(verifier, Verifier):
        raise ValueError(f"verifier must be a Verifier, got {verifier!r}")
    object.__setattr__(kernel, "verifier", verifier)


def check_same_vocabulary(target: LanguageModel, draft: LanguageModel) -> None:
    """Raise `ValueError` unless the two models share one vocabulary (as a set)."""
    if set(target.vocab) != set(draft.vocab):
        same_vocabulary(
            Dist.uniform(target.vocab), Dist.uniform(draft.vocab), "target and draft models"
        )


__all__ = [
    "DraftState",
    "ModelPairKernel",
    "KeepDrafting",
    "RoundKernel",
    "RoundRecord",
    "VerifierRound",
    "check_round_law",
    "check_same_vocabulary",
    "round_kernel_law",
    "set_models",
    "verified_round_law",
]
