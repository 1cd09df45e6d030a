"""The per-round trace: what the generation loop reports after each round.

`generate(..., on_round=callback)` calls `callback(trace)` once per round with a
[`RoundTrace`][specproof.engine.trace.RoundTrace]: per active row, the K asked, the drafts, the
drafter's features, $q(x)$ and $p(x)$ of each draft (the probabilities verification compared),
the accepted count and the output, one
[`DraftStepState`][specproof.engine.lookahead.DraftStepState] per draft (the features a stepwise
policy sees; DISCO's training data: step $j$'s label is `j < accepted`); and the round's timings
by phase. The full probability rows
are there too (`draft_probs`, `target_probs`, tensors the loop computed anyway): a policy
trainer that wants them keeps them, others pay nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import torch

from .lookahead import DraftStepState, draft_step_states

if TYPE_CHECKING:
    from .drafters import Proposal


@dataclass(frozen=True)
class RowTrace:
    """One row's round.

    Attributes:
        row: the row's index in the batch.
        k: the K the lookahead policy asked for.
        drafts: the tokens proposed (at most k).
        features: the drafter's features for this proposal.
        draft_token_probs: $q_i(x_i)$ for each draft.
        target_token_probs: $p_i(x_i)$ for each draft.
        accepted: drafts accepted.
        output: tokens committed by the round (after truncation at `max_new_tokens` or EOS).
        draft_probs: `[len(drafts), V]`, the drafts' distributions.
        target_probs: `[len(drafts) + 1, V]`, the target's distributions.
        rounds_before: rounds the row ran before this one.
        past_acceptance: accepted / drafted over the row's past rounds (None before any draft).
        deterministic: the drafter is deterministic (see `DraftStepState`).
    """

    row: int
    k: int
    drafts: tuple[int, ...]
    features: Mapping[str, float]
    draft_token_probs: tuple[float, ...]
    target_token_probs: tuple[float, ...]
    accepted: int
    output: tuple[int, ...]
    draft_probs: torch.Tensor
    target_probs: torch.Tensor
    rounds_before: int = 0
    past_acceptance: float | None = None
    deterministic: bool = False

    @cached_property
    def draft_steps(self) -> tuple[DraftStepState, ...]:
        """One step state per draft, in order (empty without drafts); computed when first read.

        They are the states a stepwise policy saw (or would have seen) after each draft; DISCO's
        training data: step $j$'s label is `j < accepted`.
        """
        return tuple(
            draft_step_states(
                self.row,
                self.draft_probs,
                self.drafts,
                self.rounds_before,
                self.past_acceptance,
                self.deterministic,
            )
        )


@dataclass(frozen=True)
class RoundTrace:
    """One round of the batch.

    Attributes:
        round: the round's index (from 0).
        rows: one [`RowTrace`][specproof.engine.trace.RowTrace] per active row.
        lookahead_s: seconds in the lookahead policy.
        draft_s: seconds drafting (draft forwards and sampling).
        target_s: seconds in the target forward(s) and its probabilities.
        verify_s: seconds drawing uniforms and verifying.
        commit_s: seconds committing tokens and rolling caches back.
    """

    round: int
    rows: tuple[RowTrace, ...]
    lookahead_s: float
    draft_s: float
    target_s: float
    verify_s: float
    commit_s: float


def round_trace(
    round_index: int,
    rows_index: Sequence[int],
    ks: Sequence[int],
    proposals: Sequence[Proposal],
    p_rows: Sequence[torch.Tensor],
    n_accepted: Sequence[int],
    committed: Sequence[list[int]],
    timings: tuple[float, float, float, float, float],
    histories: Sequence[tuple[int, float | None]] = (),
    deterministic: bool = False,
) -> RoundTrace:
    """Assemble a round's [`RoundTrace`][specproof.engine.trace.RoundTrace] (all lists in the order of the active rows).

    Args:
        round_index: the round's index.
        rows_index: the active rows' indices in the batch.
        ks: the K asked per row.
        proposals: the drafter's proposal per row.
        p_rows: the target's `[k_b + 1, V]` rows per row.
        n_accepted: drafts accepted per row.
        committed: tokens committed per row.
        timings: seconds in lookahead, drafting, target, verification, commit.
        histories: per row, `(rounds run before, past acceptance)` for its step states (empty:
            `(0, None)` for every row).
        deterministic: the drafter is deterministic (see `DraftStepState`).
    """
    rows = []
    for i, row in enumerate(rows_index):
        proposal = proposals[i]
        index = torch.tensor(proposal.tokens, dtype=torch.long, device=p_rows[i].device)
        positions = torch.arange(len(proposal.tokens), device=p_rows[i].device)
        rows.append(
            RowTrace(
                row,
                ks[i],
                proposal.tokens,
                dict(proposal.features),
                tuple(proposal.draft_probs[positions, index].tolist()),
                tuple(p_rows[i][positions, index].tolist()),
                n_accepted[i],
                tuple(committed[i]),
                proposal.draft_probs,
                p_rows[i],
                *(histories[i] if histories else (0, None)),
                deterministic,
            )
        )
    return RoundTrace(round_index, tuple(rows), *timings)
