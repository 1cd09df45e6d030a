"""The `rank_` claims: statuses, certificates, negative controls, and the run without torch."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import sympy

from specproof.cli.main import main
from specproof.experiments import claims, interpolant
from specproof.experiments.rank import DeepConfig, DeepRun, DepthResult
from specproof.proofs import registry as registry_module
from specproof.proofs.registry import CheckOptions, Outcome, Registry, default_registry, run_claim

MEASURED = (
    "rank_depth2_gd_high_rank_fraction",
    "rank_depth2_gd_away_from_rank_one",
    "rank_deep_product_rank_decreases_with_depth",
)


def test_the_rank_claims_are_registered_and_the_measured_ones_only_run_when_thorough():
    registry = default_registry()
    names = {c.name for c in registry}
    assert {"rank_two_point_rank_one_interpolant", *MEASURED} <= names
    fast = {c.name for c in registry.select("rank_")}
    assert fast == {"rank_two_point_rank_one_interpolant"}
    assert all(registry[name].method == "experiment" for name in MEASURED)


def test_the_rank_one_interpolant_is_proved_and_its_weights_fit_exactly():
    result = run_claim(default_registry()["rank_two_point_rank_one_interpolant"], CheckOptions())
    assert result.status == "proved", result.certificate
    instance = result.certificate["paper_instance"]
    assert instance["rank_W1"] == 1 and instance["stable_rank_W1"] == "1"
    # Re-evaluate the certified weights here, exactly, on the paper's inputs.
    first = sympy.Matrix(sympy.sympify(instance["W1"]))
    second = sympy.Matrix(sympy.sympify(instance["W2"]))
    norm = sympy.sqrt(1 + sympy.Rational(99, 100) ** 2)
    for i, x in enumerate(([1, sympy.Rational(99, 100)], [-1, sympy.Rational(99, 100)])):
        pre = first * sympy.Matrix(x) / norm
        out = second * pre.applyfunc(lambda e: e if e > 0 else 0)
        assert sympy.simplify(out - sympy.eye(2)[:, i]) == sympy.zeros(2, 1)
    assert first.det() == 0 and first != sympy.zeros(2, 2)


def test_the_interpolant_refuses_parallel_inputs():
    with pytest.raises(ValueError, match="linearly independent"):
        interpolant.rank_one_interpolant(sympy.Matrix([[1, 2], [2, 4]]), sympy.eye(2))
    with pytest.raises(ValueError, match="inputs"):
        interpolant.rank_one_interpolant(sympy.Matrix([[1, 2, 3]]), sympy.eye(2))


def test_a_measured_outcome_must_carry_its_seeds_and_thresholds():
    with pytest.raises(ValueError, match="seeds"):
        Outcome("measured", {"measurement": 1})
    Outcome("measured", {"seeds": [0], "thresholds": {}})


@pytest.fixture(scope="module")
def small_two_point_run():
    pytest.importorskip("torch")
    from specproof.experiments.rank import TwoPointConfig, train_two_point

    return train_two_point(TwoPointConfig(seeds=tuple(range(64))))


def test_depth2_claims_measured_on_64_seeds(small_two_point_run):
    high = claims.judge_high_rank_fraction(small_two_point_run)
    away = claims.judge_away_from_rank_one(small_two_point_run)
    assert high.status == "measured" and away.status == "measured"
    cert = high.certificate
    assert cert["seeds"] == list(range(64)) and cert["runs"] == 64
    assert cert["thresholds"]["stable_rank_threshold"] == 1.5
    ranks = cert["stable_rank_W1_of_fitting_runs"]
    assert len(ranks) == cert["runs_that_fit"] > 0
    above = sum(r > 1.5 for r in ranks)
    assert cert["measurement"]["fitting_runs_above_threshold"] == above
    assert cert["measurement"]["fraction_above_threshold"] == above / len(ranks) >= 0.5
    assert min(ranks) == away.certificate["measurement"]["min_stable_rank_W1"] >= 1.1
    assert cert["training_seconds"] > 0


def test_negative_controls_refute_claims_the_measurement_contradicts(small_two_point_run):
    # Stable rank of a 2x2 matrix is at most 2: no run is above 2, so the fraction is 0.
    refuted = claims.judge_high_rank_fraction(small_two_point_run, threshold=2.0)
    assert refuted.status == "refuted"
    assert refuted.certificate["counterexample"]["fraction_above_threshold"] == 0.0
    # Every fitting run is below 2, so a floor of 2 is contradicted by every fitting seed.
    floor = claims.judge_away_from_rank_one(small_two_point_run, floor=2.0)
    assert floor.status == "refuted"
    assert floor.certificate["counterexample"]["seeds_below_floor"]
    # Asking that every run fit is contradicted by the runs stuck at loss 1/4 or 1/2.
    assert claims.judge_high_rank_fraction(small_two_point_run, min_fit_fraction=1.0).status == (
        "refuted"
    )


def _fake_deep_run(medians: list[float]) -> DeepRun:
    depths = tuple(range(2, 2 + len(medians)))
    results = [
        DepthResult(d, [0.0] * 3, [True] * 3, [1] * 3, [m - 0.01, m, m + 0.01], [2.0] * 3, [m] * 3)
        for d, m in zip(depths, medians, strict=True)
    ]
    return DeepRun(DeepConfig(depths=depths, seeds=(0, 1, 2)), results, seconds=0.0)


@pytest.mark.parametrize(
    ("medians", "status"),
    [
        ([1.5, 1.2, 1.1], "measured"),
        ([1.5, 1.6, 1.1], "refuted"),  # depth 3 not below depth 2
        ([1.5, 1.3, 1.25], "refuted"),  # the deepest median above the 1.2 ceiling
    ],
)
def test_the_depth_trend_judgement(medians, status):
    outcome = claims.judge_depth_trend(_fake_deep_run(medians))
    assert outcome.status == status
    rows = outcome.certificate["measurement"]["per_depth"]
    assert [row["median_product_stable_rank"] for row in rows] == pytest.approx(medians)


def test_a_depth_sweep_whose_deepest_median_cannot_be_one_is_refuted_at_ceiling_one():
    """Negative control on real training: stable rank is 1 only for an exactly rank-1 product."""
    pytest.importorskip("torch")
    from specproof.experiments.rank import train_deep

    run = train_deep(DeepConfig(depths=(2, 3), seeds=(0, 1, 2), max_steps=500))
    outcome = claims.judge_depth_trend(run, ceiling=1.0)
    assert outcome.status == "refuted"
    assert outcome.certificate["counterexample"]["per_depth"][-1]["median_product_stable_rank"] > 1


@pytest.mark.slow
def test_the_registered_measured_claims_hold_thoroughly(capsys):
    """The command docs/explanation/rank.md shows (`specproof verify --only rank_ --thorough`),
    with `--json`: it exits 0, every measured claim is `measured` with its numbers and seeds,
    and the rank_ claim of the default run is `proved`. (The docs tests skip that example: this
    test runs it.)"""
    pytest.importorskip("torch")
    code = main(["verify", "--only", "rank_", "--thorough", "--json"])
    records = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert code == 0
    assert set(MEASURED) < set(records)
    for name, record in records.items():
        if name in MEASURED:
            assert record["status"] == "measured", (name, record["certificate"])
            assert {"measurement", "thresholds", "seeds", "training_seconds"} <= set(
                record["certificate"]
            )
        else:
            assert record["status"] == "proved", (name, record["certificate"])


NO_TORCH = """
import sys, json
sys.modules['torch'] = None
from specproof.proofs.registry import CheckOptions, default_registry, run_claim
registry = default_registry()
result = run_claim(registry['rank_depth2_gd_high_rank_fraction'], CheckOptions(thorough=True))
fast = [run_claim(c, CheckOptions()).status for c in registry.select('rank_')]
print(json.dumps({**result.to_json(), 'fast': fast}))
"""


def test_without_torch_a_measured_claim_is_unknown_naming_the_engine_extra():
    proc = subprocess.run(
        [sys.executable, "-c", NO_TORCH], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    record = json.loads(proc.stdout)
    assert record["status"] == "unknown"
    assert "engine" in record["certificate"]["error"]
    assert record["fast"] == ["proved"]  # the default run's rank_ claim needs no torch


def _measured_registry() -> Registry:
    reg = Registry()
    reg.claim("rank_probe", "a measured probe", "experiment")(
        lambda o: Outcome(
            "measured", {"measurement": {"x": 0.7}, "thresholds": {"x_min": 0.5}, "seeds": [0, 1]}
        )
    )
    return reg


def test_the_cli_shows_measured_in_the_table_and_the_json(monkeypatch, capsys):
    monkeypatch.setattr(registry_module, "default_registry", _measured_registry)
    assert main(["verify"]) == 0
    out = capsys.readouterr().out
    assert "measured" in out.split("\n\n")[0]  # the table
    assert "1 measured" in out and "MEASURED rank_probe" in out and '"x_min": 0.5' in out
    assert main(["verify", "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["status"] == "measured" and record["certificate"]["seeds"] == [0, 1]
