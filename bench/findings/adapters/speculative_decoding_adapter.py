"""Adapter: speculative-decoding's `speculative_decoding` (Leviathan et al., Algorithm 1).

Runs under `.venv-findings/speculative-decoding`. The library's function takes two networks
with the interface of its own `Decoder`: `net(tokens, seq_start_pos=..., cache=...,
return_cache=True)` returns `(logits, (cached_kv, cached_embeds))`. The adapter passes the
catalogue's target (`SPECPROOF_TARGET_DIR`) and drafter (`SPECPROOF_DRAFT_DIR`) as such networks:
each call returns the Hugging Face model's logits for the whole token sequence the library
passes, and a placeholder cache of that length (the library only slices it). So every call
recomputes from the library's own token bookkeeping; the library's acceptance test, residual,
bonus token and sequence slicing run unchanged, while its `Decoder`'s key-value cache is not
exercised. `seq_len` is the prompt length plus `max_new_tokens` (the library generates to a
total length); it has no end-of-sequence handling, and the auditor reads the output through
the end-of-sequence token. The library draws from torch's global generator, seeded from the
audit's seed.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import transformers
from speculative_decoding import speculative_decoding

torch.set_num_threads(1)


class _Net:
    """A Hugging Face causal LM behind the call interface of the library's `Decoder`."""

    def __init__(self, folder: str) -> None:
        self.model = transformers.AutoModelForCausalLM.from_pretrained(folder).float().eval()

    def __call__(self, tokens: torch.Tensor, return_cache: bool = False, **_: Any) -> Any:
        logits = self.model(tokens).logits
        placeholder = torch.zeros(tokens.shape[0], 1, tokens.shape[-1], 1)
        return (logits, (placeholder, None)) if return_cache else logits


TARGET = _Net(os.environ["SPECPROOF_TARGET_DIR"])
DRAFT = _Net(os.environ["SPECPROOF_DRAFT_DIR"])


def _run(prompt_ids: list[int], m: int, seed: int, temperature: float, thres: float) -> list[int]:
    torch.manual_seed(seed)
    prompt = torch.tensor([prompt_ids], dtype=torch.long)
    out, _ = speculative_decoding(
        TARGET, DRAFT, prompt, len(prompt_ids) + m, gamma=3, temperature=temperature,
        filter_thres=thres,
    )
    return [int(t) for t in out[0]]


def sample(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`temperature=1.0`, `filter_thres=0.0` (no top-k filter), `gamma=3`."""
    return _run(prompt_ids, max_new_tokens, seed, 1.0, 0.0)


def sample_top4(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`temperature=0.7`, `filter_thres=0.5` (top 4 of the 8 logits), `gamma=3`."""
    return _run(prompt_ids, max_new_tokens, seed, 0.7, 0.5)
