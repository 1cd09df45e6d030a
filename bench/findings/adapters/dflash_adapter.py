"""Adapter: dflash's block-diffusion speculative decoding (`dflash.model.dflash_generate`).

Runs under `.venv-findings/dflash` (transformers 5.15.0, the version dflash pins). The target
is loaded from `SPECPROOF_TARGET_DIR`; the drafter is a randomly initialised
`DFlashDraftModel` (Qwen3 layers, hidden 16, one layer reading the target's layer 1, seeded),
called through its public `spec_generate`, which seeds nothing itself: the adapter seeds torch
from the audit's seed. Stop token: the target's end-of-sequence id. Nothing else is changed.
"""

from __future__ import annotations

import os

import torch
import transformers
from dflash import DFlashDraftModel

torch.set_num_threads(1)
_EOS = 0
TARGET = transformers.AutoModelForCausalLM.from_pretrained(os.environ["SPECPROOF_TARGET_DIR"])
TARGET = TARGET.float().eval()


def _drafter(block_size: int) -> DFlashDraftModel:
    torch.manual_seed(1)
    config = transformers.Qwen3Config(
        vocab_size=TARGET.config.vocab_size,
        hidden_size=TARGET.config.hidden_size,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=8,
        max_position_embeddings=64,
    )
    config.num_target_layers = TARGET.config.num_hidden_layers
    config.dflash_config = {
        "target_layer_ids": [1],
        "block_size": block_size,
        "mask_token_id": TARGET.config.vocab_size - 1,
    }
    return DFlashDraftModel(config).float().eval()


DRAFTERS = {2: _drafter(2), 4: _drafter(4)}


def _run(prompt_ids: list[int], m: int, seed: int, temperature: float, block: int, **kw) -> list[int]:
    torch.manual_seed(seed)
    out = DRAFTERS[block].spec_generate(
        TARGET,
        torch.tensor([prompt_ids], dtype=torch.long),
        max_new_tokens=m,
        stop_token_ids=[_EOS],
        temperature=temperature,
        **kw,
    )
    return [int(t) for t in out[0, len(prompt_ids) :]]


def greedy(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`temperature=0.0`, blocks of 4 (3 drafts and the anchor)."""
    return _run(prompt_ids, max_new_tokens, seed, 0.0, 4)


def sample(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`temperature=1.0`, blocks of 2 (1 draft and the anchor)."""
    return _run(prompt_ids, max_new_tokens, seed, 1.0, 2)


def sample_top_k3(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`temperature=1.0`, `top_k=3`, blocks of 2."""
    return _run(prompt_ids, max_new_tokens, seed, 1.0, 2, top_k=3)


def sample_top_p08(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`temperature=1.0`, `top_p=0.8`, blocks of 2."""
    return _run(prompt_ids, max_new_tokens, seed, 1.0, 2, top_p=0.8)
