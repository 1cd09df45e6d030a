"""Greedy generation audits: token-for-token comparison with the float64 argmax path.

Greedy implementations are compared with the float64 argmax path on several prompts (a
deterministic reference: any mismatch is a certain violation); prompts whose float64 path has a
top-2 logit gap below `GREEDY_MARGIN` anywhere are
skipped (float32 may legitimately break such near-ties the other way) and counted in the
details.

**Prompts.** One mismatch is certain evidence, so the plan is the number of prompts at which a
fault present on a share `tv` of prompts shows at least once with probability `power`
([`deterministic_required`][specproof.audit.core.deterministic_required]: 90 at TV 0.05 and power 0.99; 44 at `audit generate`'s default TV 0.1).
The user's prompt and its prefixes are too few for that, so
[`greedy_prompts`][specproof.audit.greedy.greedy_prompts] continues with distinct random token
sequences (seeded, lengths 1 to `max_length`, the end-of-sequence id left out), and
[`greedy_configuration`][specproof.audit.greedy.greedy_configuration] draws from them until `n`
prompts were checked (near-ties skipped do not count). What `tv` means here: the share of
prompts, drawn this way, on which the implementation's greedy path differs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from .boundary import ImplementationCrashed
from .collect import (
    GenerateFn,
    GenerationSamples,
    call_failure,
    call_generate,
    function_convention,
    timing,
)
from .core import Configuration
from .coverage import DepthCoverage
from .request import GenerationRequest
from .stats import DEFAULT_ALPHA, FitResult
from .target_law import TargetLaw

#: Greedy reference paths with a top-2 logit gap below this are skipped.
GREEDY_MARGIN = 1e-4


#: Random prompts are at most this many tokens long by default.
MAX_PROMPT_LENGTH = 8


def greedy_prompts(
    first: Iterable[Sequence[int]],
    vocab_size: int,
    seed: int = 0,
    eos_token_id: int | None = None,
    max_length: int = MAX_PROMPT_LENGTH,
) -> Iterator[list[int]]:
    """Distinct prompts: those of `first` (duplicates and empty ones left out), then random ones.

    Random prompts are token sequences of a uniform length in `[1, max_length]` with ids
    uniform in `[0, vocab_size)` other than `eos_token_id`, drawn from `seed`; a sequence
    already given is drawn again. The iterator ends when no new prompt turns up in 1,000
    draws in a row (a tiny vocabulary with short prompts has few).

    Args:
        first: the prompts to start with (e.g. the user's prompt and its prefixes).
        vocab_size: the vocabulary size.
        seed: the seed of the random prompts.
        eos_token_id: an id random prompts never hold, or None.
        max_length: the longest random prompt.

    Raises:
        ValueError: if `vocab_size` leaves no id to draw or `max_length` is below 1.

    Examples:
        >>> import itertools
        >>> prompts = list(itertools.islice(greedy_prompts([[1, 2], [1, 2], [1]], 5, seed=0), 6))
        >>> prompts[:2], len({tuple(p) for p in prompts})
        ([[1, 2], [1]], 6)
    """
    ids = [i for i in range(vocab_size) if i != eos_token_id]
    if not ids or max_length < 1:
        raise ValueError(
            f"vocab_size must leave an id other than end-of-sequence and max_length must be "
            f">= 1, got vocab_size={vocab_size!r}, max_length={max_length!r}"
        )
    seen: set[tuple[int, ...]] = set()
    for prompt in first:
        key = tuple(int(t) for t in prompt)
        if key and key not in seen:
            seen.add(key)
            yield list(key)
    rng = np.random.default_rng(seed)
    choices = np.asarray(ids)
    misses = 0
    while misses < 1000:
        length = int(rng.integers(1, max_length + 1))
        key = tuple(int(t) for t in rng.choice(choices, size=length))
        if key in seen:
            misses += 1
            continue
        misses = 0
        seen.add(key)
        yield list(key)


def greedy_configuration(
    name: str,
    fn: GenerateFn,
    target: TargetLaw,
    prompts: Iterable[Sequence[int]],
    m: int,
    n: int | None = None,
    request: GenerationRequest | None = None,
) -> Configuration:
    """Compare a greedy implementation with the float64 argmax path, prompt by prompt.

    Args:
        name: the configuration's name.
        fn: the greedy generate function (either convention of [`collect`][specproof.audit.collect]).
        target: the target's law (its argmax path is the reference).
        prompts: the prompts (any iterable, e.g. [`greedy_prompts`][specproof.audit.greedy.greedy_prompts]).
        m: the number of new tokens compared.
        n: stop after this many prompts were checked (default: every prompt).
        request: models and `batch_size` for the request convention; a batched call gets
            `batch_size` different prompts (`request.prompts`), one per row.

    Raises:
        ValueError: if `n` is below 1.
    """
    if n is not None and n < 1:
        raise ValueError(f"n must be >= 1 or None, got {n!r}")
    config = Configuration(name=name, deterministic=True)
    template = greedy_request(request, target, m)
    checked = mismatches = skipped = drawn = calls = 0
    examples: list[dict[str, Any]] = []
    start = time.perf_counter()
    inside = 0.0
    pending: list[tuple[list[int], tuple[int, ...]]] = []
    coverage = DepthCoverage()
    iterator = iter(prompts)
    try:
        style = function_convention(fn)
    except ImplementationCrashed as exc:
        config.error = f"prompt 0: {exc}"
        style = "ids"
    while config.error is None and (n is None or checked < n):
        wanted = template.batch_size if n is None else min(template.batch_size, n - checked)
        exhausted = False
        while len(pending) < wanted:
            prompt = next(iterator, None)
            if prompt is None:
                exhausted = True
                break
            drawn += 1
            reference, margin = target.greedy_path(prompt, m)
            if margin < GREEDY_MARGIN:
                skipped += 1
                continue
            pending.append((list(prompt), reference))
        if not pending:
            break
        call = template.replace(
            prompt_ids=pending[0][0],
            seed=calls,
            batch_size=len(pending),
            prompts=[p for p, _ in pending] if len(pending) > 1 else None,
        )
        try:
            outs, seconds = call_generate(fn, style, call, target.vocab_size, coverage)
        except Exception as exc:  # noqa: BLE001 - the implementation's errors are the verdict
            config.error = f"prompt {checked}: {call_failure(exc)}"
            break
        calls += 1
        inside += seconds
        for (prompt, reference), out in zip(pending, outs, strict=True):
            checked += 1
            if out != reference:
                mismatches += 1
                if len(examples) < 3:
                    examples.append({"prompt": prompt, "expected": reference, "got": out})
        pending = []
        if exhausted:
            break
    config.n_samples = checked
    seconds_total = time.perf_counter() - start
    config.details = {
        "prompts": drawn,
        "prompts_wanted": n,
        "skipped_near_ties": skipped,
        "mismatches": mismatches,
        "examples": examples,
        "seconds": seconds_total,
        "timing": timing(
            GenerationSamples(
                outputs=[()] * checked,
                seconds=seconds_total,
                implementation_seconds=inside,
                calls=calls,
            )
        ),
    }
    if coverage.reported:
        config.details["coverage"] = coverage.to_json()
        config.not_consistent_because = coverage.not_consistent_because()
    if config.error is None and checked:
        config.tests["greedy"] = FitResult(
            statistic=float(mismatches),
            dof=0,
            p_value=0.0 if mismatches else 1.0,
            n=checked,
            cells=1,
            tv_hat=mismatches / checked,
            tv_upper=1.0 if mismatches else 1 - DEFAULT_ALPHA ** (1 / checked),
            impossible=mismatches,
        )
    return config


def greedy_request(
    request: GenerationRequest | None, target: TargetLaw, m: int
) -> GenerationRequest:
    """The request template of a greedy audit: `do_sample=False` and the target's settings.

    Args:
        request: the caller's template (models, `batch_size`, names), or None.
        target: the target's law (its repetition penalty and end-of-sequence id are used).
        m: the number of new tokens.
    """
    processing = target.processing
    return (request or GenerationRequest([], m, 0)).replace(
        max_new_tokens=m,
        do_sample=False,
        temperature=1.0,
        top_k=None,
        top_p=None,
        repetition_penalty=processing.repetition_penalty,
        eos_token_id=target.eos_token_id,
    )
