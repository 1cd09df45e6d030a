"""Adapter: flashmap's speculative decoding (`flashmap.FlashMapDraftModel.spec_generate`).

Runs under `.venv-findings/flashmap`. The target is the catalogue's vocabulary-16 model (the
drafter factors the Gram matrix of the target's embedding, which needs V >= hidden size),
loaded from `SPECPROOF_TARGET_DIR`; the drafter is a randomly initialised
`FlashMapDraftModel` sized for it (one layer, target features from layer 0, seeded). `spec_generate` owns its randomness through the
`generator` argument, seeded from the audit's seed. The adapter changes nothing else; the
library stops at the target's end-of-sequence token itself.
"""

from __future__ import annotations

import os

import torch
import transformers
from flashmap import FlashMapConfig, FlashMapDraftModel

torch.set_num_threads(1)
TARGET = transformers.AutoModelForCausalLM.from_pretrained(os.environ["SPECPROOF_TARGET_DIR"])
TARGET = TARGET.float().eval()
TARGET.generation_config.eos_token_id = 0


def _drafter(block_size: int) -> FlashMapDraftModel:
    torch.manual_seed(1)
    config = FlashMapConfig(
        target_model="tiny-llama",
        target_hidden_size=8,
        vocab_size=16,
        target_layer_ids=(0,),
        block_size=block_size,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        cond_dim=16,
        time_embed_dim=16,
    )
    return FlashMapDraftModel(config).float().eval()


DRAFTERS = {2: _drafter(2), 4: _drafter(4)}


def _run(prompt_ids: list[int], m: int, seed: int, temperature: float, block: int) -> list[int]:
    generator = torch.Generator().manual_seed(seed)
    out = DRAFTERS[block].spec_generate(
        TARGET,
        torch.tensor([prompt_ids], dtype=torch.long),
        max_new_tokens=m,
        temperature=temperature,
        generator=generator,
    )
    return [int(t) for t in out.sequences[0, len(prompt_ids) :]]


def greedy(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`temperature=0.0`, blocks of 4 drafts."""
    return _run(prompt_ids, max_new_tokens, seed, 0.0, 4)


def sample(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`temperature=1.0`, blocks of 2 drafts."""
    return _run(prompt_ids, max_new_tokens, seed, 1.0, 2)


def sample_t07(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`temperature=0.7`, blocks of 2 drafts."""
    return _run(prompt_ids, max_new_tokens, seed, 0.7, 2)
