"""Sampler-level audit: exact laws, the correct sampler, negative controls, crashes, calibration.

False-failure rates: every assertion that a correct sampler is `consistent` runs at the audit's
family-wise alpha (1e-6 unless stated); every assertion that a broken one is `not-lossless` is
a power statement whose computed miss probability is below 1e-2 per control (most far below).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats

from specproof.audit.controls import BROKEN, LOSSLESS, LOSSLESS_PLAN, standard_sd
from specproof.audit.sampler import (
    DEFAULT_PLAN,
    audit_sampler,
    default_cases,
    make_case,
    round_law,
)
from specproof.audit.sampler_collect import MalformedOutput, check_output

FAMILIES = ["random", "zeros", "point", "near-ties", "equal", "peaked"]


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("algorithm", ["sd", "exact_match"])
def test_float64_closed_forms_equal_the_reference(family, algorithm):
    rng = np.random.default_rng(7)
    for v, k in [(2, 1), (3, 2), (5, 3)]:
        case = make_case(rng, v, k, family)
        exact = round_law(case, algorithm, exact=True)
        fast = round_law(case, algorithm, exact=False)
        assert exact.exact and not fast.exact
        for name in ("accept", "reject", "bonus"):
            np.testing.assert_allclose(
                getattr(exact, name), getattr(fast, name), rtol=0, atol=1e-15
            )


def test_round_law_is_a_distribution_over_output_tuples():
    rng = np.random.default_rng(3)
    for family in FAMILIES:
        case = make_case(rng, 4, 3, family)
        law = round_law(case)
        outcomes = law.likely_outcomes(0.0)
        assert sum(outcomes.values()) == pytest.approx(1.0, abs=1e-12)
        assert law.length_law().sum() == pytest.approx(1.0, abs=1e-12)
        assert law.last_law().sum() == pytest.approx(1.0, abs=1e-12)
        for i in range(case.k):
            assert law.accepted_law(i).sum() == pytest.approx(1.0, abs=1e-12)
        for out, prob in list(outcomes.items())[:20]:
            assert law.prob(out) == pytest.approx(prob, rel=1e-12)


def test_round_law_of_a_one_draft_case_by_hand():
    # p0 = (1/2, 1/2), q0 = (3/4, 1/4), p1 = (1/4, 3/4): A = min(p, q), R = (p - q)+, B = p1.
    from specproof.audit.sampler import Case

    case = Case("hand", np.array([[0.5, 0.5], [0.25, 0.75]]), np.array([[0.75, 0.25]]))
    law = round_law(case)
    expected = {(0, 0): 0.125, (0, 1): 0.375, (1, 0): 0.0625, (1, 1): 0.1875, (1,): 0.25}
    assert law.likely_outcomes(0.0) == pytest.approx(expected)


def test_default_cases_cover_the_promised_corners():
    cases = default_cases()
    vs = [c.vocab_size for c in cases]
    ks = [c.k for c in cases]
    assert min(vs) == 2 and max(vs) >= 1000 and min(ks) == 1 and max(ks) == 8
    for c in cases:  # every position is reached with probability >= 0.15 or not at all
        reach = np.cumprod(np.concatenate([[1.0], round_law(c).accept.sum(1)]))
        assert all(r == 0 or r >= 0.15 for r in reach), (c.name, reach)
    assert any((c.target_probs == 0).any() for c in cases)  # zeros
    assert any((c.target_probs == 1).any() for c in cases)  # point masses
    assert any(np.array_equal(c.target_probs[:-1], c.draft_probs) for c in cases)  # equal rows
    for c in cases:
        scaled = c.target_probs * 2**20
        assert np.array_equal(scaled, np.round(scaled))  # exact in float64
    assert len(cases) == len(DEFAULT_PLAN)


def test_the_correct_sampler_is_consistent():
    """False-failure probability <= alpha = 1e-6."""
    audit = audit_sampler(standard_sd, seed=11, tv=0.1)
    assert audit.verdict == "consistent", [c.to_json() for c in audit.configurations]
    for c in audit.configurations:
        assert c.n_samples >= c.n_required and not c.uncovered
        assert c.main.tv_upper >= c.main.tv_hat
        assert not c.details["round_law"]["differs"]


@pytest.mark.parametrize("name, broken", BROKEN, ids=[b[0] for b in BROKEN])
def test_every_negative_control_is_flagged(name, broken):
    audit = audit_sampler(broken, seed=5, n_samples=4000)
    assert audit.verdict == "not-lossless"


def _raises(target_probs, draft_probs, draft_tokens, rng):
    raise RuntimeError("boom")


def _too_long(target_probs, draft_probs, draft_tokens, rng):
    return list(draft_tokens) + [0, 0]


def _out_of_range(target_probs, draft_probs, draft_tokens, rng):
    return [target_probs.shape[1]]


def _floats(target_probs, draft_probs, draft_tokens, rng):
    return [0.5]


def _empty(target_probs, draft_probs, draft_tokens, rng):
    return []


@pytest.mark.parametrize(
    "fn, message",
    [
        (_raises, "RuntimeError: boom"),
        (_too_long, "1..K+1"),
        (_out_of_range, "[0, V)"),
        (_floats, "integers"),
        (_empty, "1..K+1"),
    ],
)
def test_failures_are_crashed_verdicts_not_auditor_crashes(fn, message):
    audit = audit_sampler(fn, default_cases()[:3], n_samples=50)
    assert audit.verdict == "crashed"
    for c in audit.configurations:
        assert c.verdict == "crashed" and message in c.error
        assert c.to_json()["error"] == c.error


def _ignores_drafts(target_probs, draft_probs, draft_tokens, rng):
    # Outputs tokens that are likely under the target, but the "accepted" ones are not the drafts.
    out = standard_sd(target_probs, draft_probs, draft_tokens, rng)
    if len(out) > 1:
        out[0] = (out[0] + 1) % target_probs.shape[1]
    return out


def test_accepted_tokens_that_are_not_the_drafts_are_impossible():
    audit = audit_sampler(_ignores_drafts, default_cases()[:3], n_samples=2000)
    assert audit.verdict == "not-lossless"
    assert any(c.to_json()["impossible"] > 0 for c in audit.configurations)


def test_too_few_samples_is_inconclusive():
    audit = audit_sampler(standard_sd, default_cases()[5:6], n_samples=100)
    assert audit.verdict == "inconclusive"
    (c,) = audit.configurations
    assert c.n_samples < c.n_required


@pytest.mark.parametrize("name, lossless", LOSSLESS, ids=[c[0] for c in LOSSLESS])
def test_lossless_rules_with_other_round_laws_are_consistent_and_profiled(name, lossless):
    """False-failure probability <= alpha = 1e-6 per rule. Their round laws differ from standard
    SD's (a power statement, as for the broken controls): reported, never a loss."""
    cases = default_cases(3, LOSSLESS_PLAN[:4])
    audit = audit_sampler(lossless, cases, seed=3, tv=0.1)
    assert audit.verdict == "consistent", [c.to_json() for c in audit.configurations]
    profiles = [c.details["round_law"] for c in audit.configurations]
    assert any(p["differs"] and "differs from standard SD" in p["summary"] for p in profiles)


def test_sample_and_match_has_lower_acceptance_than_standard_sd():
    (case,) = [make_case(np.random.default_rng(2), 4, 2, "peaked")]
    audit = audit_sampler(dict(LOSSLESS)["sample-and-match"], [case], tv=0.1)
    (c,) = audit.configurations
    assert c.verdict == "consistent"
    assert c.details["round_law"]["summary"] == "differs from standard SD: lower acceptance"
    baseline = audit_sampler(standard_sd, [case], tv=0.1).configurations[0]
    assert baseline.details["round_law"]["differs"] is False


def test_the_round_law_reference_is_selectable_and_never_decides_the_verdict():
    cases = default_cases(0, LOSSLESS_PLAN[:4])
    sample_and_match = dict(LOSSLESS)["sample-and-match"]
    audit = audit_sampler(sample_and_match, cases, algorithm="exact_match", tv=0.1)
    assert audit.verdict == "consistent"
    assert not any(c.details["round_law"]["differs"] for c in audit.configurations)


def _bonus_ignores_its_row(target_probs, draft_probs, draft_tokens, rng):
    out = standard_sd(target_probs, draft_probs, draft_tokens, rng)
    if len(out) == len(draft_tokens) + 1:
        out[-1] = int(np.argmax(target_probs[-1]))
    return out


def test_paths_are_reported_and_a_rare_path_makes_the_case_inconclusive():
    # Draft rows far from the target rows: full acceptance (the bonus path) is rare.
    from specproof.audit.sampler import Case

    target = np.array([[0.5, 0.25, 0.25], [0.25, 0.25, 0.5], [0.25, 0.5, 0.25]])
    draft = np.array([[0.0625, 0.0625, 0.875], [0.875, 0.0625, 0.0625]])
    case = Case("far", target, draft)
    audit = audit_sampler(standard_sd, [case], n_samples=3000)
    (c,) = audit.configurations
    paths = c.to_json()["paths"]
    assert set(paths) == {"position 0", "position 1", "bonus (full acceptance)"}
    assert paths["position 0"]["n"] == 3000 > paths["bonus (full acceptance)"]["n"] > 0
    assert (
        c.details["paths"]["ended"]["bonus (full acceptance)"]
        == paths["bonus (full acceptance)"]["n"]
    )
    assert c.verdict == "inconclusive"
    assert any(m.startswith("bonus (full acceptance)") for m in c.uncovered)
    # With a planned size the bonus path is covered: consistent (false failure <= 1e-6) ...
    planned = audit_sampler(standard_sd, [case]).configurations[0]
    assert planned.verdict == "consistent" and not planned.uncovered
    # ... and a bug in the bonus row alone is caught (power >= 0.99 at the planned size).
    assert audit_sampler(_bonus_ignores_its_row, [case]).verdict == "not-lossless"


CORRECT = [("standard-sd", standard_sd), *LOSSLESS]


@pytest.mark.slow
@pytest.mark.statistical
@pytest.mark.parametrize("name, correct", CORRECT, ids=[c[0] for c in CORRECT])
def test_end_to_end_false_failure_rate_is_at_most_alpha(name, correct):
    """200 audits of a lossless rule (standard SD, or one whose round law differs) at
    alpha = 0.05, each over 2 cases with 300 samples: the number flagged `not-lossless` stays
    below the binomial(200, 0.05) 1e-6 upper quantile (false-failure probability of this test
    <= 1e-6 if the token-law verdict is calibrated). Negative control: the same runs on a broken
    sampler are flagged far more often."""
    rng = np.random.default_rng(0)
    cases = [make_case(rng, 3, 2, "random"), make_case(rng, 4, 1, "zeros")]
    reps = 200
    flagged = sum(
        audit_sampler(correct, cases, n_samples=300, alpha=0.05, seed=s).verdict == "not-lossless"
        for s in range(reps)
    )
    assert flagged <= stats.binom.isf(1e-6, reps, 0.05)
    broken = dict(BROKEN)["bonus-off-by-one"]
    flagged_broken = sum(
        audit_sampler(broken, cases, n_samples=300, alpha=0.05, seed=s).verdict == "not-lossless"
        for s in range(50)
    )
    assert flagged_broken >= 25


@pytest.mark.slow
@pytest.mark.statistical
def test_end_to_end_power_matches_the_computed_power():
    """The harness's joint test on a broken sampler (bonus drawn from the wrong row) rejects as
    often as the noncentral chi-square predicts from the exact broken law: over 400 audits of
    100 samples, within 5 binomial standard deviations (false failure < 1e-6) plus 0.03 (the
    noncentral approximation). The case is chosen so that no cell is pooled at 100 samples."""
    from specproof.audit.sampler import Case, RoundLaw, collect, test_case

    case = Case(
        "hand",
        np.array([[0.5, 0.25, 0.25], [0.25, 0.25, 0.5]]),
        np.array([[0.25, 0.5, 0.25]]),
    )
    law = round_law(case)
    broken_law = RoundLaw(law.accept, law.reject, case.target_probs[0], exact=False)
    cells = law.likely_outcomes(0.0)
    assert min(cells.values()) * 100 >= 5  # no pooling
    p = np.array(list(cells.values()))
    p_broken = np.array([broken_law.prob(o) for o in cells])
    n, alpha, reps = 100, 1e-4, 400
    lam = n * float(((p_broken - p) ** 2 / p).sum())
    dof = len(cells) - 1
    predicted = stats.ncx2.sf(stats.chi2.isf(alpha, dof), dof, lam)
    broken = dict(BROKEN)["bonus-off-by-one"]
    rng = np.random.default_rng(0)
    rejected = 0
    for _ in range(reps):
        samples = collect(broken, case, n, rng)
        rejected += test_case(law, samples)["joint"].p_value <= alpha
    observed = rejected / reps
    tolerance = 5 * np.sqrt(predicted * (1 - predicted) / reps) + 0.03
    assert 0.2 < predicted < 0.8  # a power that can be missed either way
    print(f"observed {observed:.3f}, predicted {predicted:.3f}")
    assert abs(observed - predicted) <= tolerance, (observed, predicted)


def test_sampler_audits_report_where_their_time_went():
    """Each case's `details.timing` splits its wall time into the implementation's and the
    auditor's; a sampler that sleeps 2 ms per call is counted as at least that inside.
    Negative control: the same sampler without the sleep is counted far below it."""
    import time as time_module

    from specproof.audit.controls import standard_sd

    def slow(target_probs, draft_probs, draft_tokens, rng):
        time_module.sleep(0.002)
        return standard_sd(target_probs, draft_probs, draft_tokens, rng)

    rng = np.random.default_rng(0)
    cases = [make_case(rng, 3, 1, "random")]
    (config,) = audit_sampler(slow, cases, n_samples=100).configurations
    timing = config.details["timing"]
    assert timing["samples"] == 100 and timing["implementation_seconds"] >= 100 * 0.002
    assert timing["auditor_seconds"] == pytest.approx(
        timing["seconds"] - timing["implementation_seconds"]
    )
    (fast,) = audit_sampler(standard_sd, cases, n_samples=100).configurations
    assert fast.details["timing"]["implementation_seconds"] < 100 * 0.002 / 2


@pytest.mark.parametrize(
    "out, expected",
    [
        ([1, 0, 2], (1, 0, 2)),
        ((2,), (2,)),
        (np.array([0, 2], dtype=np.int64), (0, 2)),
        (np.array([2, 1, 0], dtype=np.uint8), (2, 1, 0)),
        ([np.int64(1), 2], (1, 2)),  # numpy scalars: the general path
        (np.array([True]), "integers"),  # a bool array is not token ids
        ([0.0, 1.0], "integers"),
        ([], "1..K+1"),
        ([0, 0, 0, 0], "1..K+1"),
        ([3], "[0, V)"),
        ([-1, 0], "[0, V)"),
        (np.array([[0, 1]]), "1-D"),
        (np.array([0, 3]), "[0, V)"),
        ("ab", "1-D"),
    ],
)
def test_check_output_accepts_ids_and_names_what_is_wrong(out, expected):
    """K = 2, V = 3. Lists, tuples and integer arrays take a fast path; it must agree with the
    general one on every valid output and leave every invalid one to it."""
    if isinstance(expected, tuple):
        result = check_output(out, 2, 3)
        assert result == expected and all(type(t) is int for t in result)
    else:
        with pytest.raises(MalformedOutput, match=re.escape(expected)):
            check_output(out, 2, 3)
