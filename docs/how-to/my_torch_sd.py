"""A verify step written in torch, audited through the torch adapter (docs/how-to/audit-torch.md)."""

import torch

from specproof.audit.torch_adapter import torch_verify

# The device the step runs on: "cuda" on a GPU machine (the auditor runs it there too).
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def sd_verify(target_probs, draft_probs, draft_tokens, generator):
    """Standard SD on tensors; every draw comes from `generator`."""
    k = draft_tokens.numel()
    positions = torch.arange(k, device=draft_tokens.device)
    p_x = target_probs[positions, draft_tokens]
    q_x = draft_probs[positions, draft_tokens]
    u = torch.rand(k, generator=generator, device=draft_tokens.device, dtype=target_probs.dtype)
    rejected = (u * q_x >= p_x).nonzero()
    if rejected.numel() == 0:  # every draft accepted: a bonus token from the last target row
        bonus = torch.multinomial(target_probs[k], 1, generator=generator)
        return torch.cat([draft_tokens, bonus])
    j = int(rejected[0])
    residual = (target_probs[j] - draft_probs[j]).clamp(min=0)
    recovered = torch.multinomial(residual, 1, generator=generator)  # normalises internally
    return torch.cat([draft_tokens[:j], recovered])


def sd_verify_with_a_bug(target_probs, draft_probs, draft_tokens, generator):
    """The same, but a rejection recovers from the target row instead of the residual."""
    out = sd_verify(target_probs, draft_probs, draft_tokens, generator)
    j = out.numel() - 1
    if j < draft_tokens.numel():  # the round ended with a rejection at position j
        out[j] = torch.multinomial(target_probs[j], 1, generator=generator)[0]
    return out


# The audited signature (numpy arrays and a numpy Generator), one line each:
verify = torch_verify(sd_verify, device=DEVICE)
verify_with_a_bug = torch_verify(sd_verify_with_a_bug, device=DEVICE)
