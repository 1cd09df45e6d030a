r"""Calibrated statistics for losslessness audits (numpy and scipy only; no torch).

Everything an audit verdict rests on lives here (one module on purpose, a little over the
450-line rule: the tests, their power and sample sizes are read together):

- **Goodness of fit against an exact law** ([`goodness_of_fit`][specproof.audit.stats.goodness_of_fit]):
  Pearson's chi-square or the G-test (likelihood ratio) on counts of outcomes. *Pooling rule*:
  every cell whose expected count $N p_i$ is below `min_expected` (default 5) is merged into one
  pooled cell; if the pooled cell's expected count is itself still below `min_expected`, it is
  merged with the smallest remaining cell, until every cell reaches `min_expected` (or one cell
  is left). Cells of probability exactly zero are never pooled: one observation there is an
  *impossible outcome*, a certain violation (p-value 0), whatever the sample size.
- **Degrees of freedom**: cells after pooling minus one.
- **TV**: the point estimate $\widehat{TV} = \tfrac12\sum_i |\hat p_i - p_i|$ over the tested
  (pooled) cells, and a certified upper bound from the $L_1$ deviation inequality of Weissman,
  Ordentlich, Seroussi, Verdú and Weinberger (2003), $P(\|\hat p - p\|_1 \ge \varepsilon) \le
  (2^k - 2) e^{-N\varepsilon^2/2}$ for $k$ cells: with probability at least $1 - \delta$,
  $TV(\text{implementation}, \text{reference}) \le \widehat{TV} + \sqrt{(k \ln 2 + \ln(1/\delta))/(2N)}$
  (TV over the tested cells, which is at most the TV over all outcomes).
- **Power and sample size**: for any alternative whose TV from the reference on the tested cells
  is at least $\varepsilon$, Cauchy–Schwarz gives $\sum_i (p'_i - p_i)^2/p_i \ge 4\varepsilon^2$,
  so the chi-square statistic's noncentrality is at least $\lambda = 4N\varepsilon^2$; the power
  is then at least $P(\chi^2_{\mathrm{dof}}(\lambda) > \chi^2_{\mathrm{dof}, 1-\alpha})$ (the
  usual noncentral chi-square approximation). [`required_samples`][specproof.audit.stats.required_samples]
  inverts that.
- **Multiple configurations**: Holm's step-down correction
  ([`holm`][specproof.audit.stats.holm]) controls the family-wise error rate at $\alpha$
  over all configurations of an audit, under any dependence.
- **Two-sample mode** ([`homogeneity`][specproof.audit.stats.homogeneity]): chi-square
  test of homogeneity of two count vectors (e.g. speculative vs plain sampling of one model),
  with the same pooling rule applied to the pooled-sample expected counts. *Its power* is not
  the one-sample power of one arm: with arms of $N_a$ and $N_b$ samples from laws $a$ and $b$,
  the statistic's noncentrality is $\lambda = \frac{N_a N_b}{N_a + N_b} \sum_i (a_i - b_i)^2 /
  \bar\pi_i$ ($\bar\pi$ the pooled law), and Cauchy–Schwarz with $\sum_i |a_i - b_i| = 2\varepsilon$
  gives $\lambda \ge 4\varepsilon^2 N_a N_b / (N_a + N_b)$, i.e. $2N\varepsilon^2$ for two arms of
  $N$: half the one-sample noncentrality, so about twice the samples *per arm*
  ([`two_sample_power`][specproof.audit.stats.two_sample_power],
  [`required_samples_two_sample`][specproof.audit.stats.required_samples_two_sample]). The
  bound is reached (a worst case exists): two laws that differ by the same relative amount on
  every cell, e.g. $a_i = 1/k + \delta$, $b_i = 1/k - \delta$ on half the cells of a uniform
  $\bar\pi$, the signs swapped on the other half.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from specproof.reference.arguments import check_int, check_real

#: Default significance per verdict (family-wise, after the Holm correction).
DEFAULT_ALPHA = 1e-6
#: Cells with expected count below this are pooled.
MIN_EXPECTED = 5.0
TESTS = ("chi2", "g")


@dataclass(frozen=True)
class Pooling:
    """How outcome cells were grouped for a test.

    Attributes:
        groups: `groups[j]` lists the original cell indices merged into tested cell `j`.
        expected: the expected count of each tested cell.
        observed: the observed count of each tested cell.
    """

    groups: tuple[tuple[int, ...], ...]
    expected: np.ndarray
    observed: np.ndarray


@dataclass(frozen=True)
class FitResult:
    """The result of one goodness-of-fit (or homogeneity) test.

    Attributes:
        statistic: the chi-square or G statistic (`inf` when an impossible outcome was seen).
        dof: degrees of freedom (tested cells minus one).
        p_value: the p-value (0 when an impossible outcome was seen).
        n: the number of samples.
        cells: the number of tested cells after pooling.
        tv_hat: the TV point estimate over the tested cells.
        tv_upper: the certified TV upper bound (probability `1 - delta`).
        impossible: how many samples fell on outcomes of probability zero.
        expected: expected frequencies of the tested cells (sum 1).
        observed: observed frequencies of the tested cells (sum 1).
        labels: a label per tested cell (for plots and reports).
    """

    statistic: float
    dof: int
    p_value: float
    n: int
    cells: int
    tv_hat: float
    tv_upper: float
    impossible: int
    expected: tuple[float, ...] = ()
    observed: tuple[float, ...] = ()
    labels: tuple[str, ...] = ()


def _check_alpha(alpha: float, what: str = "alpha") -> float:
    return check_real(alpha, what, 0, 1, low_open=True, high_open=True)


def _check_tv(tv: float) -> float:
    return check_real(tv, "tv", 0, 1, low_open=True)


def _check_probs(probs: Sequence[float] | np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(probs, dtype=np.float64)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{what} must hold finite, non-negative numbers")
    total = float(arr.sum())
    if abs(total - 1.0) > 1e-9:
        raise ValueError(f"{what} must sum to 1 (within 1e-9), got {total!r}")
    return arr


def _check_counts(counts: Sequence[int] | np.ndarray, size: int, what: str) -> np.ndarray:
    arr = np.asarray(counts)
    if arr.shape != (size,):
        raise ValueError(f"{what} must have shape ({size},), got {arr.shape}")
    if arr.size and (not np.issubdtype(arr.dtype, np.integer) or np.any(arr < 0)):
        raise ValueError(f"{what} must hold non-negative integers")
    return arr.astype(np.int64)


def pool(expected: np.ndarray, observed: np.ndarray, min_expected: float = MIN_EXPECTED) -> Pooling:
    """Group cells by the pooling rule of this module (see the module docstring).

    Cells of expected count exactly zero are dropped here (the caller counts observations there
    as impossible outcomes).

    Args:
        expected: expected counts per cell.
        observed: observed counts per cell, same shape.
        min_expected: the smallest expected count a tested cell may have.
    """
    expected = np.asarray(expected, dtype=np.float64)
    observed = np.asarray(observed)
    positive = np.flatnonzero(expected > 0)
    big = [int(i) for i in positive if expected[i] >= min_expected]
    small = [int(i) for i in positive if expected[i] < min_expected]
    groups: list[list[int]] = [[i] for i in big]
    if small:
        groups.append(small)
    while len(groups) > 1:
        sums = [float(expected[g].sum()) for g in groups]
        pooled = int(np.argmin(sums))
        if sums[pooled] >= min_expected:
            break
        rest = [j for j in range(len(groups)) if j != pooled]
        partner = min(rest, key=lambda j: sums[j])
        merged = groups[pooled] + groups[partner]
        groups = [g for j, g in enumerate(groups) if j not in (pooled, partner)] + [merged]
    groups.sort(key=min)
    return Pooling(
        groups=tuple(tuple(sorted(g)) for g in groups),
        expected=np.array([expected[g].sum() for g in groups], dtype=np.float64),
        observed=np.array([observed[g].sum() for g in groups], dtype=np.int64),
    )


def tv_bound_width(cells: int, n: int, delta: float) -> float:
    r"""Half-width $\sqrt{(k \ln 2 + \ln(1/\delta))/(2N)}$ of the certified TV bound (Weissman et al. 2003).

    Args:
        cells: number of cells $k$ the law is tested on.
        n: number of samples $N$.
        delta: failure probability of the bound.
    """
    delta = _check_alpha(delta, "delta")
    if n <= 0:
        return 1.0
    return math.sqrt((cells * math.log(2) + math.log(1 / delta)) / (2 * n))


def goodness_of_fit(
    observed: Sequence[int] | np.ndarray,
    probs: Sequence[float] | np.ndarray,
    test: str = "chi2",
    min_expected: float = MIN_EXPECTED,
    delta: float = DEFAULT_ALPHA,
    labels: Sequence[str] | None = None,
) -> FitResult:
    """Test observed counts against an exact law (one-sample).

    Args:
        observed: counts per outcome cell.
        probs: the reference probability of each cell (float64; sums to 1). The last cell may
            be a catch-all "every other outcome" cell.
        test: `"chi2"` (Pearson) or `"g"` (likelihood ratio).
        min_expected: pooling threshold on expected counts.
        delta: failure probability of the certified TV bound.
        labels: optional label per cell (pooled cells get a combined label).

    Returns:
        The [`FitResult`][specproof.audit.stats.FitResult].

    Raises:
        ValueError: on a bad `test`, probabilities that are not a distribution, or counts of the
            wrong shape.

    Examples:
        >>> r = goodness_of_fit([50, 50], [0.5, 0.5])
        >>> (r.statistic, r.dof, r.p_value)
        (0.0, 1, 1.0)
        >>> goodness_of_fit([99, 1], [1.0, 0.0]).impossible  # an outcome of probability zero
        1
    """
    if test not in TESTS:
        raise ValueError(f"test must be one of {TESTS}, got {test!r}")
    min_expected = check_real(min_expected, "min_expected", 0, math.inf, high_open=True)
    p = _check_probs(probs, "probs")
    obs = _check_counts(observed, p.size, "observed")
    n = int(obs.sum())
    impossible = int(obs[p == 0].sum())
    names = list(labels) if labels is not None else [str(i) for i in range(p.size)]
    if len(names) != p.size:
        raise ValueError(f"labels must have length {p.size}, got {len(names)}")
    pooled = pool(n * p, obs, min_expected) if n > 0 else Pooling(((),), np.ones(1), np.zeros(1))
    cells = len(pooled.groups)
    dof = max(cells - 1, 0)
    if n == 0:
        return FitResult(0.0, dof, 1.0, 0, cells, 0.0, 1.0, 0)
    exp = pooled.expected
    got = pooled.observed.astype(np.float64)
    if impossible:
        statistic, p_value = math.inf, 0.0
    elif dof == 0:
        statistic, p_value = 0.0, 1.0
    elif test == "chi2":
        statistic = float(((got - exp) ** 2 / exp).sum())
        p_value = float(stats.chi2.sf(statistic, dof))
    else:
        nz = got > 0
        statistic = float(2 * (got[nz] * np.log(got[nz] / exp[nz])).sum())
        p_value = float(stats.chi2.sf(statistic, dof))
    exp_freq = exp / n
    obs_freq = got / n
    # Observations on impossible outcomes count fully towards the TV estimate.
    tv_hat = 0.5 * (float(np.abs(obs_freq - exp_freq).sum()) + impossible / n)
    tv_hat = min(tv_hat, 1.0)
    tv_upper = min(1.0, tv_hat + tv_bound_width(cells + (1 if impossible else 0), n, delta))
    cell_labels = tuple(names[g[0]] if len(g) == 1 else f"{len(g)} pooled" for g in pooled.groups)
    return FitResult(
        statistic=statistic,
        dof=dof,
        p_value=p_value,
        n=n,
        cells=cells,
        tv_hat=tv_hat,
        tv_upper=tv_upper,
        impossible=impossible,
        expected=tuple(float(x) for x in exp_freq),
        observed=tuple(float(x) for x in obs_freq),
        labels=cell_labels,
    )


def homogeneity(
    counts_a: Sequence[int] | np.ndarray,
    counts_b: Sequence[int] | np.ndarray,
    min_expected: float = MIN_EXPECTED,
    delta: float = DEFAULT_ALPHA,
    labels: Sequence[str] | None = None,
) -> FitResult:
    r"""Two-sample chi-square test that two count vectors come from one law.

    Used when no exact law is available (speculative vs plain sampling of the same model).
    Cells are pooled by the rule of this module applied to the smaller of the two expected
    counts of each cell under the null (pooled proportions). `tv_hat` is the TV between the two
    empirical laws; `tv_upper` bounds the TV between the two true laws by
    $\widehat{TV} + w(N_a) + w(N_b)$, each $w$ the one-sample width at $\delta/2$.

    Raises:
        ValueError: if the shapes differ or an arm is empty.

    Examples:
        >>> homogeneity([30, 70], [30, 70]).p_value
        1.0
    """
    a = np.asarray(counts_a)
    b = _check_counts(counts_b, a.size, "counts_b")
    a = _check_counts(a, a.size, "counts_a")
    n_a, n_b = int(a.sum()), int(b.sum())
    if n_a == 0 or n_b == 0:
        raise ValueError(f"both arms need samples, got {n_a} and {n_b}")
    total = a + b
    share = total / (n_a + n_b)
    smaller = min(n_a, n_b) * share
    grouping = pool(smaller, total, min_expected)
    ga = np.array([a[list(g)].sum() for g in grouping.groups], dtype=np.float64)
    gb = np.array([b[list(g)].sum() for g in grouping.groups], dtype=np.float64)
    cells = len(grouping.groups)
    dof = cells - 1
    if dof == 0:
        statistic, p_value = 0.0, 1.0
    else:
        table = np.vstack([ga, gb])
        expected = table.sum(0, keepdims=True) * table.sum(1, keepdims=True) / table.sum()
        statistic = float(((table - expected) ** 2 / expected).sum())
        p_value = float(stats.chi2.sf(statistic, dof))
    fa, fb = ga / n_a, gb / n_b
    tv_hat = 0.5 * float(np.abs(fa - fb).sum())
    width = tv_bound_width(cells, n_a, delta / 2) + tv_bound_width(cells, n_b, delta / 2)
    names = list(labels) if labels is not None else [str(i) for i in range(a.size)]
    return FitResult(
        statistic=statistic,
        dof=dof,
        p_value=p_value,
        n=n_a + n_b,
        cells=cells,
        tv_hat=tv_hat,
        tv_upper=min(1.0, tv_hat + width),
        impossible=0,
        expected=tuple(float(x) for x in fb),
        observed=tuple(float(x) for x in fa),
        labels=tuple(names[g[0]] if len(g) == 1 else f"{len(g)} pooled" for g in grouping.groups),
    )


def power(n: int, tv: float, alpha: float, dof: int) -> float:
    r"""Lower bound on the chi-square test's power against every alternative at TV $\ge$ `tv`.

    $P(\chi^2_{\mathrm{dof}}(4 N \mathrm{tv}^2) > \chi^2_{\mathrm{dof},1-\alpha})$, the noncentral
    chi-square approximation with the least noncentrality any such alternative can have.

    Examples:
        >>> round(power(100_000, 0.01, 0.05, 1), 3)
        1.0
    """
    n = check_int(n, "n", 0)
    tv = _check_tv(tv)
    alpha = _check_alpha(alpha)
    if check_int(dof, "dof", 0) == 0:
        return 0.0
    crit = stats.chi2.isf(alpha, dof)
    return float(stats.ncx2.sf(crit, dof, 4 * n * tv * tv))


def noncentrality_for_power(alpha: float, target_power: float, dof: int) -> float:
    """The noncentrality at which the level-`alpha` chi-square test with `dof` has `target_power`."""
    return _noncentrality_for_power(
        _check_alpha(alpha), _check_alpha(target_power, "target_power"), check_int(dof, "dof")
    )


@functools.lru_cache(maxsize=4096)
def _noncentrality_for_power(alpha: float, target_power: float, dof: int) -> float:
    # Cached: an audit plans every case, path and cell with the same few (alpha, power, dof),
    # and each root search evaluates the noncentral chi-square a few dozen times (it was about
    # 45% of the time of a small in-process sampler audit).
    crit = stats.chi2.isf(alpha, dof)
    if stats.chi2.sf(crit, dof) >= target_power:
        return 0.0

    def gap(lam: float) -> float:
        return float(stats.ncx2.sf(crit, dof, lam)) - target_power

    high = 1.0
    while gap(high) < 0:
        high *= 2
    return float(optimize.brentq(gap, 0.0, high, xtol=1e-6))


def required_samples(tv: float, alpha: float, target_power: float, dof: int) -> int:
    r"""Samples needed for power `target_power` against every alternative at TV $\ge$ `tv`.

    The smallest $N$ with $4N\,\mathrm{tv}^2 \ge \lambda^*$, where $\lambda^*$ is the
    noncentrality giving `target_power` at level `alpha` with `dof` degrees of freedom.

    Raises:
        ValueError: if `tv` is not in (0, 1] or `alpha`/`target_power` not in (0, 1).

    Examples:
        >>> n = required_samples(0.01, 1e-6, 0.99, 7)
        >>> power(n, 0.01, 1e-6, 7) >= 0.99 > power(n - 100, 0.01, 1e-6, 7)
        True
    """
    tv = _check_tv(tv)
    lam = noncentrality_for_power(alpha, target_power, dof)
    return max(1, math.ceil(lam / (4 * tv * tv)))


def two_sample_power(n_a: int, n_b: int, tv: float, alpha: float, dof: int) -> float:
    r"""Lower bound on the homogeneity test's power against every pair of laws at TV $\ge$ `tv`.

    $P(\chi^2_{\mathrm{dof}}(\lambda) > \chi^2_{\mathrm{dof},1-\alpha})$ with the least
    noncentrality any such pair can have, $\lambda = 4\,\mathrm{tv}^2 N_a N_b / (N_a + N_b)$
    (the module docstring; $2 N \mathrm{tv}^2$ for two arms of $N$).

    Args:
        n_a: samples of the first arm.
        n_b: samples of the second arm.
        tv: the TV between the two arms' laws.
        alpha: the test's level.
        dof: the test's degrees of freedom (tested cells minus one).

    Examples:
        >>> one, two = power(1000, 0.1, 1e-3, 5), two_sample_power(1000, 1000, 0.1, 1e-3, 5)
        >>> two < one  # two arms of N detect less than N samples against an exact law
        True
    """
    alpha = _check_alpha(alpha)
    if dof < 1 or n_a <= 0 or n_b <= 0:
        return 0.0
    crit = stats.chi2.isf(alpha, dof)
    lam = 4 * tv * tv * n_a * n_b / (n_a + n_b)
    return float(stats.ncx2.sf(crit, dof, lam))


def required_samples_two_sample(tv: float, alpha: float, target_power: float, dof: int) -> int:
    r"""Samples *per arm* (two equal arms) for power `target_power` at TV $\ge$ `tv`.

    The smallest $N$ with $2N\,\mathrm{tv}^2 \ge \lambda^*$, $\lambda^*$ as in
    [`required_samples`][specproof.audit.stats.required_samples]: about twice the one-sample
    size.

    Args:
        tv: the smallest TV between the arms' laws to detect, in (0, 1].
        alpha: the test's level.
        target_power: the power wanted at that TV.
        dof: the test's degrees of freedom.

    Raises:
        ValueError: if `tv` is not in (0, 1] or `alpha`/`target_power` not in (0, 1).

    Examples:
        >>> n = required_samples_two_sample(0.05, 1e-6, 0.99, 7)
        >>> two_sample_power(n, n, 0.05, 1e-6, 7) >= 0.99 > two_sample_power(n - 10, n - 10, 0.05, 1e-6, 7)
        True
    """
    if not 0 < tv <= 1:
        raise ValueError(f"tv must lie in (0, 1], got {tv!r}")
    lam = noncentrality_for_power(alpha, target_power, dof)
    return max(1, math.ceil(lam / (2 * tv * tv)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control under any dependence).

    Reject hypothesis `i` at family-wise level alpha iff `adjusted[i] <= alpha`.

    Examples:
        >>> holm([0.01, 0.04, 0.03])
        [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def bonferroni_min(p_values: Sequence[float]) -> float:
    """One p-value for a family of tests of one configuration: `min(1, m * min(p))`."""
    if not p_values:
        return 1.0
    return min(1.0, len(p_values) * min(p_values))
