"""Audit statistics: pooling, tests, TV bound, power, Holm; calibration under null and alternatives.

Statistical tests state their false-failure probability; each has a negative control.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from specproof.audit.stats import (
    goodness_of_fit,
    holm,
    homogeneity,
    pool,
    power,
    required_samples,
    tv_bound_width,
)


def test_pooling_rule():
    expected = np.array([10.0, 2.0, 1.0, 7.0, 0.0, 1.5])
    observed = np.array([9, 3, 0, 8, 0, 1])
    grouping = pool(expected, observed)
    # cells 1, 2, 5 (expected < 5) pooled; their sum 4.5 < 5 so merged with the smallest big
    # cell (3, expected 7); the zero cell 4 dropped.
    assert grouping.groups == ((0,), (1, 2, 3, 5))
    assert grouping.expected.tolist() == [10.0, 11.5]
    assert grouping.observed.tolist() == [9, 12]
    assert all(e >= 5 for e in grouping.expected)


def test_no_pooling_when_all_cells_are_large():
    grouping = pool(np.array([5.0, 6.0, 9.0]), np.array([1, 2, 3]))
    assert grouping.groups == ((0,), (1,), (2,))


@pytest.mark.parametrize("test, lambda_", [("chi2", "pearson"), ("g", "log-likelihood")])
def test_statistic_matches_scipy_without_pooling(test, lambda_):
    observed = np.array([30, 25, 20, 25])
    probs = np.array([0.3, 0.3, 0.2, 0.2])
    ours = goodness_of_fit(observed, probs, test)
    theirs = stats.power_divergence(observed, 100 * probs, lambda_=lambda_)
    assert ours.dof == 3
    assert math.isclose(ours.statistic, theirs.statistic, rel_tol=1e-12)
    assert math.isclose(ours.p_value, theirs.pvalue, rel_tol=1e-9)


def test_impossible_outcome_is_certain_rejection():
    result = goodness_of_fit([500, 499, 1], [0.5, 0.5, 0.0])
    assert result.impossible == 1 and result.p_value == 0.0
    assert goodness_of_fit([500, 500, 0], [0.5, 0.5, 0.0]).p_value > 0.5


def test_bad_input_is_refused_with_the_argument_named():
    with pytest.raises(ValueError, match="probs"):
        goodness_of_fit([1, 2], [0.5, 0.6])
    with pytest.raises(ValueError, match="observed"):
        goodness_of_fit([1, 2, 3], [0.5, 0.5])
    with pytest.raises(ValueError, match="test"):
        goodness_of_fit([1, 2], [0.5, 0.5], test="ks")
    with pytest.raises(ValueError, match="tv"):
        required_samples(0.0, 0.01, 0.9, 3)


def test_tv_bound_width_satisfies_the_weissman_inequality():
    # With eps = 2 * width (L1), (2^k - 2) exp(-N eps^2 / 2) <= delta.
    for k, n, delta in [(2, 100, 1e-3), (8, 10**5, 1e-6), (50, 5000, 0.05)]:
        eps = 2 * tv_bound_width(k, n, delta)
        assert math.log(2**k - 2) - n * eps * eps / 2 <= math.log(delta) + 1e-12


@pytest.mark.statistical
def test_tv_upper_bound_covers_the_true_tv():
    """False-failure probability: each bound fails w.p. <= delta = 1e-6; 300 runs: <= 3e-4."""
    rng = np.random.default_rng(0)
    p = np.array([0.4, 0.3, 0.2, 0.1])
    alternative = np.array([0.35, 0.3, 0.2, 0.15])
    true_tv = 0.05
    for _ in range(300):
        counts = rng.multinomial(2000, alternative)
        result = goodness_of_fit(counts, p, delta=1e-6)
        assert result.tv_upper >= true_tv
    # Negative control: the point estimate alone is below the true TV in some runs.
    below = sum(
        goodness_of_fit(rng.multinomial(2000, alternative), p).tv_hat < true_tv for _ in range(300)
    )
    assert below > 0


def test_holm_by_definition():
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([]) == []
    assert holm([1e-30, 0.5]) == pytest.approx([2e-30, 0.5])


def test_required_samples_is_the_smallest_with_enough_power():
    for tv, alpha, target, dof in [
        (0.01, 1e-6, 0.99, 7),
        (0.05, 0.01, 0.9, 100),
        (0.1, 1e-3, 0.5, 1),
    ]:
        n = required_samples(tv, alpha, target, dof)
        assert power(n, tv, alpha, dof) >= target - 1e-9
        assert power(n - 1, tv, alpha, dof) < target


def _rejection_rate(rng, probs, sampling, n, reps, alpha, test):
    draws = rng.multinomial(n, sampling, size=reps)
    return sum(goodness_of_fit(x, probs, test).p_value <= alpha for x in draws)


# A law with small cells so that the pooling rule is exercised at n = 400.
NULL_LAW = np.array([0.3, 0.2, 0.15, 0.12, 0.1, 0.06, 0.04, 0.02, 0.006, 0.004])


@pytest.mark.statistical
@pytest.mark.parametrize("test", ["chi2", "g"])
def test_false_failure_rate_under_the_null_is_at_most_alpha(test):
    """2000 runs at alpha = 0.05: rejections must stay below the binomial(2000, 0.05) 1e-6
    upper quantile (false-failure probability of this assertion <= 1e-6 if calibrated)."""
    rng = np.random.default_rng(1)
    reps, alpha = 2000, 0.05
    rejected = _rejection_rate(rng, NULL_LAW, NULL_LAW, 400, reps, alpha, test)
    assert rejected <= stats.binom.isf(1e-6, reps, alpha)
    # Negative control: a shifted law is rejected far more often than alpha.
    shifted = NULL_LAW.copy()
    shifted[0] -= 0.05
    shifted[1] += 0.05
    assert _rejection_rate(rng, NULL_LAW, shifted, 400, reps, alpha, test) > 3 * alpha * reps


@pytest.mark.statistical
@pytest.mark.parametrize("scale", [1.0, 1.5])
def test_power_matches_the_computed_power(scale):
    """Local alternatives (no pooling): the observed power over 2000 runs is within 5 binomial
    standard deviations (false failure < 1e-6) plus 0.02 (noncentral approximation) of
    ncx2.sf(crit, dof, N * chi2-divergence); and at least the worst-case bound power(N, TV)."""
    rng = np.random.default_rng(2)
    p = np.array([0.3, 0.25, 0.2, 0.1, 0.08, 0.05, 0.02])
    alternative = p + scale * np.array([0.02, -0.01, -0.01, 0.005, -0.005, 0, 0])
    n, alpha, reps = 2000, 0.01, 2000
    lam = n * float(((alternative - p) ** 2 / p).sum())
    predicted = stats.ncx2.sf(stats.chi2.isf(alpha, 6), 6, lam)
    observed = _rejection_rate(rng, p, alternative, n, reps, alpha, "chi2") / reps
    tolerance = 5 * math.sqrt(predicted * (1 - predicted) / reps) + 0.02
    assert abs(observed - predicted) <= tolerance
    tv = 0.5 * float(np.abs(alternative - p).sum())
    assert observed >= power(n, tv, alpha, 6) - tolerance


@pytest.mark.statistical
def test_homogeneity_calibration_and_teeth():
    """Null: 1000 runs at alpha = 0.05 stay below the binomial 1e-6 upper quantile.
    Alternative (TV 0.1, 2000 per arm): rejected in every one of 20 runs at alpha = 1e-6
    (computed power > 0.999 for each; false failure < 20 * 1e-3)."""
    rng = np.random.default_rng(3)
    p = NULL_LAW
    reps = 1000
    rejected = sum(
        homogeneity(rng.multinomial(500, p), rng.multinomial(700, p)).p_value <= 0.05
        for _ in range(reps)
    )
    assert rejected <= stats.binom.isf(1e-6, reps, 0.05)
    q = p.copy()
    q[0] -= 0.1
    q[2] += 0.1
    # Two arms of n: noncentrality (n/2) * sum (p - q)^2 / ((p + q) / 2).
    lam = 1000 * float(((p - q) ** 2 / ((p + q) / 2)).sum())
    assert stats.ncx2.sf(stats.chi2.isf(1e-6, 9), 9, lam) > 0.999
    for _ in range(20):
        assert homogeneity(rng.multinomial(2000, p), rng.multinomial(2000, q)).p_value <= 1e-6


def test_statistics_import_without_torch():
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'torch' or name.startswith('torch.'):\n"
        "            raise ImportError('torch is blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import specproof.audit, specproof.audit.stats, specproof.audit.sampler\n"
        "import specproof.audit.controls, specproof.audit.core\n"
        "from specproof.audit.controls import standard_sd\n"
        "from specproof.audit.sampler import audit_sampler, default_cases\n"
        "audit_sampler(standard_sd, default_cases()[:2], n_samples=50)\n"
        "assert not any(m == 'torch' or m.startswith('torch.') for m in sys.modules)\n"
        "print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
