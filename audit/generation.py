r"""Generation-level audit: does a generate function sample the target's law?

**The audited signature**: `fn(prompt_ids, max_new_tokens, seed) -> token ids`, where
`prompt_ids` is a list of ints, and the result holds the *new* tokens only (at most
`max_new_tokens`; fewer only if the last one is the end-of-sequence token). The function must
be a deterministic function of `seed` (seed torch, numpy, ... from it).

**The reference law** ([`target_law`][specproof.audit.target_law]): the auditor runs the target
model itself in float64 and applies the same logits processing in numpy float64
([`Processing`][specproof.audit.target_law.Processing]); the exact law of the first $m$ new
tokens is enumerated prefix by prefix (end-of-sequence absorbing). The implementation under audit samples from float32 logits: its
per-token probabilities differ from the float64 ones by about $10^{-6}$ relative, a TV far
below $10^{-4}$; the chi-square noncentrality such a difference creates at $N$ samples is about
$N \cdot 10^{-12}$, so no feasible sample size can mistake rounding for a fault, and counts are
compared directly with the float64 expected probabilities.

**Tests.** For small vocabularies (`V ** m` at most `max_cells`): `joint`, the law of the whole
tuple of the first $m$ tokens, plus `first`, the first-token marginal. For large vocabularies:
`first`, and `next|t` (the second token's law given the first token `t`) for the first tokens
expected at least 100 times (at most 8 of them); conditional tests are valid given the number
of samples that start with `t`. At every vocabulary size, `position@t` for every $t < m$: the
token at $t$ given its prefix ([`positions`][specproof.audit.positions]); each output position
is a path of the configuration, and one reached too rarely makes it `inconclusive`.

**Greedy** implementations: [`greedy`][specproof.audit.greedy]. **No exact law** (a plain
sampler as the reference): [`two_sample`][specproof.audit.two_sample]. Their public names are
re-exported here, as are [`Processing`][specproof.audit.target_law.Processing] and
[`TargetLaw`][specproof.audit.target_law.TargetLaw].
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Unpack

import numpy as np

from .collect import (
    GenerateFn,
    GenerationSamples,
    check_generated,
    collect_generations,
    progress_ticker,
    timing,
)
from .core import Audit, Configuration, decide
from .greedy import GREEDY_MARGIN, greedy_configuration
from .request import GenerationRequest
from .settings import Statistics, with_defaults
from .stats import DEFAULT_ALPHA, MIN_EXPECTED, FitResult, goodness_of_fit
from .target_law import Processing, TargetLaw
from .two_sample import two_sample_configuration


def law_tests(
    target: TargetLaw,
    prompt: Sequence[int],
    m: int,
    outputs: Sequence[tuple[int, ...]],
    test: str = "chi2",
    delta: float = DEFAULT_ALPHA,
    max_cells: int = 5000,
) -> dict[str, FitResult]:
    """The tests of the module docstring on generated outputs."""
    v = target.vocab_size
    tests: dict[str, FitResult] = {}
    if v**m <= max_cells:
        law = target.joint_law(prompt, m)
        keys = list(law)
        index = {k: i for i, k in enumerate(keys)}
        counts = np.zeros(len(keys) + 1, dtype=np.int64)
        for out in outputs:
            counts[index.get(out, len(keys))] += 1
        probs = np.array([*law.values(), 0.0])
        labels = [" ".join(map(str, k)) for k in keys] + ["impossible"]
        tests["joint"] = goodness_of_fit(
            counts, probs / probs.sum(), test, MIN_EXPECTED, delta, labels
        )
    first = target.next_probs(prompt)
    counts = np.bincount([o[0] for o in outputs if o], minlength=v)
    tests["first"] = goodness_of_fit(counts, first, test, MIN_EXPECTED, delta)
    from .positions import position_tests

    tests.update(position_tests(target, prompt, m, outputs, test, delta))
    if v**m > max_cells and m >= 2:
        n = len(outputs)
        frequent = [int(t) for t in np.argsort(-first)[:8] if n * first[t] >= 100]
        for t in frequent:
            if t == target.eos_token_id:
                continue
            seconds = [o[1] for o in outputs if len(o) >= 2 and o[0] == t]
            if not seconds:
                continue
            cond = target.next_probs((*prompt, t))
            tests[f"next|{t}"] = goodness_of_fit(
                np.bincount(seconds, minlength=v), cond, test, MIN_EXPECTED, delta
            )
    return tests


def sampling_configuration(
    name: str,
    fn: GenerateFn,
    target: TargetLaw,
    prompt: Sequence[int],
    m: int,
    n: int,
    test: str = "chi2",
    delta: float = DEFAULT_ALPHA,
    seed: int = 0,
    on_sample: Callable[[], None] | None = None,
    request: GenerationRequest | None = None,
) -> Configuration:
    """Sample `fn` `n` times and test the outputs against the target's exact law.

    Args:
        name: the configuration's name.
        fn: the generate function (either convention of [`collect`][specproof.audit.collect]).
        target: the target's exact law.
        prompt: the prompt ids.
        m: new tokens per sample.
        n: samples.
        test: `"chi2"` or `"g"`.
        delta: significance used for the certified TV bounds.
        seed: the first call's seed.
        on_sample: called after every sample.
        request: models, names and `batch_size` for the request convention; its sampling
            settings are set to the law's ([`sampling_request`][specproof.audit.generation.sampling_request]).
    """
    start = time.perf_counter()
    samples = collect_generations(
        fn,
        prompt,
        m,
        n,
        target.vocab_size,
        target.eos_token_id,
        seed,
        on_sample,
        sampling_request(request, target, m),
    )
    config = Configuration(
        name=name,
        n_samples=len(samples.outputs),
        error=samples.error,
        details={
            "seconds": samples.seconds,
            "samples_per_second": len(samples.outputs) / samples.seconds
            if samples.seconds
            else None,
            "prompt": list(prompt),
            "max_new_tokens": m,
            "processing": target.processing.label(),
        },
    )
    if samples.error is None and samples.outputs:
        from .positions import position_paths

        config.tests = law_tests(target, prompt, m, samples.outputs, test, delta)
        config.path_tests = position_paths(m, joint="joint" in config.tests)
    config.details["timing"] = timing(samples, time.perf_counter() - start)
    if samples.coverage.reported:
        config.details["coverage"] = samples.coverage.to_json()
        config.not_consistent_because = samples.coverage.not_consistent_because()
    return config


def sampling_request(
    request: GenerationRequest | None, target: TargetLaw, m: int
) -> GenerationRequest:
    """The request template of a sampling audit: the law's settings over the caller's template.

    Args:
        request: the caller's template (models, names, `batch_size`), or None.
        target: the target's law (its processing and end-of-sequence id are used).
        m: the number of new tokens.
    """
    template = request or GenerationRequest([], m, 0)
    processed = processed_request(template, target.processing, target.eos_token_id)
    return processed.replace(max_new_tokens=m, do_sample=True)


def processed_request(
    request: GenerationRequest, processing: Processing, eos_token_id: int | None
) -> GenerationRequest:
    """`request` with a law's logits processing and end-of-sequence id, the rest kept.

    Args:
        request: the request template.
        processing: the law's processing (temperature, top-k, top-p, repetition penalty).
        eos_token_id: the law's end-of-sequence id, or None.
    """
    return request.replace(
        temperature=processing.temperature,
        top_k=processing.top_k,
        top_p=processing.top_p,
        repetition_penalty=processing.repetition_penalty,
        eos_token_id=eos_token_id,
    )


def audit_generate(
    fn: GenerateFn,
    target: TargetLaw,
    prompt: Sequence[int],
    max_new_tokens: int = 2,
    n_samples: int = 2000,
    on_progress: Callable[[str, int], None] | None = None,
    request: GenerationRequest | None = None,
    **statistics: Unpack[Statistics],
) -> Audit:
    """Audit one generate function against `target`'s exact law (one configuration).

    Args:
        fn: `fn(prompt_ids, max_new_tokens, seed)`, or `fn(request)` with a
            [`GenerationRequest`][specproof.audit.request.GenerationRequest].
        target: the target's exact law.
        prompt: the prompt ids.
        max_new_tokens: new tokens per sample.
        n_samples: samples (rows, for a batched function).
        on_progress: called with ("generate", samples done).
        request: the request convention's template: in-process models
            (`objects={"model": ..., "tokenizer": ...}`) or names, and `batch_size`; the
            sampling settings are the law's.
        **statistics: `alpha`, `tv`, `power`, `test` and `seed`
            ([`Statistics`][specproof.audit.settings.Statistics]).

    Raises:
        ValueError: if `max_new_tokens` or `n_samples` is below 1.
        TypeError: on an unknown keyword.
    """
    plan = with_defaults("audit_generate", statistics)
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
    config = sampling_configuration(
        "generate",
        fn,
        target,
        prompt,
        max_new_tokens,
        n_samples,
        plan["test"],
        plan["alpha"],
        plan["seed"],
        progress_ticker(on_progress, "generate"),
        request,
    )
    return decide([config], plan["alpha"], plan["tv"], plan["power"])


__all__ = [
    "GREEDY_MARGIN",
    "GenerateFn",
    "GenerationRequest",
    "GenerationSamples",
    "Processing",
    "TargetLaw",
    "audit_generate",
    "check_generated",
    "collect_generations",
    "greedy_configuration",
    "law_tests",
    "processed_request",
    "sampling_configuration",
    "sampling_request",
    "two_sample_configuration",
]
