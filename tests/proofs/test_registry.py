"""The registry reports refutations, errors and successes as data; the CLI exits accordingly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from hypothesis import strategies as st

from specproof.cli.main import main
from specproof.proofs import registry as registry_module
from specproof.proofs.checking import Examples, check_by_hypothesis
from specproof.proofs.harness import check_lossless
from specproof.proofs.registry import CheckOptions, Outcome, Registry, run_claim, run_claims

from ..support.broken import BROKEN_VERIFIERS


def test_registry_refuses_duplicate_names_and_bad_outcomes():
    reg = Registry()
    reg.claim("sd_x", "x", "m")(lambda o: Outcome("checked"))
    with pytest.raises(ValueError, match="already registered"):
        reg.claim("sd_x", "x", "m")(lambda o: Outcome("checked"))
    with pytest.raises(ValueError, match="counterexample"):
        Outcome("refuted", {})
    with pytest.raises(ValueError, match="status must be one of"):
        Outcome("maybe")  # type: ignore[arg-type]


@pytest.mark.parametrize("verifier", BROKEN_VERIFIERS, ids=lambda v: v.name)
def test_a_broken_verifier_is_refuted_with_a_counterexample_the_reference_confirms(verifier):
    outcome = check_lossless(verifier, CheckOptions())
    assert outcome.status == "refuted"
    difference = outcome.certificate["counterexample"]["law_difference"]
    assert difference and all(d["expected"] != d["actual"] for d in difference.values())


def test_an_exception_in_a_check_is_unknown_not_proved():
    reg = Registry()

    @reg.claim("sd_crashes", "s", "m")
    def crash(options):
        raise RuntimeError("solver exploded")

    result = run_claim(reg["sd_crashes"], CheckOptions())
    assert result.status == "unknown" and "solver exploded" in result.certificate["error"]


FINE_EXAMPLES = Examples(5, 10, "integers 0..9")


def _test_registry():
    reg = Registry()
    # A cheap true claim (these tests are about the report; a standard-SD law check costs
    # ~10 s, ~20 s under --thorough); the false one is refuted by the real law check.
    reg.claim("sd_fine", "a true claim", "hypothesis", scope="fine instances")(
        lambda o: check_by_hypothesis(
            st.integers(0, 9), lambda n: None if n * n >= 0 else {"n": n}, o, FINE_EXAMPLES
        )
    )
    reg.claim("sd_broken", "a false claim", "hypothesis", scope="broken instances")(
        lambda o: check_lossless(BROKEN_VERIFIERS[0], o)
    )
    reg.claim(
        "sd_long",
        "A long claim about $a. b$, e.g. with "
        + "many words " * 10
        + "in its first sentence. A second sentence.",
        "z3",
        thorough_only=True,
        scope="V = 2..8",
    )(lambda o: Outcome("proved", {"backend": "z3"}))
    return reg


def test_cli_reports_a_refuted_claim_and_exits_nonzero(monkeypatch, capsys):
    monkeypatch.setattr(registry_module, "default_registry", _test_registry)
    assert main(["verify"]) == 1
    out = capsys.readouterr().out
    assert "sd_fine" in out and "REFUTED sd_broken" in out and "law_difference" in out
    assert "sd_long" not in out  # thorough only


def test_cli_json_has_the_documented_keys(monkeypatch, capsys):
    monkeypatch.setattr(registry_module, "default_registry", _test_registry)
    assert main(["verify", "--json", "--thorough", "--only", "sd_"]) == 1
    records = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in records] == ["sd_fine", "sd_broken", "sd_long"]
    for r in records:
        assert set(r) == {
            "name",
            "statement",
            "method",
            "status",
            "seconds",
            "certificate",
            "scope",
        }
    assert [r["status"] for r in records] == ["checked", "refuted", "proved"]
    assert [r["scope"] for r in records] == ["fine instances", "broken instances", "V = 2..8"]
    assert records[0]["statement"] == "a true claim"


def test_cli_logs_each_claim_on_stderr_before_it_runs_and_keeps_stdout_json(monkeypatch, capsys):
    """Progress without a terminal: one stderr line per claim, named before its check runs."""
    seen_before_check: list[str] = []

    def registry():
        reg = _test_registry()

        @reg.claim("sd_slow", "a claim that looks at the log while it runs", "m")
        def slow(options):
            seen_before_check.append(capsys.readouterr().err)
            return Outcome("checked")

        return reg

    monkeypatch.setattr(registry_module, "default_registry", registry)
    assert main(["verify", "--json", "--only", "sd_", "--jobs", "1"]) == 1
    captured = capsys.readouterr()
    assert [r["name"] for r in json.loads(captured.out)] == ["sd_fine", "sd_broken", "sd_slow"]
    err = seen_before_check[0] + captured.err
    assert re.search(r"verify \[1/3\] sd_fine \.\.\. checked \(\d+\.\d\ds\)\n", err)
    assert re.search(r"verify \[2/3\] sd_broken \.\.\. refuted", err)
    # The running claim is named before its check returns.
    assert seen_before_check[0].endswith("verify [3/3] sd_slow ... ")
    assert "verify [" not in captured.out


def _without_times(value):
    """`value` without its run statistics, at any depth: times (`seconds`) and z3's counters.

    z3's `statistics` (allocations, resource count, search steps) depend on what z3 did earlier
    in the same process, so they differ between two serial runs of different claim subsets too.
    """
    if isinstance(value, dict):
        return {
            k: _without_times(v) for k, v in value.items() if k not in ("seconds", "statistics")
        }
    if isinstance(value, list):
        return [_without_times(v) for v in value]
    return value


def _records(results):
    return [_without_times(r.to_json()) for r in results]


def test_claims_checked_in_worker_processes_give_the_serial_results_in_registry_order():
    """`jobs > 1` forks workers that hold the throwaway claims (lambdas); nothing but times moves."""
    claims = _test_registry().select(thorough=True)
    serial = run_claims(claims, CheckOptions())
    arrived: list[str] = []
    parallel = run_claims(
        claims, CheckOptions(), on_result=lambda r: arrived.append(r.name), jobs=3
    )
    assert [r.status for r in parallel] == ["checked", "refuted", "proved"]
    assert _records(parallel) == _records(serial)
    assert sorted(arrived) == sorted(c.name for c in claims)


def _verify_json(*args: str) -> list[dict]:
    """`specproof verify --json ARGS` in a fresh interpreter: its records."""
    command = [sys.executable, "-m", "specproof.cli.main", "verify", "--json", *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def test_a_claim_checked_in_parallel_has_the_certificate_it_has_alone():
    """Each check of a parallel run starts from a fresh fork of a process that checked nothing.

    z3's outputs (the model it returns as a witness, unsat cores, counters) depend on what z3
    did before in the same process, so a run of one claim after another can give another
    witness than the claim checked alone; a parallel run gives the one it has alone. The three
    claims below are ones whose witness or unsat core differed between the two (observed).
    """
    parallel = {r["name"]: r for r in _verify_json("--only", "z3", "--jobs", "2")}
    serial = {r["name"]: r for r in _verify_json("--only", "z3", "--jobs", "1")}
    assert len(parallel) >= 10
    assert {n: r["status"] for n, r in parallel.items()} == {
        n: r["status"] for n, r in serial.items()
    }
    for name in (
        "rdk_fixed_mix_can_lose",
        "tli_acceptance_ge_union_smt",
        "tli_acceptance_ge_union_any_vocabulary",
    ):
        (alone,) = _verify_json("--only", name, "--jobs", "1")
        assert _without_times(alone) == _without_times(parallel[name])


def test_a_check_that_kills_its_worker_is_unknown_and_the_other_claims_keep_their_results():
    reg = Registry()
    reg.claim("sd_before", "s", "m")(lambda o: Outcome("proved", {"n": 1}))
    reg.claim("sd_dies", "s", "m")(lambda o: os._exit(3))
    reg.claim("sd_after", "s", "m")(lambda o: Outcome("checked", {"n": 2}))
    results = run_claims(list(reg), CheckOptions(), jobs=2)
    assert [r.name for r in results] == ["sd_before", "sd_dies", "sd_after"]
    assert [r.status for r in results] == ["proved", "unknown", "checked"]
    assert "worker process" in results[1].certificate["error"]
    assert results[0].certificate == {"n": 1} and results[2].certificate == {"n": 2}


def test_interrupting_a_parallel_run_terminates_its_running_checks(tmp_path):
    """Ctrl-C on `specproof verify`: the command stops at once and leaves no check running."""
    script = f"""
import os, signal, time
signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal
from specproof.proofs.registry import CheckOptions, Outcome, Registry, run_claims

def sleeper(options):
    open(os.path.join({str(tmp_path)!r}, str(os.getpid())), "w").close()
    time.sleep(300)
    return Outcome("proved")

reg = Registry()
for i in range(3):
    reg.claim(f"sd_sleep{{i}}", "s", "m")(sleeper)
run_claims(list(reg), CheckOptions(), jobs=2)
"""
    proc = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while len(list(tmp_path.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    pids = [int(p.name) for p in tmp_path.iterdir()]
    assert len(pids) == 2, "the two checks did not start"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_checks_using_torch_run_in_forks_of_a_process_that_ran_multithreaded_torch():
    """Without one thread per fork, the fork's first multi-threaded torch operation hangs."""
    pytest.importorskip("torch")
    script = """
import torch
from specproof.proofs.registry import CheckOptions, Outcome, Registry, run_claims

torch.set_num_threads(2)
torch.randn(4_000_000).exp().sum()  # the parent's OpenMP pool now exists

def uses_torch(options):
    total = torch.randn(4_000_000).exp().sum().item()
    return Outcome("checked", {"threads": torch.get_num_threads(), "finite": total < float("inf")})

reg = Registry()
reg.claim("sd_torch_a", "s", "m")(uses_torch)
reg.claim("sd_torch_b", "s", "m")(uses_torch)
results = run_claims(list(reg), CheckOptions(), jobs=2)
print([(r.status, r.certificate) for r in results])
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    expected = ("checked", {"threads": 1, "finite": True})
    assert proc.stdout.strip() == str([expected, expected])


@pytest.mark.parametrize("jobs", [0, -1, 1.5, True, "2"])
def test_run_claims_refuses_a_bad_number_of_jobs(jobs):
    with pytest.raises(ValueError, match="jobs must be a positive integer"):
        run_claims([], CheckOptions(), jobs=jobs)


def test_cli_jobs_is_bounded_and_parallel_progress_lines_are_whole(monkeypatch, capsys):
    monkeypatch.setattr(registry_module, "default_registry", _test_registry)
    assert main(["verify", "--jobs", "0"]) == 64
    assert "--jobs" in capsys.readouterr().err
    assert main(["verify", "--json", "--only", "sd_", "--jobs", "2"]) == 1
    captured = capsys.readouterr()
    assert [r["name"] for r in json.loads(captured.out)] == ["sd_fine", "sd_broken"]
    lines = captured.err.splitlines()
    assert len(lines) == 2 and {line.split("] ")[1].split(" ...")[0] for line in lines} == {
        "sd_fine",
        "sd_broken",
    }
    for n, line in enumerate(lines, 1):
        assert re.fullmatch(
            rf"verify \[{n}/2\] sd_\w+ \.\.\. (checked|refuted) \(\d+\.\d\ds\)", line
        )


def _sleeping_registry():
    reg = Registry()
    for name in ("sleep_a", "sleep_b"):
        reg.claim(name, "s", "m")(lambda o: (time.sleep(1.0), Outcome("checked", {}))[1])
    return reg


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_table_gives_the_wall_time_and_in_parallel_the_checks_time(monkeypatch, capsys, jobs):
    """Two 1 s checks: one after another the wall time is the checks' sum; in parallel it is
    shorter, and the summed time is shown apart (the per-claim column adds up to it)."""
    monkeypatch.setattr(registry_module, "default_registry", _sleeping_registry)
    assert main(["verify", "--jobs", jobs]) == 0
    footer = capsys.readouterr().out.strip().splitlines()[-1]
    parallel = re.fullmatch(
        r"2 claims in (\d+\.\d)s \((\d+\.\d)s of checks in up to 2 processes\): 0 proved, 2 checked, .*",
        footer,
    )
    if jobs == "1":
        serial = re.fullmatch(r"2 claims in (\d+\.\d)s: 0 proved, 2 checked, .*", footer)
        assert serial is not None, footer
        assert float(serial.group(1)) >= 2.0
    else:
        assert parallel is not None, footer
        wall, checks = float(parallel.group(1)), float(parallel.group(2))
        assert checks >= 2.0 and wall < checks


def test_cli_list_json_has_scope_and_statement(monkeypatch, capsys):
    monkeypatch.setattr(registry_module, "default_registry", _test_registry)
    assert main(["verify", "--list", "--json", "--thorough"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [(r["name"], r["scope"], r["thorough_only"]) for r in records] == [
        ("sd_fine", "fine instances", False),
        ("sd_broken", "broken instances", False),
        ("sd_long", "V = 2..8", True),
    ]
    assert records[1]["statement"] == "a false claim"


def _table_row(out: str, name: str) -> str:
    (row,) = [line for line in out.splitlines() if line.startswith(name + " ")]
    return row


def test_cli_tables_show_scope_and_the_first_sentence_cut(monkeypatch, capsys):
    monkeypatch.setattr(registry_module, "default_registry", _test_registry)
    commands = (["verify", "--list", "--thorough"], ["verify", "--thorough", "--only", "sd_long"])
    for command in commands:
        assert main(command) == 0
        out = capsys.readouterr().out
        header = out.splitlines()[0].split()
        assert header[-2:] == ["scope", "statement"], command
        row = _table_row(out, "sd_long")
        scope, statement = re.split(r"\s{2,}", row)[-2:]
        assert scope == "V = 2..8", (command, row)
        assert statement.startswith("A long claim about $a. b$, e.g. with many words")
        assert statement.endswith("...") and len(statement) <= 60, statement
        assert "second sentence" not in out
    assert re.search(r"fine instances\s+a true claim$", _table_row(out_list(capsys), "sd_fine"))


def out_list(capsys) -> str:
    assert main(["verify", "--list"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("statement", "width", "expected"),
    [
        ("One. Two.", None, "One."),
        ("With i.i.d. draws, e.g. two. Then more.", None, "With i.i.d. draws, e.g. two."),
        ("Maths $x. y$ stays. Out.", None, "Maths $x. y$ stays."),
        ("Spread\nover  lines. Out.", None, "Spread over lines."),
        ("No full stop", None, "No full stop"),
        ("abcdef ghij", 10, "abcdef..."),
        ("abcdefghij", 8, "abcde..."),
        ("ab $x + y + z$ cd", 12, "ab..."),  # never cut inside maths
        ("short", 8, "short"),
    ],
)
def test_first_sentence(statement, width, expected):
    assert registry_module.first_sentence(statement, width) == expected


def test_every_registered_claim_states_its_scope():
    missing = [c.name for c in registry_module.default_registry() if not c.scope.strip()]
    assert not missing, f"claims without a scope (Claim.scope): {missing}"


def test_distribution_claim_scope_names_its_sizes():
    from specproof.proofs.claims import distribution_claim

    reg = Registry()
    distribution_claim(
        "sd_probe", "s", None, sizes=range(2, 9), thorough_sizes=[2, 3, 5], registry=reg
    )  # type: ignore[arg-type]
    assert reg["sd_probe"].scope == "V = 2..8 (2, 3, 5 thorough)"


def test_cli_only_matches_name_or_method(monkeypatch, capsys):
    monkeypatch.setattr(registry_module, "default_registry", _test_registry)
    assert main(["verify", "--json", "--thorough", "--only", "z3"]) == 0
    assert [r["name"] for r in json.loads(capsys.readouterr().out)] == ["sd_long"]
    assert main(["verify", "--only", "nothing-matches"]) == 64


def test_default_registry_claims_all_pass():
    reg = registry_module.default_registry()
    names = {c.name for c in reg}
    assert {
        "sd_lossless",
        "exact_match_lossless",
        "greedy_lossless",
        "sd_acceptance_is_one_minus_tv",
        "sd_expected_tokens_per_round",
        "exact_match_acceptance_le_sd",
    } <= names
    prefixes = (
        "sd_",
        "exact_match_",
        "greedy_",
        "tli_",
        "union_",
        "slem_",
        "slrs_",
        "rdk_",
        "disco_",
        "dsi_",
        "rank_",
        "audit_",
    )
    assert all(name.startswith(prefixes) for name in names)


def _cgroup_tree(tmp_path, cgroup_line, files):
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text(cgroup_line + "\n")
    for relative, text in files.items():
        path = tmp_path / "sys/fs/cgroup" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    return tmp_path


@pytest.mark.parametrize(
    ("cgroup_line", "files", "limit"),
    [
        # v2: the smallest limit on the way up wins; 1.5 cores round up to 2.
        (
            "0::/a/b",
            {"a/b/cpu.max": "max 100000", "a/cpu.max": "150000 100000", "cpu.max": "4 1"},
            2,
        ),
        ("0::/", {"cpu.max": "max 100000"}, None),
        # v1 in a container: its own folder is not mounted, its limit is at the mount.
        (
            "4:cpu,cpuacct:/docker/abc",
            {"cpu,cpuacct/cpu.cfs_quota_us": "300000", "cpu,cpuacct/cpu.cfs_period_us": "100000"},
            3,
        ),
        (
            "4:cpu,cpuacct:/",
            {"cpu,cpuacct/cpu.cfs_quota_us": "-1", "cpu,cpuacct/cpu.cfs_period_us": "100000"},
            None,
        ),
        ("9:memory:/x\n0::/", {"cpu.max": "50000 100000"}, 1),
        ("0::/", {"cpu.max": "garbage"}, None),
        ("0::/", {"cpu.max": "0 100000"}, None),
        ("0::/", {}, None),
    ],
)
def test_the_default_jobs_follow_a_cgroup_cpu_limit(tmp_path, cgroup_line, files, limit):
    from specproof.cli.verify import cgroup_cpu_limit, default_jobs

    root = _cgroup_tree(tmp_path, cgroup_line, files)
    assert cgroup_cpu_limit(root) == limit
    cores = len(os.sched_getaffinity(0))
    assert default_jobs(root) == (cores if limit is None else min(cores, limit))


def test_the_default_jobs_without_a_cgroup_file_are_the_cores(tmp_path):
    from specproof.cli.verify import cgroup_cpu_limit, default_jobs

    assert cgroup_cpu_limit(tmp_path) is None
    assert default_jobs(tmp_path) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("limit", "cap"), [(1, 1), (None, None), (10_000, None)])
def test_pytest_n_auto_is_capped_by_a_cgroup_cpu_limit(monkeypatch, pytestconfig, limit, cap):
    """tests/conftest.py's hook: xdist's own count, at most the cgroup's limit."""
    if not pytestconfig.pluginmanager.hasplugin("xdist"):
        pytest.skip("needs pytest-xdist")
    from xdist.plugin import pytest_xdist_auto_num_workers as xdist_count

    from specproof.cli import verify

    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.setattr(verify, "cgroup_cpu_limit", lambda: limit)
    workers = pytestconfig.pluginmanager.hook.pytest_xdist_auto_num_workers(config=pytestconfig)
    own = xdist_count(pytestconfig)
    assert workers == (own if cap is None else min(own, cap))
    assert cap is None or workers == 1
