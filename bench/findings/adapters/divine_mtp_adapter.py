"""Adapter: divine-mtp's speculative decoding (`divine_mtp.DivineMtpInferenceEngine.generate`).

Runs under `.venv-findings/divine-mtp`. The target is loaded from `SPECPROOF_TARGET_DIR`;
`attach_divine_mtp` adds 4 recurrent MTP heads (rank 16, the library's own initialisation,
seeded). The engine decodes greedily only (argmax acceptance). The adapter truncates after the
first end-of-sequence token (the engine does not stop at it) and changes nothing else.
"""

from __future__ import annotations

import os

import torch
import transformers
from divine_mtp import DivineMtpInferenceEngine, attach_divine_mtp

torch.set_num_threads(1)
torch.manual_seed(0)
_EOS = 0
_MODEL = transformers.AutoModelForCausalLM.from_pretrained(os.environ["SPECPROOF_TARGET_DIR"])
ENGINE = DivineMtpInferenceEngine(attach_divine_mtp(_MODEL.float().eval(), num_heads=4, rank=16))


def greedy(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`ENGINE.generate(input_ids, max_new_tokens)`: the new tokens, through the first EOS."""
    out = ENGINE.generate(torch.tensor([prompt_ids], dtype=torch.long), max_new_tokens)
    new = [int(t) for t in out.token_ids[len(prompt_ids) :]]
    return new[: new.index(_EOS) + 1] if _EOS in new else new
