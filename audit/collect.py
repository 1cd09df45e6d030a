"""Calling a generate function: the signature, validating its outputs, collecting samples.

Shared by every generation-level mode ([`generation`][specproof.audit.generation] against the
exact law, [`greedy`][specproof.audit.greedy], [`two_sample`][specproof.audit.two_sample]).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .boundary import ImplementationCrashed

GenerateFn = Callable[[list[int], int, int], Sequence[int]]


@dataclass
class GenerationSamples:
    """Outputs of a generate function, or the error that stopped it."""

    outputs: list[tuple[int, ...]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def check_generated(out: Any, m: int, vocab_size: int, eos_token_id: int | None) -> tuple[int, ...]:
    """Validate one generate result; returns its first `m` tokens (through an end-of-sequence).

    Raises:
        ValueError: if it is not a 1-D sequence of integer ids in [0, V), is longer than `m`, or
            shorter than `m` without ending in the end-of-sequence token.
    """
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    arr = np.asarray(out)
    if arr.ndim != 1:
        raise ValueError(f"output must be 1-D, got shape {arr.shape}")
    if arr.size and (arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"output ids must be integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise ValueError(f"output ids must lie in [0, V) = [0, {vocab_size}), got {arr.tolist()}")
    tokens = [int(t) for t in arr]
    if eos_token_id is not None and eos_token_id in tokens:
        tokens = tokens[: tokens.index(eos_token_id) + 1]
    if len(tokens) > m:
        raise ValueError(f"output holds {len(tokens)} new tokens, more than max_new_tokens = {m}")
    if len(tokens) < m and (not tokens or tokens[-1] != eos_token_id):
        raise ValueError(
            f"output holds {len(tokens)} new tokens, fewer than max_new_tokens = {m}, and does "
            "not end with the end-of-sequence token"
        )
    return tuple(tokens)


def collect_generations(
    fn: GenerateFn,
    prompt: Sequence[int],
    m: int,
    n: int,
    vocab_size: int,
    eos_token_id: int | None,
    seed: int = 0,
    on_sample: Callable[[], None] | None = None,
) -> GenerationSamples:
    """Call `fn(prompt, m, seed + s)` for `s < n`; catch every failure."""
    samples = GenerationSamples()
    start = time.perf_counter()
    for s in range(n):
        try:
            out = fn(list(prompt), m, seed + s)
        except ImplementationCrashed as exc:
            samples.error = f"sample {s}: {exc}"
            break
        except Exception as exc:  # noqa: BLE001 - the implementation's errors are the verdict
            samples.error = f"sample {s}: {type(exc).__name__}: {exc}"
            break
        try:
            samples.outputs.append(check_generated(out, m, vocab_size, eos_token_id))
        except ValueError as exc:
            samples.error = f"sample {s}: malformed output: {exc}"
            break
        if on_sample is not None:
            on_sample()
    samples.seconds = time.perf_counter() - start
    return samples
