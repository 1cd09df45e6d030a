r"""The exact round law of a sampler-level case, and the round-law tests (a profile only).

**The round law (profile only).** The auditor generates cases (rows $p_0..p_K$,
$q_0..q_{K-1}$), draws the drafts $x_i \sim q_i$ itself, calls the function $N$ times, and compares the *whole output
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

"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from .sampler_cases import DENOMINATOR_BITS, Case
from .sampler_collect import Samples
from .stats import DEFAULT_ALPHA, MIN_EXPECTED, FitResult, goodness_of_fit, required_samples

#: Largest vocabulary for which the law is computed in Fractions by the reference.
EXACT_MAX_VOCAB = 16
ALGORITHMS = ("sd", "exact_match")


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
