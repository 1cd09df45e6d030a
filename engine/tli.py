r"""TLI (token-level intersection), batched: the proposal over the target's vocabulary, then SD.

Mirrors [`specproof.reference.tli`][specproof.reference.tli]. With a
[`VocabMap`][specproof.engine.vocab_map.VocabMap] built once:

- [`tli_proposal`][specproof.engine.tli.tli_proposal]: the drafter's rows `[..., V_D]` restricted
  to the shared ids, renormalised and scattered into `[..., V_T]` (zero off $I$); a row with no
  mass on $I$ is refused (`ValueError`), never renormalised from nothing;
  [`tli_proposal_from_logits`][specproof.engine.tli.tli_proposal_from_logits] does the same
  from logits (a softmax over the shared ids only, as Hugging Face's pruned LM head does);
- [`draw_drafts`][specproof.engine.tli.draw_drafts]: one draft per row from the proposal, by the
  pinned inverse-CDF rule, as a target id;
- verification is standard SD ([`verify_sd`][specproof.engine.sd.verify_sd], TLI's registered
  engine form) against the proposal;
- [`tli_round`][specproof.engine.tli.tli_round]: the map-aware round, taking the drafter's
  rows and ids in its own vocabulary.

Generation with a real drafter is [`TliDrafter`][specproof.engine.cross_drafters.TliDrafter]
on the main loop; this module is the per-round sampler.
"""

from __future__ import annotations

import torch

from .kernels import BatchVerdict, inverse_cdf_with_mass
from .sd import verify_sd
from .vocab_map import VocabMap


def _check_last_dim(probs: torch.Tensor, size: int, name: str, what: str) -> None:
    if not isinstance(probs, torch.Tensor) or probs.dim() < 1 or probs.shape[-1] != size:
        shape = tuple(probs.shape) if isinstance(probs, torch.Tensor) else type(probs).__name__
        raise ValueError(f"{name} must have last dimension {what} = {size}, got {shape}")


def tli_proposal(vocab_map: VocabMap, draft_probs: torch.Tensor) -> torch.Tensor:
    r"""The TLI proposal $q_I$ over the target's vocabulary, from drafter rows `[..., V_D]`.

    Args:
        vocab_map: the vocabulary map.
        draft_probs: `[..., V_D]` float, the drafter's rows.

    Returns:
        `[..., V_T]`, $q(x)/q(I)$ at the target ids of $I$, zero elsewhere.

    Raises:
        ValueError: on a wrong last dimension, or a row with no positive, finite mass on $I$.
    """
    _check_last_dim(draft_probs, vocab_map.draft_size, "draft_probs", "V_D")
    shared = draft_probs.index_select(-1, vocab_map.draft_ids.to(draft_probs.device))
    mass = shared.sum(-1, keepdim=True)
    bad = ~(torch.isfinite(mass) & (mass > 0))
    if bool(bad.any()):
        index = tuple(int(i) for i in bad.squeeze(-1).nonzero()[0])
        raise ValueError(
            f"draft_probs{list(index)} has no positive, finite mass on the shared tokens: "
            "the TLI proposal q / q(I) is undefined"
        )
    out = draft_probs.new_zeros((*draft_probs.shape[:-1], vocab_map.target_size))
    out.index_copy_(-1, vocab_map.target_ids.to(draft_probs.device), shared / mass)
    return out


def tli_proposal_from_logits(vocab_map: VocabMap, draft_logits: torch.Tensor) -> torch.Tensor:
    r"""The TLI proposal from drafter logits `[..., V_D]`: softmax over the shared ids only.

    Raises:
        ValueError: on a wrong last dimension, NaN or `+inf` logits, or a row whose shared
            logits are all `-inf`.
    """
    _check_last_dim(draft_logits, vocab_map.draft_size, "draft_logits", "V_D")
    shared = draft_logits.index_select(-1, vocab_map.draft_ids.to(draft_logits.device))
    if bool(torch.isnan(shared).any()) or bool(torch.isposinf(shared).any()):
        raise ValueError("draft_logits holds NaN or +inf at a shared token")
    if bool(torch.isneginf(shared).all(-1).any()):
        raise ValueError("draft_logits: a row is -inf at every shared token (no mass on I)")
    out = draft_logits.new_zeros((*draft_logits.shape[:-1], vocab_map.target_size))
    out.index_copy_(-1, vocab_map.target_ids.to(draft_logits.device), shared.softmax(-1))
    return out


def draw_drafts(proposal: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """One draft per row `[B, V]` of `proposal` by the pinned inverse-CDF rule at `u` `[B]`.

    Raises:
        ValueError: if a row has no positive, finite mass.
    """
    index, mass = inverse_cdf_with_mass(proposal, u)
    if not bool((torch.isfinite(mass) & (mass > 0)).all()):
        raise ValueError("proposal: a row has no positive, finite mass")
    return index


def tli_round(
    vocab_map: VocabMap,
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    draft_tokens: torch.Tensor,
    accept_u: torch.Tensor,
    final_u: torch.Tensor,
) -> BatchVerdict:
    """One batched TLI round from the drafter's own rows and ids.

    Args:
        vocab_map: the vocabulary map.
        target_probs: `[B, K+1, V_T]`.
        draft_probs: `[B, K, V_D]`, the drafter's rows (before restriction).
        draft_tokens: `[B, K]` drafter ids of shared tokens (drawn from the proposal).
        accept_u: `[B, K]`.
        final_u: `[B]`.

    Returns:
        The verdict, in target ids.

    Raises:
        ValueError: on a drafter id outside $I$, a row with no mass on $I$, or invalid inputs.
    """
    proposal = tli_proposal(vocab_map, draft_probs)
    tokens = vocab_map.draft_tokens_to_target(draft_tokens.to(vocab_map.draft_to_target.device))
    return verify_sd(target_probs, proposal, tokens.to(target_probs.device), accept_u, final_u)


__all__ = [
    "draw_drafts",
    "tli_proposal",
    "tli_proposal_from_logits",
    "tli_round",
]
