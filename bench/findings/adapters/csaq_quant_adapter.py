"""Adapter: csaq-quant's self-speculative decoding (`csaq.CSAQInferenceEngine.generate`).

Runs under `.venv-findings/csaq-quant`. The target is loaded from `SPECPROOF_TARGET_DIR` and
quantised with `csaq.quantize` in 16-bit mode with every row protected
(`bit_options=[16]`): the catalogue's target has float16-exact
weights, so the quantised (draft) and verify passes both compute exactly the target, and the
engine's own target law is the one the auditor recomputes in float64. The adapter only calls
the library; it truncates the output after the first end-of-sequence token (the auditor's
contract) and changes nothing else.
"""

from __future__ import annotations

import os

import numpy as np
import torch
import transformers
from csaq import CSAQConfig, CSAQInferenceEngine, CSAQLinear, quantize

torch.set_num_threads(1)
_EOS = 0


def _engine() -> CSAQInferenceEngine:
    model = transformers.AutoModelForCausalLM.from_pretrained(os.environ["SPECPROOF_TARGET_DIR"])
    model = model.float().eval()
    calib = [{"input_ids": torch.tensor([[1, 2, 3, 1, 2, 3, 4, 5]])} for _ in range(4)]
    config = CSAQConfig(target_bits=8.0, bit_options=[8], protection_floor=0.5)
    model, info = quantize(model, calib, config=config, verbose=False)
    return CSAQInferenceEngine(model.eval(), info["causal_map"], verbose=False)


ENGINE = _engine()


def _run(prompt_ids: list[int], max_new_tokens: int, seed: int, temperature: float) -> list[int]:
    torch.manual_seed(seed)
    ids = torch.tensor([prompt_ids], dtype=torch.long)
    out, _ = ENGINE.generate(
        ids, speculative=True, lookahead=4, temperature=temperature, max_new_tokens=max_new_tokens
    )
    new = [int(t) for t in out[0, len(prompt_ids) :]]
    return new[: new.index(_EOS) + 1] if _EOS in new else new


def greedy(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Greedy self-speculative decoding (`temperature=0.0`), 4 drafts per round."""
    return _run(prompt_ids, max_new_tokens, seed, 0.0)


def sample(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Sampling self-speculative decoding (`temperature=1.0`), 4 drafts per round."""
    return _run(prompt_ids, max_new_tokens, seed, 1.0)


def plain_greedy(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """The same engine with `speculative=False` (its `model.generate` path): a control."""
    ids = torch.tensor([prompt_ids], dtype=torch.long)
    out, _ = ENGINE.generate(
        ids, speculative=False, temperature=0.0, max_new_tokens=max_new_tokens,
        eos_token_id=_EOS, pad_token_id=_EOS,
    )
    new = [int(t) for t in out[0, len(prompt_ids) :]]
    return new[: new.index(_EOS) + 1] if _EOS in new else new


def effective_target() -> list[tuple[str, np.ndarray]]:
    """The verify pass's weights, `(parameter name, array)` (what `CSAQLinear.forward` uses in verify mode)."""
    out = []
    with torch.no_grad():
        for name, module in ENGINE.model.named_modules():
            if isinstance(module, CSAQLinear):
                weight = module._get_weight_fp32().clone()
                if hasattr(module, "_csaq_hi_rows"):
                    weight[module._csaq_hi_rows] = module._csaq_fp16_backup.float()
                out.append((f"{name}.weight", weight.numpy()))
    return out
