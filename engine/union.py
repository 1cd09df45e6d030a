r"""The union baseline, batched: standard SD over $T \cup D$.

Mirrors [`specproof.reference.union`][specproof.reference.union]. The union vocabulary's ids:
target ids $0 \dots V_T - 1$ first, then the drafter-only ids in drafter-id order
($V_T, V_T + 1, \dots$). [`union_rows`][specproof.engine.union.union_rows] zero-extends the
target's rows and scatters the drafter's; [`union_round`][specproof.engine.union.union_round]
maps the drafts, runs [`verify_sd`][specproof.engine.sd.verify_sd] and returns target ids (a
drafter-only draft has $p = 0$ and is always rejected; the recovered token has positive residual,
so it is a target id).

**Generation.** The main loop runs the union baseline over the union vocabulary:
[`UnionVocabularyTarget`][specproof.engine.union.UnionVocabularyTarget] is the target seen over
$T \cup D$ (logits $-\infty$ at the drafter-only ids, so $p = 0$ there; a drafter-only id fed
to it reads as id 0, and the loop crops those positions from the cache, since nothing after a
certainly rejected draft is kept), and [`UnionDrafter`][specproof.engine.union.UnionDrafter]
samples in the drafter's own order (as the reference's inverse-CDF rule over the drafter's
vocabulary) and proposes union ids with the drafter's rows over $T \cup D$; the registered
verification (the registered engine form) is standard SD
([`verify_sd`][specproof.engine.sd.verify_sd]) on them.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import torch

from .cross_drafters import CrossVocabularyDrafter
from .drafters import DraftRequest, Proposal, Sampler
from .kernels import PLACEHOLDER_TOKEN, BatchVerdict
from .models import LoadedModel
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
    size = union_size(vocab_map)
    target = target_probs.new_zeros((*target_probs.shape[:-1], size))
    target[..., : vocab_map.target_size] = target_probs
    draft = draft_probs.new_zeros((*draft_probs.shape[:-1], size))
    draft.index_copy_(-1, ids, draft_probs)
    return target, draft


def union_round(
    vocab_map: VocabMap,
    target_probs: torch.Tensor,
    draft_probs: torch.Tensor,
    draft_tokens: torch.Tensor,
    accept_u: torch.Tensor,
    final_u: torch.Tensor,
) -> BatchVerdict:
    """One batched union-baseline round from the drafter's own rows and ids.

    The arguments and result of [`tli_round`][specproof.engine.tli.tli_round] (drafter ids
    `[B, K]` may be any drafter token here, shared or not); the rows are compared over the union
    vocabulary (`union_rows`), and the verdict is in target ids.

    Raises:
        ValueError: on invalid inputs (naming the argument).
    """
    target, draft = union_rows(vocab_map, target_probs, draft_probs)
    tokens = union_ids(vocab_map).to(draft_tokens.device)[draft_tokens.to(torch.int64)]
    verdict = verify_sd(target, draft, tokens, accept_u, final_u)
    out = verdict.tokens
    valid = out != PLACEHOLDER_TOKEN
    if bool((out[valid] >= vocab_map.target_size).any()):
        raise AssertionError("unreachable: a drafter-only token was output")
    return verdict


def union_size(vocab_map: VocabMap) -> int:
    r"""$|T \cup D|$: the target's ids plus the drafter-only ids."""
    return vocab_map.target_size + int((vocab_map.draft_to_target < 0).sum())


class UnionVocabularyTarget(torch.nn.Module):
    """The target model seen over the union vocabulary (see the module).

    Args:
        model: the target (a transformers causal LM).
        vocab_map: the map between the target's and the drafter's vocabularies.
    """

    def __init__(self, model: Any, vocab_map: VocabMap) -> None:
        super().__init__()
        self.inner = model
        self.config = model.config
        self.target_size = vocab_map.target_size
        self.union_size = union_size(vocab_map)
        self._head = SimpleNamespace(weight=SimpleNamespace(shape=(self.union_size,)))

        def forward(*args: Any, **kwargs: Any) -> Any:
            if "input_ids" in kwargs:
                ids = kwargs.pop("input_ids")
            else:
                ids, args = args[0], args[1:]
            ids = torch.where(ids < self.target_size, ids, torch.zeros_like(ids))
            out = self.inner(*args, input_ids=ids, **kwargs)
            logits = out.logits
            pad = logits.new_full(
                (*logits.shape[:-1], self.union_size - logits.shape[-1]), float("-inf")
            )
            out.logits = torch.cat([logits, pad], -1)
            return out

        # The streams read the inner model's keyword names (cache, logits_to_keep).
        forward.__signature__ = inspect.signature(model.forward)  # type: ignore[attr-defined]
        self.forward = forward

    def get_output_embeddings(self) -> Any:
        """An object whose `weight.shape[0]` is the union size (what the loop reads)."""
        return self._head


class UnionDrafter(CrossVocabularyDrafter):
    """The union baseline's drafter: drafts in the drafter's own vocabulary, as union ids.

    `generate` must get [`target_model`][specproof.engine.union.UnionDrafter.target_model] (the
    target over the union vocabulary) as its target, and `algorithm="union"`.
    """

    def __init__(
        self, target: LoadedModel, drafter: LoadedModel, vocab_map: VocabMap | None = None
    ) -> None:
        super().__init__(target, drafter, vocab_map)
        self.union_ids = union_ids(self.vocab_map)
        self._target_model = UnionVocabularyTarget(target.model, self.vocab_map)

    @property
    def target_model(self) -> Any:
        """The target over the union vocabulary."""
        return self._target_model

    @property
    def loop_vocab(self) -> int:
        r"""$|T \cup D|$."""
        return union_size(self.vocab_map)

    def choose(self, q: torch.Tensor, sample: Sampler) -> tuple[list[int], list[int]]:
        """Sample drafter ids from `q` in the drafter's order; answer their union ids."""
        own = [int(t) for t in sample(q).tolist()]
        return [int(self.union_ids[t]) for t in own], own

    def propose(self, requests: Sequence[DraftRequest], sample: Sampler) -> list[Proposal]:
        """`k` drafts per request as union ids, with the drafter's rows over the union."""
        _, rows, chosen = self.draft_rows(requests, sample)
        proposals = []
        for i in range(len(requests)):
            q_own = torch.stack(rows[i])
            q_union = q_own.new_zeros((q_own.shape[0], self.loop_vocab))
            q_union.index_copy_(-1, self.union_ids.to(q_own.device), q_own)
            proposals.append(Proposal(tuple(chosen[i]), q_union))
        return proposals


__all__ = [
    "UnionDrafter",
    "UnionVocabularyTarget",
    "union_ids",
    "union_round",
    "union_rows",
    "union_size",
]
