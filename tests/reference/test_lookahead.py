"""Lookahead policies: any drafter-side policy keeps the target's law; peeking does not."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import find, given, settings

from specproof.proofs.lookahead import lookahead_equality, lookahead_instances, peeking_witness
from specproof.reference import (
    EXACT_MATCH,
    GREEDY,
    STANDARD_SD,
    Dist,
    Draws,
    ToyLM,
    autoregressive_law,
    speculative_law,
)
from specproof.reference.lookahead import (
    ConfidenceThreshold,
    FixedLookahead,
    LookaheadRound,
    PeekingLookaheadRound,
    TablePolicy,
    keeps_drafting,
    lookahead_law,
)
from specproof.reference.rounds import DraftState, VerifierRound, round_kernel_law

from ..support.integrate import cdf_points, integrate
from ..support.toy_lms import ORDER_ONE_TARGET as TARGET
from ..support.toy_lms import VOCAB

DRAFT = ToyLM(
    VOCAB,
    1,
    {
        (): Dist.over(VOCAB, [F(3, 4), F(1, 4), 0]),
        ("a",): Dist.over(VOCAB, [F(1, 4), F(1, 4), F(1, 2)]),
        ("b",): Dist.over(VOCAB, [1, 0, 0]),
        ("c",): Dist.over(VOCAB, [0, F(1, 2), F(1, 2)]),
    },
)


def round_lengths(kernel, context=()):
    return {len(outcome) for outcome in kernel.round_law(context)}


def test_a_confidence_threshold_varies_k_and_keeps_the_target_law():
    """Non-constant policy: after a confident draft it goes on, after an unsure one it stops."""
    policy = ConfidenceThreshold(F(1, 2))
    kernel = LookaheadRound(TARGET, DRAFT, policy, 3)
    # Drafting "a" (q = 3/4) goes on, "b" (q = 1/4) stops: rounds of 2 tokens and of up to 4.
    assert round_lengths(kernel) == {1, 2, 3, 4}
    fixed = [VerifierRound(TARGET, DRAFT, k).round_law(()) for k in range(4)]
    assert all(kernel.round_law(()) != law for law in fixed)
    assert lookahead_law(TARGET, DRAFT, (), 4, policy, 3) == autoregressive_law(TARGET, (), 4)


def test_a_randomised_table_policy_keeps_the_target_law():
    policy = TablePolicy({(0, None): F(2, 3), (1, "a"): F(1, 4), (1, "b"): 0}, F(1, 2))
    for verifier in (STANDARD_SD, EXACT_MATCH):
        law = lookahead_law(TARGET, DRAFT, ("c",), 4, policy, 3, verifier)
        assert law == autoregressive_law(TARGET, ("c",), 4)
    assert lookahead_law(TARGET, DRAFT, (), 3, policy, 3, GREEDY) == autoregressive_law(
        TARGET, (), 3, greedy=True
    )


@pytest.mark.parametrize("verifier", [STANDARD_SD, EXACT_MATCH, GREEDY], ids=lambda v: v.name)
@settings(max_examples=40)
@given(instance=lookahead_instances())
def test_generated_policies_keep_the_target_law(verifier, instance):
    assert lookahead_equality(instance, verifier) is None


@pytest.mark.parametrize("k", range(4))
def test_fixed_lookahead_is_todays_speculative_law(k):
    law = lookahead_law(TARGET, DRAFT, ("a",), 3, FixedLookahead(k), 3)
    assert law == dict(speculative_law(TARGET, DRAFT, ("a",), 3, k).items())


def test_peeking_at_the_coin_changes_the_law():
    """Negative control: the witness, by hand, and the same on this page's pair."""
    _, honest, peeking = peeking_witness()
    assert (honest, peeking) == (F(1, 2), F(3, 4))
    law = round_kernel_law(PeekingLookaheadRound(TARGET, DRAFT, FixedLookahead(3), 3), (), 3)
    assert sum(law.values()) == 1 and law != autoregressive_law(TARGET, (), 3)


def test_peeking_is_caught_on_generated_instances():
    find(
        lookahead_instances(),
        lambda instance: lookahead_equality(instance, kernel=PeekingLookaheadRound) is not None,
    )


def test_keeps_drafting_compares_its_own_uniform():
    row = Dist.over(VOCAB, [F(1, 2), F(1, 2), 0])
    state = DraftState((), ("a",), (row,), row)
    policy = TablePolicy({(1, "a"): F(1, 3)})
    assert keeps_drafting(policy, state, F(0)) and keeps_drafting(policy, state, F(1, 4))
    assert not keeps_drafting(policy, state, F(1, 3))
    assert policy.continue_probability(DraftState((), (), (), row)) == 1  # the default
    with pytest.raises(ValueError, match=r"u must lie in \[0, 1\)"):
        keeps_drafting(policy, state, F(1))


class OutOfRange:
    def continue_probability(self, state):
        return F(2)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: FixedLookahead(-1), "k must be an int >= 0"),
        (lambda: ConfidenceThreshold(0.5), "threshold must be an exact rational"),
        (lambda: ConfidenceThreshold(F(3, 2)), r"threshold must lie in \[0, 1\]"),
        (lambda: TablePolicy({(0, None): F(-1)}), r"table\[\(0, None\)\] must lie in"),
        (lambda: LookaheadRound(TARGET, DRAFT, "policy", 2), "policy must have"),
        (lambda: LookaheadRound(TARGET, DRAFT, FixedLookahead(1), -2), "max_k must be"),
        (
            lambda: lookahead_law(TARGET, DRAFT, (), 2, OutOfRange(), 2),
            r"continue_probability must lie in \[0, 1\], got 2",
        ),
    ],
)
def test_bad_policies_are_refused(call, message):
    with pytest.raises(ValueError, match=message):
        call()


V3 = ("a", "b", "c")
TARGET0 = ToyLM(V3, 0, {(): Dist.over(V3, [F(1, 2), F(1, 3), F(1, 6)])})
DRAFT0 = ToyLM(V3, 0, {(): Dist.over(V3, [F(1, 4), F(1, 4), F(1, 2)])})


def run_law(kernel, policy_points):
    """The exact law of `kernel.run_round`'s output tokens, integrated over its uniforms."""
    p, q = TARGET0.table[()], DRAFT0.table[()]
    residual = Dist.over(V3, [F(3, 4), F(1, 4), F(0)])  # (p - q)+ = (1/4, 1/12, 0), renormalised
    ratios = {p[x] / q[x] for x in V3}
    k = kernel.max_k
    grids = [cdf_points([q])] * k + [policy_points] * k + [ratios] * k + [cdf_points([p, residual])]

    def run(u):
        draws = Draws(tuple(u[2 * k : 3 * k]), u[3 * k])
        return kernel.run_round((), u[:k], u[k : 2 * k], draws).tokens

    return integrate(run, grids)


@pytest.mark.parametrize(
    "policy",
    [
        FixedLookahead(2),
        ConfidenceThreshold(F(1, 3)),
        TablePolicy({(0, None): F(3, 4), (1, "a"): F(1, 3), (1, "b"): 0}, F(1, 2)),
    ],
    ids=["fixed", "threshold", "table"],
)
def test_the_round_law_is_the_law_of_the_round_that_runs(policy):
    """Drafting first and verifying after (run_round) has the law of the walk (round_law)."""
    kernel = LookaheadRound(TARGET0, DRAFT0, policy, 2)
    points = set(getattr(policy, "table", {}).values()) | {getattr(policy, "default", F(1))}
    assert run_law(kernel, points) == kernel.round_law(())


def test_the_peeking_round_that_runs_has_the_peeking_law():
    kernel = PeekingLookaheadRound(TARGET0, DRAFT0, FixedLookahead(2), 2)
    law = run_law(kernel, set())
    assert law == kernel.round_law(())
    assert round_kernel_law(kernel, (), 2) != autoregressive_law(TARGET0, (), 2)


def test_run_round_checks_the_number_of_uniforms():
    kernel = LookaheadRound(TARGET0, DRAFT0, FixedLookahead(2), 2)
    with pytest.raises(ValueError, match="policy_u must have length max_k=2, got 1"):
        kernel.run_round((), [F(0)] * 2, [F(0)], Draws((F(0), F(0)), F(0)))
