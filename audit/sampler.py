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

**The round law (profile only).** The auditor generates cases (rows $p_0..p_K$, $q_0..q_{K-1}$), draws the
drafts $x_i \sim q_i$ itself, calls the function $N$ times, and compares the *whole output
tuple* with its exact law. The rows do not depend on the drafts (context-free rows), so with
$A_i(x)$ = P(draft $x$ at $i$ and accept it), $R_i(y)$ = P(reject at $i$ and output $y$) and
$B(y)$ = P(bonus $y$):

$$P(\text{output} = (x_0, .., x_{j-1}, y)) = \prod_{i<j} A_i(x_i) \cdot
\begin{cases} R_j(y) & j < K \\ B(y) & j = K \end{cases}$$

so the number accepted $j$ and every token, the bonus token included, are in the law. For
standard SD $A_i = \min(p_i, q_i)$, $R_i = (p_i - q_i)_+$, $B = p_K$.

**Where the law comes from.** For $V \le 16$, $A_i$, $R_i$ and $B$ are computed exactly by the
reference (`Fraction` rows, `STANDARD_SD.position_law` and `bonus_law`, i.e. the pinned rule
integrated over its uniforms); case probabilities are multiples of $2^{-20}$, so the float64
arrays the function receives are exactly these rationals. Products over positions are then taken
in float64 (relative error below $10^{-14}$, far below anything a sample can detect). For larger
$V$ the same closed forms are evaluated in float64 (they are theorems of the reference,
`sd_position_law` in the proofs; a test checks float64 against the reference for small $V$).

**Round-law tests per case** (reported in `details["round_law"]`, never a verdict):

1. `joint`: every output tuple whose expected count is at least `min_expected` is its own
   cell, everything else one catch-all cell. For small $V$ and $K$ this is the full joint law;
   for large $V$ it is the joint law on the likely outcomes.
2. `length`: the number of accepted drafts ($K+1$ cells).
3. `last`: the pair (number accepted, last token) ($(K+1)V$ cells): the recovered and bonus
   tokens' laws, position by position, at any $V$.
4. `accepted@i` for each $i < K$: the token accepted at position $i$, or "not accepted there"
   ($V + 1$ cells).

Malformed outputs (wrong length, ids out of range,
non-integers) and exceptions make the case `crashed`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from .boundary import ImplementationCrashed, IsolatedFunction
from .collect import timing_summary
from .core import DEFAULT_POWER, DEFAULT_TV, Audit, Configuration, decide
from .stats import DEFAULT_ALPHA, MIN_EXPECTED, FitResult, goodness_of_fit, required_samples

SamplerFn = Callable[[np.ndarray, np.ndarray, np.ndarray, np.random.Generator], Sequence[int]]

#: Case probabilities are integer multiples of 2**-DENOMINATOR_BITS (exact in float64).
DENOMINATOR_BITS = 20
#: Largest vocabulary for which the law is computed in Fractions by the reference.
EXACT_MAX_VOCAB = 16
ALGORITHMS = ("sd", "exact_match")


@dataclass(frozen=True)
class Case:
    """One generated audit case: context-free target and draft rows.

    Attributes:
        name: a short description (family, V, K).
        target_probs: float64 `[K+1, V]`, every entry a multiple of 2**-20.
        draft_probs: float64 `[K, V]`, same.
    """

    name: str
    target_probs: np.ndarray
    draft_probs: np.ndarray

    @property
    def k(self) -> int:
        """Number of drafts."""
        return int(self.draft_probs.shape[0])

    @property
    def vocab_size(self) -> int:
        """Vocabulary size."""
        return int(self.target_probs.shape[1])


def _dyadic(weights: np.ndarray) -> np.ndarray:
    """Round non-negative weights to a distribution on the 2**-20 grid, keeping zeros zero."""
    total = 1 << DENOMINATOR_BITS
    w = np.asarray(weights, dtype=np.float64)
    counts = np.floor(w / w.sum() * total).astype(np.int64)
    positive = np.flatnonzero(w > 0)
    counts[positive] = np.maximum(counts[positive], 1)
    short = total - int(counts.sum())
    counts[int(np.argmax(counts))] += short
    if np.any(counts < 0):
        raise AssertionError("rounding produced a negative count")
    return counts.astype(np.float64) / total


def _row(rng: np.random.Generator, v: int, family: str) -> np.ndarray:
    if family == "point":
        w = np.zeros(v)
        w[rng.integers(v)] = 1.0
        return w
    w = rng.dirichlet(np.full(v, 0.5 if v <= 64 else 0.05))
    if family == "zeros":
        w[rng.random(v) < 0.4] = 0.0
        if w.sum() == 0:
            w[rng.integers(v)] = 1.0
    return w


def make_case(rng: np.random.Generator, v: int, k: int, family: str) -> Case:
    """Generate one case of a family.

    Families: `random` (Dirichlet rows), `zeros` (about 40% zero entries in every row),
    `point` (target and draft rows that are point masses, sometimes on the same token),
    `near-ties` (target = draft with a few entries moved by 2**-20..2**-12), `equal` (target
    rows equal to draft rows: acceptance certain, the residual all zero), `peaked` (one token
    holds most of the mass, the rest a long tail; for large V; the draft peaks on the target's
    token), `close` (target rows with about 40% zeros; each draft row is 3/4 of its target row
    plus 1/4 of a random row: high acceptance, so deep positions and the bonus are exercised,
    with rejections towards the target's zeros).

    Raises:
        ValueError: on an unknown family, `v < 2` or `k < 1`.
    """
    if v < 2 or k < 1:
        raise ValueError(f"need v >= 2 and k >= 1, got v={v}, k={k}")
    target = np.zeros((k + 1, v))
    draft = np.zeros((k, v))
    for i in range(k + 1):
        if family in ("random", "zeros", "point"):
            target[i] = _dyadic(_row(rng, v, family))
            if i < k:
                draft[i] = _dyadic(_row(rng, v, family))
                if family == "point" and rng.random() < 0.5:
                    draft[i] = target[i]
        elif family in ("near-ties", "equal"):
            base = _dyadic(_row(rng, v, "random"))
            target[i] = base
            if i < k:
                row = base.copy()
                if family == "near-ties":
                    for _ in range(3):
                        a, b = rng.choice(v, 2, replace=False)
                        step = min(row[a], 2.0 ** -int(rng.integers(12, DENOMINATOR_BITS + 1)))
                        row[a] -= step
                        row[b] += step
                draft[i] = row
        elif family == "peaked":
            peak = rng.integers(v)
            for row, j in ((target, i), (draft, i)):
                if row is draft and i == k:
                    continue
                w = rng.dirichlet(np.full(v, 0.02))
                w[peak] += 4.0
                row[j] = _dyadic(w)
        elif family == "close":
            target[i] = _dyadic(_row(rng, v, "zeros"))
            if i < k:
                draft[i] = _dyadic(0.75 * target[i] + 0.25 * _row(rng, v, "random"))
        else:
            raise ValueError(f"unknown case family {family!r}")
    return Case(f"{family} V={v} K={k}", target, draft)


#: The default case plan: (family, V, K).
#: Every case's positions are reached often enough that each path can be covered at the
#: default TV within `max_samples` (deep positions: `close` and `equal` rows).
DEFAULT_PLAN: tuple[tuple[str, int, int], ...] = (
    ("random", 2, 1),
    ("zeros", 3, 2),
    ("point", 4, 3),
    ("near-ties", 5, 2),
    ("equal", 4, 2),
    ("close", 8, 4),
    ("close", 6, 8),
    ("close", 64, 2),
    ("peaked", 1000, 3),
    ("close", 4096, 1),
)


def default_cases(seed: int = 0, plan: Sequence[tuple[str, int, int]] = DEFAULT_PLAN) -> list[Case]:
    """The default cases: zeros, point masses, near-ties, equal and close rows, V 2..4096, K 1..8."""
    rng = np.random.default_rng(seed)
    return [make_case(rng, v, k, family) for family, v, k in plan]


@dataclass(frozen=True)
class RoundLaw:
    r"""The exact law of one round's output tuple, as per-position factors (module docstring).

    Attributes:
        accept: `[K, V]`, $A_i(x)$ = P(draft $x$ at $i$ and accept it).
        reject: `[K, V]`, $R_i(y)$ = P(reject at $i$ and output $y$).
        bonus: `[V]`, $B(y)$.
        exact: whether the factors came from the reference in Fractions.
    """

    accept: np.ndarray
    reject: np.ndarray
    bonus: np.ndarray
    exact: bool

    @property
    def k(self) -> int:
        """Number of drafts."""
        return int(self.accept.shape[0])

    def prob(self, output: Sequence[int]) -> float:
        """The probability of one output tuple."""
        j = len(output) - 1
        p = 1.0
        for i in range(j):
            p *= float(self.accept[i, output[i]])
        last = self.bonus if j == self.k else self.reject[j]
        return p * float(last[output[-1]])

    def length_law(self) -> np.ndarray:
        """P(j drafts accepted), j = 0..K."""
        alive = np.cumprod(np.concatenate([[1.0], self.accept.sum(1)]))
        out = np.empty(self.k + 1)
        out[: self.k] = alive[: self.k] * self.reject.sum(1)
        out[self.k] = alive[self.k] * self.bonus.sum()
        return out

    def last_law(self) -> np.ndarray:
        """P(j accepted and last token y), shape `[(K+1) * V]` (row-major in j)."""
        alive = np.cumprod(np.concatenate([[1.0], self.accept.sum(1)]))
        rows = [alive[j] * self.reject[j] for j in range(self.k)] + [alive[self.k] * self.bonus]
        return np.concatenate(rows)

    def accepted_law(self, i: int) -> np.ndarray:
        """P(token x accepted at position i) for each x, then P(position i not accepted)."""
        alive = float(np.prod(self.accept[:i].sum(1))) if i else 1.0
        cells = alive * self.accept[i]
        return np.concatenate([cells, [max(0.0, 1.0 - float(cells.sum()))]])

    def likely_outcomes(
        self, threshold: float, limit: int = 400_000
    ) -> dict[tuple[int, ...], float]:
        """Every output tuple of probability at least `threshold` (at most `limit` of them)."""
        found: dict[tuple[int, ...], float] = {}
        frontier: list[tuple[tuple[int, ...], float]] = [((), 1.0)]
        for j in range(self.k + 1):
            last = self.bonus if j == self.k else self.reject[j]
            nxt: list[tuple[tuple[int, ...], float]] = []
            for prefix, mass in frontier:
                ends = mass * last
                for y in np.flatnonzero((ends >= threshold) & (ends > 0)):
                    found[(*prefix, int(y))] = mass * float(last[y])
                if j < self.k:
                    cont = mass * self.accept[j]
                    nxt.extend(
                        ((*prefix, int(x)), float(cont[x]))
                        for x in np.flatnonzero((cont >= threshold) & (cont > 0))
                    )
                if len(found) + len(nxt) > limit:
                    raise ValueError(f"more than {limit} likely outcomes; raise the threshold")
            frontier = nxt
        return found


def round_law(case: Case, algorithm: str = "sd", exact: bool | None = None) -> RoundLaw:
    """The exact per-position factors of `case` for `algorithm` (`"sd"` or `"exact_match"`).

    Args:
        case: the case.
        algorithm: the verifier whose law is the reference.
        exact: use the reference's Fractions (default: when V <= 16).

    Raises:
        ValueError: on an unknown algorithm.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if exact is None:
        exact = case.vocab_size <= EXACT_MAX_VOCAB
    if exact:
        return _reference_round_law(case, algorithm)
    p, q = case.target_probs, case.draft_probs
    k = case.k
    if algorithm == "sd":
        accept = np.minimum(p[:k], q)
        reject = np.maximum(p[:k] - q, 0.0)
    else:
        accept = p[:k] * q
        reject = p[:k] * (1.0 - q)
    return RoundLaw(accept, reject, p[k].copy(), exact=False)


def _to_dist(row: np.ndarray) -> Any:
    from specproof.reference import Dist

    scale = 1 << DENOMINATOR_BITS
    counts = [round(float(x) * scale) for x in row]
    if any(c / scale != float(x) for c, x in zip(counts, row, strict=True)):
        raise ValueError("case probabilities must be multiples of 2**-20 for the exact law")
    return Dist.over(list(range(len(row))), [Fraction(c, scale) for c in counts])


def _reference_round_law(case: Case, algorithm: str) -> RoundLaw:
    from specproof.reference import ACCEPT, get_verifier

    verifier = get_verifier(algorithm)
    k, v = case.k, case.vocab_size
    accept = np.zeros((k, v))
    reject = np.zeros((k, v))
    for i in range(k):
        target_row = _to_dist(case.target_probs[i])
        draft_row = _to_dist(case.draft_probs[i])
        acc = [Fraction(0)] * v
        rej = [Fraction(0)] * v
        for x, qx in verifier.draft_law(draft_row).items():
            for outcome, prob in verifier.position_law(target_row, draft_row, x).items():
                if outcome is ACCEPT:
                    acc[x] += qx * prob
                else:
                    rej[outcome] += qx * prob
        accept[i] = [float(f) for f in acc]
        reject[i] = [float(f) for f in rej]
    bonus_row = _to_dist(case.target_probs[k])
    law = verifier.bonus_law(bonus_row)
    bonus = np.array([float(law.get(y, 0)) for y in range(v)])
    return RoundLaw(accept, reject, bonus, exact=True)


def draw_drafts(case: Case, n: int, rng: np.random.Generator) -> np.ndarray:
    """`[n, K]` draft tokens, `x_i ~ q_i` independently (the rows are context-free)."""
    u = rng.random((n, case.k))
    cdf = np.cumsum(case.draft_probs, axis=1)
    drafts = np.empty((n, case.k), dtype=np.int64)
    for i in range(case.k):
        idx = np.searchsorted(cdf[i], u[:, i] * cdf[i, -1], side="right")
        drafts[:, i] = np.minimum(idx, case.vocab_size - 1)
    return drafts


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
    implementation_seconds: float = 0.0


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
        called = time.perf_counter()
        try:
            out = fn(target, draft, tokens, rng)
            samples.implementation_seconds += (
                fn.last_seconds
                if isinstance(fn, IsolatedFunction)
                else time.perf_counter() - called
            )
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


def test_case(
    law: RoundLaw,
    samples: Samples,
    test: str = "chi2",
    min_expected: float = MIN_EXPECTED,
    delta: float = DEFAULT_ALPHA,
) -> dict[str, FitResult]:
    """Run the case's tests (module docstring) on collected samples."""
    outputs = samples.outputs
    n = len(outputs)
    k, v = law.k, law.bonus.size
    likely = law.likely_outcomes(min_expected / max(n, 1))
    index = {o: i for i, o in enumerate(likely)}
    rest = 1.0 - sum(likely.values())
    probs = np.array([*likely.values(), max(rest, 0.0), 0.0])
    probs = probs / probs.sum()
    joint = np.zeros(probs.size, dtype=np.int64)
    length = np.zeros(k + 1, dtype=np.int64)
    last = np.zeros((k + 1) * v, dtype=np.int64)
    accepted = np.zeros((k, v + 1), dtype=np.int64)
    for out, mismatched in zip(outputs, samples.mismatched_flags, strict=True):
        j = len(out) - 1
        length[j] += 1
        last[j * v + out[-1]] += 1
        for i in range(k):
            accepted[i, out[i] if i < j else v] += 1
        if mismatched:
            joint[-1] += 1  # accepted tokens that differ from the drafts: impossible
        elif out in index:
            joint[index[out]] += 1
        elif law.prob(out) > 0:
            joint[-2] += 1
        else:
            joint[-1] += 1
    labels = [" ".join(map(str, o)) for o in likely] + ["other outcomes", "impossible"]
    tests = {
        "joint": goodness_of_fit(joint, probs, test, min_expected, delta, labels),
        "length": goodness_of_fit(length, _normalise(law.length_law()), test, min_expected, delta),
        "last": goodness_of_fit(last, _normalise(law.last_law()), test, min_expected, delta),
    }
    for i in range(k):
        tests[f"accepted@{i}"] = goodness_of_fit(
            accepted[i], _normalise(law.accepted_law(i)), test, min_expected, delta
        )
    return tests


def _normalise(law: np.ndarray) -> np.ndarray:
    law = np.clip(law, 0.0, None)
    return law / law.sum()


def plan_samples(
    law: RoundLaw,
    tv: float,
    alpha: float,
    power: float,
    min_expected: float = MIN_EXPECTED,
    max_samples: int = 1_000_000,
) -> int:
    """Samples for the joint test to reach `power` at TV `tv` and level `alpha` (capped).

    The joint test's degrees of freedom depend on how many outcomes reach `min_expected`
    at the sample size, so the size and the cell count are iterated to a fixed point.
    """
    n = required_samples(tv, alpha, power, 1)
    # More samples make more outcomes reach min_expected (more dof, more samples needed): grow
    # n until it covers the requirement at its own cell count.
    for _ in range(50):
        cells = len(law.likely_outcomes(min_expected / n)) + 1
        needed = required_samples(tv, alpha, power, max(cells - 1, 1))
        if needed <= n or n >= max_samples:
            break
        n = min(max_samples, max(needed, int(n * 1.05) + 1))
    return n


def _ticker(on_progress: Callable[[str, int], None], name: str) -> Callable[[], None]:
    done = [0]

    def tick() -> None:
        done[0] += 1
        on_progress(name, done[0])

    return tick


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

    cases = list(default_cases(seed) if cases is None else cases)
    if n_samples is not None and n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
    laws = [round_law(case, algorithm) for case in cases]
    tests_total = sum(2 + case.k for case in cases)
    configurations = []
    rng = np.random.default_rng(seed)
    completion_rng = np.random.default_rng([seed, 1])
    reference_name = "standard SD" if algorithm == "sd" else "sample-and-match"
    for case, law in zip(cases, laws, strict=True):
        tick = None if on_progress is None else _ticker(on_progress, case.name)
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
