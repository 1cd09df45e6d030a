r"""Sampler-level audit: does a verify function's token law follow the target's?

The verdict rests on the token law of each round ([`token_law`][specproof.audit.token_law]:
every emitted token but the last equals its draft; the emitted tokens, completed with fresh
target draws, follow the product of the target rows), never on the round law below, which is
only reported as a profile (a lossless rule may accept less often than standard SD).

**The audited signature** (numpy arrays; $K$ drafts, vocabulary size $V$):

```python
def verify(target_probs, draft_probs, draft_tokens, rng) -> Sequence[int]:
    # target_probs: float64 [K+1, V]; row i is the target's distribution at draft position i,
    #               row K the one after all drafts (for the bonus token)
    # draft_probs:  float64 [K, V]; row i is the distribution draft_tokens[i] was drawn from
    # draft_tokens: int64 [K]
    # rng:          numpy.random.Generator, the only source of randomness to use
    # returns the output tokens: the accepted drafts, then the recovered or bonus token
```
The auditor generates cases ([`sampler_cases`][specproof.audit.sampler_cases]), calls the
function on auditor-drawn drafts ([`sampler_collect`][specproof.audit.sampler_collect], many
calls per round trip when the function runs behind the process boundary), tests the token law
([`token_law`][specproof.audit.token_law]) and profiles the round law
([`sampler_law`][specproof.audit.sampler_law]). Malformed outputs (wrong length, ids out of
range, non-integers) and exceptions make the case `crashed`. The names of those modules are
re-exported here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np

from specproof.reference.arguments import check_int, check_real, check_seed

from .collect import progress_ticker, timing_summary
from .core import DEFAULT_POWER, DEFAULT_TV, Audit, Configuration, decide
from .sampler_cases import (
    DEFAULT_PLAN,
    DENOMINATOR_BITS,
    Case,
    default_cases,
    draw_drafts,
    make_case,
)
from .sampler_collect import MalformedOutput, SamplerFn, Samples, check_output, collect
from .sampler_law import (
    ALGORITHMS,
    EXACT_MAX_VOCAB,
    RoundLaw,
    plan_samples,
    round_law,
    test_case,
)
from .stats import DEFAULT_ALPHA, TESTS

__all__ = [
    "ALGORITHMS",
    "DEFAULT_PLAN",
    "DENOMINATOR_BITS",
    "EXACT_MAX_VOCAB",
    "Case",
    "Configuration",
    "MalformedOutput",
    "RoundLaw",
    "SamplerFn",
    "Samples",
    "audit_sampler",
    "check_output",
    "collect",
    "default_cases",
    "draw_drafts",
    "make_case",
    "plan_samples",
    "round_law",
    "test_case",
]


def audit_sampler(
    fn: SamplerFn,
    cases: Sequence[Case] | None = None,
    n_samples: int | None = None,
    algorithm: str = "sd",
    alpha: float = DEFAULT_ALPHA,
    tv: float = DEFAULT_TV,
    power: float = DEFAULT_POWER,
    test: str = "chi2",
    seed: int = 0,
    max_samples: int = 1_000_000,
    on_progress: Callable[[str, int], None] | None = None,
) -> Audit:
    """Audit a verify function's token law on every case (module docstring).

    Args:
        fn: the function under audit (signature in the module docstring).
        cases: the cases (default: [`default_cases`][specproof.audit.sampler.default_cases]).
        n_samples: samples per case; default: planned per case, after a pilot run, so that the
            joint test and every path reach `power` at TV `tv`.
        algorithm: the round law the profile compares with: `"sd"` (standard SD) or
            `"exact_match"` (sample-and-match). It never decides the verdict.
        alpha: family-wise significance of the audit.
        tv: smallest TV to detect (planning, and the `inconclusive` rule).
        power: power at that TV.
        test: `"chi2"` or `"g"`.
        seed: seeds the drafts, the generator passed to `fn` and the auditor's completions.
        max_samples: cap on planned samples per case.
        on_progress: called with (case name, samples done so far) after every sample.

    Returns:
        The [`Audit`][specproof.audit.core.Audit]; each case is a configuration.
    """
    from . import token_law as tl

    if not callable(fn):
        raise ValueError(f"fn must be callable, got {type(fn).__name__}")
    seed = check_seed(seed)
    if n_samples is not None:
        check_int(n_samples, "n_samples")
    check_int(max_samples, "max_samples")
    check_real(alpha, "alpha", 0, 1, low_open=True, high_open=True)
    check_real(tv, "tv", 0, 1, low_open=True)
    check_real(power, "power", 0, 1, low_open=True, high_open=True)
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if cases is not None and (
        not isinstance(cases, Sequence) or not all(isinstance(c, Case) for c in cases)
    ):
        raise ValueError("cases must be a sequence of Case (see make_case and default_cases)")
    cases = list(default_cases(seed) if cases is None else cases)
    laws = [round_law(case, algorithm) for case in cases]
    tests_total = sum(2 + case.k for case in cases)
    configurations = []
    rng = np.random.default_rng(seed)
    completion_rng = np.random.default_rng([seed, 1])
    reference_name = "standard SD" if algorithm == "sd" else "sample-and-match"
    for case, law in zip(cases, laws, strict=True):
        tick = None if on_progress is None else progress_ticker(on_progress, case.name)
        reference_reach = tl.reach_probabilities(law.accept)
        pilot_size = 0
        n = n_samples
        samples = Samples()
        case_start = time.perf_counter()
        pilot_seconds = 0.0
        if n is None:
            level = alpha / tests_total
            planned = tl.plan_token_samples(
                case.target_probs, reference_reach, tv, level, power, max_samples
            )
            pilot_size = min(max(200, planned // 10), max_samples)
            samples = collect(fn, case, pilot_size, rng, tick)
            pilot_seconds = samples.implementation_seconds
            if samples.error is None:
                reach = tl.planning_reach(reference_reach, samples.outputs)
                n = tl.plan_token_samples(case.target_probs, reach, tv, level, power, max_samples)
        if samples.error is None and n is not None:
            samples = collect(fn, case, n, rng, tick)
        config = Configuration(
            name=case.name,
            n_samples=len(samples.outputs),
            error=samples.error,
            details={
                "vocab_size": case.vocab_size,
                "k": case.k,
                "exact_law": law.exact,
                "pilot_samples": pilot_size,
                "seconds": samples.seconds,
                "samples_per_second": len(samples.outputs) / samples.seconds
                if samples.seconds
                else None,
            },
        )
        if samples.error is None:
            config.tests = tl.token_tests(
                case.target_probs,
                samples.outputs,
                samples.mismatched_flags,
                completion_rng,
                test,
                delta=alpha,
            )
            config.path_tests = tl.path_tests(reference_reach, config.tests)
            config.details["paths"] = tl.path_counts(samples.outputs, case.k)
            config.details["round_law"] = tl.round_profile(
                test_case(law, samples, test, delta=alpha),
                law.accept,
                samples.outputs,
                alpha,
                reference_name,
            )
        drawn = len(samples.outputs) + (pilot_size if n is not None and n_samples is None else 0)
        config.details["timing"] = timing_summary(
            drawn,
            drawn,
            time.perf_counter() - case_start,
            samples.implementation_seconds + (pilot_seconds if drawn > len(samples.outputs) else 0),
        )
        configurations.append(config)
    return decide(configurations, alpha, tv, power)
