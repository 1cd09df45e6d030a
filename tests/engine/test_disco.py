"""DISCO's learned policy: features, classifier, traces, threshold tuning, the policy file."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine.disco import (  # noqa: E402
    FEATURE_SET,
    FEATURES,
    DraftStepState,
    LearnedPolicy,
    TracedRound,
    binary_metrics,
    features_matrix,
    load_policy,
    policy_to_dict,
    record_traces,
    round_costs,
    save_policy,
    static_kept,
    step_features,
    step_states,
    train_classifier,
    train_policy,
    tune_threshold,
)
from specproof.engine.disco.classifier import AcceptanceClassifier  # noqa: E402


def state(prob: float, position: int = 0, past: float | None = None) -> DraftStepState:
    return DraftStepState(0, position, prob, (prob, 1 - prob), 0.5, 3, past)


# ---- features ---------------------------------------------------------------------------------


def test_features_of_a_state_by_hand() -> None:
    s = DraftStepState(2, 3, 0.25, (0.5, 0.25, 0.125), 1.2, 4, 0.75)
    expected = [0.25, 0.5, 0.25, 0.125, 0, 0, 0, 0, 0, 1.2, 3.0, math.log(5), 0.75, 1.0, 0.0]
    assert step_features(s) == pytest.approx(expected, abs=1e-15)
    assert len(FEATURES) == len(expected)


def test_deterministic_state_and_missing_past_acceptance() -> None:
    s = DraftStepState(0, 0, 1.0, (), 0.0, 0, None)
    vector = dict(zip(FEATURES, step_features(s), strict=True))
    assert vector["deterministic"] == 1.0
    assert vector["has_past_acceptance"] == 0.0 and vector["past_acceptance"] == 0.0
    assert vector["top1_prob"] == 0.0


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (DraftStepState(0, 0, 1.5, (), 0.0, 0, None), "token_prob"),
        (DraftStepState(0, 0, 0.5, (0.5,) * 9, 0.0, 0, None), "top_probs"),
        (DraftStepState(0, 0, 0.5, (1.2,), 0.0, 0, None), "top_probs"),
        (DraftStepState(0, -1, 0.5, (), 0.0, 0, None), "position"),
        (DraftStepState(0, 0, 0.5, (), float("nan"), 0, None), "entropy"),
        (DraftStepState(0, 0, 0.5, (), 0.0, 0, -0.1), "past_acceptance"),
    ],
)
def test_bad_states_are_refused_naming_the_field(bad: DraftStepState, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        step_features(bad)


def test_step_states_from_draft_distributions() -> None:
    q = torch.tensor([[0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 1.0, 0.0]], dtype=torch.float64)
    states = step_states(1, [3, 2], q, rounds=2, past_acceptance=0.5)
    assert [s.position for s in states] == [0, 1]
    assert states[0].token_prob == 0.25 and states[1].token_prob == 1.0
    assert states[0].entropy == pytest.approx(math.log(4), abs=1e-12)
    assert states[1].entropy == 0.0
    assert states[0].top_probs == (0.25, 0.25, 0.25, 0.25)
    assert states[1].top_probs[0] == 1.0
    assert all(s.row == 1 and s.rounds == 2 and s.past_acceptance == 0.5 for s in states)
    deterministic = step_states(0, [5, 6], None, 0, None)
    assert all(s.top_probs == () and s.token_prob == 1.0 for s in deterministic)
    with pytest.raises(ValueError, match="draft_probs"):
        step_states(0, [1, 2, 3], q, 0, None)


# ---- classifier -------------------------------------------------------------------------------


def synthetic(n: int, seed: int, shuffle: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """States whose label is token_prob > 0.5 (separable), or fair coins when `shuffle`."""
    rng = random.Random(seed)
    states, labels = [], []
    for _ in range(n):
        p = rng.random()
        states.append(state(p, position=rng.randrange(8), past=rng.random()))
        labels.append(rng.random() < 0.5 if shuffle else p > 0.5)
    return features_matrix(states), torch.tensor(labels, dtype=torch.float64)


@pytest.mark.parametrize("hidden", [0, 8])
def test_separable_traces_are_learned(hidden: int) -> None:
    """Deterministic (seeded): the label is a threshold of one feature, so >= 95% is expected."""
    x, y = synthetic(600, seed=1)
    x_test, y_test = synthetic(1000, seed=2)
    model = train_classifier(x, y, hidden=hidden, seed=0)
    metrics = binary_metrics(model.scores(x_test), y_test, 0.5)
    assert metrics["accuracy"] >= 0.95
    assert metrics["f1"] is not None and metrics["f1"] >= 0.95


def test_negative_control_shuffled_labels_are_not_learned() -> None:
    """Labels are fair coins independent of the features, so on 1,000 fresh test steps the
    trained classifier's accuracy is Binomial(1000, 1/2) / 1000 whatever it learned: it exceeds
    0.6 with probability below 1e-9 (seeded here, so the run is deterministic)."""
    x, y = synthetic(600, seed=3, shuffle=True)
    x_test, y_test = synthetic(1000, seed=4, shuffle=True)
    model = train_classifier(x, y, hidden=8, seed=0)
    assert binary_metrics(model.scores(x_test), y_test, 0.5)["accuracy"] < 0.6


def test_binary_metrics_by_hand() -> None:
    m = binary_metrics([0.9, 0.8, 0.2, 0.6], [1, 0, 0, 1], 0.5)
    # predicted 1,1,0,1; tp = 2, fp = 1, fn = 0, tn = 1
    assert m["accuracy"] == 0.75 and m["precision"] == 2 / 3 and m["recall"] == 1.0
    assert m["f1"] == 0.8 and m["majority_accuracy"] == 0.5
    with pytest.raises(ValueError):
        binary_metrics([], [], 0.5)


def test_training_refuses_bad_input() -> None:
    x, y = synthetic(10, seed=0)
    with pytest.raises(ValueError, match="labels must be 0 or 1"):
        train_classifier(x, y * 2)
    with pytest.raises(ValueError, match="labels must be"):
        train_classifier(x, y[:5])
    with pytest.raises(ValueError, match="finite"):
        train_classifier(x * float("nan"), y)


# ---- traces and costs -------------------------------------------------------------------------


def rounds_where_probability_tells(n: int, seed: int, k: int = 6) -> list[TracedRound]:
    """Rounds whose accepted prefix has q(x) = 0.9 and whose later drafts have q(x) = 0.1."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        accepted = rng.randrange(k + 1)
        steps = tuple(state(0.9 if j < accepted else 0.1, position=j) for j in range(k))
        out.append(TracedRound(steps, accepted))
    return out


def test_round_costs_by_hand() -> None:
    rounds = [
        TracedRound(tuple(state(0.5, j) for j in range(4)), 2),
        TracedRound(tuple(state(0.5, j) for j in range(3)), 0),
    ]
    totals = round_costs(rounds, [3, 1], c=0.5)
    # tokens: min(2, 3) + 1 + min(0, 1) + 1 = 4; cost: 4 drafts * 0.5 + 2 target forwards = 4
    assert totals["tokens"] == 4 and totals["cost"] == 4 and totals["cost_per_token"] == 1
    assert static_kept(rounds, 4) == [4, 3]
    with pytest.raises(ValueError, match="kept"):
        round_costs(rounds, [5, 1], c=0.5)
    with pytest.raises(ValueError, match="accepted"):
        TracedRound((state(0.5),), 2)


def test_tuned_learned_policy_beats_every_static_k_when_features_tell() -> None:
    train = rounds_where_probability_tells(300, seed=1)
    tune = rounds_where_probability_tells(200, seed=2)
    policy, report = train_policy(train, tune, c=0.3, max_k=6, hidden=0)
    costs = report["modelled_cost_per_token"]
    assert costs["learned"] < costs["best_static"] - 0.05
    assert report["held_out_at_half"]["accuracy"] >= 0.99
    # The threshold separates the two probabilities: keep after 0.9, stop after 0.1.
    assert policy.keep_drafting([state(0.9, 1), state(0.1, 1)]) == [True, False]
    assert policy.lookahead([object(), object()]) == [policy.max_k] * 2
    assert report["policy_max_k"] == policy.max_k


def test_threshold_tuning_on_uninformative_traces_matches_the_best_static_k() -> None:
    """Negative control: a classifier that cannot tell (constant features) cannot beat static K."""
    rng = random.Random(5)
    rounds = []
    for _ in range(200):
        accepted = rng.randrange(5)
        rounds.append(TracedRound(tuple(state(0.5, 0) for _ in range(4)), accepted))
    x = features_matrix([s for r in rounds for s in r.steps])
    y = torch.tensor([v for r in rounds for v in r.labels()], dtype=torch.float64)
    model = train_classifier(x, y, hidden=0)
    _, _, tuned = tune_threshold(model, rounds, c=0.3, max_k=4)
    best_static = min(
        round_costs(rounds, static_kept(rounds, k), 0.3)["cost_per_token"] for k in range(1, 5)
    )
    # Static K is in the tuned family (threshold 0, cap K), and nothing in it does better here.
    assert tuned["cost_per_token"] == pytest.approx(best_static, abs=1e-12)


def test_training_refuses_one_class() -> None:
    all_accepted = [TracedRound(tuple(state(0.9, j) for j in range(3)), 3)] * 5
    with pytest.raises(ValueError, match="both outcomes"):
        train_policy(all_accepted, all_accepted, c=0.1, max_k=3)


def test_recorder_matches_the_loop_statistics() -> None:
    from specproof.engine.generate import generate
    from specproof.engine.lookahead import StaticK
    from specproof.engine.models import load_model
    from specproof.engine.ngram import NgramDrafter

    target = load_model("tiny-llama:vocab=8,seed=1").model
    draft = load_model("tiny-llama:vocab=8,seed=1,layers=1").model
    prompts = [[1, 2, 3], [3, 2, 1, 4]]
    recorder = record_traces(target, draft, prompts, max_k=3, algorithm="sd", max_new_tokens=10)
    drafted = accepted = rounds = 0
    for i, prompt in enumerate(prompts):
        stats = generate(
            target, draft, [prompt], lookahead=StaticK(3), max_new_tokens=10, seed=i
        ).stats
        drafted, accepted, rounds = (
            drafted + stats.drafted,
            accepted + stats.accepted,
            rounds + stats.rounds,
        )
    assert len(recorder.rounds) == rounds
    assert sum(len(r.steps) for r in recorder.rounds) == drafted
    assert sum(r.accepted for r in recorder.rounds) == accepted
    first = recorder.rounds[0].steps[0]
    assert first.past_acceptance is None and first.rounds == 0 and len(first.top_probs) == 8
    second = recorder.rounds[1].steps[0]
    r0 = recorder.rounds[0]
    assert second.rounds == 1 and second.past_acceptance == r0.accepted / len(r0.steps)
    lookup = record_traces(target, NgramDrafter(2), [[1, 2, 1, 2, 1]], max_k=3, max_new_tokens=6)
    assert lookup.rounds and all(s.top_probs == () for r in lookup.rounds for s in r.steps)


# ---- the policy file --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def policy() -> LearnedPolicy:
    train = rounds_where_probability_tells(100, seed=1)
    tune = rounds_where_probability_tells(60, seed=2)
    return train_policy(train, tune, c=0.3, max_k=6, hidden=4)[0]


def test_file_round_trip(policy: LearnedPolicy, tmp_path: Path) -> None:
    path = save_policy(policy, tmp_path / "p.json")
    loaded = load_policy(path)
    assert loaded.max_k == policy.max_k and loaded.threshold == policy.threshold
    steps = [state(p / 10, j % 6) for j, p in enumerate(range(11))]
    assert loaded.scores(steps) == policy.scores(steps)
    assert loaded.keep_drafting(steps) == policy.keep_drafting(steps)
    data = json.loads(path.read_text())
    assert data["feature_set"] == FEATURE_SET and data["features"] == list(FEATURES)
    assert data["training"]["held_out"]["n"] > 0


def edits() -> list[tuple[str, object, str]]:
    """(field, new value, expected words in the error) for a malformed policy file."""
    return [
        ("format", "something-else", "format"),
        ("format_version", 2, "format_version"),
        ("feature_set", "disco-step-v0", "feature set"),
        ("features", list(FEATURES)[::-1], "feature set"),
        ("max_k", 0, "max_k"),
        ("max_k", True, "max_k"),
        ("threshold", 1.5, "threshold"),
        ("threshold", "0.5", "threshold"),
        ("classifier", {"kind": "mlp"}, "classifier: missing field"),
        ("training", [], "training"),
    ]


@pytest.mark.parametrize(("field", "value", "words"), edits())
def test_malformed_files_are_refused_naming_the_field(
    policy: LearnedPolicy, tmp_path: Path, field: str, value: object, words: str
) -> None:
    data = policy_to_dict(policy)
    data[field] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=words) as info:
        load_policy(path)
    assert "bad.json" in str(info.value)


def test_malformed_weights_are_refused(policy: LearnedPolicy, tmp_path: Path) -> None:
    cases = []
    data = policy_to_dict(policy)
    data["classifier"]["layers"][0]["weight"][0][0] = "x"
    cases.append((data, "numbers"))
    data = policy_to_dict(policy)
    data["classifier"]["layers"][0]["weight"] = [[1.0]]
    cases.append((data, "layer 0"))
    data = policy_to_dict(policy)
    data["classifier"]["scale"][0] = 0.0
    cases.append((data, "scale"))
    data = policy_to_dict(policy)
    data["classifier"]["kind"] = "logistic"
    cases.append((data, "kind"))
    for i, (bad, words) in enumerate(cases):
        path = tmp_path / f"bad{i}.json"
        path.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=words):
            load_policy(path)
    nan = tmp_path / "nan.json"
    nan.write_text(path.read_text().replace('"mean": [', '"mean": [NaN, ', 1))
    with pytest.raises(ValueError, match="finite|rectangular|mean"):
        load_policy(nan)


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "cannot be read"), ("{not json", "not valid JSON"), ("[1, 2]", "one JSON object")],
)
def test_unreadable_files_are_refused(tmp_path: Path, content: str | None, words: str) -> None:
    path = tmp_path / "p.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ValueError, match=words):
        load_policy(path)


def test_classifier_refuses_wrong_input_width(policy: LearnedPolicy) -> None:
    with pytest.raises(ValueError, match="features must be"):
        policy.classifier.scores(torch.zeros(2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="features"):
        small = AcceptanceClassifier(
            torch.zeros(3, dtype=torch.float64),
            torch.ones(3, dtype=torch.float64),
            ((torch.zeros(1, 3, dtype=torch.float64), torch.zeros(1, dtype=torch.float64)),),
        )
        LearnedPolicy(small, 0.5, 4)
