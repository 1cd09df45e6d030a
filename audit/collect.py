"""Calling a generate function: the signature, validating its outputs, collecting samples.

Shared by every generation-level mode ([`generation`][specproof.audit.generation] against the
exact law, [`greedy`][specproof.audit.greedy], [`two_sample`][specproof.audit.two_sample]).

Two calling conventions ([`request`][specproof.audit.request]): `fn(prompt_ids,
max_new_tokens, seed)`, or `fn(request)` with a
[`GenerationRequest`][specproof.audit.request.GenerationRequest] that carries the sampling
settings, the models and `batch_size`; a batched call returns one row per sample, and every
row is validated and audited as a sample of its own (a call with seed `s` yields `batch_size`
samples; seeds advance by call).

**Timing.** Every collection records the time spent inside the audited function
(`implementation_seconds`: measured in the audited process when it runs behind the process
boundary, so the boundary's own cost is not counted as the implementation's) and the wall time
of the whole collection; [`timing`][specproof.audit.collect.timing] turns them into the
auditor's overhead per sample, reported in each configuration's `details["timing"]`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .boundary import ImplementationCrashed, IsolatedFunction
from .coverage import DepthCoverage, split_report
from .request import GenerationRequest, convention

GenerateFn = Callable[..., Any]


@dataclass
class GenerationSamples:
    """Outputs of a generate function, or the error that stopped it.

    Attributes:
        outputs: one tuple of new tokens per sample (per row of a batched call).
        error: what stopped the collection, or None.
        seconds: wall time of the whole collection.
        implementation_seconds: time spent inside the audited function.
        calls: how many times the function was called.
        coverage: the draft depths the implementation reported ([`coverage`][specproof.audit.coverage]).
    """

    outputs: list[tuple[int, ...]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0
    implementation_seconds: float = 0.0
    calls: int = 0
    coverage: DepthCoverage = field(default_factory=DepthCoverage)


class MalformedOutput(ValueError):
    """A generate function's result is not what its request asked for (the message says why)."""


def progress_ticker(
    on_progress: Callable[[str, int], None] | None, name: str
) -> Callable[[], None]:
    """A callback for every sample of configuration `name`: it reports (name, samples done).

    Args:
        on_progress: the audit's progress callback, or None (the ticker then only counts).
        name: the configuration's name, passed to `on_progress`.
    """
    done = [0]

    def tick() -> None:
        done[0] += 1
        if on_progress is not None:
            on_progress(name, done[0])

    return tick


def call_failure(exc: Exception) -> str:
    """How a call of the audited function failed, for a configuration's `error` (its verdict).

    Args:
        exc: what the call raised: a crash behind the boundary, a malformed result, or the
            function's own exception (named by its type).
    """
    if isinstance(exc, ImplementationCrashed):
        return str(exc)
    if isinstance(exc, MalformedOutput):
        return f"malformed output: {exc}"
    return f"{type(exc).__name__}: {exc}"


def function_convention(fn: Any) -> str:
    """The calling convention of `fn` (`"ids"` or `"request"`), also behind the process boundary.

    Args:
        fn: the generate function, or an [`IsolatedFunction`][specproof.audit.boundary.IsolatedFunction]
            (started here if it was not; its process reads the signature).

    Raises:
        ImplementationCrashed: if the isolated function cannot be started.
    """
    if isinstance(fn, IsolatedFunction):
        fn.start()
        return str(fn.info.get("convention", "ids"))
    return convention(fn)


def call_generate(
    fn: Any,
    style: str,
    request: GenerationRequest,
    vocab_size: int,
    coverage: DepthCoverage | None = None,
) -> tuple[list[tuple[int, ...]], float]:
    """Call `fn` once under its convention; returns the validated rows and the seconds in `fn`.

    Args:
        fn: the generate function.
        style: its convention (`"ids"` or `"request"`).
        request: the call (for `"ids"`, only its prompt, `max_new_tokens` and seed are passed,
            and `batch_size` must be 1).
        vocab_size: ids must lie in `[0, vocab_size)`.
        coverage: where to add the rounds the result reports (a result may be
            `{"tokens", "rounds"}`, [`coverage`][specproof.audit.coverage]).

    Raises:
        MalformedOutput: on a malformed result (the message names the row).
        ValueError: `batch_size > 1` with the `"ids"` convention.
        ImplementationCrashed: and whatever `fn` raises.
    """
    m, eos = request.max_new_tokens, request.eos_token_id
    start = time.perf_counter()
    if style == "ids":
        if request.batch_size != 1 or request.prompts is not None:
            raise ValueError(
                "batch_size > 1 needs a function that takes a GenerationRequest (fn(request))"
            )
        out = fn(list(request.prompt_ids), m, request.seed)
    else:
        out = fn(request)
    seconds = time.perf_counter() - start
    if isinstance(fn, IsolatedFunction):
        seconds = fn.last_seconds
    try:
        out, reports = split_report(out, request.batch_size)
        if reports is not None:
            report_to = coverage if coverage is not None else DepthCoverage()
            for i, rounds in enumerate(reports):
                try:
                    report_to.add(rounds)
                except ValueError as exc:
                    raise ValueError(f"row {i}: 'rounds': {exc}") from None
        if request.batch_size == 1 and _is_flat(out):
            return [check_generated(out, m, vocab_size, eos)], seconds
        rows = _rows(out)
    except ValueError as exc:
        raise MalformedOutput(str(exc)) from None
    if len(rows) != request.batch_size:
        raise MalformedOutput(f"expected a batch of {request.batch_size} rows, got {len(rows)}")
    checked = []
    for i, row in enumerate(rows):
        try:
            checked.append(check_generated(row, m, vocab_size, eos))
        except ValueError as exc:
            raise MalformedOutput(f"row {i}: {exc}") from None
    return checked, seconds


def _is_flat(out: Any) -> bool:
    if hasattr(out, "detach"):
        return len(out.shape) == 1
    if isinstance(out, np.ndarray):
        return out.ndim == 1
    return not (
        isinstance(out, list | tuple) and out and isinstance(out[0], list | tuple | np.ndarray)
    )


def _rows(out: Any) -> list[Any]:
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    if isinstance(out, np.ndarray):
        if out.ndim != 2:
            raise ValueError(f"a batched output must be 2-D, got shape {out.shape}")
        return list(out)
    if not isinstance(out, list | tuple):
        raise ValueError(f"a batched output must be rows of ids, got {type(out).__name__}")
    return list(out)


def timing(samples: GenerationSamples, total_seconds: float | None = None) -> dict[str, Any]:
    """Where an audit's time went, per sample: the implementation's and the auditor's own.

    Args:
        samples: a finished collection.
        total_seconds: the configuration's whole wall time (collection, exact law and tests);
            default: the collection's.

    Returns:
        The dict of [`timing_summary`][specproof.audit.collect.timing_summary].
    """
    total = samples.seconds if total_seconds is None else total_seconds
    return timing_summary(
        len(samples.outputs), samples.calls, total, samples.implementation_seconds
    )


def timing_summary(
    samples: int, calls: int, seconds: float, implementation_seconds: float
) -> dict[str, Any]:
    """The timing record of a configuration (`details["timing"]`).

    Args:
        samples: samples drawn.
        calls: calls of the audited function.
        seconds: the configuration's whole wall time.
        implementation_seconds: the time spent inside the audited function.

    Returns:
        `{"samples", "calls", "seconds", "implementation_seconds", "auditor_seconds",
        "implementation_s_per_sample", "auditor_s_per_sample", "auditor_share"}`.
    """
    n = max(samples, 1)
    own = max(seconds - implementation_seconds, 0.0)
    return {
        "samples": samples,
        "calls": calls,
        "seconds": seconds,
        "implementation_seconds": implementation_seconds,
        "auditor_seconds": own,
        "implementation_s_per_sample": implementation_seconds / n,
        "auditor_s_per_sample": own / n,
        "auditor_share": own / seconds if seconds > 0 else 0.0,
    }


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
    request: GenerationRequest | None = None,
) -> GenerationSamples:
    """Collect `n` samples of `prompt`'s first `m` new tokens; catch every failure.

    Call `c` has seed `seed + c`; under the request convention each call asks for
    `min(request.batch_size, samples still needed)` rows.

    Args:
        fn: the generate function (either convention).
        prompt: the prompt ids.
        m: new tokens per sample.
        n: samples wanted.
        vocab_size: ids must lie in `[0, vocab_size)`.
        eos_token_id: the end-of-sequence id, or None.
        seed: the first call's seed.
        on_sample: called after every sample (row).
        request: the settings, models and `batch_size` of the request convention (default:
            a request with no settings beyond these arguments, one row per call).
    """
    samples = GenerationSamples()
    start = time.perf_counter()
    template = (request or GenerationRequest([], m, 0)).replace(
        prompt_ids=list(prompt), max_new_tokens=m, eos_token_id=eos_token_id, prompts=None
    )
    batch = template.batch_size
    try:
        style = function_convention(fn)
    except ImplementationCrashed as exc:
        samples.error = f"sample 0: {exc}"
        samples.seconds = time.perf_counter() - start
        return samples
    call = 0
    while len(samples.outputs) < n:
        done = len(samples.outputs)
        rows = min(batch, n - done)
        try:
            got, seconds = call_generate(
                fn,
                style,
                template.replace(seed=seed + call, batch_size=rows),
                vocab_size,
                samples.coverage,
            )
        except Exception as exc:  # noqa: BLE001 - the implementation's errors are the verdict
            samples.error = f"sample {done}: {call_failure(exc)}"
            break
        call += 1
        samples.implementation_seconds += seconds
        for row in got:
            samples.outputs.append(row)
            if on_sample is not None:
                on_sample()
    samples.calls = call
    samples.seconds = time.perf_counter() - start
    return samples
