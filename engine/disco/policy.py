r"""DISCO's learned lookahead policy: train, tune the threshold, save and load (JSON, never pickle).

[`LearnedPolicy`][specproof.engine.disco.policy.LearnedPolicy] asks for `max_k` drafts per
round (`lookahead`) and, after each drafted token, keeps drafting while the classifier's score
(the estimated probability that the token just drafted is accepted) is at least `threshold`
(`keep_drafting`). It reads drafter-side features only, so the loop stays lossless.

[`train_policy`][specproof.engine.disco.policy.train_policy] fits the classifier on the steps of
training rounds (label of step $j$: $j <$ accepted), then picks the threshold and the cap on K
on *held-out* rounds: those with the least modelled cost per output token
([`round_costs`][specproof.engine.disco.traces.round_costs], target forward = 1, draft token =
$c$), and reports the classifier's accuracy and F1 on those held-out steps beside the best
static K's modelled cost.

The policy file ([`save_policy`][specproof.engine.disco.policy.save_policy],
[`load_policy`][specproof.engine.disco.policy.load_policy]) is one JSON object: the format and
its version, the feature set and its feature names, `max_k`, `threshold`, the classifier's
weights, and what it was trained on. A file from another format version or feature set, or
malformed in any field, is refused with a `ValueError` naming the file and the field.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .classifier import AcceptanceClassifier, binary_metrics, train_classifier
from .features import FEATURE_SET, FEATURES, DraftStepState, features_matrix
from .traces import TracedRound, round_costs, static_kept

#: The policy file's `format` field.
FORMAT = "specproof-disco-policy"
#: The policy file's format version this code reads and writes.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class LearnedPolicy:
    """A stepwise lookahead policy: up to `max_k` drafts, stop when the score drops below `threshold`.

    Attributes:
        classifier: scores each drafted token's chance of acceptance.
        threshold: keep drafting while the score is at least this (in [0, 1]; 0 never stops
            before `max_k`).
        max_k: the most drafts per round (>= 1).
        training: what the policy was trained on and how it scored (free-form, JSON-ready).
    """

    classifier: AcceptanceClassifier
    threshold: float
    max_k: int
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.max_k, bool) or not isinstance(self.max_k, int) or self.max_k < 1:
            raise ValueError(f"max_k must be an int >= 1, got {self.max_k!r}")
        if not (isinstance(self.threshold, int | float) and 0.0 <= self.threshold <= 1.0):
            raise ValueError(f"threshold must lie in [0, 1], got {self.threshold!r}")
        if self.classifier.features != len(FEATURES):
            raise ValueError(
                f"the classifier reads {self.classifier.features} features, the feature set "
                f"{FEATURE_SET} has {len(FEATURES)}"
            )

    def lookahead(self, rows: Sequence[Any]) -> list[int]:
        """`max_k` for each row (drafting may stop earlier, see `keep_drafting`)."""
        return [self.max_k] * len(rows)

    def scores(self, steps: Sequence[DraftStepState]) -> list[float]:
        """The classifier's score of each step."""
        if not steps:
            return []
        return self.classifier.scores(features_matrix(steps)).tolist()

    def keep_drafting(self, steps: Sequence[DraftStepState]) -> list[bool]:
        """Per step (one per row that just drafted): whether that row drafts another token."""
        return [score >= self.threshold for score in self.scores(steps)]

    def kept(self, steps: Sequence[DraftStepState]) -> int:
        """How many of a round's drafts this policy would keep (at least 1, at most `max_k`)."""
        return kept_at(self.scores(steps[: self.max_k]), self.threshold)


def kept_at(scores: Sequence[float], threshold: float) -> int:
    """Drafts kept by stopping after the first score below `threshold` (all when none is)."""
    for j, score in enumerate(scores):
        if score < threshold:
            return j + 1
    return len(scores)


def _steps_and_labels(rounds: Sequence[TracedRound]) -> tuple[torch.Tensor, torch.Tensor]:
    steps = [s for traced in rounds for s in traced.steps]
    labels = [y for traced in rounds for y in traced.labels()]
    return features_matrix(steps), torch.tensor(labels, dtype=torch.float64)


def tune_threshold(
    classifier: AcceptanceClassifier,
    rounds: Sequence[TracedRound],
    c: float,
    max_k: int,
    candidates: int = 200,
) -> tuple[float, int, dict[str, float]]:
    """The threshold and cap on K with the least modelled cost per token on `rounds`.

    Tried: every cap from 1 to `max_k` (DISCO's largest lookahead is a hyperparameter too) with
    the thresholds 0 (never stop before the cap), 1, and up to `candidates` quantiles of the
    rounds' scores. Threshold 0 with cap K is static K, so on `rounds` the tuned policy's
    modelled cost is never above the best static K's. Ties go to the smaller cap, then the
    higher threshold (fewer drafts).

    Args:
        classifier: the trained classifier.
        rounds: held-out recorded rounds.
        c: draft token cost in target forwards.
        max_k: the largest cap tried.
        candidates: how many score quantiles to try.

    Returns:
        `(threshold, cap, totals)`, totals as [`round_costs`][specproof.engine.disco.traces.round_costs].

    Raises:
        ValueError: if `rounds` is empty.
    """
    if not rounds:
        raise ValueError("tune_threshold: no held-out rounds")
    per_round = [
        classifier.scores(features_matrix(traced.steps[:max_k])).tolist() if traced.steps else []
        for traced in rounds
    ]
    pooled = sorted({s for scores in per_round for s in scores})
    if len(pooled) > candidates:
        pooled = [
            pooled[round(i * (len(pooled) - 1) / (candidates - 1))] for i in range(candidates)
        ]
    best: tuple[float, int, float, dict[str, float]] | None = None
    for cap in range(1, max_k + 1):
        for threshold in sorted({0.0, 1.0, *pooled}, reverse=True):
            kept = [kept_at(scores[:cap], threshold) for scores in per_round]
            totals = round_costs(rounds, kept, c)
            if best is None or totals["cost_per_token"] < best[2] - 1e-12:
                best = (threshold, cap, totals["cost_per_token"], totals)
    assert best is not None
    return best[0], best[1], best[3]


def train_policy(
    train_rounds: Sequence[TracedRound],
    tune_rounds: Sequence[TracedRound],
    *,
    c: float,
    max_k: int,
    hidden: int = 16,
    seed: int = 0,
) -> tuple[LearnedPolicy, dict[str, Any]]:
    """Fit the classifier on `train_rounds`, tune the threshold and the cap on `tune_rounds`.

    Args:
        train_rounds: recorded rounds to fit on.
        tune_rounds: held-out recorded rounds (other prompts) for the threshold and the metrics.
        c: draft token cost in target forwards (for the threshold's modelled cost).
        max_k: the K the rounds were recorded at: the largest cap the tuning tries (the
            policy's `max_k` is the tuned cap).
        hidden: the classifier's hidden width (0: logistic regression).
        seed: seeds the classifier's initial weights.

    Returns:
        The policy and a report: step counts, the held-out metrics (at the tuned threshold and
        at 0.5), and the modelled cost per token of the policy and of each static K on the
        held-out rounds.

    Raises:
        ValueError: if either set has no drafted step, or the training labels are all one class.
    """
    x, y = _steps_and_labels(train_rounds)
    x_tune, y_tune = _steps_and_labels(tune_rounds)
    if x.shape[0] == 0 or x_tune.shape[0] == 0:
        raise ValueError(
            "train_policy: the training and held-out traces must each hold at least one drafted "
            f"token (got {x.shape[0]} and {x_tune.shape[0]})"
        )
    if int(y.sum()) in (0, y.numel()):
        raise ValueError(
            "train_policy: every training draft was "
            f"{'accepted' if int(y.sum()) else 'rejected'}; a classifier needs both outcomes"
        )
    classifier = train_classifier(x, y, hidden=hidden, seed=seed)
    threshold, cap, tuned = tune_threshold(classifier, tune_rounds, c, max_k)
    scores = classifier.scores(x_tune)
    static = {
        k: round_costs(tune_rounds, static_kept(tune_rounds, k), c)["cost_per_token"]
        for k in range(1, max_k + 1)
    }
    best_k = min(static, key=lambda k: (static[k], k))
    report: dict[str, Any] = {
        "feature_set": FEATURE_SET,
        "recorded_max_k": max_k,
        "c": c,
        "hidden": hidden,
        "train_steps": int(x.shape[0]),
        "train_rounds": len(train_rounds),
        "train_acceptance": float(y.mean()),
        "tune_steps": int(x_tune.shape[0]),
        "tune_rounds": len(tune_rounds),
        "threshold": threshold,
        "policy_max_k": cap,
        "held_out": binary_metrics(scores, y_tune, threshold),
        "held_out_at_half": binary_metrics(scores, y_tune, 0.5),
        "modelled_cost_per_token": {
            "learned": tuned["cost_per_token"],
            "best_static": static[best_k],
            "best_static_k": best_k,
            "static": {str(k): v for k, v in static.items()},
        },
    }
    return LearnedPolicy(classifier, threshold, cap, report), report


def policy_to_dict(policy: LearnedPolicy) -> dict[str, Any]:
    """The policy file's JSON object."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "feature_set": FEATURE_SET,
        "features": list(FEATURES),
        "max_k": policy.max_k,
        "threshold": policy.threshold,
        "classifier": policy.classifier.to_dict(),
        "training": policy.training,
    }


def save_policy(policy: LearnedPolicy, path: str | Path) -> Path:
    """Write `policy` as JSON to `path` (data only) and return the path.

    Raises:
        OSError: if the file cannot be written.
    """
    out = Path(path)
    text = json.dumps(_finite(policy_to_dict(policy)), indent=1, allow_nan=False)
    out.write_text(text + "\n", encoding="utf-8")
    return out


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {str(k): _finite(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_finite(v) for v in data]
    return data


def policy_from_dict(data: Any) -> LearnedPolicy:
    """Rebuild a policy from its JSON object, checking every field.

    Raises:
        ValueError: naming the field that is missing or wrong, or the format version or feature
            set that differs from this code's.
    """
    if not isinstance(data, dict):
        raise ValueError("a DISCO policy file must hold one JSON object")
    if data.get("format") != FORMAT:
        raise ValueError(f"format must be {FORMAT!r}, got {data.get('format')!r}")
    if data.get("format_version") != FORMAT_VERSION:
        raise ValueError(
            f"format_version {data.get('format_version')!r} is not the version this specproof "
            f"reads ({FORMAT_VERSION})"
        )
    if data.get("feature_set") != FEATURE_SET or data.get("features") != list(FEATURES):
        raise ValueError(
            f"the policy was trained on feature set {data.get('feature_set')!r}; this specproof "
            f"computes {FEATURE_SET!r} ({', '.join(FEATURES)}): retrain it with "
            "`specproof disco train`"
        )
    for key in ("max_k", "threshold", "classifier"):
        if key not in data:
            raise ValueError(f"missing field {key!r}")
    max_k, threshold = data["max_k"], data["threshold"]
    if isinstance(max_k, bool) or not isinstance(max_k, int):
        raise ValueError(f"max_k must be an integer, got {max_k!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float):
        raise ValueError(f"threshold must be a number, got {threshold!r}")
    training = data.get("training", {})
    if not isinstance(training, dict):
        raise ValueError("training must be an object")
    classifier = AcceptanceClassifier.from_dict(data["classifier"])
    return LearnedPolicy(classifier, float(threshold), max_k, training)


def load_policy(path: str | Path) -> LearnedPolicy:
    """Read a policy file written by [`save_policy`][specproof.engine.disco.policy.save_policy].

    Raises:
        ValueError: if the file cannot be read, is not JSON, or is malformed or from another
            format version or feature set (the message names the file and the field).
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"DISCO policy {str(source)!r} cannot be read: {exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"DISCO policy {str(source)!r} is not valid JSON: {exc}") from None
    try:
        return policy_from_dict(data)
    except ValueError as exc:
        raise ValueError(f"DISCO policy {str(source)!r}: {exc}") from None
