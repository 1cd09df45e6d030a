r"""The union baseline, batched: standard SD over $T \cup D$.

Mirrors [`specproof.reference.union`][specproof.reference.union]. The union vocabulary's ids:
target ids $0 \dots V_T - 1$ first, then the drafter-only ids in drafter-id order
($V_T, V_T + 1, \dots$). [`union_rows`][specproof.engine.union.union_rows] zero-extends the
target's rows and scatters the drafter's; [`union_round`][specproof.engine.union.union_round]
maps the drafts, runs [`verify_sd`][specproof.engine.sd.verify_sd] and returns target ids (a
drafter-only draft has $p = 0$ and is always rejected; the recovered token has positive residual,
so it is a target id).
"""

from __future__ import annotations

import torch

from .kernels import PLACEHOLDER_TOKEN, BatchVerdict
from .sd import verify_sd
from .vocab_map import VocabMap


def union_ids(vocab_map: VocabMap) -> torch.Tensor:
    """`[V_D]` int64: each drafter id's id in the union vocabulary."""
    ids = vocab_map.draft_to_target.clone()
    only = (ids < 0).nonzero().squeeze(1)
    ids[only] = vocab_map.target_size + torch.arange(only.numel(), dtype=torch.int64)
    return ids


def union_rows(
    vocab_map: VocabMap, target_probs: torch.Tensor, draft_probs: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """`(target rows, drafter rows)` over the union vocabulary.

    Args:
        vocab_map: the vocabulary map.
        target_probs: `[..., V_T]`.
        draft_probs: `[..., V_D]`.

    Raises:
        ValueError: on wrong last dimensions.
    """
    if target_probs.shape[-1] != vocab_map.target_size:
        raise ValueError(f"target_probs must have last dimension V_T = {vocab_map.target_size}")
    if draft_probs.shape[-1] != vocab_map.draft_size:
        raise ValueError(f"draft_probs must have last dimension V_D = {vocab_map.draft_size}")
    ids = union_ids(vocab_map).to(draft_probs.device)
    size = vocab_map.target_size + int((vocab_map.draft_to_target < 0).sum())
    target = target_probs.new_zeros((*target_probs.shape[:-1], size))
    target[..., : vocab_map.target_size] = target_probs
    draft = draft_probs.new_zeros((*draft_probs.shape[:-1], size))
    draft.index_copy_(-1, ids, draft_probs)
    return target, draft


def verify_union(
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    draft_tokens: torch.Tensor,
    accept_u: torch.Tensor,
    final_u: torch.Tensor,
    *,
    check_values: bool = True,
) -> BatchVerdict:
    """Union-baseline verification: standard SD on rows already over the union vocabulary.

    Args:
        target_probs: `[B, K+1, V_U]` (`union_rows`).
        draft_probs: `[B, K, V_U]`.
        draft_tokens: `[B, K]` union ids.
        accept_u: `[B, K]`.
        final_u: `[B]`.
        check_values: scan every probability for NaN/inf/negatives.

    Raises:
        ValueError: as [`verify_sd`][specproof.engine.sd.verify_sd].
    """
    return verify_sd(
        target_probs, draft_probs, draft_tokens, accept_u, final_u, check_values=check_values
    )


def union_round(
    vocab_map: VocabMap,
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    draft_tokens: torch.Tensor,
    accept_u: torch.Tensor,
    final_u: torch.Tensor,
) -> BatchVerdict:
    """One batched union-baseline round from the drafter's own rows and ids.

    Args:
        vocab_map: the vocabulary map.
        target_probs: `[B, K+1, V_T]`.
        draft_probs: `[B, K, V_D]`.
        draft_tokens: `[B, K]` drafter ids.
        accept_u: `[B, K]`.
        final_u: `[B]`.

    Returns:
        The verdict, in target ids.

    Raises:
        ValueError: on invalid inputs (naming the argument).
    """
    target, draft = union_rows(vocab_map, target_probs, draft_probs)
    tokens = union_ids(vocab_map).to(draft_tokens.device)[draft_tokens.to(torch.int64)]
    verdict = verify_union(target, draft, tokens, accept_u, final_u)
    out = verdict.tokens
    valid = out != PLACEHOLDER_TOKEN
    if bool((out[valid] >= vocab_map.target_size).any()):
        raise AssertionError("unreachable: a drafter-only token was output")
    return verdict


__all__ = ["union_ids", "union_round", "union_rows", "verify_union"]
