r"""Generation level: the law of every output position, each given its prefix.

For each position $t < m$, the samples that produced a token at $t$ (not ended by
end-of-sequence before it) are grouped by their prefix $o_{<t}$; in each group the token at $t$
is compared with the target's processed next-token law after `prompt + prefix`, and the groups'
chi-square (or G) statistics and degrees of freedom are added (a *stratified* test: valid given
how many samples share each prefix, since each group is a multinomial sample of its own law).
Groups of fewer than `MIN_GROUP` samples are left out (their cells would all be pooled: no
degree of freedom). Cells are pooled within each group by the rule of
[`stats.pool`][specproof.audit.stats.pool]; a token of probability zero is an impossible outcome.

Each position is also a *path* of the configuration (`output position t`,
[`position_paths`][specproof.audit.positions.position_paths]): its test's `n` is how many
samples reached the position within a tested prefix group, and [`core.decide`][specproof.audit.core.decide] makes the
configuration `inconclusive` when a position was reached too rarely for its test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import stats as scipy_stats

from .stats import DEFAULT_ALPHA, MIN_EXPECTED, FitResult, pool, tv_bound_width

#: Prefix groups with fewer samples are not tested.
MIN_GROUP = 10


def stratified_fit(
    groups: Sequence[tuple[np.ndarray, np.ndarray]],
    test: str = "chi2",
    min_expected: float = MIN_EXPECTED,
    delta: float = DEFAULT_ALPHA,
) -> FitResult:
    """One test of several independent multinomial groups, each against its own law.

    Args:
        groups: `(counts, probs)` per group (same length within a group).
        test: `"chi2"` or `"g"`.
        min_expected: pooling threshold on expected counts (per group).
        delta: failure probability of the certified TV bound.

    Raises:
        ValueError: on an unknown test.

    Examples:
        >>> import numpy as np
        >>> r = stratified_fit([(np.array([50, 50]), np.array([0.5, 0.5]))] * 2)
        >>> (r.statistic, r.dof, r.n)
        (0.0, 2, 200)
    """
    if test not in ("chi2", "g"):
        raise ValueError(f"test must be 'chi2' or 'g', got {test!r}")
    statistic = 0.0
    dof = cells = impossible = n = 0
    deviation = 0.0
    for counts, probs in groups:
        size = int(counts.sum())
        if size == 0:
            continue
        n += size
        impossible += int(counts[probs == 0].sum())
        pooled = pool(size * probs, counts, min_expected)
        exp, got = pooled.expected, pooled.observed.astype(np.float64)
        cells += len(exp)
        dof += len(exp) - 1
        deviation += 0.5 * float(np.abs(got - exp).sum())
        if test == "chi2":
            statistic += float(((got - exp) ** 2 / exp).sum())
        else:
            nz = got > 0
            statistic += float(2 * (got[nz] * np.log(got[nz] / exp[nz])).sum())
    if n == 0:
        return FitResult(0.0, 0, 1.0, 0, 0, 0.0, 1.0, 0)
    if impossible:
        statistic, p_value = math.inf, 0.0
    elif dof == 0:
        p_value = 1.0
    else:
        p_value = float(scipy_stats.chi2.sf(statistic, dof))
    tv_hat = min(1.0, (deviation + impossible) / n)
    width = tv_bound_width(cells + (1 if impossible else 0), n, delta)
    return FitResult(
        statistic, dof, p_value, n, cells, tv_hat, min(1.0, tv_hat + width), impossible
    )


def position_tests(
    target: Any,
    prompt: Sequence[int],
    m: int,
    outputs: Sequence[tuple[int, ...]],
    test: str = "chi2",
    delta: float = DEFAULT_ALPHA,
) -> dict[str, FitResult]:
    """`position@t` for every `t < m`: the token at `t` given its prefix (module docstring).

    Args:
        target: a [`TargetLaw`][specproof.audit.target_law.TargetLaw].
        prompt: the prompt ids.
        m: the number of new tokens.
        outputs: the generated tuples (through end-of-sequence).
        test: `"chi2"` or `"g"`.
        delta: failure probability of the certified TV bounds.
    """
    v = target.vocab_size
    tests: dict[str, FitResult] = {}
    for t in range(m):
        by_prefix: dict[tuple[int, ...], np.ndarray] = {}
        for out in outputs:
            if len(out) > t:
                counts = by_prefix.setdefault(out[:t], np.zeros(v, dtype=np.int64))
                counts[out[t]] += 1
        kept = [(p, c) for p, c in by_prefix.items() if c.sum() >= MIN_GROUP]
        sequences = [(*prompt, *prefix) for prefix, _ in kept]
        rows = target.logits(sequences) if sequences else np.zeros((0, v))
        groups = [
            (counts, target.processing.probs(row, seq))
            for (_, counts), row, seq in zip(kept, rows, sequences, strict=True)
        ]
        tests[f"position@{t}"] = stratified_fit(groups, test, MIN_EXPECTED, delta)
    return tests


def position_paths(m: int, joint: bool = False) -> dict[str, str]:
    """`{"output position t": test}` for `t < m`: `position@t`, or `joint` when it was run.

    The joint law of all `m` tokens (small vocabularies) holds every position given its prefix,
    and its planned size already counts every cell; without it, each position's conditional
    test must be covered on its own (deep positions of high-entropy models need many samples).
    """
    return {f"output position {t}": "joint" if joint else f"position@{t}" for t in range(m)}
