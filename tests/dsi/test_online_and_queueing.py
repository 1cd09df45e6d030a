"""Online simulation vs the offline model, queueing with few servers, and the CLI.

Online agreement: the runtime with sleeping workers (target 10 ms per forward) is compared with
the offline cost of the very same acceptance pattern, so there is no sampling error; the
tolerance (DSI and SI within 20% relative, plus 1 target forward for the start-up) covers the
runtime's overhead: thread hand-offs and timer overshoot on a shared 2-core machine (measured
2-8%). Timing noise on a shared machine only adds time, so each run is repeated up to 3 times
and the fastest wall time is used (the usual benchmarking rule); runs are also bounded below
(a sleeping runtime cannot beat the model it follows by more than 5%). Negative controls: the
same check against another algorithm's offline cost, or a drafter 3x slower, fails.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction as F

import numpy as np
import pytest

from specproof.cli.main import main
from specproof.dsi.online import offline_costs_on_pattern, run_online_simulation
from specproof.dsi.queueing import (
    dsi_cost_with_servers,
    dsi_costs_with_servers,
    min_servers_full_blocks,
    min_servers_no_wait,
)
from specproof.dsi.simulator import accepted_counts, dsi_costs
from specproof.dsi.workers import AcceptancePattern

TOLERANCE = 0.20


def _close(online_per_token, offline_per_token, tokens):
    return (
        offline_per_token * 0.95 - 1 / tokens
        <= online_per_token
        <= offline_per_token * (1 + TOLERANCE) + 1 / tokens
    )


def _fastest(c, a, k, tries=3, **kwargs):
    """Per algorithm, the fastest of up to `tries` runs (stop early once all agree)."""
    best = None
    for _ in range(tries):
        result = run_online_simulation(c, a, k, **kwargs)
        if best is None:
            best = result
        else:
            for name, algo in result["algorithms"].items():
                if algo["per_token"] < best["algorithms"][name]["per_token"]:
                    best["algorithms"][name] = algo
        if all(
            _close(v["per_token"], v["offline_per_token"], kwargs["tokens"])
            for v in best["algorithms"].values()
        ):
            break
    return best


@pytest.mark.parametrize("config", [(0.1, 0.9, 5), (0.9, 0.3, 3), (0.5, 0.5, 1)], ids=str)
def test_online_simulation_agrees_with_the_offline_model(config):
    c, a, k = config
    algos = _fastest(c, a, k, tokens=40, target_ms=10, seed=1)["algorithms"]
    for name in ("nonsi", "si", "dsi"):
        assert _close(algos[name]["per_token"], algos[name]["offline_per_token"], 40), (
            name,
            algos[name],
        )


def test_online_agreement_check_rejects_the_wrong_model():
    """Negative controls: DSI's online time does not pass as SI's offline cost, nor as the
    offline DSI cost of a drafter 3x slower, where those differ."""
    algos = _fastest(0.9, 0.3, 3, tokens=40, target_ms=10, seed=1)["algorithms"]
    assert not _close(algos["dsi"]["per_token"], algos["si"]["offline_per_token"], 40)
    c, a, k = 0.1, 0.9, 5
    algos = _fastest(c, a, k, tokens=40, target_ms=10, seed=1)["algorithms"]
    right = AcceptancePattern.from_rate(a, 41, 1).right
    slower = offline_costs_on_pattern(3 * c, k, 40, right)["dsi"] / 40
    assert not _close(algos["dsi"]["per_token"], slower, 40)


def test_online_with_bonus_is_not_slower_and_ttft_is_honoured():
    plain = _fastest(0.2, 0.8, 4, tokens=30, target_ms=10, seed=2, use_bonus=True)
    assert (
        plain["algorithms"]["dsi"]["per_token"]
        <= plain["algorithms"]["dsi"]["offline_per_token"] * (1 + TOLERANCE) + 1 / 30
    )
    slow_start = run_online_simulation(
        0.2, 0.8, 4, tokens=30, target_ms=10, target_first_ms=60, seed=2
    )
    # every server's first forward takes 60 ms instead of 10: non-SI pays it once (sleeps never
    # end early, so these are hard lower bounds)
    assert slow_start["algorithms"]["nonsi"]["seconds"] >= 0.060 + 29 * 0.010
    assert plain["algorithms"]["nonsi"]["seconds"] >= 30 * 0.010


def test_offline_costs_on_a_pattern_match_the_block_simulator_on_the_same_counts():
    """With every block's counts read off the pattern, both offline computations agree."""
    right = [True, True, False, True, True, True, True, False, False, True] * 5
    costs = offline_costs_on_pattern(0.25, 3, 40, right)
    assert costs["nonsi"] == 40
    assert costs["dsi"] <= costs["nonsi"]
    # all right: DSI drafts everything then verifies once; SI pays a forward per K + 1 tokens
    ideal = offline_costs_on_pattern(0.25, 3, 9, [True] * 9)
    assert ideal["dsi"] == min(8 * 0.25 + 1, 9)
    assert ideal["si"] == 2 * (3 * 0.25 + 1) + (0 * 0.25 + 1)


def test_queueing_with_enough_servers_equals_the_offline_model():
    rng = np.random.default_rng(5)
    for c, k in [(F(1, 10), 5), (F(1, 4), 2), (F(1, 20), 1)]:
        counts = accepted_counts(rng, np.full(10, 0.95), np.full(10, k), 100)
        offline = dsi_costs(np.full(10, float(c)), np.full(10, k), 100, counts)
        for i in range(10):
            run = dsi_cost_with_servers(c, k, 100, counts[i], min_servers_no_wait(c, k))
            assert run.waits == 0 and float(run.cost) == pytest.approx(offline[i], abs=1e-9)
            unlimited = dsi_cost_with_servers(c, k, 100, counts[i], None)
            assert unlimited.cost == run.cost


def test_fewer_servers_make_dsi_wait_and_slow_down_but_never_below_nonsi():
    rng = np.random.default_rng(6)
    c, k = F(1, 20), 2
    assert min_servers_full_blocks(c, k) == math.ceil(10) == 10
    counts = accepted_counts(rng, np.full(20, 0.9), np.full(20, k), 200)
    means = []
    for servers in (1, 3, 6, 10, 12):
        runs = [dsi_cost_with_servers(c, k, 200, row, servers) for row in counts]
        assert all(run.cost <= 200 for run in runs)
        if servers < 10:
            assert sum(run.full_block_waits for run in runs) > 0
        else:
            assert sum(run.full_block_waits for run in runs) == 0
        means.append(float(np.mean([float(run.cost) for run in runs])))
    assert means == sorted(means, reverse=True) and means[0] > means[-1] * 1.3


def test_queueing_rejects_bad_server_counts():
    with pytest.raises(ValueError, match="servers"):
        dsi_cost_with_servers(0.1, 2, 10, np.zeros(10, dtype=np.int64), 0)
    with pytest.raises(ValueError, match="servers"):
        dsi_costs_with_servers(0.1, 2, 10, np.zeros((1, 10), dtype=np.int64), True)
    with pytest.raises(ValueError, match="counts must be"):
        dsi_costs_with_servers(0.1, 2, 10, np.zeros(10, dtype=np.int64), 2)
    with pytest.raises(RuntimeError, match="holds 3 blocks"):
        dsi_costs_with_servers(0.1, 2, 10, np.zeros((1, 3), dtype=np.int64), 2)


@pytest.mark.parametrize("servers", [None, 1, 2, 3, 5, 40, 400])
def test_all_paths_at_once_equal_one_path_at_a_time_to_the_last_bit(servers):
    """The vectorised costs (what `dsi simulate --servers` uses) are the one-path version's
    float costs exactly, over lookaheads, acceptance rates and latencies that make jobs wait
    (c K < 1/servers), never wait, end on short blocks, or reject every draft."""
    rng = np.random.default_rng(11)
    for c in (1.0, 0.5, 0.1, 0.03, 0.9999):
        for a in (0.0, 0.6, 0.95, 1.0):
            for k in (1, 3, 8):
                tokens = int(rng.integers(1, 120))
                counts = accepted_counts(rng, np.full(6, a), np.full(6, k), tokens)
                paths = dsi_costs_with_servers(c, k, tokens, counts, servers)
                one = [float(dsi_cost_with_servers(c, k, tokens, r, servers).cost) for r in counts]
                assert paths.tolist() == one, (c, a, k, tokens)


def _simulate_json(capsys, *extra):
    """`specproof dsi simulate` at c=0.1, a=0.9, K=5, 200 tokens, plus `extra`: its JSON."""
    args = ["dsi", "simulate", "--c", "0.1", "--a", "0.9", "--k", "5", "--tokens", "200"]
    assert main([*args, *extra, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cli_simulate_json_keys(capsys):
    data = _simulate_json(capsys, "--repeats", "3")
    for name in ("nonsi", "si", "dsi"):
        assert {
            "mean_cost",
            "per_token",
            "std",
            "min",
            "max",
            "expected_cost",
            "expected_per_token_limit",
        } <= set(data[name])
    assert data["nonsi"]["mean_cost"] == 200
    assert data["dsi"]["mean_cost"] <= data["si"]["mean_cost"] + 3 * data["si"]["std"]
    queued = _simulate_json(capsys, "--servers", "1")
    assert queued["dsi"]["mean_cost"] > data["dsi"]["mean_cost"]  # one server: jobs wait


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--c", "0", "--a", "0.5", "--k", "2"], "--c"),
        (["--c", "1.2", "--a", "0.5", "--k", "2"], "--c"),
        (["--c", "0.5", "--a", "-0.1", "--k", "2"], "--a"),
        (["--c", "0.5", "--a", "1.5", "--k", "2"], "--a"),
        (["--c", "0.5", "--a", "0.5", "--k", "0"], "--k"),
        (["--c", "0.5", "--a", "0.5", "--k", "2", "--tokens", "0"], "--tokens"),
        (["--c", "0.5", "--a", "0.5", "--k", "2", "--servers", "0"], "--servers"),
        (["--c", "0.5", "--a", "0.5", "--k", "2", "--repeats", "0"], "--repeats"),
    ],
)
def test_cli_rejects_bad_arguments_naming_the_flag(args, flag, capsys):
    assert main(["dsi", "simulate", *args]) == 64
    assert f"argument {flag}: {flag} must" in capsys.readouterr().err


def test_cli_heatmap_small_grid_json(capsys, tmp_path):
    assert (
        main(
            [
                "dsi",
                "heatmap",
                "--steps",
                "4",
                "--tokens",
                "100",
                "--repeats",
                "2",
                "--out",
                str(tmp_path),
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert set(data["speedups"]) == {"dsi_vs_si", "dsi_vs_nonsi", "si_vs_nonsi", "dsi_vs_baseline"}
    assert np.array(data["speedups"]["dsi_vs_si"]).shape == (4, 4)
    assert (tmp_path / "heatmap.json").exists() and (tmp_path / "dsi_dsi_vs_si.png").exists()
    assert min(min(row) for row in data["speedups"]["dsi_vs_nonsi"]) >= 1  # DSI <= non-SI pathwise


def test_cli_online_json(capsys):
    assert (
        main(
            [
                "dsi",
                "online",
                "--c",
                "0.2",
                "--a",
                "0.8",
                "--k",
                "3",
                "--tokens",
                "20",
                "--target-ms",
                "5",
                "--json",
            ]
        )
        == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert set(data["algorithms"]) == {"nonsi", "si", "dsi"}
