"""The registry reports refutations, errors and successes as data; the CLI exits accordingly."""

from __future__ import annotations

import json

import pytest

from specproof.cli.main import main
from specproof.proofs import registry as registry_module
from specproof.proofs.harness import check_lossless
from specproof.proofs.registry import CheckOptions, Outcome, Registry, run_claim

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


def _test_registry():
    reg = Registry()
    reg.claim("sd_fine", "a true claim", "hypothesis")(lambda o: check_lossless("sd", o))
    reg.claim("sd_broken", "a false claim", "hypothesis")(
        lambda o: check_lossless(BROKEN_VERIFIERS[0], o)
    )
    reg.claim("sd_long", "a long claim", "z3", thorough_only=True)(
        lambda o: Outcome("proved", {"backend": "z3"})
    )
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
        assert set(r) == {"name", "statement", "method", "status", "seconds", "certificate"}
    assert [r["status"] for r in records] == ["checked", "refuted", "proved"]


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
