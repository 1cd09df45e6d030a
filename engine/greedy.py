"""Greedy verification, batched: accept a draft iff it is the target's argmax.

Mirrors `specproof.reference.greedy`: the argmax takes the lowest index on ties; at the first
mismatch the target's argmax is output (recovered), after all drafts the argmax of target row
$K$ (bonus). No uniform and no draft probability is used; their shapes are still checked so
that one call signature serves every verifier.
"""

from __future__ import annotations

import torch

from .verify import BatchVerdict, assemble, check_round, leading_true


def verify_greedy(
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    draft_tokens: torch.Tensor,
    accept_u: torch.Tensor,
    final_u: torch.Tensor,
    *,
    check_values: bool = True,
) -> BatchVerdict:
    """Greedy verification of a batch of rounds.

    Args:
        target_probs: `[B, K+1, V]` float32/float64 (probabilities or any scores whose argmax
            is the target's choice; they are checked for NaN/inf/negatives when `check_values`).
        draft_probs: `[B, K, V]`, shape-checked only.
        draft_tokens: `[B, K]` integer in `[0, V)`.
        accept_u: `[B, K]`, shape-checked and range-checked only.
        final_u: `[B]`, shape-checked and range-checked only.
        check_values: scan `target_probs` for NaN/inf/negatives first.

    Returns:
        The [`BatchVerdict`][specproof.engine.verify.BatchVerdict].

    Raises:
        ValueError: on invalid inputs, naming the argument.
    """
    shape = check_round(
        target_probs,
        draft_probs,
        draft_tokens,
        accept_u,
        final_u,
        check_values=check_values,
        check_draft_values=False,
    )
    if not check_values and bool(torch.isnan(target_probs).any()):
        raise ValueError("target_probs contains NaN")
    k = shape.k
    tokens = draft_tokens.to(torch.int64)
    # torch.argmax returns the first maximal index: the lowest index wins ties.
    best = target_probs.argmax(-1)
    n_accepted = leading_true(best[:, :k] == tokens)
    rows = torch.arange(shape.batch, device=target_probs.device)
    return assemble(tokens, n_accepted, best[rows, n_accepted])
