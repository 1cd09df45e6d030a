r"""Two-sample mode: a generate function against a plain sampler, when no exact law exists.

Both are sampled $N$ times and compared by the chi-square test of homogeneity
([`homogeneity`][specproof.audit.stats.homogeneity]). **Sample size**: two arms of $N$ detect
less than $N$ samples against an exact law: the least noncentrality at TV $\varepsilon$ is
$2N\varepsilon^2$, half the one-sample $4N\varepsilon^2$
([`stats`][specproof.audit.stats], module docstring), so the plan is
[`required_samples_two_sample`][specproof.audit.stats.required_samples_two_sample] per arm
(about twice the one-sample size), and [`core.decide`][specproof.audit.core.decide] judges a
configuration with `plan = "two-sample"` by it. The degrees of freedom the plan needs (cells
that survive pooling) depend on the unknown law: [`plan_two_sample`][specproof.audit.two_sample.plan_two_sample]
measures them on a short pilot run of both arms (discarded: the verdict's samples are fresh,
so the size chosen never depends on the samples tested).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .collect import GenerateFn, collect_generations, timing
from .core import DEFAULT_POWER, DEFAULT_TV, Audit, Configuration, decide
from .request import GenerationRequest
from .stats import DEFAULT_ALPHA, MIN_EXPECTED, pool, required_samples_two_sample

#: Samples per arm of the pilot run that measures the degrees of freedom.
PILOT_SAMPLES = 300
#: Tests of a two-sample configuration (joint and first token): the plan's Bonferroni share.
TESTS_PER_CONFIGURATION = 2


def two_sample_configuration(
    name: str,
    fn: GenerateFn,
    baseline: GenerateFn,
    prompt: Sequence[int],
    m: int,
    n: int,
    vocab_size: int,
    eos_token_id: int | None,
    delta: float = DEFAULT_ALPHA,
    seed: int = 0,
    on_sample: Callable[[], None] | None = None,
    request: GenerationRequest | None = None,
) -> Configuration:
    """Two-sample mode: compare `fn` with `baseline` (plain sampling) when no exact law exists.

    Both are sampled `n` times per arm (the configuration's `plan` is `"two-sample"`, so its
    `n_required` is the two-sample size per arm); seeds `seed + s` and `seed + n + s`, so the arms are
    independent); the tuples of the first `m` tokens are compared by the chi-square test of
    homogeneity ([`homogeneity`][specproof.audit.stats.homogeneity]), and so are the
    first tokens; Bonferroni-combined like every configuration. `request` (the request
    convention's template: settings, models, `batch_size`) is passed to both. The timing
    counts the baseline's own time as neither the implementation's nor the auditor's.
    """
    from .stats import homogeneity

    start = time.perf_counter()
    arm = collect_generations(fn, prompt, m, n, vocab_size, eos_token_id, seed, on_sample, request)
    config = Configuration(
        name=name, n_samples=len(arm.outputs), error=arm.error, plan="two-sample"
    )
    if arm.error is not None:
        return config
    base = collect_generations(
        baseline, prompt, m, n, vocab_size, eos_token_id, seed + n, on_sample, request
    )
    if base.error is not None:
        config.error = f"baseline: {base.error}"
        return config
    keys = sorted(set(arm.outputs) | set(base.outputs))
    index = {k: i for i, k in enumerate(keys)}
    a = np.bincount([index[o] for o in arm.outputs], minlength=len(keys))
    b = np.bincount([index[o] for o in base.outputs], minlength=len(keys))
    labels = [" ".join(map(str, k)) for k in keys]
    config.tests["joint"] = homogeneity(a, b, MIN_EXPECTED, delta, labels)
    firsts = sorted({o[0] for o in arm.outputs} | {o[0] for o in base.outputs})
    findex = {t: i for i, t in enumerate(firsts)}
    fa = np.bincount([findex[o[0]] for o in arm.outputs], minlength=len(firsts))
    fb = np.bincount([findex[o[0]] for o in base.outputs], minlength=len(firsts))
    config.tests["first"] = homogeneity(fa, fb, MIN_EXPECTED, delta, [str(t) for t in firsts])
    config.details = {
        "mode": "two-sample",
        "baseline_samples": len(base.outputs),
        "timing": timing(arm, time.perf_counter() - start - base.implementation_seconds),
    }
    config.plan = "two-sample"
    return config


def planned_dof(outputs: Sequence[tuple[int, ...]], n: int) -> int:
    """The joint test's degrees of freedom at `n` samples per arm, estimated from `outputs`.

    The pooling rule of [`stats.pool`][specproof.audit.stats.pool] applied to the expected
    counts `n * frequency` of the pilot's outcomes (both arms together).

    Args:
        outputs: the pilot's output tuples (both arms).
        n: samples per arm.
    """
    keys = sorted(set(outputs))
    if not keys:
        return 1
    index = {k: i for i, k in enumerate(keys)}
    counts = np.bincount([index[o] for o in outputs], minlength=len(keys))
    share = counts / counts.sum()
    return max(1, len(pool(n * share, counts, MIN_EXPECTED).groups) - 1)


def plan_two_sample(
    fn: GenerateFn,
    baseline: GenerateFn,
    prompt: Sequence[int],
    m: int,
    vocab_size: int,
    eos_token_id: int | None,
    alpha: float = DEFAULT_ALPHA,
    tv: float = DEFAULT_TV,
    power: float = DEFAULT_POWER,
    seed: int = 0,
    pilot_samples: int = PILOT_SAMPLES,
    max_samples: int = 200_000,
    request: GenerationRequest | None = None,
) -> tuple[int, dict[str, Any]]:
    """Samples per arm for `power` at `tv`, from a pilot run of both arms (then discarded).

    The fixed point of N = `required_samples_two_sample(tv, alpha / 2, power, dof(1.25 N))`,
    `dof` estimated by [`planned_dof`][specproof.audit.two_sample.planned_dof] (a quarter more
    samples than planned, for cells the pilot did not see), capped at `max_samples`.

    Args:
        fn: the implementation's generate function.
        baseline: the plain sampler.
        prompt: the prompt ids.
        m: the number of new tokens compared.
        vocab_size: the vocabulary size (ids are checked against it).
        eos_token_id: the end-of-sequence id, or None.
        alpha: family-wise significance of the audit.
        tv: the smallest TV to detect.
        power: the power wanted at `tv`.
        seed: the pilot uses seeds `seed` to `seed + 2 * pilot_samples - 1`.
        pilot_samples: samples per arm of the pilot.
        max_samples: the cap on the plan.
        request: the request convention's template, passed to both.

    Returns:
        `(samples per arm, details)`; on a failure of either function in the pilot,
        `(pilot_samples, details)` with `details["pilot_error"]` (the audit run then reports it).
    """
    details: dict[str, Any] = {"pilot_samples": pilot_samples}
    outputs = []
    for offset, function in ((0, fn), (pilot_samples, baseline)):
        run = collect_generations(
            function,
            prompt,
            m,
            pilot_samples,
            vocab_size,
            eos_token_id,
            seed + offset,
            request=request,
        )
        if run.error is not None:
            details["pilot_error"] = run.error
            return pilot_samples, details
        outputs += run.outputs
    level = alpha / TESTS_PER_CONFIGURATION
    n = required_samples_two_sample(tv, level, power, planned_dof(outputs, pilot_samples))
    for _ in range(20):
        dof = planned_dof(outputs, math.ceil(1.25 * min(n, max_samples)))
        following = required_samples_two_sample(tv, level, power, dof)
        if following <= n:
            break
        n = following
    details["planned_dof"] = planned_dof(outputs, math.ceil(1.25 * min(n, max_samples)))
    details["planned_per_arm"] = n
    return min(n, max_samples), details


def audit_two_sample(
    fn: GenerateFn,
    baseline: GenerateFn,
    prompt: Sequence[int],
    vocab_size: int,
    eos_token_id: int | None,
    max_new_tokens: int = 2,
    n_samples: int | None = None,
    alpha: float = DEFAULT_ALPHA,
    tv: float = DEFAULT_TV,
    power: float = DEFAULT_POWER,
    seed: int = 0,
    max_samples: int = 200_000,
    name: str = "generate",
    on_sample: Callable[[], None] | None = None,
    request: GenerationRequest | None = None,
) -> Audit:
    """Audit `fn` against `baseline` (one two-sample configuration), planned for `power` at `tv`.

    Args:
        fn: the implementation's generate function.
        baseline: the plain sampler (the reference).
        prompt: the prompt ids.
        vocab_size: the vocabulary size.
        eos_token_id: the end-of-sequence id, or None.
        max_new_tokens: the number of new tokens compared.
        n_samples: samples per arm (default: planned by
            [`plan_two_sample`][specproof.audit.two_sample.plan_two_sample]).
        alpha: family-wise significance.
        tv: the smallest TV to detect.
        power: the power wanted at `tv`.
        seed: seeds of the pilot, then of the arms.
        max_samples: the cap on the planned size per arm.
        name: the configuration's name.
        on_sample: called after every sample.
        request: the request convention's template (settings, models, `batch_size`).

    Raises:
        ValueError: if `max_new_tokens`, `n_samples` or `max_samples` is below 1.
    """
    if max_new_tokens < 1 or max_samples < 1 or (n_samples is not None and n_samples < 1):
        raise ValueError("max_new_tokens, n_samples and max_samples must be >= 1")
    plan: dict[str, Any] = {}
    if n_samples is None:
        n_samples, plan = plan_two_sample(
            fn,
            baseline,
            prompt,
            max_new_tokens,
            vocab_size,
            eos_token_id,
            alpha,
            tv,
            power,
            seed,
            max_samples=max_samples,
            request=request,
        )
        seed += 2 * plan["pilot_samples"]
    config = two_sample_configuration(
        name,
        fn,
        baseline,
        prompt,
        max_new_tokens,
        n_samples,
        vocab_size,
        eos_token_id,
        alpha,
        seed,
        on_sample,
        request,
    )
    config.details.update(plan)
    config.plan = "two-sample"
    return decide([config], alpha, tv, power)
