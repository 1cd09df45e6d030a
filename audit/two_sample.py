"""Two-sample mode: a generate function against a plain sampler, when no exact law exists."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .core import Configuration
from .generation import GenerateFn, collect_generations
from .stats import DEFAULT_ALPHA, MIN_EXPECTED


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
) -> Configuration:
    """Two-sample mode: compare `fn` with `baseline` (plain sampling) when no exact law exists.

    Both are sampled `n` times (seeds `seed + s` and `seed + n + s`, so the arms are
    independent); the tuples of the first `m` tokens are compared by the chi-square test of
    homogeneity ([`homogeneity`][specproof.audit.stats.homogeneity]), and so are the
    first tokens; Bonferroni-combined like every configuration.
    """
    from .stats import homogeneity

    arm = collect_generations(fn, prompt, m, n, vocab_size, eos_token_id, seed, on_sample)
    config = Configuration(name=name, n_samples=len(arm.outputs), error=arm.error)
    if arm.error is not None:
        return config
    base = collect_generations(
        baseline, prompt, m, n, vocab_size, eos_token_id, seed + n, on_sample
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
    config.details = {"mode": "two-sample", "baseline_samples": len(base.outputs)}
    return config
