"""sequential-speculative-decoding 0.1.1: greedy capped HSD crashes on its first rejection.

Run with sequential-speculative-decoding==0.1.1 (and torch). Two fixed-logit "models": the
drafter always predicts token 1, the target always predicts token 2, so the first draft is
rejected and the round must emit the target's greedy token 2. `capped_hsd_step` at temperature
0 builds an all-zero resampling distribution and `torch.multinomial` raises. Exits 1 on the
crash (the bug), 0 when the round emits the target's token (the standard step is the control).
"""

import sys
from types import SimpleNamespace

import torch
from seqspecdecod.capped_hsd import capped_hsd_step
from seqspecdecod.standard_sd import standard_speculative_step

VOCAB, PROMPT = 4, [3, 3]


class Fixed:
    """A causal LM stub whose every position predicts `token` (the argmax of its logits)."""

    def __init__(self, token):
        self.token = token

    def __call__(self, input_ids):
        logits = torch.full((1, input_ids.shape[1], VOCAB), -5.0)
        logits[0, :, self.token] = 5.0
        return SimpleNamespace(logits=logits)


draft, target, prompt = Fixed(1), Fixed(2), torch.tensor([PROMPT])
kw = {"gamma": 4, "draft_temperature": 0.0, "target_temperature": 0.0}
torch.manual_seed(0)
print("standard step:", standard_speculative_step(draft, target, prompt, **kw)[0][0, 2:].tolist())
torch.manual_seed(0)
try:
    out = capped_hsd_step(draft, target, prompt, **kw)[0][0, 2:].tolist()
except RuntimeError as exc:
    print(f"crashed: RuntimeError: {exc}")
    sys.exit(1)
print("capped HSD   :", out)
sys.exit(0 if out[:1] == [2] else 1)
