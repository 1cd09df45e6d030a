r"""Sampler-level verdicts on the token law, path coverage, and the round-law profile.

**The criterion** (`specproof.reference.token_law`, claims `audit_token_law_lossless_rules`,
`audit_token_law_broken_controls_fail`, `audit_token_law_implies_lossless_generation`): a round
is lossless iff (a) every emitted token but the last equals its draft, and (b) the emitted
tokens $o_0..o_J$, completed with fresh draws $z_{J+1} \sim p_{J+1}, \dots, z_K \sim p_K$,
follow $p_0 \otimes \dots \otimes p_K$ marginally over the drafts and the coins. Equivalently
to (b): for every position $j$, the token emitted at $j$ given that the round reached $j$ and its
emitted prefix follows $p_j$. Standard SD, sample-and-match, the sequential-sibling rule and
draft-only stopping rules all satisfy it; their round laws differ.

**Tests per case** (the verdict rests on these only):

1. `token-joint`: the completed tuple (the auditor draws the completion with its own generator)
   against $\bigotimes_i p_i$; outcomes with expected count below `min_expected` pooled; an
   emitted token that breaks (a), or a token of target probability zero, is an impossible
   outcome;
2. `emitted@j` for $j = 0..K$: among the samples that reached position $j$, the token emitted
   there against $p_j$ (valid given which samples reached $j$: the per-position form of (b)).
   `emitted@K` is the bonus path (full acceptance).

**Path coverage.** Each `emitted@j` test is a *path*: "position j" for $j < K$ (a rejection at
$j$ or a later one) and "bonus (full acceptance)" for $j = K$. A path's conditional law is
covered when the samples that reached it reach the size at which its test has the stated power
at the stated TV; otherwise the case is `inconclusive`, naming the path
([`core.decide`][specproof.audit.core.decide]). The sample size is planned from a pilot run
(discarded: it only measures how often the implementation reaches each position), so that each
reachable path is covered, up to `max_samples`. A position that standard SD reaches with
probability zero on a case, and that the implementation never reached, is not a path of that
case.

**Round-law profile.** The old comparison with standard SD's round law (`joint`, `length`,
`last`, `accepted@i` of [`sampler.test_case`][specproof.audit.sampler.test_case]) still runs,
but only describes the implementation: `details["round_law"]` says whether its round law
differs from standard SD's and how (acceptance per position, observed vs standard SD). A
difference is never a loss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .stats import MIN_EXPECTED, FitResult, bonferroni_min, goodness_of_fit, required_samples

BONUS = "bonus (full acceptance)"


def path_name(j: int, k: int) -> str:
    """The name of the path of position `j` in a round of `k` drafts."""
    return BONUS if j == k else f"position {j}"


def product_outcomes(
    rows: np.ndarray, threshold: float, limit: int = 400_000
) -> dict[tuple[int, ...], float]:
    r"""Every tuple of $\bigotimes_i$ `rows[i]` with probability at least `threshold`."""
    frontier: dict[tuple[int, ...], float] = {(): 1.0}
    for row in rows:
        nxt: dict[tuple[int, ...], float] = {}
        for prefix, mass in frontier.items():
            ends = mass * row
            for y in np.flatnonzero((ends >= threshold) & (ends > 0)):
                nxt[(*prefix, int(y))] = float(ends[y])
            if len(nxt) > limit:
                raise ValueError(f"more than {limit} likely outcomes; raise the threshold")
        frontier = nxt
    return frontier


def reach_probabilities(accept: np.ndarray) -> np.ndarray:
    """P(the round reaches position j), j = 0..K, from per-position accepted masses `[K, V]`."""
    return np.cumprod(np.concatenate([[1.0], accept.sum(1)]))


def complete(
    outputs: Sequence[tuple[int, ...]], target_probs: np.ndarray, rng: np.random.Generator
) -> list[tuple[int, ...]]:
    """Each output completed to K+1 tokens with fresh draws from the following target rows."""
    k1, v = target_probs.shape
    cdf = np.cumsum(target_probs, axis=1)
    u = rng.random((len(outputs), k1))
    fresh = np.stack(
        [np.searchsorted(cdf[i], u[:, i] * cdf[i, -1], side="right") for i in range(k1)], axis=1
    ).clip(max=v - 1)
    return [(*out, *(int(t) for t in fresh[s, len(out) :])) for s, out in enumerate(outputs)]


def token_tests(
    target_probs: np.ndarray,
    outputs: Sequence[tuple[int, ...]],
    mismatched: Sequence[bool],
    rng: np.random.Generator,
    test: str = "chi2",
    min_expected: float = MIN_EXPECTED,
    delta: float = 1e-6,
) -> dict[str, FitResult]:
    """The token-law tests of the module docstring (`token-joint`, then `emitted@j`)."""
    n = len(outputs)
    k1, v = target_probs.shape
    likely = product_outcomes(target_probs, min_expected / max(n, 1))
    index = {o: i for i, o in enumerate(likely)}
    rest = max(1.0 - sum(likely.values()), 0.0)
    probs = np.array([*likely.values(), rest, 0.0])
    probs /= probs.sum()
    joint = np.zeros(probs.size, dtype=np.int64)
    emitted = np.zeros((k1, v), dtype=np.int64)
    for out, completed, bad in zip(
        outputs, complete(outputs, target_probs, rng), mismatched, strict=True
    ):
        for j, token in enumerate(out):
            emitted[j, token] += 1
        if bad:
            joint[-1] += 1
        elif completed in index:
            joint[index[completed]] += 1
        elif all(target_probs[i, t] > 0 for i, t in enumerate(completed)):
            joint[-2] += 1
        else:
            joint[-1] += 1
    labels = [" ".join(map(str, o)) for o in likely] + ["other outcomes", "impossible"]
    tests = {"token-joint": goodness_of_fit(joint, probs, test, min_expected, delta, labels)}
    for j in range(k1):
        tests[f"emitted@{j}"] = goodness_of_fit(
            emitted[j], target_probs[j], test, min_expected, delta
        )
    return tests


def plan_for_cells(
    cells_at: Callable[[int], int],
    tv: float,
    alpha: float,
    power: float,
    max_samples: int,
) -> int:
    """The smallest `n` (capped) at which a test with `cells_at(n)` cells has `power` at `tv`."""
    n = required_samples(tv, alpha, power, 1)
    for _ in range(60):
        needed = required_samples(tv, alpha, power, max(cells_at(n) - 1, 1))
        if needed <= n or n >= max_samples:
            break
        n = min(max_samples, max(needed, int(n * 1.05) + 1))
    return min(n, max_samples)


def cells_of(probs: np.ndarray, min_expected: float = MIN_EXPECTED) -> Callable[[int], int]:
    """Approximate tested cells of a test against `probs` at `n` samples (pooled tail: one cell)."""

    def cells(n: int) -> int:
        big = int(np.count_nonzero(n * probs >= min_expected))
        return big + (1 if np.any((probs > 0) & (n * probs < min_expected)) else 0)

    return cells


def plan_token_samples(
    target_probs: np.ndarray,
    reach: np.ndarray,
    tv: float,
    alpha: float,
    power: float,
    max_samples: int,
) -> int:
    """Samples so that the joint test and every reachable position's test are covered.

    `reach[j]` is the (estimated) probability of reaching position `j`; positions with
    `reach[j] == 0` are not paths and are left out.
    """

    def joint_cells(n: int) -> int:
        return len(product_outcomes(target_probs, MIN_EXPECTED / n)) + 1

    n = plan_for_cells(joint_cells, tv, alpha, power, max_samples)
    for j, r in enumerate(reach):
        if r <= 0:
            continue
        needed = plan_for_cells(cells_of(target_probs[j]), tv, alpha, power, max_samples)
        n = max(n, samples_to_reach(needed, float(r)))
    return min(n, max_samples)


def samples_to_reach(needed: int, rate: float, z: float = 4.0) -> int:
    """The `n` at which Binomial(n, rate) is at least `needed` unless `z` deviations below its mean."""
    if rate >= 1:
        return needed
    spread = math.sqrt(rate * (1 - rate))
    root = (z * spread + math.sqrt(z * z * spread * spread + 4 * rate * needed)) / (2 * rate)
    return math.ceil(root * root)


def planning_reach(reference: np.ndarray, pilot_outputs: Sequence[tuple[int, ...]]) -> np.ndarray:
    """Reach per position for planning: the pilot's, or less if the pilot saw a position rarely.

    The pilot's frequency is lowered to a 3-deviation lower bound. A position the pilot never
    reached but standard SD reaches is planned at half of one pilot sample's frequency (an
    optimistic guess; coverage is checked again after the run).
    """
    n = max(len(pilot_outputs), 1)
    lengths = np.array([len(o) for o in pilot_outputs], dtype=np.int64)
    reach = np.array([(lengths > j).sum() / n for j in range(reference.size)])
    # A lower confidence bound (3 deviations, at most halving the estimate) for a pilot estimate.
    lower = np.maximum(reach - 3 * np.sqrt(reach * (1 - reach) / n), reach / 2)
    guess = np.where(reference > 0, 0.5 / n, 0.0)
    return np.where(reach > 0, lower, guess)


def path_tests(reference_reach: np.ndarray, tests: dict[str, FitResult]) -> dict[str, str]:
    """`{path name: test name}` for every path of the case (reachable, or reached)."""
    k = reference_reach.size - 1
    return {
        path_name(j, k): f"emitted@{j}"
        for j in range(k + 1)
        if reference_reach[j] > 0 or tests[f"emitted@{j}"].n > 0
    }


def path_counts(outputs: Sequence[tuple[int, ...]], k: int) -> dict[str, Any]:
    """How often each path was exercised: rounds reaching and ending at each position."""
    lengths = np.bincount([len(o) for o in outputs], minlength=k + 2)[1:]
    ended = [int(x) for x in lengths]
    reached = [int(lengths[j:].sum()) for j in range(k + 1)]
    return {
        "reached": {path_name(j, k): reached[j] for j in range(k + 1)},
        "ended": {(BONUS if j == k else f"rejection at {j}"): ended[j] for j in range(k + 1)},
    }


def round_profile(
    round_tests: dict[str, FitResult],
    reference_accept: np.ndarray,
    outputs: Sequence[tuple[int, ...]],
    alpha: float,
    reference_name: str,
) -> dict[str, Any]:
    """`details["round_law"]`: does the round law differ from the reference's, and how."""
    k = reference_accept.shape[0]
    n = max(len(outputs), 1)
    lengths = np.array([len(o) for o in outputs], dtype=np.int64)
    observed = [float((lengths > j + 1).sum() / n) for j in range(k)]
    expected = [float(x) for x in reach_probabilities(reference_accept)[1:]]
    p_value = bonferroni_min([t.p_value for t in round_tests.values()])
    differs = p_value <= alpha
    if not differs:
        summary = f"consistent with {reference_name}'s round law"
    else:
        gaps = [o - e for o, e in zip(observed, expected, strict=True)]
        worst = max(range(k), key=lambda j: abs(gaps[j]))
        slack = 4 / math.sqrt(n)
        if abs(gaps[worst]) <= slack:
            how = "acceptance per position not distinguishable, other tokens per position"
        else:
            how = "lower acceptance" if gaps[worst] < 0 else "higher acceptance"
        summary = f"differs from {reference_name}: {how}"
    return {
        "reference": reference_name,
        "differs": differs,
        "p_value": p_value,
        "summary": summary,
        "acceptance_profile": {"observed": observed, "reference": expected},
        "tests": {name: t.p_value for name, t in round_tests.items()},
    }
