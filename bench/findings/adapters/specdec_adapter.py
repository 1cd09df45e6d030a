"""Adapter: specdec's speculative decoder (`specdec.decoder.SpecDecoder`).

Runs under `.venv-findings/specdec`. `SpecDecoder(small_model, big_model, device)` loads the
drafter and the target by path (here `SPECPROOF_DRAFT_DIR` and `SPECPROOF_TARGET_DIR`, on
`device="cpu"`). Its generate method `spec_gen` takes a prompt string and returns the decoded
text of the whole sequence, not token ids; its loop is `generate_small` (draft
`num_sample_tok` tokens), `verify` (accept or resample, bonus token) and append, until at least
`max_new_tok` tokens exist. The adapter runs exactly that loop on token ids with the library's
own `generate_small` and `verify`, unchanged, and returns the first `max_new_tokens` tokens (the
library overshoots `max_new_tok` and ignores the end-of-sequence id; the auditor reads the
output through the end-of-sequence token). The library samples at temperature 1 only and draws
from torch's global generator, seeded from the audit's seed.
"""

from __future__ import annotations

import contextlib
import io
import os

import torch
from specdec import SpecDecoder

torch.set_num_threads(1)
with contextlib.redirect_stdout(io.StringIO()):  # its constructor prints progress
    DECODER = SpecDecoder(
        os.environ["SPECPROOF_DRAFT_DIR"], os.environ["SPECPROOF_TARGET_DIR"], device="cpu"
    )


def sample(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`spec_gen`'s loop, `num_sample_tok=3`, temperature 1 (its only mode)."""
    torch.manual_seed(seed)
    inp = torch.tensor([prompt_ids], dtype=torch.long)
    generated: list[int] = []
    while len(generated) < max_new_tokens:
        gen_toks, gen_distributions = DECODER.generate_small(inp, 3)
        acc_toks = DECODER.verify(inp, gen_toks, gen_distributions)
        generated.extend(acc_toks)
        inp = torch.cat([inp, torch.tensor([acc_toks])], dim=1)
    return generated[:max_new_tokens]
