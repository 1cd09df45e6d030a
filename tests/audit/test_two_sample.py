"""Two-sample mode: its sample-size plan reaches the stated power; planned audits end to end.

False-failure rates are stated per test; each power statement has a negative control (the
one-sample plan of one arm, which the mode used before, falls short).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from specproof.audit.core import Configuration, decide
from specproof.audit.stats import (
    homogeneity,
    required_samples,
    required_samples_two_sample,
    two_sample_power,
)
from specproof.audit.two_sample import audit_two_sample, planned_dof


def worst_case_pair(cells: int, tv: float) -> tuple[np.ndarray, np.ndarray]:
    """Two laws at TV `tv` with the least homogeneity noncentrality (the Cauchy-Schwarz case):
    a uniform pooled law, every cell moved by the same amount, half up and half down."""
    delta = tv / cells
    signs = np.array([1.0, -1.0] * (cells // 2))
    return 1 / cells + delta * signs, 1 / cells - delta * signs


def _power_by_simulation(a, b, n, alpha, reps, rng):
    rejected = sum(
        homogeneity(rng.multinomial(n, a), rng.multinomial(n, b)).p_value <= alpha
        for _ in range(reps)
    )
    return rejected / reps


def test_the_worst_case_pair_is_at_the_stated_tv_and_reaches_the_bound():
    a, b = worst_case_pair(8, 0.1)
    assert 0.5 * np.abs(a - b).sum() == pytest.approx(0.1)
    n = 1000
    lam = n * float(((a - b) ** 2 / (a + b)).sum())  # two arms of n
    assert lam == pytest.approx(2 * n * 0.1**2)  # = the bound of two_sample_power


@pytest.mark.statistical
def test_two_sample_plan_reaches_its_stated_power_by_simulation():
    """At the planned size per arm, the worst-case pair at TV 0.1 (8 cells, no pooling) is
    rejected at alpha = 1e-3 in at least 0.9 (the stated power) of 1000 runs, minus 5 binomial
    standard deviations (false failure < 1e-6) and 0.02 (the noncentral approximation).
    Negative control: at the one-sample size of one arm (the old plan) the same simulation
    falls short of the stated power by more than that tolerance (computed power about 0.6)."""
    rng = np.random.default_rng(11)
    tv, alpha, target, dof, reps = 0.1, 1e-3, 0.9, 7, 1000
    a, b = worst_case_pair(dof + 1, tv)
    tolerance = 5 * math.sqrt(target * (1 - target) / reps) + 0.02
    n = required_samples_two_sample(tv, alpha, target, dof)
    assert min(a.min(), b.min()) * n >= 5  # no pooling at this size
    observed = _power_by_simulation(a, b, n, alpha, reps, rng)
    assert observed >= target - tolerance, (observed, n)
    # Negative control: the one-sample plan for one arm.
    n_one = required_samples(tv, alpha, target, dof)
    assert n_one < 0.6 * n
    predicted_short = two_sample_power(n_one, n_one, tv, alpha, dof)
    assert predicted_short < target - 2 * tolerance
    short = _power_by_simulation(a, b, n_one, alpha, reps, rng)
    assert short < target - tolerance, short


@pytest.mark.statistical
def test_two_sample_power_matches_simulation_on_a_non_worst_case_pair():
    """A pair that is not the worst case has at least the bound's power: over 1000 runs at
    alpha = 1e-3, the observed rejection rate is at least two_sample_power minus 5 binomial
    standard deviations and 0.02 (false failure < 1e-6)."""
    rng = np.random.default_rng(12)
    a = np.array([0.3, 0.25, 0.2, 0.1, 0.08, 0.05, 0.02])
    b = a + np.array([0.03, -0.02, -0.01, 0.01, -0.01, 0, 0])
    tv = 0.5 * float(np.abs(a - b).sum())
    n, alpha, reps = 1500, 1e-3, 1000
    bound = two_sample_power(n, n, tv, alpha, 6)
    observed = _power_by_simulation(a, b, n, alpha, reps, rng)
    assert observed >= bound - 5 * math.sqrt(bound * (1 - bound) / reps) - 0.02


def test_decide_plans_two_sample_configurations_per_arm():
    """`n_required` of a two-sample configuration is the two-sample size, about twice the
    one-sample one; the same counts judged as one-sample would be planned at half."""
    counts = np.array([300, 200, 250, 250])
    result = homogeneity(counts, counts)
    two = Configuration("two", tests={"joint": result}, n_samples=1000, plan="two-sample")
    one = Configuration("one", tests={"joint": result}, n_samples=1000)
    decide([two], 1e-6, 0.1, 0.99)
    decide([one], 1e-6, 0.1, 0.99)
    assert two.n_required == required_samples_two_sample(0.1, 1e-6, 0.99, result.dof)
    assert one.n_required == required_samples(0.1, 1e-6, 0.99, result.dof)
    assert 1.9 * one.n_required <= two.n_required <= 2.1 * one.n_required
    assert two.to_json()["plan"] == "two-sample" and one.to_json()["plan"] == "one-sample"


def test_planned_dof_counts_the_cells_that_survive_pooling():
    outputs = [(0,)] * 50 + [(1,)] * 45 + [(2,)] * 5  # frequencies 0.5, 0.45, 0.05
    assert planned_dof(outputs, 20) == 1  # expected 10, 9, 1: the last one pooled
    assert planned_dof(outputs, 200) == 2  # expected 100, 90, 10: nothing pooled
    assert planned_dof([], 100) == 1


def _sampler(law):
    def generate(prompt_ids, max_new_tokens, seed):
        rng = np.random.default_rng(seed)
        return [int(rng.choice(law.size, p=law)) for _ in range(max_new_tokens)]

    return generate


LAW = np.array([0.4, 0.3, 0.2, 0.1])


@pytest.mark.statistical
def test_a_planned_two_sample_audit_is_consistent_and_a_shifted_one_is_flagged():
    """Null: two arms of the same numpy sampler, planned for power 0.99 at TV 0.15: not
    flagged (false failure <= 1e-6), `consistent` because the plan reached `n_required`.
    Negative control: a sampler at TV 0.3 from the baseline (2 tokens), planned likewise, is
    flagged (the first token's homogeneity power at the planned size exceeds 1 - 1e-6)."""
    audit = audit_two_sample(_sampler(LAW), _sampler(LAW), [1], 4, None, 2, tv=0.15)
    (config,) = audit.configurations
    assert audit.verdict == "consistent", config.to_json()
    assert config.n_samples >= config.n_required
    assert config.n_required == required_samples_two_sample(0.15, 1e-6 / 2, 0.99, config.main.dof)
    assert config.details["pilot_samples"] > 0 and config.plan == "two-sample"
    shifted = np.array([0.1, 0.3, 0.2, 0.4])
    bad = audit_two_sample(_sampler(shifted), _sampler(LAW), [1], 4, None, 2, tv=0.15)
    (c,) = bad.configurations
    assert two_sample_power(c.n_samples, c.n_samples, 0.3, 1e-6 / 2, 3) > 1 - 1e-6
    assert bad.verdict == "not-lossless"


def test_audit_two_sample_refuses_bad_sizes():
    with pytest.raises(ValueError, match="n_samples"):
        audit_two_sample(_sampler(LAW), _sampler(LAW), [1], 4, None, 2, n_samples=0)
