"""Lookahead policies: how many drafts each active row asks for in a round (DISCO).

The loop asks the policy once per round with the state of every active row and gets one K per
row; rows of one batch may get different K in the same round (K = 0 is a round without drafts:
one token from the target). The drafter may propose fewer than asked (prompt lookup without a
match proposes none). [`StaticK`][specproof.engine.lookahead.StaticK] is today's fixed K;
[`PerRowK`][specproof.engine.lookahead.PerRowK] fixes one K per row;
[`HeuristicK`][specproof.engine.lookahead.HeuristicK] is transformers' `heuristic` schedule.

**Stopping after each drafted token.** A policy that also has `keep_drafting` (a
[`StepwisePolicy`][specproof.engine.lookahead.StepwisePolicy]) is asked after each drafted
token, for the rows still drafting, whether to draft once more; `lookahead` then gives each
row's *maximum* K. It sees a [`DraftStepState`][specproof.engine.lookahead.DraftStepState]:
drafter-side features only (the drafted token's probability, the drafter distribution's top
probabilities and entropy, the position, the row's past acceptance). Reading nothing of the
current round's verification keeps the loop lossless (checked exactly in
[`specproof.reference.lookahead`][specproof.reference.lookahead]).
[`ConfidenceStop`][specproof.engine.lookahead.ConfidenceStop] is transformers'
`assistant_confidence_threshold`; DISCO's learned classifier lives in `specproof.engine.disco`.
A policy without `keep_drafting` costs nothing per token.

[`parse_lookahead`][specproof.engine.lookahead.parse_lookahead] reads the command line's
`--lookahead` specs.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from specproof.reference.arguments import check_int

if TYPE_CHECKING:
    import torch

#: How many of the drafter distribution's largest probabilities a step state carries.
TOP_PROBS = 8


@dataclass(frozen=True)
class RowState:
    """What a policy sees of one active row before a round.

    Attributes:
        row: the row's index in the batch.
        generated: tokens output so far.
        remaining: tokens left before `max_new_tokens`.
        rounds: rounds the row has run.
        last_drafted: drafts verified in the row's previous round (None before its first).
        last_accepted: drafts accepted in its previous round (None before its first).
    """

    row: int
    generated: int
    remaining: int
    rounds: int = 0
    last_drafted: int | None = None
    last_accepted: int | None = None


@runtime_checkable
class LookaheadPolicy(Protocol):
    """Chooses each active row's K for the next round."""

    def lookahead(self, rows: Sequence[RowState]) -> Sequence[int]:
        """One K >= 0 per row of `rows`, in order."""
        ...


def _check_k(value: object, name: str) -> int:
    return check_int(value, name, 0)


@dataclass(frozen=True)
class StaticK:
    """The same K for every row in every round.

    Attributes:
        k: drafts per round (>= 0).
    """

    k: int

    def __post_init__(self) -> None:
        _check_k(self.k, "k")

    def lookahead(self, rows: Sequence[RowState]) -> list[int]:
        """`k` for every row."""
        return [self.k] * len(rows)


@dataclass(frozen=True)
class PerRowK:
    """A fixed K per row of the batch.

    Attributes:
        ks: `ks[b]` is row b's K (>= 0).
    """

    ks: tuple[int, ...]

    def __post_init__(self) -> None:
        for b, k in enumerate(self.ks):
            _check_k(k, f"ks[{b}]")

    def lookahead(self, rows: Sequence[RowState]) -> list[int]:
        """`ks[row]` for each row."""
        if any(state.row >= len(self.ks) for state in rows):
            raise ValueError(f"PerRowK holds {len(self.ks)} values, fewer than the batch's rows")
        return [self.ks[state.row] for state in rows]


def checked_lookahead(policy: LookaheadPolicy, rows: Sequence[RowState]) -> list[int]:
    """The policy's answer for `rows`, checked: one int >= 0 per row.

    Raises:
        ValueError: if the policy answers with the wrong count or a bad K.
    """
    ks = list(policy.lookahead(rows))
    if len(ks) != len(rows):
        raise ValueError(f"lookahead: the policy returned {len(ks)} values for {len(rows)} rows")
    return [
        _check_k(k, f"lookahead K of row {state.row}") for k, state in zip(ks, rows, strict=True)
    ]


@dataclass(frozen=True)
class DraftStepState:
    """What a stepwise policy sees of one row just after it drafted a token: drafter-side only.

    Attributes:
        row: the row's index in the batch.
        position: 0-based index of the just-drafted token in this round.
        token_prob: the drafter's probability of the drafted token (1.0 for deterministic
            drafters).
        top_probs: the drafter distribution's largest probabilities, descending (up to
            `TOP_PROBS` = 8; `()` for deterministic drafters).
        entropy: the entropy (nats) of that drafter distribution (0.0 for deterministic).
        rounds: rounds the row has run before this one.
        past_acceptance: accepted / drafted over the row's past rounds (None before any draft).
    """

    row: int
    position: int
    token_prob: float
    top_probs: tuple[float, ...]
    entropy: float
    rounds: int
    past_acceptance: float | None


@runtime_checkable
class StepwisePolicy(LookaheadPolicy, Protocol):
    """A lookahead policy that may also stop a row's drafting after any drafted token.

    `lookahead(rows)` gives each row's maximum K; after each drafted token the loop asks
    `keep_drafting` for the rows still drafting (below their maximum).
    """

    def keep_drafting(self, steps: Sequence[DraftStepState]) -> Sequence[bool]:
        """One bool per step state, in order: True drafts once more, False stops the row."""
        ...


def checked_keep_drafting(policy: StepwisePolicy, steps: Sequence[DraftStepState]) -> list[bool]:
    """The policy's `keep_drafting` answer for `steps`, checked: one bool per state.

    Raises:
        ValueError: if the policy answers with the wrong count or a non-bool.
    """
    answers = list(policy.keep_drafting(steps))
    if len(answers) != len(steps):
        raise ValueError(
            f"keep_drafting: the policy returned {len(answers)} values for {len(steps)} rows"
        )
    for answer, step in zip(answers, steps, strict=True):
        if not isinstance(answer, bool):
            raise ValueError(
                f"keep_drafting: row {step.row}'s answer must be a bool, got {answer!r}"
            )
    return answers


def step_features(
    draft_probs: torch.Tensor, tokens: Sequence[int], deterministic: bool = False
) -> list[tuple[float, tuple[float, ...], float]]:
    """`(token_prob, top_probs, entropy)` per drafted token, computed at once for a `[n, V]` block.

    Args:
        draft_probs: `[n, V]`, row i the distribution token i was drawn from.
        tokens: the n drafted tokens.
        deterministic: the drafter is deterministic (one-hot rows): `(1.0, (), 0.0)` each.
    """
    n = len(tokens)
    if deterministic or n == 0:
        return [(1.0, (), 0.0)] * n
    import torch

    index = torch.as_tensor(list(tokens), dtype=torch.long, device=draft_probs.device)
    token_probs = draft_probs[torch.arange(n, device=draft_probs.device), index].tolist()
    top = draft_probs.topk(min(TOP_PROBS, draft_probs.shape[-1]), dim=-1).values.tolist()
    entropies = torch.special.entr(draft_probs).sum(-1).tolist()
    return [
        (float(token_probs[i]), tuple(float(v) for v in top[i]), float(entropies[i]))
        for i in range(n)
    ]


def draft_step_states(
    row: int,
    draft_probs: torch.Tensor,
    tokens: Sequence[int],
    rounds: int,
    past_acceptance: float | None,
    deterministic: bool = False,
    start: int = 0,
) -> list[DraftStepState]:
    """The step states of a row's drafts `tokens` (positions `start`, `start + 1`, ...).

    Args:
        row: the row's index in the batch.
        draft_probs: `[len(tokens), V]`, the drafts' distributions.
        tokens: the drafted tokens.
        rounds: rounds the row has run before this one.
        past_acceptance: accepted / drafted over the row's past rounds (None before any draft).
        deterministic: the drafter is deterministic (see `DraftStepState`).
        start: the position of `tokens[0]` in the round.
    """
    return [
        DraftStepState(row, start + i, prob, top, entropy, rounds, past_acceptance)
        for i, (prob, top, entropy) in enumerate(step_features(draft_probs, tokens, deterministic))
    ]


class HeuristicK:
    """transformers' `heuristic` schedule, per row: +2 after a fully accepted round, -1 otherwise.

    A row starts at `k0`; after a round that accepted every draft it asked for, its K grows by
    2, otherwise it shrinks by 1, never below 1 (and never above `max_k` when given). The
    schedule is kept per row from the [`RowState`][specproof.engine.lookahead.RowState]s (a
    row at its round 0 starts over, so one instance serves several runs one after another).

    Args:
        k0: the first round's K (>= 1).
        max_k: the largest K (>= k0), or None for no cap.
    """

    def __init__(self, k0: int = 5, max_k: int | None = None) -> None:
        if _check_k(k0, "k0") < 1:
            raise ValueError(f"k0 must be an int >= 1, got {k0!r}")
        if max_k is not None and _check_k(max_k, "max_k") < k0:
            raise ValueError(f"max_k must be >= k0 ({k0}), got {max_k!r}")
        self.k0 = k0
        self.max_k = max_k
        self._asked: dict[int, int] = {}

    def __repr__(self) -> str:
        return f"HeuristicK(k0={self.k0}, max_k={self.max_k})"

    def next_k(self, asked: int, accepted: int) -> int:
        """The K after a round that asked `asked` drafts and accepted `accepted`."""
        k = asked + 2 if accepted >= asked else max(1, asked - 1)
        return k if self.max_k is None else min(k, self.max_k)

    def lookahead(self, rows: Sequence[RowState]) -> list[int]:
        """Each row's K from its previous round's acceptance."""
        ks = []
        for state in rows:
            asked = self._asked.get(state.row)
            if state.rounds == 0 or asked is None or state.last_accepted is None:
                k = self.k0
            else:
                k = self.next_k(asked, state.last_accepted)
            self._asked[state.row] = k
            ks.append(k)
        return ks


@dataclass(frozen=True)
class ConfidenceStop:
    """Stop drafting when the drafted token's probability falls below `threshold`.

    transformers' `assistant_confidence_threshold`: each round drafts at least one token and at
    most `max_k`; after each, the row drafts once more iff the drafter gave that token a
    probability of at least `threshold`.

    Attributes:
        threshold: a probability in [0, 1].
        max_k: the most drafts per round (>= 1).
    """

    threshold: float
    max_k: int = 8

    def __post_init__(self) -> None:
        value = self.threshold
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
            raise ValueError(f"threshold must be a number in [0, 1], got {value!r}")
        if _check_k(self.max_k, "max_k") < 1:
            raise ValueError(f"max_k must be an int >= 1, got {self.max_k!r}")

    def lookahead(self, rows: Sequence[RowState]) -> list[int]:
        """`max_k` for every row."""
        return [self.max_k] * len(rows)

    def keep_drafting(self, steps: Sequence[DraftStepState]) -> list[bool]:
        """Draft once more iff the drafted token's probability is at least `threshold`."""
        return [step.token_prob >= self.threshold for step in steps]


#: The grammar of `parse_lookahead`, for error messages and help texts.
LOOKAHEAD_SPECS = "static:K | heuristic[:K0] | confidence:T[:max_k=K] | disco:PATH"


def parse_lookahead(spec: str) -> LookaheadPolicy:
    """The policy a `--lookahead` spec names.

    Specs: `static:5` ([`StaticK`][specproof.engine.lookahead.StaticK]), `heuristic` or
    `heuristic:K0` ([`HeuristicK`][specproof.engine.lookahead.HeuristicK], K0 = 5 by default),
    `confidence:0.4` or `confidence:0.4:max_k=8`
    ([`ConfidenceStop`][specproof.engine.lookahead.ConfidenceStop]), `disco:PATH` (the learned
    policy file at PATH, loaded by `specproof.engine.disco.load_policy`).

    Args:
        spec: the spec.

    Raises:
        ValueError: naming the spec, on a malformed one or a value out of range; for
            `disco:PATH`, also when `specproof.engine.disco` is missing (errors reading the
            file are `load_policy`'s own).

    Examples:
        >>> parse_lookahead("static:5")
        StaticK(k=5)
        >>> parse_lookahead("confidence:0.4:max_k=6")
        ConfidenceStop(threshold=0.4, max_k=6)
    """
    if not isinstance(spec, str):
        raise ValueError(f"lookahead spec must be a string ({LOOKAHEAD_SPECS}), got {spec!r}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip()

    def bad(why: str) -> ValueError:
        return ValueError(f"lookahead spec {spec!r}: {why} (specs: {LOOKAHEAD_SPECS})")

    def integer(text: str, what: str) -> int:
        try:
            return int(text.strip())
        except ValueError:
            raise bad(f"{what} must be an integer, got {text.strip()!r}") from None

    try:
        if name == "static":
            if not rest:
                raise bad("static needs K, as in static:5")
            return StaticK(integer(rest, "K"))
        if name == "heuristic":
            return HeuristicK(integer(rest, "K0")) if rest else HeuristicK()
        if name == "confidence":
            threshold_text, _, option = rest.partition(":")
            if not threshold_text.strip():
                raise bad("confidence needs a threshold, as in confidence:0.4")
            try:
                threshold = float(threshold_text)
            except ValueError:
                raise bad(f"threshold must be a number, got {threshold_text.strip()!r}") from None
            if not math.isfinite(threshold):
                raise bad(f"threshold must be a number in [0, 1], got {threshold_text.strip()!r}")
            if not option:
                return ConfidenceStop(threshold)
            key, eq, value = option.partition("=")
            if key.strip() != "max_k" or not eq:
                raise bad(f"option {option!r} must be max_k=K")
            return ConfidenceStop(threshold, integer(value, "max_k"))
    except ValueError as exc:
        if str(exc).startswith("lookahead spec"):
            raise
        raise bad(str(exc)) from None
    if name == "disco":
        if not rest.strip():
            raise bad("disco needs a policy file, as in disco:policy.json")
        try:
            disco = importlib.import_module("specproof.engine.disco")
        except ModuleNotFoundError as exc:
            if exc.name not in ("specproof.engine.disco", "specproof.engine"):
                raise
            raise bad(
                "the learned policy needs the module specproof.engine.disco, which this "
                "installation does not have"
            ) from None
        policy = disco.load_policy(rest.strip())
        if not isinstance(policy, LookaheadPolicy):
            raise bad(f"load_policy returned {type(policy).__name__}, not a lookahead policy")
        return policy  # type: ignore[no-any-return]
    raise bad(f"unknown policy {name!r}")
