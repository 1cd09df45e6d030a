r"""SLEM in the engine: look-behind re-tokenisation with a real tokenizer, exact-match verification.

Mirrors [`specproof.reference.string_level`][specproof.reference.string_level]:

- [`LookbehindRetokenizer`][specproof.engine.slem.LookbehindRetokenizer] turns the drafter's
  draft text into target ids: the last `lookbehind` committed target ids are decoded and
  encoded together with the draft text; if the result starts with those ids, the rest is the
  proposal, else the text is encoded alone. Committed ids are never returned or changed;
- [`verify_slem`][specproof.engine.slem.verify_slem] verifies a batch of proposals of
  different lengths by exact match: the target's own token at position $i$ (the inverse CDF of
  target row $i$ at `target_u[:, i]`, or its argmax in greedy mode) is output, and the round
  goes on while it equals the proposal.

Any tokenizer is fine for losslessness (the committed ids never change, and every output is the
target's own choice); the window only affects how often proposals match. Wiring SLEM into
`specproof generate` (drafting with a real drafter, converting the context) is separate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch

from specproof.reference.arguments import check_int

from .greedy import argmax_rows
from .kernels import (
    PLACEHOLDER_TOKEN,
    BatchVerdict,
    check_uniforms,
    inverse_cdf_with_mass,
    leading_true,
)


class LookbehindRetokenizer:
    """Re-tokenise draft text for the target with a look-behind window (see the module).

    Args:
        tokenizer: the target's tokenizer: `encode(text, add_special_tokens=False)` and
            `decode(ids, clean_up_tokenization_spaces=False)` (a Hugging Face tokenizer).
        lookbehind: how many committed target ids are re-encoded with each draft (>= 0).

    Raises:
        ValueError: on a negative `lookbehind`.
    """

    def __init__(self, tokenizer: Any, lookbehind: int = 4) -> None:
        self.lookbehind = check_int(lookbehind, "lookbehind", 0)
        self.tokenizer = tokenizer

    def encode(self, text: str) -> list[int]:
        """`text` as target ids, without special tokens."""
        return list(self.tokenizer.encode(text, add_special_tokens=False))

    def propose(self, committed: Sequence[int], text: str) -> list[int]:
        """The target ids proposed for `text` after the committed ids."""
        window = list(committed[len(committed) - self.lookbehind :]) if self.lookbehind else []
        if window:
            prefix = self.tokenizer.decode(window, clean_up_tokenization_spaces=False)
            joined = self.encode(prefix + text)
            if joined[: len(window)] == window:
                return joined[len(window) :]
        return self.encode(text)


def verify_slem(
    target_probs: torch.Tensor,
    proposals: Sequence[Sequence[int]],
    target_u: torch.Tensor,
    mode: Literal["sample", "greedy"] = "sample",
) -> BatchVerdict:
    """Exact-match verification of proposals of different lengths.

    Args:
        target_probs: `[B, M+1, V]`: row `i` is the target's distribution at proposal position
            `i` (rows past a proposal's end are read only for its bonus token), `M` the longest
            proposal.
        proposals: `B` lists of target ids.
        target_u: `[B, M+1]` uniforms in $[0, 1)$, in `target_probs`'s dtype (ignored in greedy
            mode).
        mode: `"sample"` (sample-and-match) or `"greedy"` (argmax, lowest id on ties).

    Returns:
        The verdict: `tokens` `[B, M+1]` (accepted proposal ids, then the target's own token),
        `n_accepted` `[B]`.

    Raises:
        ValueError: on inconsistent shapes, an id outside `[0, V)`, bad uniforms, or a target row
            without positive mass where a token is drawn.
    """
    if not isinstance(target_probs, torch.Tensor) or target_probs.dim() != 3:
        raise ValueError("target_probs must be a tensor of shape [B, M+1, V]")
    batch, rows, vocab = target_probs.shape
    longest = max((len(p) for p in proposals), default=0)
    if len(proposals) != batch or rows != longest + 1:
        raise ValueError(
            f"target_probs must have shape [B={len(proposals)}, M+1={longest + 1}, V], "
            f"got {list(target_probs.shape)}"
        )
    if mode not in ("sample", "greedy"):
        raise ValueError(f"mode must be 'sample' or 'greedy', got {mode!r}")
    padded = torch.full((batch, longest), PLACEHOLDER_TOKEN, dtype=torch.int64)
    for b, proposal in enumerate(proposals):
        if any(not 0 <= int(t) < vocab for t in proposal):
            raise ValueError(f"proposals[{b}] holds an id outside [0, V={vocab})")
        padded[b, : len(proposal)] = torch.tensor(list(proposal), dtype=torch.int64)
    padded = padded.to(target_probs.device)
    if mode == "greedy":
        choices = argmax_rows(target_probs)
    else:
        if not isinstance(target_u, torch.Tensor) or tuple(target_u.shape) != (batch, rows):
            raise ValueError(f"target_u must have shape [{batch}, {rows}]")
        check_uniforms(target_u, "target_u")
        choices, mass = inverse_cdf_with_mass(target_probs, target_u.to(target_probs.dtype))
        if not bool((torch.isfinite(mass) & (mass > 0)).all()):
            raise ValueError("target_probs: a row has no positive, finite mass")
    n_accepted = leading_true(choices[:, :longest] == padded)
    tokens = torch.full((batch, rows), PLACEHOLDER_TOKEN, dtype=torch.int64, device=padded.device)
    for b in range(batch):
        n = int(n_accepted[b])
        tokens[b, :n] = padded[b, :n]
        tokens[b, n] = choices[b, n]
    return BatchVerdict(tokens, n_accepted)


__all__ = ["LookbehindRetokenizer", "verify_slem"]
