r"""Sampler-level audit cases: context-free target and draft rows on a dyadic grid.

Every case probability is an integer multiple of $2^{-20}$, so the float64 arrays the audited
function receives are exactly the rationals the reference computes the law from
([`sampler_law`][specproof.audit.sampler_law]). The drafts are drawn by the auditor,
$x_i \sim q_i$ independently (the rows do not depend on the drafts).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from specproof.reference.arguments import check_int

#: Case probabilities are integer multiples of 2**-DENOMINATOR_BITS (exact in float64).
DENOMINATOR_BITS = 20


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
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    v = check_int(v, "v", 2)
    k = check_int(k, "k")
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


def draw_drafts(case: Case, n: int, rng: np.random.Generator) -> np.ndarray:
    """`[n, K]` draft tokens, `x_i ~ q_i` independently (the rows are context-free)."""
    u = rng.random((n, case.k))
    cdf = np.cumsum(case.draft_probs, axis=1)
    drafts = np.empty((n, case.k), dtype=np.int64)
    for i in range(case.k):
        idx = np.searchsorted(cdf[i], u[:, i] * cdf[i, -1], side="right")
        drafts[:, i] = np.minimum(idx, case.vocab_size - 1)
    return drafts
