"""DISCO (dynamic speculation lookahead, arXiv 2405.04304): a learned stopping rule for drafting.

After each drafted token a small classifier scores, from drafter-side features only, whether
that token will be accepted; drafting stops when the score falls below a threshold tuned on
held-out traces. Modules: [`features`][specproof.engine.disco.features] (the versioned feature
set), [`classifier`][specproof.engine.disco.classifier] (logistic regression or a tiny ReLU
network), [`traces`][specproof.engine.disco.traces] (recording rounds from the loop, offline
costs) and [`policy`][specproof.engine.disco.policy] (`LearnedPolicy`, training, the policy file).
"""

from __future__ import annotations

from .classifier import AcceptanceClassifier, binary_metrics, train_classifier
from .features import (
    FEATURE_SET,
    FEATURES,
    DraftStepState,
    features_matrix,
    step_features,
    step_states,
)
from .policy import (
    LearnedPolicy,
    load_policy,
    policy_from_dict,
    policy_to_dict,
    save_policy,
    train_policy,
    tune_threshold,
)
from .traces import TracedRound, TraceRecorder, record_traces, round_costs, static_kept

__all__ = [
    "FEATURES",
    "FEATURE_SET",
    "AcceptanceClassifier",
    "DraftStepState",
    "LearnedPolicy",
    "TraceRecorder",
    "TracedRound",
    "binary_metrics",
    "features_matrix",
    "load_policy",
    "policy_from_dict",
    "policy_to_dict",
    "record_traces",
    "round_costs",
    "save_policy",
    "static_kept",
    "step_features",
    "step_states",
    "train_classifier",
    "train_policy",
    "tune_threshold",
]
