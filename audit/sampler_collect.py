"""Calling the audited verify function: auditor-drawn drafts, output checks, every failure caught.

[`collect`][specproof.audit.sampler_collect.collect] calls the function `n` times on one case
(many calls per round trip behind the process boundary); the first exception, boundary failure
or malformed output ends the case with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .boundary import CallBatch
from .collect import call_failure
from .sampler_cases import Case, draw_drafts

SamplerFn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.random.Generator], Sequence[int]]
#: Calls per round trip to a function behind the process boundary.
BATCH_CALLS = 256


class MalformedOutput(ValueError):
    """The audited function returned something that is not an output of a round."""


def check_output(out: Any, k: int, v: int) -> tuple[int, ...]:
    """Validate one output of the audited function and return it as a tuple of ints.

    Raises:
        MalformedOutput: if it is not a 1-D sequence of 1..K+1 integer ids in [0, V).
    """
    # Fast paths for what well-behaved functions return (a list or tuple of Python ints, or a
    # 1-D integer array): the same checks without numpy's per-call overhead, which the auditor
    # otherwise pays on every sample. Anything else, or anything invalid, takes the full path
    # below, which names what is wrong.
    ids: list[int] | tuple[int, ...] | None = None
    if type(out) is list or type(out) is tuple:
        if all(type(t) is int for t in out):
            ids = out
    elif type(out) is np.ndarray and out.ndim == 1 and out.dtype.kind in "iu":
        ids = out.tolist()
    if ids is not None and 1 <= len(ids) <= k + 1 and all(0 <= t < v for t in ids):
        return tuple(ids)
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
    implementation_seconds: float = 0.0


def collect(
    fn: SamplerFn,
    case: Case,
    n: int,
    rng: np.random.Generator,
    on_sample: Callable[[], None] | None = None,
    batch_calls: int = BATCH_CALLS,
) -> Samples:
    """Call `fn` `n` times on `case` with auditor-drawn drafts; catch every failure.

    Each call gets its own copies of the case's rows and its drafts, and the shared `rng`. A
    function behind the process boundary (one with a `call_many` method, such as
    [`IsolatedFunction`][specproof.audit.boundary.IsolatedFunction]) is called `batch_calls`
    times per round trip; the outputs, the errors and `rng`'s final state are the same as
    calling it one by one.

    Args:
        fn: the audited verify function.
        case: the case.
        n: the number of calls.
        rng: the generator passed to every call (and used first to draw the drafts).
        on_sample: called after every accepted sample.
        batch_calls: calls per round trip for a function with `call_many` (>= 1).

    Raises:
        ValueError: if `batch_calls < 1`.
    """
    if batch_calls < 1:
        raise ValueError(f"batch_calls must be >= 1, got {batch_calls!r}")
    drafts = draw_drafts(case, n, rng)
    samples = Samples()
    start = time.perf_counter()
    call_many = getattr(fn, "call_many", None)
    if call_many is not None:
        # The boundary sums the time the function itself took, measured in its process.
        before = float(getattr(fn, "total_seconds", 0.0))
        _collect_batched(call_many, case, drafts, rng, samples, on_sample, batch_calls)
        samples.implementation_seconds = float(getattr(fn, "total_seconds", 0.0)) - before
    else:
        for s in range(n):
            called = time.perf_counter()
            try:
                out = fn(case.target_probs.copy(), case.draft_probs.copy(), drafts[s].copy(), rng)
                samples.implementation_seconds += time.perf_counter() - called
            except Exception as exc:  # noqa: BLE001 - the implementation's errors are the verdict
                samples.error = f"sample {s}: {call_failure(exc)}"
                break
            if not _accept(samples, out, case, drafts[s], s, on_sample):
                break
    samples.seconds = time.perf_counter() - start
    return samples


def _accept(
    samples: Samples,
    out: Any,
    case: Case,
    drafts: np.ndarray,
    s: int,
    on_sample: Callable[[], None] | None,
) -> bool:
    """Check output `s` and record it; False (with `samples.error` set) if it is malformed."""
    try:
        output = check_output(out, case.k, case.vocab_size)
    except MalformedOutput as exc:
        samples.error = f"sample {s}: malformed output: {exc}"
        return False
    samples.mismatched_flags.append(output[:-1] != tuple(drafts[: len(output) - 1].tolist()))
    samples.outputs.append(output)
    if on_sample is not None:
        on_sample()
    return True


def _collect_batched(
    call_many: Callable[[Sequence[tuple[Any, ...]]], CallBatch],
    case: Case,
    drafts: np.ndarray,
    rng: np.random.Generator,
    samples: Samples,
    on_sample: Callable[[], None] | None,
    batch_calls: int,
) -> None:
    """`collect` through `call_many`: the boundary copies the arrays for every call."""
    n = len(drafts)
    for first in range(0, n, batch_calls):
        calls = [
            (case.target_probs, case.draft_probs, drafts[s], rng)
            for s in range(first, min(n, first + batch_calls))
        ]
        batch = call_many(calls)
        for index, out in enumerate(batch.results):
            if not _accept(samples, out, case, drafts[first + index], first + index, on_sample):
                batch.rewind(calls, index)
                return
        if batch.error is not None:
            samples.error = f"sample {first + len(batch.results)}: {batch.error}"
            return
