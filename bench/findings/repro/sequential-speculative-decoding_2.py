"""sequential-speculative-decoding 0.1.1: sampled capped HSD does not follow the target's law.

Run with sequential-speculative-decoding==0.1.1 (and torch). Two fixed-logit "models" over
tokens {1, 2}: the drafter's next-token law is (0.5, 0.5) at every position, the target's is
(0.9, 0.1). A lossless round emits token 1 first with probability 0.9. `capped_hsd_step`
(temperature 1, `gamma=2`, 4000 seeded rounds) emits it with probability about 0.5, the
drafter's law: after a rejected block its backward scan accepts the first draft with
probability `D_cap_pq / D_cap_qp = 1`. The standard step is the control. Exits 1 on the bug.
"""

import math
import sys
from types import SimpleNamespace

import torch
from seqspecdecod.capped_hsd import capped_hsd_step
from seqspecdecod.standard_sd import standard_speculative_step

VOCAB, PROMPT, ROUNDS = 4, [3, 3], 4000


class Fixed:
    """A causal LM stub: every position's next-token law is `probs` on tokens 1 and 2."""

    def __init__(self, probs):
        self.logits = torch.full((VOCAB,), -30.0)
        self.logits[1], self.logits[2] = math.log(probs[0]), math.log(probs[1])

    def __call__(self, input_ids):
        return SimpleNamespace(logits=self.logits.expand(1, input_ids.shape[1], VOCAB).clone())


draft, target, prompt = Fixed((0.5, 0.5)), Fixed((0.9, 0.1)), torch.tensor([PROMPT])
kw = {"gamma": 2, "draft_temperature": 1.0, "target_temperature": 1.0}


def first_token_rate(step) -> float:
    torch.manual_seed(0)
    hits = sum(int(step(draft, target, prompt, **kw)[0][0, 2]) == 1 for _ in range(ROUNDS))
    return hits / ROUNDS


standard, capped = first_token_rate(standard_speculative_step), first_token_rate(capped_hsd_step)
print(f"P(first token = 1): target 0.9, standard step {standard:.3f}, capped HSD {capped:.3f}")
# 4000 rounds: the standard error of a rate near 0.9 is 0.005; 0.85 is 10 standard errors away.
if capped < 0.85:
    print("bug: capped_hsd_step's first token does not follow the target's law")
    sys.exit(1)
print("ok")
