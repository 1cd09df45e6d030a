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
import sys
import textwrap
import time

import pytest

from specproof.cli.main import main

IMPLEMENTATIONS = textwrap.dedent(
    """
    import os, random, signal, sys, time
    import numpy as np

    def correct(target_probs, draft_probs, draft_tokens, rng):
        print("chatter on stdout {")
        print("chatter on stderr", file=sys.stderr)
        out = []
        for i, x in enumerate(draft_tokens):
            if rng.random() * draft_probs[i, x] < target_probs[i, x]:
                out.append(int(x))
                continue
            residual = np.maximum(target_probs[i] - draft_probs[i], 0.0)
            out.append(int(rng.choice(residual.size, p=residual / residual.sum())))
            return out
        out.append(int(rng.choice(target_probs.shape[1], p=target_probs[-1])))
        return out

    def sys_exit_0(*args):
        sys.exit(0)

    def sys_exit_3(*args):
        sys.exit(3)

    def os_exit_0(*args):
        os._exit(0)

    def sigkill_self(*args):
        os.kill(os.getpid(), signal.SIGKILL)

    def segfault(*args):
        os.kill(os.getpid(), signal.SIGSEGV)

    def sigint_group(*args):
        os.killpg(0, signal.SIGINT)
        time.sleep(30)

    class Escape(BaseException):
        pass

    def base_exception(*args):
        raise Escape("not an Exception")

    def keyboard_interrupt(*args):
        raise KeyboardInterrupt

    def hang(*args):
        while True:
            time.sleep(1)

    def print_then_exit(*args):
        print('{"verdict": "consistent"}')
        sys.stdout.flush()
        os._exit(0)

    def garbage(*args):
        return object()

    def garbage_floats(target_probs, *args):
        return [0.5]

    def own_randomness(target_probs, draft_probs, draft_tokens, rng):
        return correct(target_probs, draft_probs, draft_tokens, np.random.default_rng())

    def memory_hog(*args):
        keep = []
        while True:
            keep.append(np.empty(1 << 23))  # 64 MiB each, until the 512 MiB limit
    """
)

AT_IMPORT = {
    "exit_at_import": "import sys\nsys.exit(0)\ndef verify(*a):\n    return [0]\n",
    "os_exit_at_import": "import os\nos._exit(0)\ndef verify(*a):\n    return [0]\n",
    "hang_at_import": "import time\nwhile True:\n    time.sleep(1)\n",
    "print_at_import": "print('{not json')\nraise SystemExit(0)\n",
}

#: (function, words the reason must contain).
CASES = [
    ("sys_exit_0", "SystemExit: 0"),
    ("sys_exit_3", "SystemExit: 3"),
    ("os_exit_0", "exited with code 0"),
    ("sigkill_self", "signal SIGKILL"),
    ("segfault", "signal SIGSEGV"),
    ("sigint_group", "KeyboardInterrupt"),  # the auditor, in another session, is untouched
    ("base_exception", "Escape: not an Exception"),
    ("keyboard_interrupt", "KeyboardInterrupt"),
    ("hang", "time limit of 2 s"),
    ("print_then_exit", "exited with code 0"),
    ("garbage", "object of type object"),
    ("garbage_floats", "malformed output"),
    ("own_randomness", "randomness other than its arguments"),
    ("memory_hog", "MemoryError"),
]
#: The slowest case (a hang) ends at the 2 s call limit; the rest is startup and one case.
BOUND_SECONDS = 60


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "misbehaving.py").write_text(IMPLEMENTATIONS)
    for name, source in AT_IMPORT.items():
        (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _audit(capfd: pytest.CaptureFixture[str], spec: str, *extra: str) -> tuple[int, str, str]:
    """`specproof audit sampler SPEC --json`: (exit code, stdout, stderr), file descriptors
    captured, so anything the audited process wrote to the auditor's stdout would show."""
    capfd.readouterr()
    command = ["audit", "sampler", spec, "--json", "--samples", "40", "--call-timeout", "2"]
    code = main([*command, "--memory-limit", "512", *extra])
    out, err = capfd.readouterr()
    return code, out, err


@pytest.mark.parametrize(("function", "reason"), CASES)
def test_every_misbehaviour_at_call_time_is_crashed_with_the_reason(
    workdir, capfd, function, reason
):
    start = time.monotonic()
    code, out, err = _audit(capfd, f"misbehaving:{function}")
    seconds = time.monotonic() - start
    data = json.loads(out)  # valid JSON whatever the implementation printed
    assert code == 2 and data["verdict"] == "crashed", err
    errors = [c["error"] for c in data["configurations"] if c["verdict"] == "crashed"]
    assert errors and any(reason in e for e in errors), errors
    assert seconds < BOUND_SECONDS


@pytest.mark.parametrize(
    ("module", "reason"),
    [
        ("exit_at_import", "SystemExit: 0"),
        ("os_exit_at_import", "exited with code 0"),
        ("hang_at_import", "time limit"),
        ("print_at_import", "SystemExit: 0"),
    ],
)
def test_every_misbehaviour_at_import_is_crashed_with_the_reason(workdir, capfd, module, reason):
    from specproof.audit import boundary

    # The import limit is the boundary's start_timeout; the CLI keeps its default (300 s), so
    # the hanging import is checked through the API with a short one.
    if module == "hang_at_import":
        with boundary.IsolatedFunction(f"{module}:verify", start_timeout=2) as fn:
            with pytest.raises(boundary.ImplementationCrashed, match=reason):
                fn.start()
        return
    code, out, _ = _audit(capfd, f"{module}:verify")
    data = json.loads(out)
    assert code == 2 and data["verdict"] == "crashed"
    assert reason in data["configurations"][0]["error"]


def test_negative_control_a_correct_chatty_implementation_is_not_crashed(workdir, capfd):
    code, out, _ = _audit(capfd, "misbehaving:correct", "--samples", "300", "--tv", "0.5")
    data = json.loads(out)
    assert data["verdict"] in ("consistent", "inconclusive") and code in (0, 3)
    assert "chatter" not in out


def test_the_boundary_reproduces_the_in_process_stream_exactly(workdir):
    """Same generator, same outputs: the state crosses the boundary and comes back."""
    import numpy as np

    from specproof.audit.boundary import IsolatedFunction
    from specproof.audit.sampler import audit_sampler, default_cases

    sys.path.insert(0, str(workdir))
    try:
        import misbehaving
    finally:
        sys.path.remove(str(workdir))
    cases = default_cases(0)[:5]
    local = audit_sampler(misbehaving.correct, cases=cases, n_samples=100)
    with IsolatedFunction("misbehaving:correct") as isolated:
        remote = audit_sampler(isolated, cases=cases, n_samples=100)
    strip = [{k: v for k, v in c.to_json().items() if k != "details"} for c in local.configurations]
    assert strip == [
        {k: v for k, v in c.to_json().items() if k != "details"} for c in remote.configurations
    ]
    rng = np.random.default_rng(5)
    with IsolatedFunction("misbehaving:correct") as isolated:
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
