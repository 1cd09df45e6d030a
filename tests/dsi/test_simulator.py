"""The offline simulator: reproduction targets, exact expectations, couplings, bad input.

Statistical tests here compare means of independent paths with a normal approximation: a check
`|x - y| <= z * se` with z = 4.5 fails by chance with probability about 7e-6 per comparison when
the code is right (and the seeds are fixed, so a run is deterministic). Each has a negative
control (a deliberately wrong formula) that the same check must reject.
"""

from __future__ import annotations

import math
from fractions import Fraction as F

import numpy as np
import pytest

from specproof.dsi.simulator import (
    accepted_counts,
    dsi_costs,
    si_costs,
    simulate,
    simulate_lanes,
)
from specproof.proofs.dsi_paths import scalar_dsi_cost, scalar_si_cost
from specproof.reference import dsi as ref

Z = 4.5

# The reference figures of design.md (S = 1000, 5 repeats): (c, a, K) -> (SI, DSI, non-SI).
REFERENCE = {
    (0.10, 0.90, 5): (319.0, 220.0, 1000.0),
    (0.05, 0.63, 5): (501.0, 444.0, 1000.0),
    (0.50, 0.50, 1): (1004.0, 881.0, 1000.0),
    (0.90, 0.30, 3): (2623.0, 1000.0, 1000.0),
}


def _path_std(c, a, k, seed=123, repeats=2000):
    sim = simulate(c, a, k, tokens=1000, repeats=repeats, seed=seed)
    return sim.costs.si.std(ddof=1), sim.costs.dsi.std(ddof=1)


@pytest.mark.parametrize("config", sorted(REFERENCE), ids=str)
def test_reference_figures_are_reproduced_within_sampling_error(config):
    """The design's figures are means of 5 paths; ours too (fixed seed).

    Allowed error: 4.5 standard errors of a difference of two independent 5-path means
    (sqrt(2/5) * path std, the std estimated from 2000 paths), plus 0.5 for the rounding of the
    figures to integers. Also the exact expectation must lie within 4.5 standard errors of a
    5-path mean of the figure.
    """
    c, a, k = config
    si_ref, dsi_ref, nonsi_ref = REFERENCE[config]
    si_std, dsi_std = _path_std(c, a, k)
    sim = simulate(c, a, k, tokens=1000, repeats=5, seed=42).summary()
    assert sim["nonsi"]["mean_cost"] == nonsi_ref
    for name, figure, std, exact in (
        ("si", si_ref, si_std, ref.si_expected_cost(c, a, k, 1000)),
        ("dsi", dsi_ref, dsi_std, ref.dsi_expected_cost(c, a, k, 1000)),
    ):
        se_diff = std * math.sqrt(2 / 5)
        assert abs(sim[name]["mean_cost"] - figure) <= Z * se_diff + 0.5, (name, sim[name], figure)
        assert abs(exact - figure) <= Z * std / math.sqrt(5) + 0.5, (name, exact, figure)


def test_reproduction_check_rejects_a_wrong_figure():
    """Negative control: the same check against a figure 10% off fails."""
    c, a, k = 0.10, 0.90, 5
    si_std, _ = _path_std(c, a, k)
    sim = simulate(c, a, k, tokens=1000, repeats=5, seed=42).summary()
    assert abs(sim["si"]["mean_cost"] - 319.0 * 1.1) > Z * si_std * math.sqrt(2 / 5) + 0.5


CONFIGS = [
    (0.1, 0.9, 5),
    (0.05, 0.63, 5),
    (0.5, 0.5, 1),
    (0.9, 0.3, 3),
    (0.3, 0.99, 12),
    (1.0, 0.0, 2),
]


def _agrees(mean, exact, std, repeats):
    return abs(mean - exact) <= Z * std / math.sqrt(repeats) + 1e-9


@pytest.mark.parametrize("config", CONFIGS, ids=str)
def test_exact_expectations_agree_with_the_simulator(config):
    c, a, k = config
    sim = simulate(c, a, k, tokens=300, repeats=400, seed=7)
    for name, exact in (
        ("si", ref.si_expected_cost(c, a, k, 300)),
        ("dsi", ref.dsi_expected_cost(c, a, k, 300)),
    ):
        values = getattr(sim.costs, name)
        assert _agrees(values.mean(), exact, values.std(ddof=1), 400), (name, values.mean(), exact)


def test_agreement_check_rejects_a_wrong_closed_form():
    """Negative controls: a^K for a^(K+1) in SI, and DSI without the target-only minimum."""
    c, a, k, tokens = 0.1, 0.9, 5, 300
    sim = simulate(c, a, k, tokens=tokens, repeats=400, seed=7)
    wrong_si = tokens * (k * c + 1) * (1 - a) / (1 - a**k)
    assert not _agrees(sim.costs.si.mean(), wrong_si, sim.costs.si.std(ddof=1), 400)
    c, a, k = 0.9, 0.3, 3
    sim = simulate(c, a, k, tokens=tokens, repeats=400, seed=7)
    no_min = tokens * (1 - a) * (k * c / (1 - a**k) + 1 - k * c * (1 - a))
    assert not _agrees(sim.costs.dsi.mean(), no_min, sim.costs.dsi.std(ddof=1), 400)


@pytest.mark.parametrize(
    "config",
    [
        (F(1, 10), F(9, 10), 5),
        (F(1, 2), F(1, 2), 1),
        (F(9, 10), F(3, 10), 3),
        (F(1, 3), F(1), 4),
        (F(1), F(1, 2), 2),
    ],
    ids=str,
)
def test_limits_per_token_bound_the_finite_horizon(config):
    """E[cost(S)]/S tends to the closed forms: |E(S) - S * limit| stays bounded as S grows."""
    c, a, k = config
    for exact, limit in (
        (ref.si_expected_cost, ref.si_latency_per_token),
        (ref.dsi_expected_cost, ref.dsi_latency_per_token),
    ):
        per_token = limit(float(c), float(a), k)
        gaps = [abs(exact(float(c), float(a), k, s) - s * per_token) for s in (50, 100, 200, 400)]
        assert max(gaps) <= k + 2, gaps  # an end effect of at most one round or segment


def test_closed_forms_in_fractions():
    assert ref.si_latency_per_token(F(1, 10), F(9, 10), 5) == F(3, 2) * F(1, 10) / (
        1 - F(9, 10) ** 6
    )
    # DSI, K = 1, c = a = 1/2: E[min(T/2 + 1, T)] with T ~ Geom(1/2): T=1 -> 1, T=2 -> 2, T>=2 -> T/2+1.
    assert ref.dsi_latency_per_token(F(1, 2), F(1, 2), 1) == F(7, 8)
    assert ref.dsi_latency_per_token(F(1, 3), F(1), 4) == F(1, 3)
    assert ref.dsi_latency_per_token(F(1), F(1, 2), 3) == 1
    # a = 0: every round outputs one token; lookaheads min(3, left - 1) = 3, 2, 1, 0.
    assert ref.si_expected_cost(F(1, 2), F(0), 3, 4) == F(5, 2) + 2 + F(3, 2) + 1
    assert ref.nonsi_expected_cost(7) == 7


def test_small_horizon_exact_recursions_equal_path_enumeration():
    """E(S) from the recursions equals the average over every accepted-count path, exactly."""
    import itertools

    c, a, k, tokens = F(2, 5), F(3, 5), 2, 5
    law = ref.accepted_count_law(a, k)
    si = dsi = F(0)
    for path in itertools.product(range(k + 1), repeat=tokens):
        prob = math.prod((law[n] for n in path), start=F(1))
        si += prob * scalar_si_cost(c, k, tokens, list(path))
        dsi += prob * scalar_dsi_cost(c, k, tokens, list(path))
    assert si == ref.si_expected_cost(c, a, k, tokens)
    assert dsi == ref.dsi_expected_cost(c, a, k, tokens)


def test_vectorised_simulator_equals_the_authors_loop_on_shared_paths():
    rng = np.random.default_rng(3)
    for c, a, k in [(0.1, 0.9, 5), (0.7, 0.4, 3), (1.0, 0.99, 1), (0.05, 0.0, 4)]:
        counts = accepted_counts(rng, np.full(30, a), np.full(30, k), 60)
        si = si_costs(np.full(30, c), np.full(30, k), 60, counts)
        dsi = dsi_costs(np.full(30, c), np.full(30, k), 60, counts)
        cf = F(c)
        for i in range(30):
            assert si[i] == pytest.approx(
                float(scalar_si_cost(cf, k, 60, counts[i].tolist())), abs=1e-9
            )
            assert dsi[i] == pytest.approx(
                float(scalar_dsi_cost(cf, k, 60, counts[i].tolist())), abs=1e-9
            )


def test_accepted_counts_have_the_geometric_law():
    """P(N >= j) = a^j: chi-square-free check with binomial 4.5-sigma bounds per j."""
    rng = np.random.default_rng(11)
    a, k, n = 0.7, 4, 200_000
    counts = accepted_counts(rng, np.array([a]), np.array([k]), n)[0]
    for j in range(k + 1):
        p = a**j
        assert abs((counts >= j).mean() - p) <= Z * math.sqrt(p * (1 - p) / n) + 1e-12
    assert counts.max() == k
    edge = accepted_counts(rng, np.array([0.0, 1.0]), np.array([3, 3]), 50)
    assert (edge[0] == 0).all() and (edge[1] == 3).all()


def test_dsi_never_slower_than_nonsi_on_any_sampled_path():
    c, a, k = np.meshgrid(
        np.linspace(0.05, 1, 20), np.linspace(0, 1, 21), np.arange(1, 9), indexing="ij"
    )
    costs = simulate_lanes(c, a, k, 200, np.random.default_rng(0))
    assert (costs.dsi <= costs.nonsi).all()


def test_dsi_is_not_pathwise_faster_than_si_but_is_in_expectation():
    """The coupling counterexample, and on the same grid: mean DSI <= mean SI per configuration."""
    counts = np.array([[1, 0, 0]])
    assert si_costs(np.array([0.5]), np.array([1]), 3, counts)[0] == 2.5
    assert dsi_costs(np.array([0.5]), np.array([1]), 3, counts)[0] == 3.0
    c, a, k = np.meshgrid([0.9], [0.99], [12, 19], indexing="ij")
    costs = simulate_lanes(
        np.repeat(c.ravel(), 200),
        np.repeat(a.ravel(), 200),
        np.repeat(k.ravel(), 200),
        1000,
        np.random.default_rng(0),
    )
    assert (costs.dsi > costs.si).any()  # such paths are not rare here
    for lane in range(2):
        part = slice(lane * 200, (lane + 1) * 200)
        assert costs.dsi[part].mean() <= costs.si[part].mean()


def test_si_is_slower_than_nonsi_exactly_in_the_stated_region():
    for k in range(1, 6):
        for ci in range(1, 21):
            for ai in range(21):
                c, a = F(ci, 20), F(ai, 20)
                slower = ref.si_latency_per_token(c, a, k) > 1
                assert (
                    slower
                    == ref.si_slower_than_nonsi(c, a, k)
                    == (k * c > sum(a**i for i in range(1, k + 1)))
                )
    assert ref.si_slower_than_nonsi(F(9, 10), F(3, 10), 3)
    assert not ref.si_slower_than_nonsi(F(1, 10), F(9, 10), 5)


@pytest.mark.parametrize(
    ("kwargs", "flag"),
    [
        ({"c": 0.0}, "c"),
        ({"c": 1.5}, "c"),
        ({"c": float("nan")}, "c"),
        ({"a": -0.1}, "a"),
        ({"a": 1.01}, "a"),
        ({"k": 0}, "k"),
        ({"tokens": 0}, "tokens"),
        ({"repeats": 0}, "repeats"),
    ],
)
def test_bad_parameters_are_rejected_naming_the_argument(kwargs, flag):
    args = {"c": 0.1, "a": 0.9, "k": 5, "tokens": 10, "repeats": 2} | kwargs
    c, a, k = args.pop("c"), args.pop("a"), args.pop("k")
    with pytest.raises(ValueError, match=rf"^{flag}\b"):
        simulate(c, a, k, **args)


def test_reference_rejects_bad_parameters():
    with pytest.raises(ValueError, match="^c"):
        ref.si_latency_per_token(F(0), F(1, 2), 1)
    with pytest.raises(ValueError, match="^a"):
        ref.dsi_latency_per_token(F(1, 2), F(3, 2), 1)
    with pytest.raises(ValueError, match="^k"):
        ref.dsi_expected_cost(F(1, 2), F(1, 2), 0, 3)
    with pytest.raises(ValueError, match="^tokens"):
        ref.si_expected_cost(F(1, 2), F(1, 2), 1, 0)


def test_heatmap_grid_is_fast():
    """The full 20 x 20 x 20 grid, 5 repeats, S = 1000, well inside the 60 s target."""
    import time

    c, a, k = np.meshgrid(
        np.linspace(0.05, 1, 20), np.linspace(0.01, 0.99, 20), np.arange(1, 21), indexing="ij"
    )
    start = time.perf_counter()
    simulate_lanes(*(np.repeat(x.ravel(), 5) for x in (c, a, k)), 1000, np.random.default_rng(0))
    assert time.perf_counter() - start < 60
