"""Adapter: divine-mtp's speculative decoding (`divine_mtp.DivineMtpInferenceEngine.generate`).

Runs under `.venv-findings/divine-mtp`. The target is loaded from `SPECPROOF_TARGET_DIR`;
`attach_divine_mtp` adds 4 recurrent MTP heads (rank 16, the library's own initialisation,
seeded). The engine decodes greedily only (argmax acceptance). The adapter truncates after the
first end-of-sequence token (the engine does not stop at it) and changes nothing else.

`import divine_mtp` fails in 0.1.0 (`divine_mtp/trainer.py` uses `Tuple` without importing
it). `greedy` imports the package as published; `greedy_import_workaround` (and `greedy_random_heads`) first bind
`Tuple` in `builtins` (an environment change that touches no line of the library) so that the
speculative engine itself can be audited.
"""

from __future__ import annotations

import os
from typing import Any

import torch
import transformers

torch.set_num_threads(1)
_EOS = 0
_ENGINE: dict[bool, Any] = {}


def _engine(workaround: bool, random_heads: bool = False) -> Any:
    if random_heads not in _ENGINE:
        if workaround:
            import builtins

            builtins.Tuple = tuple  # type: ignore[attr-defined]
        from divine_mtp import DivineMtpInferenceEngine, attach_divine_mtp

        torch.manual_seed(0)
        model = transformers.AutoModelForCausalLM.from_pretrained(os.environ["SPECPROOF_TARGET_DIR"])
        wrapper = attach_divine_mtp(model.float().eval(), num_heads=4, rank=16)
        if random_heads:  # stands in for trained heads: weights only, no logic
            with torch.no_grad():
                for head in wrapper.mtp.heads:
                    head.proj_down.weight.normal_(std=1.0)
                    head.proj_up.weight.normal_(std=1.0)
        _ENGINE[random_heads] = DivineMtpInferenceEngine(wrapper)
    return _ENGINE[random_heads]


def _run(
    prompt_ids: list[int], max_new_tokens: int, workaround: bool, random_heads: bool = False
) -> list[int]:
    out = _engine(workaround, random_heads).generate(torch.tensor([prompt_ids], dtype=torch.long), max_new_tokens)
    new = [int(t) for t in out.token_ids[len(prompt_ids) :]]
    return new[: new.index(_EOS) + 1] if _EOS in new else new


def greedy(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`ENGINE.generate(input_ids, max_new_tokens)` with the package imported as published."""
    return _run(prompt_ids, max_new_tokens, workaround=False)


def greedy_import_workaround(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """The same after binding `builtins.Tuple`, so that `import divine_mtp` succeeds."""
    return _run(prompt_ids, max_new_tokens, workaround=True)


def greedy_random_heads(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """As `greedy_import_workaround`, with the heads' projections drawn N(0, 1).

    The library initialises `proj_up` to zero and `proj_down` at std 0.02, so untrained heads
    all propose the current token again; drawn weights stand in for trained heads that
    propose varied tokens (weights only; no line of the library changes).
    """
    return _run(prompt_ids, max_new_tokens, workaround=True, random_heads=True)
