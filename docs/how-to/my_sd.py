"""My speculative-decoding verify step (the example of docs/how-to/audit.md)."""

import numpy as np


def verify(target_probs, draft_probs, draft_tokens, rng):
    """Standard SD: accept, recover from the residual, or add a bonus token."""
    out = []
    for i, x in enumerate(draft_tokens):
        if rng.random() * draft_probs[i, x] < target_probs[i, x]:
            out.append(int(x))  # accepted
            continue
        residual = np.maximum(target_probs[i] - draft_probs[i], 0.0)
        out.append(int(rng.choice(residual.size, p=residual / residual.sum())))  # recovered
        return out
    out.append(int(rng.choice(target_probs.shape[1], p=target_probs[-1])))  # bonus
    return out


def verify_with_a_bug(target_probs, draft_probs, draft_tokens, rng):
    """The same, but the bonus token is drawn from the last draft position's target row."""
    out = verify(target_probs, draft_probs, draft_tokens, rng)
    if len(out) == len(draft_tokens) + 1:
        row = target_probs[len(draft_tokens) - 1]
        out[-1] = int(rng.choice(row.size, p=row))
    return out
