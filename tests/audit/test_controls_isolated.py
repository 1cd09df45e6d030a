"""The built-in controls give the same audit in process and behind the process boundary.

Each control (`controls.RUNS`) is audited twice on the same cases, seed and sample count: called
in the auditor's process, and as `IsolatedFunction(controls.spec(fn))` in a child. The
configurations (verdicts, statistics, p-values, errors) must be identical: the child receives the
same arrays and the generator's state, and hands the state back. Deterministic (same stream on
both sides), so nothing here is statistical. Negative control: another seed changes the
statistics, so the comparison can see a difference.
"""

from __future__ import annotations

import pytest

from specproof.audit import controls
from specproof.audit.boundary import IsolatedFunction
from specproof.audit.sampler import audit_sampler, default_cases

CASES = default_cases(0)[:4]


def _configurations(fn, seed=0):
    audit = audit_sampler(fn, CASES, n_samples=300, alpha=0.05, seed=seed)
    return [
        {k: v for k, v in c.to_json().items() if k != "details"} for c in audit.configurations
    ], audit.verdict


@pytest.mark.parametrize("name", [name for name, _, _ in controls.RUNS])
def test_every_control_audits_the_same_in_process_and_isolated(name):
    fn = {n: f for n, f, _ in controls.RUNS}[name]
    local = _configurations(fn)
    with IsolatedFunction(controls.spec(fn)) as isolated:
        remote = _configurations(isolated)
    assert remote == local


def test_negative_control_another_seed_changes_the_audit():
    assert _configurations(controls.standard_sd, 1) != _configurations(controls.standard_sd, 0)
