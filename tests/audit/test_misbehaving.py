"""The misbehaving-implementation suite: whatever the audited code does, the verdict is `crashed`.

Each implementation misbehaves in one way (exits, kills itself, hangs, prints, raises a
`BaseException`, returns garbage, uses its own randomness, exhausts memory), at call time or
at import; each must end as the `crashed` verdict (exit code 2) with the reason named, the
`--json` output must stay valid JSON, and the auditor must return within a stated bound.
Negative control: the same harness on a correct implementation gives a verdict that is not
`crashed` (so the harness can tell the two apart), and its prints do not reach stdout either.
Nothing here is statistical: the crashes are certain, and the replay check sees the own-
randomness implementation differ on its first call with probability 1 - 2**-64 per case or so.
"""

from __future__ import annotations

import json
import time

import pytest

from specproof.audit import misbehaving
from specproof.audit.misbehaving import AT_IMPORT, CASES
from specproof.cli.main import main

#: The slowest case (a hang) ends at the 6 s call limit (twice: the call is retried in a fresh
#: process); the rest is startup and one case. 6 s, not less, so that on a loaded machine a
#: slow but well-behaved call is not mistaken for a hang before it misbehaves as intended.
BOUND_SECONDS = 60


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    for name, (source, _) in AT_IMPORT.items():
        (tmp_path / f"{name}.py").write_text(source + "def verify(*args):\n    return [0]\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _audit(capfd: pytest.CaptureFixture[str], spec: str, *extra: str) -> tuple[int, str, str]:
    """`specproof audit sampler SPEC --json`: (exit code, stdout, stderr), file descriptors
    captured, so anything the audited process wrote to the auditor's stdout would show."""
    capfd.readouterr()
    command = ["audit", "sampler", spec, "--json", "--samples", "40", "--call-timeout", "6"]
    code = main([*command, "--memory-limit", "512", *extra])
    out, err = capfd.readouterr()
    return code, out, err


@pytest.mark.parametrize(("function", "reason"), CASES)
def test_every_misbehaviour_at_call_time_is_crashed_with_the_reason(
    workdir, capfd, function, reason
):
    start = time.monotonic()
    code, out, err = _audit(capfd, f"specproof.audit.misbehaving:{function}")
    seconds = time.monotonic() - start
    data = json.loads(out)  # valid JSON whatever the implementation printed
    assert code == 2 and data["verdict"] == "crashed", err
    errors = [c["error"] for c in data["configurations"] if c["verdict"] == "crashed"]
    assert errors and any(reason in e for e in errors), errors
    assert seconds < BOUND_SECONDS


@pytest.mark.parametrize("module", sorted(AT_IMPORT))
def test_every_misbehaviour_at_import_is_crashed_with_the_reason(workdir, capfd, module):
    reason = AT_IMPORT[module][1]
    code, out, _ = _audit(capfd, f"{module}:verify", "--import-timeout", "2")
    data = json.loads(out)
    assert code == 2 and data["verdict"] == "crashed"
    assert reason in data["configurations"][0]["error"]


def test_negative_control_a_correct_chatty_implementation_is_not_crashed(workdir, capfd):
    code, out, _ = _audit(
        capfd, "specproof.audit.misbehaving:correct", "--samples", "300", "--tv", "0.5"
    )
    data = json.loads(out)
    assert data["verdict"] in ("consistent", "inconclusive") and code in (0, 3)
    assert "chatter" not in out


def test_the_boundary_reproduces_the_in_process_stream_exactly(workdir):
    """Same generator, same outputs: the state crosses the boundary and comes back."""
    import numpy as np

    from specproof.audit.boundary import IsolatedFunction
    from specproof.audit.sampler import audit_sampler, default_cases

    cases = default_cases(0)[:5]
    local = audit_sampler(misbehaving.correct, cases=cases, n_samples=100)
    with IsolatedFunction("specproof.audit.misbehaving:correct") as isolated:
        remote = audit_sampler(isolated, cases=cases, n_samples=100)
    strip = [{k: v for k, v in c.to_json().items() if k != "details"} for c in local.configurations]
    assert strip == [
        {k: v for k, v in c.to_json().items() if k != "details"} for c in remote.configurations
    ]
    rng = np.random.default_rng(5)
    with IsolatedFunction("specproof.audit.misbehaving:correct") as isolated:
        isolated(cases[0].target_probs, cases[0].draft_probs, np.array([0]), rng)
    assert rng.bit_generator.state != np.random.default_rng(5).bit_generator.state


def test_main_never_lets_a_handler_exception_escape(monkeypatch, capsys):
    """An internal error exits 70 with one line, never a traceback or a verdict's code."""
    import specproof.cli.audit as audit_cli

    def broken(args):
        raise ZeroDivisionError("deliberate")

    monkeypatch.setattr(audit_cli, "run_controls", broken)
    assert main(["audit", "controls"]) == 70
    err = capsys.readouterr().err
    assert "internal error: ZeroDivisionError: deliberate" in err and "Traceback" not in err
