"""Greedy verification, batched: accept a draft iff it is the target's argmax.

Mirrors `specproof.reference.greedy`: the argmax takes the lowest index on ties; at the first
mismatch the target's argmax is output (recovered), after all drafts the argmax of target row
$K$ (bonus). No uniform and no draft probability is used; their shapes are still checked so
that one call signature serves every verifier.
"""

from __future__ import annotations

import torch

from .kernels import (
    BLOCK,
    BatchVerdict,
    assemble,
    block_size,
    check_gathered,
    leading_true,
)
from .rule import CheckedRound, round_verifier


@round_verifier(reads_draft=False)
def verify_greedy(checked: CheckedRound) -> BatchVerdict:
    """Greedy verification of a batch of rounds.

    Args:
        target_probs: `[B, K+1, V]` float32/float64 (probabilities or any scores whose argmax
            is the target's choice; they are checked for NaN/inf/negatives when `check_values`).
        draft_probs: `[B, K, V]`, shape-checked only.
        draft_tokens: `[B, K]` integer in `[0, V)`.
        accept_u: `[B, K]`, shape-checked and range-checked only.
        final_u: `[B]`, shape-checked and range-checked only.
        check_values: check `target_probs` for NaN/inf/negatives and row sums of 1 first.

    Returns:
        The [`BatchVerdict`][specproof.engine.kernels.BatchVerdict].

    Raises:
        ValueError: on invalid inputs, naming the argument.
    """
    target_probs, tokens, shape = checked.target_probs, checked.draft_tokens, checked.shape
    k = shape.k
    best = argmax_rows(target_probs)
    # NaN counts as the largest value in argmax, so a row holding NaN or inf shows it here.
    check_gathered(
        target_probs.gather(2, best.unsqueeze(-1)), "target_probs", "a row's largest entry"
    )
    n_accepted = leading_true(best[:, :k] == tokens)
    rows = torch.arange(shape.batch, device=target_probs.device)
    return assemble(tokens, n_accepted, best[rows, n_accepted])


def argmax_rows(scores: torch.Tensor) -> torch.Tensor:
    r"""`[...]` int64: the index of each row's maximum over the last dimension, lowest on ties.

    For $V \ge 4 \cdot$ `BLOCK` with a block size dividing $V$: the first block whose maximum
    is the row's maximum, then the first maximal index inside it (the same answer as
    `torch.argmax`, which returns the first maximal index, at the cost of a vectorised maximum
    instead of a scalar scan). NaN counts as the largest value, as in `torch.argmax`.
    """
    vocab = scores.shape[-1]
    block = block_size(vocab)
    if vocab < 4 * BLOCK or vocab % block:
        return scores.argmax(-1)
    lead = scores.shape[:-1]
    blocked = scores.reshape(-1, vocab // block, block)
    chosen = blocked.amax(-1).argmax(-1)
    within = blocked.gather(1, chosen.view(-1, 1, 1).expand(-1, 1, block)).squeeze(1)
    return (chosen * block + within.argmax(-1)).reshape(lead)
