"""Adapter: sequential-speculative-decoding's rounds (`seqspecdecod.*_step`).

Runs under `.venv-findings/sequential-speculative-decoding`. The package's generate function,
`seqspecdecod.generation.speculative_generate`, takes a chat prompt string (it applies the
tokenizer's chat template) and returns decoded text, not token ids; its loop is four lines
around the round function it selects by `method`. The adapter runs exactly that loop on token
ids: call the library's round (`standard_speculative_step`, `naive_hsd_step` or
`capped_hsd_step`, unchanged) until `max_new_tokens` new tokens exist or the end-of-sequence
id appears. The library's loop drops the end-of-sequence token and may overshoot
`max_new_tokens`; the adapter returns the first `max_new_tokens` tokens through the
end-of-sequence token, the auditor's output convention. The target is loaded from
`SPECPROOF_TARGET_DIR`, the drafter from `SPECPROOF_DRAFT_DIR`; the library draws from torch's
global generator, seeded from the audit's seed.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch
import transformers
from seqspecdecod.capped_hsd import capped_hsd_step
from seqspecdecod.naive_hsd import naive_hsd_step
from seqspecdecod.standard_sd import standard_speculative_step

torch.set_num_threads(1)
_EOS = 0
TARGET = transformers.AutoModelForCausalLM.from_pretrained(os.environ["SPECPROOF_TARGET_DIR"])
TARGET = TARGET.float().eval()
DRAFT = transformers.AutoModelForCausalLM.from_pretrained(os.environ["SPECPROOF_DRAFT_DIR"])
DRAFT = DRAFT.float().eval()
STEPS: dict[str, Callable[..., tuple[torch.Tensor, int, int]]] = {
    "standard": standard_speculative_step,
    "naive_hsd": naive_hsd_step,
    "capped_hsd": capped_hsd_step,
}


def _run(prompt_ids: list[int], m: int, seed: int, method: str, temperature: float,
         gamma: int) -> list[int]:
    torch.manual_seed(seed)
    input_ids = torch.tensor([prompt_ids], dtype=torch.long)
    n = len(prompt_ids)
    while input_ids.shape[1] - n < m:
        input_ids, _, _ = STEPS[method](
            DRAFT,
            TARGET,
            input_ids,
            gamma=gamma,
            draft_temperature=temperature,
            target_temperature=temperature,
        )
        if _EOS in input_ids[0, n:].tolist():
            break
    out = [int(t) for t in input_ids[0, n:]]
    if _EOS in out:
        out = out[: out.index(_EOS) + 1]
    return out[:m]


def _configuration(method: str, greedy: bool) -> Callable[[list[int], int, int], list[int]]:
    """The adapter function of one plan, named `greedy_<method>` or `sample_<method>`.

    Args:
        method: the library's round (a key of `STEPS`).
        greedy: greedy (temperatures 0.0, `gamma=4`) or sampling (temperatures 0.6, the
            library's default, `gamma=2`).
    """
    temperature, gamma = (0.0, 4) if greedy else (0.6, 2)
    default = "" if greedy else " (the library's default)"

    def configuration(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
        return _run(prompt_ids, max_new_tokens, seed, method, temperature, gamma)

    configuration.__name__ = configuration.__qualname__ = (
        f"{'greedy' if greedy else 'sample'}_{method}"
    )
    configuration.__doc__ = (
        f'`method="{method}"`, temperatures {temperature}{default}, `gamma={gamma}`.'
    )
    return configuration


# The functions the plans name (`bench/findings/impls/sequential_speculative_decoding.py`).
greedy_standard = _configuration("standard", greedy=True)
sample_standard = _configuration("standard", greedy=False)
greedy_naive_hsd = _configuration("naive_hsd", greedy=True)
sample_naive_hsd = _configuration("naive_hsd", greedy=False)
greedy_capped_hsd = _configuration("capped_hsd", greedy=True)
sample_capped_hsd = _configuration("capped_hsd", greedy=False)
