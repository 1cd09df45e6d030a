r"""Exact-match (sample-and-match) verification, batched.

Mirrors `specproof.reference.exact_match`: at draft position $i$ the target samples its own
token $y_i$ by the pinned inverse-CDF rule on target row $i$ at `accept_u[i]`; the draft is
accepted iff $y_i = x_i$, and otherwise $y_i$ is output (the recovered token). After all $K$
drafts the bonus is the inverse CDF of target row $K$ at `final_u`. The draft probabilities
are not used by the rule (only validated: a draft token must have positive draft probability).

Cost: the target's sample is needed at every position, so a batch reads all of `target_probs`
($O(B K V)$).
"""

from __future__ import annotations

import torch

from .kernels import (
    BatchVerdict,
    assemble,
    check_gathered,
    inverse_cdf_with_mass,
    leading_true,
)
from .rule import CheckedRound, round_verifier


@round_verifier()
def verify_exact_match(checked: CheckedRound) -> BatchVerdict:
    """Exact-match verification of a batch of rounds.

    Args:
        target_probs: `[B, K+1, V]` float32/float64.
        draft_probs: `[B, K, V]` (only checked: each draft token has positive probability).
        draft_tokens: `[B, K]` integer.
        accept_u: `[B, K]` uniforms: the target's own sample at position `i` uses `accept_u[:, i]`.
        final_u: `[B]` uniforms for the bonus token.
        check_values: check every probability for NaN/inf/negatives and every row for a sum of 1 first.

    Returns:
        The [`BatchVerdict`][specproof.engine.kernels.BatchVerdict].

    Raises:
        ValueError: on invalid inputs, naming the argument.
    """
    target_probs, tokens = checked.target_probs, checked.draft_tokens
    batch, k = checked.shape.batch, checked.shape.k
    uniforms = torch.cat([checked.accept_u, checked.final_u.unsqueeze(1)], dim=1)
    samples, mass = inverse_cdf_with_mass(target_probs, uniforms)
    usable = torch.isfinite(mass) & (mass > 0)
    # A row without usable mass never matches; it is an error only if the rule reaches it.
    samples = torch.where(usable, samples, -1)
    n_accepted = leading_true(samples[:, :k] == tokens)
    rows = torch.arange(batch, device=target_probs.device)
    if not bool(usable[rows, n_accepted].all()):
        b = int((~usable[rows, n_accepted]).nonzero()[0])
        check_gathered(
            target_probs[b, n_accepted[b]], "target_probs", f"row [{b}, {int(n_accepted[b])}]"
        )
        raise ValueError(
            f"target_probs[{b}, {int(n_accepted[b])}] has zero mass: the target samples from it"
        )
    return assemble(tokens, n_accepted, samples[rows, n_accepted])
