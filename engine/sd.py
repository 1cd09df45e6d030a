r"""Standard speculative decoding, batched (Leviathan et al. 2023, Alg. 1; Chen et al. 2023).

Mirrors `specproof.reference.sd` rule for rule. With $p$ the target row, $q$ the draft row and
$x$ the draft at a position:

- **accept** $x$ iff $u \cdot q(x) < p(x)$;
- **recovered**: the first $y$ with $u_{\text{final}} \cdot \sum_z r(z) < \mathrm{cumsum}(r)[y]$,
  $r = (p - q)_+$, at the first rejected position;
- **bonus**: the same inverse-CDF rule on target row $K$.

Cost: acceptance needs only the gathered $p(x)$, $q(x)$ (`[B, K]`); one row of $V$ per batch
row is then read to draw the recovered or bonus token, so a batch costs $O(B (K + V))$ (plus one
pass over both tensors when `check_values=True`).

Floating point: for a float $u < 1$, round-to-nearest gives $\mathrm{fl}(u \cdot q(x)) < q(x)$,
so $p(x) \ge q(x)$ still means acceptance, and a rejection has $q(x) > p(x)$. The residual then
has positive mass unless the rows' own rounding (rows that do not sum to exactly the same
value) leaves none; in that case, unreachable in exact arithmetic, the token is drawn from the
target row, so the output is never NaN and always in $[0, V)$.
"""

from __future__ import annotations

import torch

from .verify import (
    BatchVerdict,
    assemble,
    check_gathered,
    check_round,
    inverse_cdf_rows,
    leading_true,
    row_mass_ok,
)


def verify_sd(
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    draft_tokens: torch.Tensor,
    accept_u: torch.Tensor,
    final_u: torch.Tensor,
    *,
    check_values: bool = True,
) -> BatchVerdict:
    """Standard SD verification of a batch of rounds.

    Args:
        target_probs: `[B, K+1, V]` float32/float64.
        draft_probs: `[B, K, V]`, the distributions the drafts were drawn from.
        draft_tokens: `[B, K]` integer, each with positive draft probability.
        accept_u: `[B, K]` uniforms in $[0, 1)$.
        final_u: `[B]` uniforms in $[0, 1)$ for the recovered or bonus token.
        check_values: scan every probability for NaN/inf/negatives first.

    Returns:
        The [`BatchVerdict`][specproof.engine.verify.BatchVerdict].

    Raises:
        ValueError: on invalid inputs, naming the argument (including a draft token with zero
            draft probability: it cannot have been drafted).
    """
    shape = check_round(
        target_probs, draft_probs, draft_tokens, accept_u, final_u, check_values=check_values
    )
    batch, k = shape.batch, shape.k
    rows = torch.arange(batch, device=target_probs.device)
    tokens = draft_tokens.to(torch.int64)
    if k > 0:
        index = tokens.unsqueeze(-1)
        p_x = target_probs[:, :k].gather(2, index).squeeze(2)
        q_x = draft_probs.gather(2, index).squeeze(2)
        check_gathered(p_x, "target_probs", "a draft token")
        check_gathered(q_x, "draft_probs", "a draft token")
        if not bool((q_x > 0).all()):
            b, i = (q_x <= 0).nonzero()[0].tolist()
            raise ValueError(
                f"draft_tokens[{b}, {i}] = {int(tokens[b, i])} has zero draft probability in "
                f"draft_probs[{b}, {i}]: it cannot have been drafted"
            )
        accepted = accept_u * q_x < p_x
        n_accepted = leading_true(accepted)
    else:
        n_accepted = torch.zeros(batch, dtype=torch.int64, device=target_probs.device)
    target_rows = target_probs[rows, n_accepted]
    weights = target_rows
    rejected = n_accepted < k
    if bool(rejected.any()):
        rej = rejected.nonzero().squeeze(1)
        draft_rows = draft_probs[rej, n_accepted[rej]]
        weights = target_rows.clone()
        weights[rej] = (target_rows[rej] - draft_rows).clamp_(min=0)
        mass_ok = row_mass_ok(weights[rej])
        if not bool(mass_ok.all()):
            check_gathered(draft_rows, "draft_probs", "a rejected position's row")
            # Zero residual: unreachable in exact arithmetic (see the module docstring).
            empty = rej[~mass_ok]
            weights[empty] = target_rows[empty]
    if not bool(row_mass_ok(weights).all()):
        b = int((~row_mass_ok(weights)).nonzero()[0])
        raise ValueError(
            f"target_probs[{b}, {int(n_accepted[b])}] must be finite and non-negative with "
            "positive mass: the recovered or bonus token is drawn from it"
        )
    last = inverse_cdf_rows(weights, final_u)
    return assemble(tokens, n_accepted, last)
