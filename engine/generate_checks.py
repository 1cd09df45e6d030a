"""The argument checks of [`generate`][specproof.engine.generate.generate] (kept apart from its loop).

Each refuses bad input with a `ValueError` naming the argument; nothing is coerced silently.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import torch

from specproof.reference.arguments import check_int

from .drafters import Drafter, Proposal
from .lookahead import LookaheadPolicy

__all__ = ["check_args", "check_models", "check_proposal", "prompt_lists", "vocab_size"]


def check_args(
    algorithm: str,
    k: int,
    max_new_tokens: int,
    prompts: Sequence[Sequence[int]],
    draft: Any,
    lookahead: LookaheadPolicy | None,
    algorithms: tuple[str, ...],
) -> None:
    """Refuse bad `generate` arguments, naming the argument; `algorithms` are the offered ones."""
    if algorithm not in algorithms:
        raise ValueError(f"algorithm must be one of {algorithms}, got {algorithm!r}")
    check_int(k, "k", 0)
    if (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 0
    ):
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if lookahead is not None and not isinstance(lookahead, LookaheadPolicy):
        raise ValueError(f"lookahead must be a LookaheadPolicy, got {type(lookahead).__name__}")
    if algorithm != "ar" and (k > 0 or lookahead is not None) and draft is None:
        raise ValueError(f"draft: algorithm {algorithm!r} with k={k} needs a draft model")
    if algorithm == "rdk" and draft is not None and not getattr(draft, "redistributes", False):
        raise ValueError(
            "draft: algorithm 'rdk' needs an RDK drafter (specproof.engine.pruned_drafter."
            f"PrunedDrafter with a kernel), got {type(draft).__name__}"
        )
    if not prompts:
        raise ValueError("prompts must hold at least one prompt")
    for b, prompt in enumerate(prompts):
        if len(prompt) == 0:
            raise ValueError(f"prompts[{b}] is empty: a prompt needs at least one token")


def prompt_lists(prompts: Any) -> list[list[int]]:
    """`prompts` as lists of ints; a `ValueError` naming `prompts` for anything else."""
    if isinstance(prompts, torch.Tensor):
        if prompts.dim() != 2:
            raise ValueError(f"prompts must be a [B, T] tensor, got shape {tuple(prompts.shape)}")
        if prompts.dtype.is_floating_point or prompts.dtype == torch.bool:
            raise ValueError(f"prompts must hold integer token ids, got dtype {prompts.dtype}")
        return [list(map(int, row)) for row in prompts.tolist()]
    if not isinstance(prompts, Sequence) or isinstance(prompts, str):
        raise ValueError(f"prompts must be a list of token-id lists, got {type(prompts).__name__}")
    rows = []
    for b, prompt in enumerate(prompts):
        if not isinstance(prompt, Sequence) or isinstance(prompt, str):
            raise ValueError(f"prompts[{b}] must be a list of token ids, got {prompt!r:.80}")
        if not all(isinstance(t, numbers.Integral) and not isinstance(t, bool) for t in prompt):
            raise ValueError(f"prompts[{b}] must hold integer token ids, got {list(prompt)!r:.80}")
        rows.append([int(t) for t in prompt])
    return rows


def check_models(target: Any, draft: Any) -> None:
    """Refuse a target that is not a torch model, or a draft that is neither a model nor a drafter."""
    if not isinstance(target, torch.nn.Module) or not hasattr(target, "get_output_embeddings"):
        raise ValueError(f"target must be a transformers causal LM, got {type(target).__name__}")
    if draft is not None and not isinstance(draft, Drafter | torch.nn.Module):
        raise ValueError(
            f"draft must be a transformers causal LM, a Drafter or None, got {type(draft).__name__}"
        )


def vocab_size(model: Any) -> int:
    """The number of rows of `model`'s output layer."""
    return int(model.get_output_embeddings().weight.shape[0])


def check_proposal(proposal: Proposal, k: int, row: int, vocab: int, dtype: torch.dtype) -> None:
    """Refuse a drafter's proposal with more than `k` drafts or rows of another shape or dtype."""
    n = len(proposal.tokens)
    if n > k:
        raise ValueError(f"drafter: row {row} got {n} drafts, more than the K={k} asked")
    if tuple(proposal.draft_probs.shape) != (n, vocab) or proposal.draft_probs.dtype != dtype:
        raise ValueError(
            f"drafter: row {row}'s draft_probs must be [{n}, {vocab}] {dtype}, got "
            f"{list(proposal.draft_probs.shape)} {proposal.draft_probs.dtype}"
        )
