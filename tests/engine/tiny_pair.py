"""The tiny float64 target/drafter pair and prompts of the drafter and lookahead tests."""

from __future__ import annotations

from typing import Any

PROMPTS = [[1, 2, 3, 1, 2], [4], [5, 6, 5, 6, 5]]
"""Three rows of different lengths; the first and last repeat themselves (n-gram matches)."""


def tiny_pair(init_std: float) -> tuple[Any, Any]:
    """A 2-layer Llama target and a 1-layer GPT-2 drafter over 8 tokens, float64, fixed seeds.

    Args:
        init_std: the weights' initial standard deviation (larger: peakier rows).

    Returns:
        The target's and the drafter's `LoadedModel`.
    """
    import torch

    from specproof.engine.models import tiny_model

    target = tiny_model("llama", vocab=8, layers=2, seed=31, init_std=init_std, dtype=torch.float64)
    draft = tiny_model("gpt2", vocab=8, layers=1, seed=32, init_std=init_std, dtype=torch.float64)
    return target, draft
