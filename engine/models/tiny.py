"""Tiny random models (vocabulary of at most 16 tokens) with in-memory tokenizers, for exact-law tests."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import LoadedModel
from .chars import TINY_ALPHABET, char_tokenizer
from .random_models import _init_model, random_config

if TYPE_CHECKING:
    import torch


def tiny_model(
    arch: str = "llama",
    *,
    vocab: int = 6,
    hidden: int = 16,
    layers: int = 2,
    heads: int = 2,
    seed: int = 0,
    init_std: float = 1.0,
    dtype: torch.dtype | None = None,
) -> LoadedModel:
    """A tiny random model over `vocab` tokens (`<eos>` and `vocab - 1` letters), V <= 16.

    The weights are drawn with a large initialisation scale (`init_std`, default 1.0) so that
    next-token distributions are far from uniform and differ from one context to the next:
    exact-law tests need distributions with structure.

    Args:
        arch: `llama`, `gpt2` or `starcoder`.
        vocab: vocabulary size, 2..16 (token 0 is `<eos>`, then letters from `"abc..."`).
        hidden: hidden size.
        layers: transformer layers.
        heads: attention heads.
        seed: the weights are a function of the seed.
        init_std: standard deviation of the normal initialisation.
        dtype: parameter dtype (default float32; float64 for exact tests).

    Raises:
        ValueError: if `vocab` is not in 2..16 or the architecture is unknown.
    """
    import torch

    if isinstance(vocab, bool) or not isinstance(vocab, int) or not 2 <= vocab <= 16:
        raise ValueError(f"vocab must be an int in [2, 16] for a tiny model, got {vocab!r}")
    tokenizer = char_tokenizer(TINY_ALPHABET[: vocab - 1])
    config = random_config(
        arch,
        vocab=vocab,
        hidden=hidden,
        layers=layers,
        heads=heads,
        positions=64,
        init_std=init_std,
        eos=0,
    )
    model = _init_model(config, seed, dtype or torch.float32, "cpu")
    return LoadedModel(f"tiny-{arch}", model, tokenizer, 0)
