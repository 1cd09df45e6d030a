"""Calling the audited verify function: auditor-drawn drafts, output checks, every failure caught.

[`collect`][specproof.audit.sampler_collect.collect] calls the function `n` times on one case;
the first exception, boundary failure or malformed output ends the case with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .boundary import ImplementationCrashed
from .sampler_cases import Case, draw_drafts

SamplerFn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.random.Generator], Sequence[int]]


class MalformedOutput(ValueError):
    """The audited function returned something that is not an output of a round."""


def check_output(out: Any, k: int, v: int) -> tuple[int, ...]:
    """Validate one output of the audited function and return it as a tuple of ints.

    Raises:
        MalformedOutput: if it is not a 1-D sequence of 1..K+1 integer ids in [0, V).
    """
    try:
        arr = np.asarray(out)
    except Exception as exc:  # noqa: BLE001 - any conversion failure is malformed output
        raise MalformedOutput(f"output is not a sequence of token ids: {exc}") from None
    if arr.ndim != 1:
        raise MalformedOutput(f"output must be 1-D, got shape {arr.shape}")
    if not 1 <= arr.size <= k + 1:
        raise MalformedOutput(f"output must hold 1..K+1 = 1..{k + 1} tokens, got {arr.size}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise MalformedOutput(f"output ids must be integers, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= v:
        raise MalformedOutput(f"output ids must lie in [0, V) = [0, {v}), got {arr.tolist()}")
    return tuple(int(t) for t in arr)


@dataclass
class Samples:
    """What an audited function produced on one case."""

    outputs: list[tuple[int, ...]] = field(default_factory=list)
    mismatched_flags: list[bool] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def collect(
    fn: SamplerFn,
    case: Case,
    n: int,
    rng: np.random.Generator,
    on_sample: Callable[[], None] | None = None,
) -> Samples:
    """Call `fn` `n` times on `case` with auditor-drawn drafts; catch every failure."""
    drafts = draw_drafts(case, n, rng)
    samples = Samples()
    start = time.perf_counter()
    for s in range(n):
        target = case.target_probs.copy()
        draft = case.draft_probs.copy()
        tokens = drafts[s].copy()
        try:
            out = fn(target, draft, tokens, rng)
        except ImplementationCrashed as exc:
            samples.error = f"sample {s}: {exc}"
            break
        except Exception as exc:  # noqa: BLE001 - the implementation's errors are the verdict
            samples.error = f"sample {s}: {type(exc).__name__}: {exc}"
            break
        try:
            output = check_output(out, case.k, case.vocab_size)
        except MalformedOutput as exc:
            samples.error = f"sample {s}: malformed output: {exc}"
            break
        samples.mismatched_flags.append(
            output[:-1] != tuple(int(t) for t in drafts[s, : len(output) - 1])
        )
        samples.outputs.append(output)
        if on_sample is not None:
            on_sample()
    samples.seconds = time.perf_counter() - start
    return samples
