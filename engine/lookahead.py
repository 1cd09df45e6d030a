"""Lookahead policies: how many drafts each active row asks for in a round.

The loop asks the policy once per round with the state of every active row and gets one K per
row; rows of one batch may get different K in the same round (K = 0 is a round without drafts:
one token from the target). The drafter may propose fewer than asked (prompt lookup without a
match proposes none). [`StaticK`][specproof.engine.lookahead.StaticK] is today's fixed K;
[`PerRowK`][specproof.engine.lookahead.PerRowK] fixes one K per row. Dynamic policies read the
[`RowState`][specproof.engine.lookahead.RowState]s (and may keep their own history through the
loop's per-round trace hook).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable


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
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return value


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
