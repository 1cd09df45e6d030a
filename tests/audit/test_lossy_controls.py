"""Lossy-by-design configurations (positive controls) never count as the implementation's loss.

`specproof audit transformers --include-lossy` adds transformers' ensemble verification, lossy
by design, as a control that must be flagged. The overall verdict is about the implementation:
the flagged control leaves it `consistent`; a control that was not flagged (the audit could not
see a known loss) makes it at best `inconclusive`; and without the marker the same
configuration is the implementation's `not-lossless` (negative control).
"""

from __future__ import annotations

from specproof.audit.core import Audit, Configuration


def _config(name: str, verdict: str, lossy: bool = False) -> Configuration:
    config = Configuration(name=name, details={"lossy_by_design": True} if lossy else {})
    config.verdict = verdict
    return config


def _audit(*configs: Configuration) -> Audit:
    return Audit(list(configs), alpha=1e-6, tv=0.1, power=0.99)


def test_a_flagged_lossy_control_is_not_the_implementations_loss():
    audit = _audit(_config("plain", "consistent"), _config("ensemble", "not-lossless", True))
    assert audit.verdict == "consistent"
    assert audit.to_json()["lossy_controls"] == {"ensemble": "not-lossless"}


def test_an_unflagged_lossy_control_makes_the_audit_inconclusive():
    audit = _audit(_config("plain", "consistent"), _config("ensemble", "inconclusive", True))
    assert audit.verdict == "inconclusive"


def test_the_implementations_own_loss_still_counts():
    audit = _audit(_config("plain", "not-lossless"), _config("ensemble", "not-lossless", True))
    assert audit.verdict == "not-lossless"


def test_negative_control_without_the_marker_the_loss_counts():
    audit = _audit(_config("plain", "consistent"), _config("ensemble", "not-lossless"))
    assert audit.verdict == "not-lossless"
