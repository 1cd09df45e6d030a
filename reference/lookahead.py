r"""Dynamic lookahead: the number of drafts in a round, decided as the drafter goes (DISCO).

DISCO (Mamou et al. 2024, arXiv 2405.04304) decides after each drafted token whether to keep
drafting, from drafter-side features. Here a
[`LookaheadPolicy`][specproof.reference.lookahead.LookaheadPolicy] gives, before each draft
of a round (while fewer than `max_k` are drafted), the exact probability of drafting once more,
as a function of the [`DraftState`][specproof.reference.rounds.DraftState] only: the context,
the drafts so far, the rows they were drawn from (so their probabilities and entropies), the row
the next draft would come from, and the loop's past rounds (drafts made and accepted per round:
`rounds`, `past_acceptance`).
Deterministic policies answer 0 or 1; a randomised one answers any probability and, when run,
compares it with a uniform of its own (`keeps_drafting`: draft again iff `u < probability`).
A policy is also asked at position 0, so it may skip drafting altogether (the round is then a
bonus token only).

Because such a policy reads nothing of the current round's verification (neither the target
rows nor the verifier's uniforms), the output law is the target's, whatever the policy: checked
exactly against [`autoregressive_law`][specproof.reference.laws.autoregressive_law] by
[`lookahead_run_law`][specproof.reference.lookahead.lookahead_run_law], which runs the loop as a
Markov chain on (sequence, past rounds). Reading past rounds' verification is allowed: their
draws are over, and the next round's law given them is still the target's. The negative
control [`PeekingLookaheadRound`][specproof.reference.lookahead.PeekingLookaheadRound]
reads the verifier's coin for the next draft and stops before a rejection; its law differs.

This module is longer than most (~500 lines) because what a policy may read is defined by the
round that asks it: the policies, [`LookaheadRound`][specproof.reference.lookahead.LookaheadRound],
its peeking control and the two laws built on it are kept together so that the boundary between
drafter-side state and the verification draws is stated and enforced in one place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Generic, Protocol, TypeVar, runtime_checkable

from .dist import Dist, Token, as_fraction
from .laws import _check_count
from .lm import LanguageModel
from .rounds import (
    DraftState,
    KeepDrafting,
    ModelPairKernel,
    Outcome,
    RoundRecord,
    verified_round_law,
)
from .sd import STANDARD_SD
from .verifier import ACCEPT, Draws, Verdict, Verifier, _Accept, argmax, check_uniform, inverse_cdf

Key = TypeVar("Key")
"""The key type of a `ProbabilityTable`."""


@runtime_checkable
class LookaheadPolicy(Protocol):
    """Decides, from drafter-side state only, whether a round drafts once more."""

    def continue_probability(self, state: DraftState) -> Fraction:
        """The exact probability, in $[0, 1]$, of drafting once more in state `state`."""
        ...


def keeps_drafting(policy: LookaheadPolicy, state: DraftState, u: Fraction) -> bool:
    """Run `policy` once with its uniform `u` in $[0, 1)$: draft again iff `u < probability`.

    Raises:
        ValueError: if `u` is not in $[0, 1)$.
    """
    return check_uniform(u, "u") < policy.continue_probability(state)


def _probability(value: object, what: str) -> Fraction:
    prob = as_fraction(value, what)
    if not 0 <= prob <= 1:
        raise ValueError(f"{what} must lie in [0, 1], got {prob}")
    return prob


@dataclass(frozen=True)
class FixedLookahead:
    """Draft exactly `k` tokens (while the round allows): today's constant $K$.

    Attributes:
        k: the number of drafts, an int >= 0.
    """

    k: int

    def __post_init__(self) -> None:
        _check_count(self.k, "k")

    def continue_probability(self, state: DraftState) -> Fraction:
        """1 before the `k`-th draft, 0 after."""
        return Fraction(int(state.position < self.k))


@dataclass(frozen=True)
class ConfidenceThreshold:
    """Keep drafting while the drafter's probability of its last draft is at least `threshold`.

    The rule of transformers' `assistant_confidence_threshold` (deterministic; the first draft
    is always made).

    Attributes:
        threshold: a probability in $[0, 1]$.
    """

    threshold: Fraction

    def __post_init__(self) -> None:
        object.__setattr__(self, "threshold", _probability(self.threshold, "threshold"))

    def continue_probability(self, state: DraftState) -> Fraction:
        r"""1 at position 0 or if $q(x_{\text{last}}) \ge$ `threshold`, else 0."""
        if state.position == 0:
            return Fraction(1)
        return Fraction(int(state.draft_rows[-1][state.drafts[-1]] >= self.threshold))


@dataclass(frozen=True)
class ProbabilityTable(Generic[Key]):
    """A randomised policy given by a table: `key(state) -> probability of drafting again`.

    Subclasses say what the key is (`key`); this class checks the probabilities and looks
    them up.

    Attributes:
        table: the probability of drafting again, by key.
        default: the probability for keys not in `table`.
    """

    table: Mapping[Key, Fraction] = field(default_factory=dict)
    default: Fraction = Fraction(1)

    def __post_init__(self) -> None:
        checked = {
            key: _probability(value, f"table[{key!r}]") for key, value in dict(self.table).items()
        }
        object.__setattr__(self, "table", checked)
        object.__setattr__(self, "default", _probability(self.default, "default"))

    def key(self, state: DraftState) -> Key:
        """The table key of `state`."""
        raise NotImplementedError

    def continue_probability(self, state: DraftState) -> Fraction:
        """The table's entry for the state's key, else `default`."""
        return self.table.get(self.key(state), self.default)


class TablePolicy(ProbabilityTable[tuple[int, Token | None]]):
    """A randomised policy given by a table: `(position, last draft or None) -> probability`.

    Attributes:
        table: the probability of drafting again at `(position, last draft token)`; the last
            draft is `None` at position 0.
        default: the probability for keys not in `table`.
    """

    def key(self, state: DraftState) -> tuple[int, Token | None]:
        """`(position, last draft or None)`."""
        return state.position, state.drafts[-1] if state.drafts else None


@dataclass(frozen=True)
class LookaheadRound(ModelPairKernel):
    """The round kernel of a per-position verifier whose drafts are counted by a policy.

    Args:
        target: the target model.
        draft: the draft model, over the same vocabulary.
        policy: the lookahead policy.
        max_k: the most drafts in a round.
        verifier: the verifier (standard SD by default).

    Raises:
        ValueError: on bad models, mismatched vocabularies, a bad `max_k`, a policy without
            `continue_probability` or a verifier that is not a `Verifier`.
    """

    target: LanguageModel
    draft: LanguageModel
    policy: LookaheadPolicy
    max_k: int
    verifier: Verifier = STANDARD_SD

    def check_fields(self) -> None:
        """Check `policy` and `max_k`."""
        if not isinstance(self.policy, LookaheadPolicy):
            raise ValueError(f"policy must have continue_probability(state), got {self.policy!r}")
        object.__setattr__(self, "max_k", _check_count(self.max_k, "max_k"))

    def _keep_drafting(self) -> KeepDrafting:
        def honest(state: DraftState, draft_token: Token, verdict: Token | _Accept) -> Fraction:
            return _probability(self.policy.continue_probability(state), "continue_probability")

        return honest

    def round_law(self, context: Outcome) -> dict[Outcome, Fraction]:
        """Exact law of one round under the policy, in the loop's first round (no history)."""
        return verified_round_law(
            self.target,
            self.draft,
            self.verifier,
            tuple(context),
            self.max_k,
            self._keep_drafting(),
        )

    def round_history_law(
        self, context: Outcome, history: tuple[RoundRecord, ...] = ()
    ) -> dict[tuple[Outcome, int], Fraction]:
        """Exact joint law of one round's output and its number of drafts, after `history`.

        Verification runs left to right and ends at a rejection, but the drafter does not know
        that: after a rejected draft the policy goes on drafting as it would have, and those
        drafts count (they cost drafter time and enter the next rounds' `past_acceptance`).

        Args:
            context: the target-side sequence before the round.
            history: the loop's past rounds.

        Returns:
            `{(output tokens, drafts made): probability}`.
        """
        context, history = tuple(context), tuple(history)
        keep = self._keep_drafting()
        out: dict[tuple[Outcome, int], Fraction] = {}

        def emit(tokens: Outcome, drafted: int, weight: Fraction) -> None:
            if weight:
                out[tokens, drafted] = out.get((tokens, drafted), Fraction(0)) + weight

        def drafting_on(
            tokens: Outcome, drafts: Outcome, rows: tuple[Dist, ...], weight: Fraction
        ) -> None:
            # The round's output is decided; count the drafts an honest policy still makes.
            if not weight:
                return
            if len(drafts) == self.max_k:
                emit(tokens, len(drafts), weight)
                return
            row = self.draft.next_dist(context + drafts)
            state = DraftState(context, drafts, rows, row, history)
            go = _probability(self.policy.continue_probability(state), "continue_probability")
            emit(tokens, len(drafts), weight * (1 - go))
            for token, prob in self.verifier.draft_law(row).items():
                drafting_on(tokens, (*drafts, token), (*rows, row), weight * go * prob)

        def walk(drafts: Outcome, rows: tuple[Dist, ...], weight: Fraction) -> None:
            target_row = self.target.next_dist(context + drafts)
            stop = weight if len(drafts) == self.max_k else Fraction(0)
            if len(drafts) < self.max_k:
                row = self.draft.next_dist(context + drafts)
                state = DraftState(context, drafts, rows, row, history)
                for token, draft_prob in self.verifier.draft_law(row).items():
                    position = self.verifier.position_law(target_row, row, token)
                    for verdict, prob in position.items():
                        go = _probability(keep(state, token, verdict), "continue_probability")
                        mass = weight * draft_prob * prob
                        stop += mass * (1 - go)
                        if verdict is ACCEPT:
                            walk((*drafts, token), (*rows, row), mass * go)
                        else:
                            drafting_on(
                                (*drafts, verdict), (*drafts, token), (*rows, row), mass * go
                            )
            for token, prob in self.verifier.bonus_law(target_row).items():
                emit((*drafts, token), len(drafts), stop * prob)

        walk((), (), Fraction(1))
        return out

    def run_round(
        self,
        context: Outcome,
        draft_u: Sequence[Fraction],
        policy_u: Sequence[Fraction],
        draws: Draws,
        history: tuple[RoundRecord, ...] = (),
    ) -> Verdict:
        """Run one round with explicit uniforms: draft while the policy says so, then verify.

        `round_law` is the law of this function's output over independent uniforms (a test
        integrates it exactly).

        Args:
            context: the target-side sequence before the round.
            draft_u: `max_k` uniforms; draft $i$ is the inverse CDF of its draft row at
                `draft_u[i]` (its argmax when the verifier drafts greedily).
            policy_u: `max_k` uniforms; before draft $i$ the round drafts once more iff
                `keeps_drafting(policy, state, policy_u[i])`.
            draws: `accept_u` of length `max_k` (the first $K$ are used) and `final_u`.
            history: the loop's past rounds (what the policy's state holds of them).

        Raises:
            ValueError: if a sequence of uniforms is not of length `max_k`.
        """
        return self.play_round(context, draft_u, policy_u, draws, history)[0]

    def play_round(
        self,
        context: Outcome,
        draft_u: Sequence[Fraction],
        policy_u: Sequence[Fraction],
        draws: Draws,
        history: tuple[RoundRecord, ...] = (),
    ) -> tuple[Verdict, int]:
        """`run_round`'s verdict and the number of drafts made (see `run_round` for the args).

        Args:
            context: the target-side sequence before the round.
            draft_u: `max_k` uniforms for drawing the drafts.
            policy_u: `max_k` uniforms for the policy.
            draws: the verifier's uniforms.
            history: the loop's past rounds.
        """
        context = tuple(context)
        for what, values in (
            ("draft_u", draft_u),
            ("policy_u", policy_u),
            ("draws.accept_u", draws.accept_u),
        ):
            if len(values) != self.max_k:
                raise ValueError(f"{what} must have length max_k={self.max_k}, got {len(values)}")
        drafts: Outcome = ()
        rows: tuple[Dist, ...] = ()
        while len(drafts) < self.max_k:
            position = len(drafts)
            row = self.draft.next_dist(context + drafts)
            if self.verifier.drafting == "greedy":
                token = argmax(row)
            else:
                token = inverse_cdf(
                    row.probs, row.tokens, check_uniform(draft_u[position], "draft_u")
                )
            state = DraftState(context, drafts, rows, row, tuple(history))
            if not self._drafts_again(state, token, draws, policy_u[position]):
                break
            drafts, rows = (*drafts, token), (*rows, row)
        k = len(drafts)
        target_rows = [self.target.next_dist(context + drafts[:i]) for i in range(k + 1)]
        verdict = self.verifier.verify(
            target_rows, rows, drafts, Draws(draws.accept_u[:k], draws.final_u)
        )
        return verdict, k

    def _drafts_again(
        self, state: DraftState, draft_token: Token, draws: Draws, policy_u: Fraction
    ) -> bool:
        return keeps_drafting(self.policy, state, policy_u)


class PeekingLookaheadRound(LookaheadRound):
    """Negative control: a lookahead that reads the verifier's coin for the next draft.

    It drafts once more only if that draft would be accepted (peeking at the uniform the
    verifier will use, in `round_law` and in `run_round` alike), and otherwise stops and takes
    a bonus token. Its `policy` is ignored.
    The law is no longer the target's: a rejection's recovered token is replaced by a bonus
    drawn from the full target row.
    """

    def _keep_drafting(self) -> KeepDrafting:
        def peek(state: DraftState, draft_token: Token, verdict: Token | _Accept) -> Fraction:
            return Fraction(int(verdict is ACCEPT))

        return peek

    def _drafts_again(
        self, state: DraftState, draft_token: Token, draws: Draws, policy_u: Fraction
    ) -> bool:
        target_row = self.target.next_dist(state.context + state.drafts)
        verdict = self.verifier.decide(
            target_row,
            state.next_draft_row,
            draft_token,
            draws.accept_u[state.position],
            draws.final_u,
        )
        return verdict is ACCEPT


def lookahead_law(
    target: LanguageModel,
    draft: LanguageModel,
    prefix: Sequence[Token],
    n: int,
    policy: LookaheadPolicy,
    max_k: int,
    verifier: Verifier = STANDARD_SD,
) -> dict[Outcome, Fraction]:
    """Exact law of the first `n` output tokens of the speculative loop under `policy`.

    Args:
        target: the target model.
        draft: the draft model, over the same vocabulary.
        prefix: the tokens before generation starts.
        n: how many output tokens.
        policy: the lookahead policy.
        max_k: the most drafts in a round.
        verifier: the verifier (standard SD by default).

    Raises:
        ValueError: on bad arguments (see `LookaheadRound` and `round_kernel_law`).

    Examples:
        >>> from fractions import Fraction as F
        >>> from specproof.reference import ToyLM, autoregressive_law
        >>> p = ToyLM(["a", "b"], 0, {(): {"a": F(1, 4), "b": F(3, 4)}})
        >>> q = ToyLM(["a", "b"], 0, {(): {"a": F(2, 3), "b": F(1, 3)}})
        >>> policy = ConfidenceThreshold(F(1, 2))
        >>> lookahead_law(p, q, (), 3, policy, 3) == dict(autoregressive_law(p, (), 3))
        True
    """
    law: dict[Outcome, Fraction] = {}
    kernel = LookaheadRound(target, draft, policy, max_k, verifier)
    for (output, _), prob in lookahead_run_law(kernel, prefix, n).items():
        law[output] = law.get(output, Fraction(0)) + prob
    return law


#: The loop's past rounds, oldest first.
History = tuple[RoundRecord, ...]


def lookahead_run_law(
    kernel: LookaheadRound, prefix: Sequence[Token], n: int
) -> dict[tuple[Outcome, History], Fraction]:
    """Exact joint law of the first `n` output tokens and the rounds that made them.

    The loop is a Markov chain on (sequence, past rounds): each round's law is
    `kernel.round_history_law(sequence, history)`; rounds run until `n` tokens exist, and the
    last round's tokens past the `n`-th are cut off (its record keeps what it did).

    Args:
        kernel: the round kernel (a `LookaheadRound` or its peeking control).
        prefix: the tokens before generation starts.
        n: how many output tokens.

    Returns:
        `{(output of length n, records of the rounds run): probability}`.

    Raises:
        ValueError: on a bad `n` or a prefix outside the vocabulary.
    """
    n = _check_count(n, "n")
    start = tuple(prefix)
    outside = [t for t in start if t not in set(kernel.vocab)]
    if outside:
        raise ValueError(f"prefix holds tokens outside the vocabulary: {outside!r}")
    memo: dict[tuple[Outcome, History, int], dict[tuple[Outcome, History], Fraction]] = {}

    def rest(
        sequence: Outcome, history: History, remaining: int
    ) -> dict[tuple[Outcome, History], Fraction]:
        if remaining == 0:
            return {((), ()): Fraction(1)}
        key = (sequence, history, remaining)
        if key in memo:
            return memo[key]
        out: dict[tuple[Outcome, History], Fraction] = {}
        for (tokens, drafted), weight in kernel.round_history_law(sequence, history).items():
            record = RoundRecord(drafted, len(tokens) - 1)
            head = tokens[:remaining]
            later = rest(sequence + head, (*history, record), remaining - len(head))
            for (tail, records), prob in later.items():
                outcome = (head + tail, (record, *records))
                out[outcome] = out.get(outcome, Fraction(0)) + weight * prob
        memo[key] = out
        return out

    return rest(start, (), n)


__all__ = [
    "ConfidenceThreshold",
    "DraftState",
    "FixedLookahead",
    "LookaheadPolicy",
    "History",
    "LookaheadRound",
    "PeekingLookaheadRound",
    "RoundRecord",
    "ProbabilityTable",
    "TablePolicy",
    "keeps_drafting",
    "lookahead_law",
    "lookahead_run_law",
]
