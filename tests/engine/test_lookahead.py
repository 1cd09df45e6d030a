"""Lookahead policies of the engine: stepwise stopping, the heuristic, the parser, bad answers.

The engine loop under these policies is checked round by round against the reference loop in
`test_rounds_differential.py`; this file checks the policies themselves and the loop's contract.
"""

from __future__ import annotations

import math
import sys
import types

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine import generate as generate_module  # noqa: E402
from specproof.engine import trace as trace_module  # noqa: E402
from specproof.engine.drafters import ModelDrafter  # noqa: E402
from specproof.engine.generate import generate  # noqa: E402
from specproof.engine.lookahead import (  # noqa: E402
    ConfidenceStop,
    DraftStepState,
    HeuristicK,
    RowState,
    StaticK,
    StepwisePolicy,
    parse_lookahead,
    step_features,
)
from specproof.engine.ngram import NgramDrafter  # noqa: E402

from .tiny_pair import PROMPTS, tiny_pair  # noqa: E402

F64 = torch.float64


@pytest.fixture(scope="module")
def models():
    target, draft = tiny_pair(0.5)
    return target.model, draft.model


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("static:5", StaticK(5)),
        (" static:0 ", StaticK(0)),
        ("confidence:0.4", ConfidenceStop(0.4)),
        ("confidence:0.25:max_k=3", ConfidenceStop(0.25, 3)),
    ],
)
def test_parse_lookahead(spec, expected):
    assert parse_lookahead(spec) == expected


def test_parse_heuristic():
    default, three = parse_lookahead("heuristic"), parse_lookahead("heuristic:3")
    assert isinstance(default, HeuristicK) and (default.k0, default.max_k) == (5, None)
    assert isinstance(three, HeuristicK) and three.k0 == 3


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("static", "needs K"),
        ("static:five", "K must be an integer, got 'five'"),
        ("static:-1", "k must be an int >= 0"),
        ("heuristic:0", "k0 must be an int >= 1"),
        ("confidence", "needs a threshold"),
        ("confidence:x", "threshold must be a number, got 'x'"),
        ("confidence:1.5", r"threshold must be a number in \[0, 1\]"),
        ("confidence:nan", r"threshold must be a number in \[0, 1\]"),
        ("confidence:0.4:k=3", "option 'k=3' must be max_k=K"),
        ("confidence:0.4:max_k=0", "max_k must be an int >= 1"),
        ("disco:", "needs a policy file"),
        ("beam:3", "unknown policy 'beam'"),
        ("", "unknown policy ''"),
    ],
)
def test_malformed_specs_name_the_spec(spec, message):
    with pytest.raises(ValueError, match=message) as info:
        parse_lookahead(spec)
    assert repr(spec) in str(info.value)


def test_disco_loads_through_the_disco_module(monkeypatch):
    calls = []
    module = types.ModuleType("specproof.engine.disco")

    def load_policy(path):
        calls.append(path)
        return ConfidenceStop(0.5, 2)

    module.load_policy = load_policy  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "specproof.engine.disco", module)
    assert parse_lookahead("disco:some/policy.json") == ConfidenceStop(0.5, 2)
    assert calls == ["some/policy.json"]
    module.load_policy = lambda path: "not a policy"  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="load_policy returned str"):
        parse_lookahead("disco:p.json")


def test_disco_without_its_module_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "specproof.engine.disco", None)
    with pytest.raises(ValueError, match="needs the module specproof.engine.disco"):
        parse_lookahead("disco:p.json")


def test_the_heuristic_schedule_per_row():
    policy = HeuristicK(2, max_k=5)
    assert policy.lookahead([RowState(0, 0, 9), RowState(1, 0, 9)]) == [2, 2]
    # Row 0 accepted both drafts (+2), row 1 one of two (-1).
    assert policy.lookahead([RowState(0, 3, 6, 1, 2, 2), RowState(1, 2, 7, 1, 2, 1)]) == [4, 1]
    assert policy.lookahead([RowState(0, 8, 1, 2, 4, 4), RowState(1, 3, 6, 2, 1, 0)]) == [5, 1]
    # A new run (round 0) starts over.
    assert policy.lookahead([RowState(0, 0, 9)]) == [2]
    with pytest.raises(ValueError, match="max_k must be >= k0"):
        HeuristicK(3, max_k=2)


def test_confidence_stop():
    policy = ConfidenceStop(0.5, 4)
    assert isinstance(policy, StepwisePolicy) and not isinstance(StaticK(2), StepwisePolicy)
    steps = [DraftStepState(0, 0, p, (), 0.0, 0, None) for p in (0.49, 0.5, 0.9)]
    assert policy.keep_drafting(steps) == [False, True, True]
    assert policy.lookahead([RowState(0, 0, 3)]) == [4]
    for bad in (-0.1, 1.1, True, "0.5"):
        with pytest.raises(ValueError, match="threshold must be a number"):
            ConfidenceStop(bad)  # type: ignore[arg-type]


def test_step_features_by_hand():
    q = torch.tensor([[0.5, 0.25, 0.25, 0.0], [0.0, 1.0, 0.0, 0.0]], dtype=F64)
    (p0, top0, h0), (p1, top1, h1) = step_features(q, [1, 1])
    assert (p0, top0) == (0.25, (0.5, 0.25, 0.25, 0.0))
    assert h0 == pytest.approx(1.5 * math.log(2)) and h1 == 0.0
    assert (p1, top1) == (1.0, (1.0, 0.0, 0.0, 0.0))
    assert step_features(q, [1, 1], deterministic=True) == [(1.0, (), 0.0)] * 2
    wide = torch.full((1, 20), 0.05, dtype=F64)
    assert len(step_features(wide, [3])[0][1]) == 8


class Recording:
    """A stepwise policy that records what it is asked and stops per a rule."""

    def __init__(self, k, keep):
        self.k, self.keep, self.asked = k, keep, []

    def lookahead(self, rows):
        return [self.k] * len(rows)

    def keep_drafting(self, steps):
        self.asked.extend(steps)
        return [self.keep(s) for s in steps]


def test_the_policy_sees_the_trace_step_states_and_stops_drafting(models):
    target, draft = models
    policy = Recording(4, lambda s: s.position != 1 or s.rounds % 2 == 0)
    traces = []
    drafter = ModelDrafter(draft)
    result = generate(
        target,
        drafter,
        PROMPTS,
        lookahead=policy,
        max_new_tokens=12,
        prob_dtype=F64,
        on_round=traces.append,
        seed=3,
    )
    rows = [r for t in traces for r in t.rows]
    traced = {(s.row, s.rounds, s.position): s for r in rows for s in r.draft_steps}
    # Every state the policy saw is the trace's (the draft before the round's last).
    assert policy.asked and all(traced[s.row, s.rounds, s.position] == s for s in policy.asked)
    for r in rows:
        odd = r.draft_steps and r.draft_steps[0].rounds % 2 == 1
        assert len(r.drafts) == (2 if odd else 4)
        steps = r.draft_steps
        assert [s.position for s in steps] == list(range(len(r.drafts)))
        assert len({(s.rounds, s.past_acceptance) for s in steps}) == 1
    # Fewer draft forwards than drafting 4 per round would take.
    assert result.stats.draft_calls == sum(len(r.drafts) for r in rows)
    assert result.stats.drafted == sum(len(r.drafts) for r in rows)


def test_past_acceptance_in_step_states(models):
    target, draft = models
    traces = []
    generate(target, draft, PROMPTS, k=2, max_new_tokens=8, prob_dtype=F64, on_round=traces.append)
    for b in range(len(PROMPTS)):
        drafted = accepted = 0
        for rounds, r in enumerate(r for t in traces for r in t.rows if r.row == b):
            expected = accepted / drafted if drafted else None
            assert all(s.rounds == rounds and s.past_acceptance == expected for s in r.draft_steps)
            drafted, accepted = drafted + len(r.drafts), accepted + r.accepted


def test_ngram_proposals_are_truncated_after_the_fact(models):
    target, _ = models
    prompts = [[1, 2, 3, 1, 2, 3, 1, 2, 3, 1]]
    policy = Recording(4, lambda s: s.position < 1)
    traces = []
    generate(
        target, NgramDrafter(), prompts, lookahead=policy, max_new_tokens=6, on_round=traces.append
    )
    rows = [r for t in traces for r in t.rows]
    assert any(len(r.drafts) == 2 for r in rows)
    assert all(len(r.drafts) <= 2 for r in rows)
    assert all(s.token_prob == 1.0 and s.top_probs == () for s in policy.asked)


class Bad:
    def __init__(self, answer):
        self.answer = answer

    def lookahead(self, rows):
        return [3] * len(rows)

    def keep_drafting(self, steps):
        return self.answer(steps)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (lambda steps: [True] * (len(steps) + 1), "keep_drafting: the policy returned"),
        (lambda steps: [1] * len(steps), "answer must be a bool, got 1"),
    ],
)
@pytest.mark.parametrize("drafter", ["model", "ngram"])
def test_bad_keep_drafting_answers_are_refused(models, answer, message, drafter):
    target, draft = models
    source = draft if drafter == "model" else NgramDrafter()
    prompts = [[1, 2, 3, 1, 2, 3, 1, 2]]
    with pytest.raises(ValueError, match=message):
        generate(target, source, prompts, lookahead=Bad(answer), max_new_tokens=6)


def test_the_static_path_pays_nothing_per_token(models, monkeypatch):
    """Without keep_drafting no step feature is computed, even with a trace that is not read."""

    def forbidden(*args, **kwargs):
        raise AssertionError("step features computed")

    monkeypatch.setattr(generate_module, "step_features", forbidden)
    monkeypatch.setattr(trace_module, "draft_step_states", forbidden)
    target, draft = models
    traces = []
    generate(
        target, draft, PROMPTS, lookahead=HeuristicK(2), max_new_tokens=6, on_round=traces.append
    )
    generate(target, draft, PROMPTS, k=3, max_new_tokens=6)
    with pytest.raises(AssertionError, match="step features computed"):
        traces[0].rows[0].draft_steps  # noqa: B018  (read: computed now)
