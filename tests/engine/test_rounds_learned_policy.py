"""DISCO's learned lookahead policy, round by round against the reference loop.

The same replay as `test_rounds_differential` (see its docstring for the checks and the
tolerance), with the policy loaded from a policy file as `--lookahead disco:PATH` loads it;
the negative control replays with a reference twin whose threshold differs and must be caught.
"""

from __future__ import annotations

import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine.disco import (  # noqa: E402
    AcceptanceClassifier,
    LearnedPolicy,
    features_matrix,
    save_policy,
)
from specproof.engine.disco.features import FEATURES  # noqa: E402
from specproof.engine.lookahead import (  # noqa: E402
    TOP_PROBS,
    DraftStepState,
    parse_lookahead,
)
from specproof.reference.rounds import DraftState  # noqa: E402

from .round_replay import (  # noqa: E402
    F64,
    PROMPTS,
    check_run,
    run,
)

# DISCO's learned policy: a logistic classifier with seeded random weights, saved to a policy
# file and loaded the way a user's `--lookahead disco:PATH` is. Its threshold is put in the
# widest gap between the scores of a first run's steps near their median, so that some rounds
# stop early, others run to the cap, and no decision sits within float noise of the threshold.
LEARNED_MAX_K = 3


def learned_classifier(seed: int = 5) -> AcceptanceClassifier:
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn((1, len(FEATURES)), generator=generator, dtype=F64) * 2
    return AcceptanceClassifier(
        torch.zeros(len(FEATURES), dtype=F64),
        torch.ones(len(FEATURES), dtype=F64),
        ((weight, torch.zeros(1, dtype=F64)),),
    )


def gap_threshold(scores: list[float], quantile: float) -> float:
    """The midpoint of the widest gap between sorted scores in the middle half around `quantile`."""
    ordered = sorted(set(scores))
    centre = int(quantile * (len(ordered) - 1))
    lo, hi = max(0, centre - len(ordered) // 4), min(len(ordered) - 1, centre + len(ordered) // 4)
    i = max(range(lo, hi), key=lambda j: ordered[j + 1] - ordered[j])
    return (ordered[i] + ordered[i + 1]) / 2


class LearnedReference:
    """Reference side of a `LearnedPolicy` for one row, its features computed here from exact rows.

    Before draft `position` >= 1 it scores the last draft from the `Dist` it was drawn from:
    its probability, the top probabilities and the entropy (in floats, by `math`), the round's
    position of that draft, the rounds so far and their exact past acceptance.
    """

    def __init__(self, policy: LearnedPolicy) -> None:
        self.policy = policy

    def continue_probability(self, state: DraftState) -> Fraction:
        if state.position >= self.policy.max_k:
            return Fraction(0)
        if state.position == 0:
            return Fraction(1)
        row = state.draft_rows[-1]
        probs = [float(p) for p in row.probs]
        past = state.past_acceptance
        step = DraftStepState(
            0,
            state.position - 1,
            float(row[state.drafts[-1]]),
            tuple(sorted(probs, reverse=True)[:TOP_PROBS]),
            -sum(p * math.log(p) for p in probs if p > 0),
            state.rounds,
            None if past is None else float(past),
        )
        score = float(self.policy.classifier.scores(features_matrix([step]))[0])
        return Fraction(int(score >= self.policy.threshold))


def learned_policy_file(tmp_path: Path, algorithm: str, quantile: float = 0.5) -> Path:
    """A policy file whose threshold splits the steps of a never-stopping run (see above)."""
    never = LearnedPolicy(learned_classifier(), 0.0, LEARNED_MAX_K)
    _, _, traces, _ = run(algorithm, ngram=False, policy=never)
    steps = [s for trace in traces for r in trace.rows for s in r.draft_steps]
    threshold = gap_threshold(never.scores(steps), quantile)
    return save_policy(
        LearnedPolicy(learned_classifier(), threshold, LEARNED_MAX_K), tmp_path / "policy.json"
    )


@pytest.mark.parametrize(
    ("algorithm", "batched"),
    [("sd", False), ("sd", True), ("greedy", False)],
    ids=["sd-model", "sd-model-batched", "greedy-model"],
)
def test_rounds_under_the_learned_policy_equal_the_reference_loop(
    algorithm: str, batched: bool, tmp_path: Path
) -> None:
    policy = parse_lookahead(f"disco:{learned_policy_file(tmp_path, algorithm)}")
    assert isinstance(policy, LearnedPolicy)
    target, result, traces, source = run(algorithm, False, batched=batched, policy=policy)
    problems, counts = check_run(
        target, PROMPTS, traces, source, algorithm, False, lambda row: LearnedReference(policy)
    )
    assert problems == []
    assert [len(t) for t in result.tokens] == [14] * len(PROMPTS)
    rows = [r for trace in traces for r in trace.rows]
    assert counts["accepts"] > 0
    # Not vacuous: the classifier stops some rounds early and lets others reach the cap.
    assert all(r.k == LEARNED_MAX_K for r in rows)
    assert any(0 < len(r.drafts) < r.k for r in rows)
    assert any(len(r.drafts) == r.k for r in rows)


def test_negative_control_a_learned_policy_with_another_threshold(tmp_path: Path) -> None:
    """Replayed with a reference twin whose threshold sits in another gap, the rounds differ."""
    policy = parse_lookahead(f"disco:{learned_policy_file(tmp_path, 'sd')}")
    assert isinstance(policy, LearnedPolicy)
    target, _, traces, source = run("sd", False, policy=policy)
    steps = [s for trace in traces for r in trace.rows for s in r.draft_steps]
    other = replace(policy, threshold=gap_threshold(policy.scores(steps), 0.15))
    assert other.threshold != policy.threshold
    problems, _ = check_run(
        target, PROMPTS, traces, source, "sd", False, lambda row: LearnedReference(other)
    )
    assert any("the reference loop drafts" in p or "past the engine" in p for p in problems)
