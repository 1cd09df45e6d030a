"""The model pairs of the DISCO benchmark (`bench_disco.py`): targets, drafters, transformers' options.

- **n-gram**: SmolLM2-135M-Instruct target, prompt-lookup drafter (`NgramDrafter(n=3)`);
- **pruned-head Gemma**: Gemma-3-270M target, drafter = the same model whose LM head keeps the
  `KEEP` most frequent tokens (frequencies over Python standard-library sources, Gemma's
  tokenizer), a full-vocabulary model whose logits off the kept tokens are $-\\infty$;
- **TLI**: Gemma-3-270M target, SmolLM2-135M-Instruct drafter through `TliDrafter`.

Each `Pair` also says how transformers' assisted generation runs it (or why it does not), and
counts the forwards of the models transformers runs.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from bench_rdk import stdlib_texts

from specproof.engine.cross_drafters import TliDrafter
from specproof.engine.models import load_model
from specproof.engine.ngram import NgramDrafter
from specproof.engine.pruned import keep_most_frequent, token_counts

KEEP = 0.05
PAIRS = ("ngram", "pruned", "tli")


class MaskedHead(torch.nn.Module):
    """An LM head computing only the kept rows; the others get -inf (a full-vocabulary output)."""

    def __init__(self, weight: torch.Tensor, kept: torch.Tensor) -> None:
        super().__init__()
        self.full_weight = weight
        self.kept = kept
        self.kept_weight = weight.detach()[kept].contiguous()

    @property
    def weight(self) -> torch.Tensor:
        return self.full_weight

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        out = hidden.new_full((*hidden.shape[:-1], self.full_weight.shape[0]), float("-inf"))
        out[..., self.kept] = hidden @ self.kept_weight.T
        return out


def pruned_copy(model: Any, kept: torch.Tensor) -> Any:
    """`model` with the same body (shared weights) and a `MaskedHead` keeping `kept`."""
    draft = copy.copy(model)
    for key, value in vars(model).items():
        if isinstance(value, dict):
            setattr(draft, key, type(value)(value))
    draft.generation_config = copy.deepcopy(model.generation_config)
    draft.lm_head = MaskedHead(model.lm_head.weight, kept)
    return draft


@dataclasses.dataclass
class Pair:
    """A target and a drafter, with what the benchmark needs to run them.

    Attributes:
        key: the `--pairs` name.
        name: the label in the tables.
        target: the target (a `LoadedModel`).
        draft: what `generate` drafts with: a `Drafter` or a causal LM.
        deterministic: the drafter is prompt lookup (cost counted in drafted tokens).
        sampled_algorithm: the algorithm of sampled decoding (`sd`, or `tli` for TLI).
        transformers_options: extra `generate` arguments for transformers' assisted generation
            (None: transformers is not run on this pair).
        transformers_note: why transformers is not run, or how it runs this pair.
    """

    key: str
    name: str
    target: Any
    draft: Any
    deterministic: bool
    sampled_algorithm: str
    transformers_options: dict[str, Any] | None
    transformers_note: str
    counts: dict[str, int] = dataclasses.field(default_factory=lambda: {"target": 0, "draft": 0})


def _count(pair: Pair, models: dict[str, Any]) -> None:
    """Count forwards of the transformers runs' models (hooks registered once per pair)."""
    for role, model in models.items():
        model.register_forward_hook(
            lambda *_, role=role: pair.counts.__setitem__(role, pair.counts[role] + 1)
        )


def make_pairs(names: Sequence[str]) -> list[Pair]:
    pairs = []
    smol = load_model("smollm2") if {"ngram", "tli"} & set(names) else None
    gemma = load_model("gemma3") if {"pruned", "tli"} & set(names) else None
    if "ngram" in names:
        pairs.append(
            Pair(
                "ngram",
                "SmolLM2-135M <- n-gram (n=3)",
                smol,
                NgramDrafter(n=3),
                True,
                "sd",
                None,
                "transformers: prompt lookup has no dynamic schedule (not run)",
            )
        )
    if "pruned" in names:
        assert gemma is not None
        vocab = int(gemma.model.lm_head.weight.shape[0])
        corpus = [gemma.tokenizer(t)["input_ids"] for t in stdlib_texts(300_000)]
        kept = keep_most_frequent(token_counts(corpus, vocab), KEEP)
        draft = pruned_copy(gemma.model, kept)
        pair = Pair(
            "pruned",
            f"Gemma-3-270M <- pruned-head Gemma ({KEEP:.0%} of the head)",
            gemma,
            draft,
            False,
            "sd",
            {"assistant_model": draft},
            "transformers: assisted generation with the pruned model as assistant",
        )
        _count(pair, {"target": gemma.model, "draft": draft})
        pairs.append(pair)
    if "tli" in names:
        assert gemma is not None and smol is not None
        # transformers' universal assisted decoding rewrites its assistant's output layer in
        # place (docs/findings/transformers.md): it gets its own copy, reused by every call.
        assistant = copy.deepcopy(smol.model)
        pair = Pair(
            "tli",
            "Gemma-3-270M <- SmolLM2-135M (TLI)",
            gemma,
            TliDrafter(gemma, smol),
            False,
            "tli",
            {
                "assistant_model": assistant,
                "tokenizer": gemma.tokenizer,
                "assistant_tokenizer": smol.tokenizer,
            },
            "transformers: its universal assisted decoding (tokenizer / assistant_tokenizer), "
            "its own cross-tokenizer method, not TLI",
        )
        _count(pair, {"target": gemma.model, "draft": assistant})
        pairs.append(pair)
    return pairs


def encode(pair: Pair, texts: Sequence[str]) -> list[list[int]]:
    return [[int(i) for i in pair.target.tokenizer(t)["input_ids"]] for t in texts]
