r"""Standard speculative decoding, batched (Leviathan et al. 2023, Alg. 1; Chen et al. 2023).

Mirrors `specproof.reference.sd` rule for rule. With $p$ the target row, $q$ the draft row and
$x$ the draft at a position:

- **accept** $x$ iff $u \cdot q(x) < p(x)$;
- **recovered**: the first $y$ with $u_{\text{final}} \cdot \sum_z r(z) < \mathrm{cumsum}(r)[y]$,
  $r = (p - q)_+$, at the first rejected position;
- **bonus**: the same inverse-CDF rule on target row $K$.

Cost: acceptance needs only the gathered $p(x)$, $q(x)$ (`[B, K]`); then one row of $V$ per
batch row (two for a rejection: $p$ and $q$ at the first rejected position) is read to draw the
recovered or bonus token, so a batch costs $O(B (K + V))$, plus one pass over both tensors when
`check_values=True`. Rows are gathered in chunks of about `CHUNK_BYTES` (large temporaries cost
page faults), and at large $V$ the draw uses the two-level inverse-CDF search of
[`inverse_cdf_with_mass`][specproof.engine.kernels.inverse_cdf_with_mass].
[`verify_sd_rowwise`][specproof.engine.sd.verify_sd_rowwise] is the same rule as a plain loop.

Floating point: for a float $u < 1$, round-to-nearest gives $\mathrm{fl}(u \cdot q(x)) < q(x)$,
so $p(x) \ge q(x)$ still means acceptance, and a rejection has $q(x) > p(x)$. The residual then
has positive mass unless the rows' own rounding (rows that do not sum to exactly the same
value) leaves none; in that case, unreachable in exact arithmetic, the token is drawn from the
target row, so the output is never NaN and always in $[0, V)$.
"""

from __future__ import annotations

import torch

from .kernels import (
    CHUNK_BYTES,
    BatchVerdict,
    all_positive_finite,
    assemble,
    check_gathered,
    inverse_cdf_with_mass,
    leading_true,
)
from .rule import CheckedRound, round_verifier


@round_verifier()
def verify_sd(checked: CheckedRound) -> BatchVerdict:
    """Standard SD verification of a batch of rounds.

    Args:
        target_probs: `[B, K+1, V]` float32/float64.
        draft_probs: `[B, K, V]`, the distributions the drafts were drawn from.
        draft_tokens: `[B, K]` integer, each with positive draft probability.
        accept_u: `[B, K]` uniforms in $[0, 1)$.
        final_u: `[B]` uniforms in $[0, 1)$ for the recovered or bonus token.
        check_values: check every probability for NaN/inf/negatives and every row for a sum of 1 first.

    Returns:
        The [`BatchVerdict`][specproof.engine.kernels.BatchVerdict].

    Raises:
        ValueError: on invalid inputs, naming the argument (including a draft token with zero
            draft probability: it cannot have been drafted).
    """
    target_probs, draft_probs = checked.target_probs, checked.draft_probs
    tokens, accept_u, final_u = checked.draft_tokens, checked.accept_u, checked.final_u
    shape = checked.shape
    batch, k = shape.batch, shape.k
    if k > 0:
        p_x = target_probs[:, :k].gather(2, tokens.unsqueeze(-1)).squeeze(2)
        check_gathered(p_x, "target_probs", "a draft token")
        accepted = accept_u * checked.draft_at_tokens < p_x
        n_accepted = leading_true(accepted)
    else:
        n_accepted = torch.zeros(batch, dtype=torch.int64, device=target_probs.device)
    last = torch.empty(batch, dtype=torch.int64, device=target_probs.device)
    rejected = n_accepted < k
    chunk = max(1, CHUNK_BYTES // (shape.vocab * target_probs.element_size()))
    rej = rejected.nonzero().squeeze(1)
    # Chunks reuse one workspace: a fresh large temporary per chunk costs page faults.
    work = target_probs.new_empty(min(chunk, batch), shape.vocab)
    work_draft = target_probs.new_empty(min(chunk, rej.numel()), shape.vocab)
    for rows in rej.split(chunk) if rej.numel() else ():
        positions = n_accepted[rows]
        weights = select_rows(target_probs, rows, positions, work[: rows.numel()])
        draft_rows = select_rows(draft_probs, rows, positions, work_draft[: rows.numel()])
        if not all_positive_finite(draft_rows.sum(-1)):  # (p - inf)+ = 0 would hide an inf
            check_gathered(draft_rows, "draft_probs", "a rejected position's row")
        index, mass = inverse_cdf_with_mass(weights.sub_(draft_rows).clamp_(min=0), final_u[rows])
        if not all_positive_finite(mass):
            empty = (~(torch.isfinite(mass) & (mass > 0))).nonzero().squeeze(1)
            # Zero residual: unreachable in exact arithmetic (see the module docstring).
            index[empty] = draw_from_target(
                target_probs, rows[empty], positions[empty], final_u, work[: empty.numel()]
            )
        last[rows] = index
    acc = (~rejected).nonzero().squeeze(1)
    for rows in acc.split(chunk) if acc.numel() else ():
        last[rows] = draw_from_target(
            target_probs, rows, n_accepted[rows], final_u, work[: rows.numel()]
        )
    return assemble(tokens, n_accepted, last)


def select_rows(
    probs: torch.Tensor, rows: torch.Tensor, positions: torch.Tensor, out: torch.Tensor
) -> torch.Tensor:
    """`probs[rows, positions]` (`[len(rows), V]`) written into `out`; returns `out`."""
    if probs.is_contiguous():
        _, n, vocab = probs.shape
        return torch.index_select(probs.view(-1, vocab), 0, rows * n + positions, out=out)
    return out.copy_(probs[rows, positions])


def draw_from_target(
    target_probs: torch.Tensor,
    rows: torch.Tensor,
    positions: torch.Tensor,
    final_u: torch.Tensor,
    out: torch.Tensor,
) -> torch.Tensor:
    """Inverse CDF of target rows `[rows, positions]`, gathered into `out`.

    Raises:
        ValueError: naming a row without a positive, finite sum.
    """
    index, mass = inverse_cdf_with_mass(
        select_rows(target_probs, rows, positions, out), final_u[rows]
    )
    if not all_positive_finite(mass):
        i = int((~(torch.isfinite(mass) & (mass > 0))).nonzero()[0])
        raise ValueError(
            f"target_probs[{int(rows[i])}, {int(positions[i])}] must be finite and "
            "non-negative with positive mass: the recovered or bonus token is drawn from it"
        )
    return index


@round_verifier()
def verify_sd_rowwise(checked: CheckedRound) -> BatchVerdict:
    """The same rule written plainly: a Python loop over rows and positions, full cumulative sums.

    Slow on purpose: the readable oracle for the batched kernel at large vocabularies
    (`tests/engine/test_verify_large_vocab.py`) and the baseline of `bench/bench_verify.py`.
    Same arguments, result and validation as [`verify_sd`][specproof.engine.sd.verify_sd].
    """
    target_probs, draft_probs = checked.target_probs, checked.draft_probs
    tokens, accept_u, final_u = checked.draft_tokens, checked.accept_u, checked.final_u
    shape = checked.shape
    n_accepted = torch.zeros(shape.batch, dtype=torch.int64)
    last = torch.zeros(shape.batch, dtype=torch.int64)
    for b in range(shape.batch):
        weights = target_probs[b, shape.k]
        for i in range(shape.k):
            target, draft, x = target_probs[b, i], draft_probs[b, i], int(tokens[b, i])
            if accept_u[b, i] * draft[x] < target[x]:
                n_accepted[b] += 1
                continue
            weights = (target - draft).clamp(min=0)
            if not weights.sum() > 0:
                weights = target
            break
        cum = weights.cumsum(0)
        last[b] = int((cum <= final_u[b] * cum[-1]).sum())
    return assemble(tokens, n_accepted.to(tokens.device), last.to(tokens.device))
