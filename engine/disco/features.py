r"""DISCO's features: a fixed, named vector per drafted token, from drafter-side state only.

After each drafted token the policy sees a
[`DraftStepState`][specproof.engine.lookahead.DraftStepState] (the token's draft
probability $q(x)$, the top draft probabilities, the entropy of $q$, the token's position in
the round, the row's past rounds and their acceptance) and turns it into the vector
[`FEATURES`][specproof.engine.disco.features.FEATURES], versioned by
[`FEATURE_SET`][specproof.engine.disco.features.FEATURE_SET]. A policy file records both, so a
file trained on another feature set is refused instead of silently read with the wrong meaning.
Nothing here reads the target's probabilities or the verification's draws: the policy built on
these features is a stopping rule on drafter-side information, which keeps the loop lossless.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from ..lookahead import TOP_PROBS, DraftStepState

#: The feature set's version; bump it whenever `FEATURES` or `step_features` change meaning.
FEATURE_SET = "disco-step-v1"

#: The feature names, in the order of `step_features`'s vector.
FEATURES: tuple[str, ...] = (
    "token_prob",
    *(f"top{i + 1}_prob" for i in range(TOP_PROBS)),
    "entropy",
    "position",
    "log1p_rounds",
    "past_acceptance",
    "has_past_acceptance",
    "deterministic",
)


def step_features(state: DraftStepState) -> list[float]:
    """The feature vector of `state`, in the order of `FEATURES`.

    A deterministic drafter's state (`top_probs == ()`) has zero top probabilities and the
    `deterministic` flag set; a missing `past_acceptance` is 0 with `has_past_acceptance` 0.

    Raises:
        ValueError: on a probability outside [0, 1], more than `TOP_PROBS` top probabilities, a
            negative position or round count, or a non-finite entropy.
    """
    _check_state(state)
    tops = list(state.top_probs) + [0.0] * (TOP_PROBS - len(state.top_probs))
    past = state.past_acceptance
    return [
        float(state.token_prob),
        *map(float, tops),
        float(state.entropy),
        float(state.position),
        math.log1p(state.rounds),
        0.0 if past is None else float(past),
        0.0 if past is None else 1.0,
        1.0 if not state.top_probs else 0.0,
    ]


def features_matrix(states: Sequence[DraftStepState]) -> torch.Tensor:
    """`[len(states), len(FEATURES)]` float64: one `step_features` row per state."""
    rows = [step_features(state) for state in states]
    return torch.tensor(rows, dtype=torch.float64).reshape(len(rows), len(FEATURES))


def _check_state(state: DraftStepState) -> None:
    for name, value in (
        ("token_prob", state.token_prob),
        ("past_acceptance", state.past_acceptance),
    ):
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(f"DraftStepState.{name} must lie in [0, 1], got {value!r}")
    if len(state.top_probs) > TOP_PROBS:
        raise ValueError(
            f"DraftStepState.top_probs holds {len(state.top_probs)} values, at most {TOP_PROBS}"
        )
    if any(not 0.0 <= p <= 1.0 for p in state.top_probs):
        raise ValueError(f"DraftStepState.top_probs must lie in [0, 1], got {state.top_probs}")
    if state.position < 0 or state.rounds < 0:
        raise ValueError(
            f"DraftStepState.position and rounds must be >= 0, got {state.position}, {state.rounds}"
        )
    if not math.isfinite(state.entropy) or state.entropy < 0:
        raise ValueError(f"DraftStepState.entropy must be finite and >= 0, got {state.entropy}")


def step_states(
    row: int,
    tokens: Sequence[int],
    draft_probs: torch.Tensor | None,
    rounds: int,
    past_acceptance: float | None,
) -> tuple[DraftStepState, ...]:
    """The states of one row's drafts in a round, from the distributions they were drawn from.

    Args:
        row: the row's index in the batch.
        tokens: the draft tokens.
        draft_probs: `[len(tokens), V]` the draft distributions; None for a deterministic
            drafter (each state then has `token_prob` 1, no top probabilities, entropy 0).
        rounds: rounds the row ran before this one.
        past_acceptance: accepted / drafted over those rounds (None before any draft).

    Raises:
        ValueError: if `draft_probs` does not hold one row per token.
    """
    from ..lookahead import draft_step_states

    if draft_probs is None:
        return tuple(
            DraftStepState(row, j, 1.0, (), 0.0, rounds, past_acceptance)
            for j in range(len(tokens))
        )
    if draft_probs.dim() != 2 or draft_probs.shape[0] != len(tokens):
        raise ValueError(f"draft_probs must be [{len(tokens)}, V], got {list(draft_probs.shape)}")
    # The loop's own computation, so that training sees the states the policy sees at run time.
    return tuple(draft_step_states(row, draft_probs, tokens, rounds, past_acceptance))
