r"""Claims about distributed speculative inference (DSI) under the authors' cost model.

The model and the exact expectations are in [`specproof.reference.dsi`][specproof.reference.dsi];
the vectorised simulator (numpy only) in `specproof.dsi.simulator`. Per-token latencies
are in units of one target forward; $c$ is the drafter's latency per token, $a$ the acceptance
rate, $K$ the lookahead, $S$ the number of output tokens.

A finding recorded here: with the authors' coupling (SI and DSI read the same stream of
per-block accepted counts), DSI is **not** faster than SI on every path, only in expectation.
DSI never uses the bonus token of a fully accepted block, so a path on which SI gains bonus
tokens and DSI meets an early rejection favours SI (claim `dsi_not_pathwise_faster_than_si`).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np

from specproof.reference import dsi as ref

from .dsi_paths import grid_paths, lossless_case, scalar_dsi_cost, scalar_si_cost
from .registry import REGISTRY, CheckOptions, Outcome

F = Fraction


def _grid(n: int, lo: int = 0) -> list[Fraction]:
    return [F(i, n) for i in range(lo, n + 1)]


def _refuted(**counterexample: Any) -> Outcome:
    """A refutation carrying `counterexample` (keys in the order given)."""
    return Outcome("refuted", {"counterexample": counterexample})


@REGISTRY.claim(
    "dsi_not_slower_than_nonsi_pathwise",
    "On every path DSI's cost is at most non-SI's: a segment with $D$ drafted and $T$ output "
    "tokens costs $\\min(Dc + 1, T) \\le T$ (the target-only chain), and the segments' $T$ sum to "
    "$S$. Proved by that lemma (z3) and corroborated on simulated paths.",
    "z3 lemma + simulation",
    scope="all paths (lemma); simulated paths",
)
def check_dsi_not_slower_than_nonsi(options: CheckOptions) -> Outcome:
    """The lemma by z3, then every simulated path of a grid."""
    import z3

    drafted, c, t = z3.Reals("drafted c t")
    solver = z3.Solver()
    solver.set("timeout", int(options.timeout_s * 1000))
    segment = z3.If(drafted * c + 1 < t, drafted * c + 1, t)
    solver.add(drafted >= 0, c > 0, c <= 1, t >= 1, segment > t)
    lemma = str(solver.check())
    if lemma != "unsat":
        return Outcome("unknown", {"lemma": lemma})
    costs, lanes = grid_paths(options, repeats=3 if not options.thorough else 20)
    worst = int(np.argmax(costs.dsi - costs.nonsi))
    if costs.dsi[worst] > costs.nonsi[worst]:
        dsi, nonsi = float(costs.dsi[worst]), float(costs.nonsi[worst])
        return _refuted(**lanes(worst), dsi=dsi, nonsi=nonsi)
    return Outcome(
        "proved",
        {
            "lemma": "min(D*c + 1, T) <= T: z3 unsat of its negation",
            "simulated_paths": int(costs.dsi.size),
        },
    )


@REGISTRY.claim(
    "dsi_not_pathwise_faster_than_si",
    "With SI and DSI reading the same stream of per-block accepted counts (the authors' "
    "coupling), DSI $\\le$ SI does NOT hold on every path. Witness: $K = 1$, $c = 1/2$, $S = 3$, "
    "accepted counts $(1, 0, 0)$: SI costs $5/2$ (its first round outputs an accepted draft and a "
    "bonus token), DSI costs $3$ (it skips the bonus and meets the rejection one block later). "
    "Simulated paths with $DSI > SI$ are counted on the heatmap grid. The same holds under the "
    "position coupling (the draft at each output position is right or wrong once for all "
    "algorithms), even for a DSI that also uses the bonus token: witness $K = 2$, $c = 2/3$, "
    "$S = 7$, drafts right at positions 0-4 and wrong at 5: SI $17/3$ (its bonus tokens skip "
    "positions 2 and 5), DSI $6$ (the bonus-aware DSI finds the rejection at position 5 no earlier).",
    "exact witness + simulation",
    scope="exact witnesses; simulated grid",
)
def check_dsi_not_pathwise_faster_than_si(options: CheckOptions) -> Outcome:
    """Evaluate the witness exactly and with the vectorised simulator; count violating paths."""
    from specproof.dsi.simulator import dsi_costs, si_costs

    counts = np.array([[1, 0, 0]], dtype=np.int64)
    si = si_costs(np.array([0.5]), np.array([1]), 3, counts)[0]
    dsi = dsi_costs(np.array([0.5]), np.array([1]), 3, counts)[0]
    si_exact, dsi_exact = (
        scalar_si_cost(F(1, 2), 1, 3, [1, 0, 0]),
        scalar_dsi_cost(F(1, 2), 1, 3, [1, 0, 0]),
    )
    if not (si_exact == F(5, 2) and dsi_exact == 3 and si == 2.5 and dsi == 3.0):
        return Outcome(
            "unknown",
            {
                "error": "witness does not evaluate as stated",
                "si": str(si_exact),
                "dsi": str(dsi_exact),
            },
        )
    from specproof.dsi.online import offline_costs_on_pattern

    position = offline_costs_on_pattern(2 / 3, 2, 7, [True] * 5 + [False, False])
    if not (abs(position["si"] - 17 / 3) < 1e-12 and position["dsi"] == 6.0):
        return Outcome(
            "unknown", {"error": "position-coupling witness does not evaluate as stated"}
        )
    costs, _ = grid_paths(options, repeats=3 if not options.thorough else 20)
    violating = int(np.count_nonzero(costs.dsi > costs.si + 1e-9))
    return Outcome(
        "proved",
        {
            "witness": {
                "k": 1,
                "c": "1/2",
                "tokens": 3,
                "accepted_counts": [1, 0, 0],
                "si": "5/2",
                "dsi": "3",
            },
            "position_witness": {
                "k": 2,
                "c": "2/3",
                "tokens": 7,
                "right": "11111 00",
                "si": "17/3",
                "dsi": "6",
            },
            "simulated_paths": int(costs.dsi.size),
            "paths_with_dsi_slower_than_si": violating,
        },
    )


def _refuted_ordering(
    c: Fraction, a: Fraction, k: int, si: Fraction, dsi: Fraction, **sizes: int
) -> Outcome:
    """A configuration where DSI's expected cost exceeds SI's (or non-SI's), as a refutation."""
    return _refuted(c=str(c), a=str(a), k=k, **sizes, si=str(si), dsi=str(dsi))


@REGISTRY.claim(
    "dsi_faster_than_si_expected_grid",
    "In expectation DSI is at most SI and at most non-SI: exactly (Fractions) for the per-token "
    "limits on the grid $c = i/20 \\in (0, 1]$, $a = j/20 \\in [0, 1]$, $K = 1..8$, and for the "
    "expected total cost of $S \\in \\{1, 2, 3, 5, 8, 13\\}$ tokens (exact recursions, all end "
    "effects) on $c = i/10$, $a = j/10$, $K = 1..4$.",
    "exact enumeration",
    scope="grid in certificate (K = 1..8)",
)
def check_dsi_faster_than_si_expected(options: CheckOptions) -> Outcome:
    """Exact comparisons on grids."""
    steps, kmax = (40, 20) if options.thorough else (20, 8)
    limits = 0
    for k in range(1, kmax + 1):
        for c in _grid(steps, 1):
            for a in _grid(steps):
                si, dsi = ref.si_latency_per_token(c, a, k), ref.dsi_latency_per_token(c, a, k)
                limits += 1
                if dsi > si or dsi > 1:
                    return _refuted_ordering(c, a, k, si, dsi)
    finite = 0
    for k in range(1, 5):
        for c in _grid(10, 1):
            for a in _grid(10):
                for tokens in (1, 2, 3, 5, 8, 13):
                    si = ref.si_expected_cost(c, a, k, tokens)
                    dsi = ref.dsi_expected_cost(c, a, k, tokens)
                    finite += 1
                    if dsi > si or dsi > tokens:
                        return _refuted_ordering(c, a, k, si, dsi, tokens=tokens)
    return Outcome("checked", {"per_token_limits": limits, "finite_horizon_configs": finite})


@REGISTRY.claim(
    "dsi_faster_than_si_expected_symbolic",
    "For each fixed $K$ (1..6; 1..8 under --thorough), for all $c \\in (0, 1]$, $a \\in [0, 1]$: "
    "DSI's per-token latency is at most SI's. Proof: $g(T) = \\min(\\lceil T/K \\rceil Kc + 1, T)$ "
    "is at most $T$ and at most $\\lceil T/K \\rceil Kc + 1 - Kc[T = 1]$, so DSI $\\le \\min(1, U)$ "
    "with $U = (1 - a)(Kc/(1 - a^K) + 1 - Kc(1 - a))$; SI $\\ge 1$ iff $Kc \\ge \\sum_{i=1}^K a^i$, "
    "and otherwise $U \\le$ SI: a polynomial inequality (linear in $c$) proved by z3 (unsat of its "
    "negation). At $a = 1$: DSI $= c \\le (Kc + 1)/(K + 1) =$ SI.",
    "z3 (nonlinear real arithmetic)",
    scope="K = 1..6 (1..8 thorough), all c, a",
)
def check_dsi_faster_than_si_symbolic(options: CheckOptions) -> Outcome:
    """One z3 query per $K$; the bound steps are checked exactly on a grid as a guard."""
    import z3

    kmax = 8 if options.thorough else 6
    solved: dict[str, str] = {}
    for k in range(1, kmax + 1):
        a, c = z3.Reals("a c")
        partial = sum((a**i for i in range(1, k + 1)), z3.RealVal(0))
        power_k, power_k1 = a**k, a ** (k + 1)
        # (SI - U) * (1 - a^K)(1 - a^{K+1}) / (1 - a), positive factor for a in [0, 1).
        gap = (k * c + 1) * (1 - power_k) - (k * c + (1 - k * c * (1 - a)) * (1 - power_k)) * (
            1 - power_k1
        )
        solver = z3.Solver()
        solver.set("timeout", int(options.timeout_s * 1000))
        solver.add(a >= 0, a < 1, c > 0, c <= 1, k * c < partial, gap < 0)
        result = solver.check()
        solved[str(k)] = str(result)
        if result == z3.sat:
            model = solver.model()
            return _refuted(k=k, a=str(model[a]), c=str(model[c]))
        if result != z3.unsat:
            return Outcome("unknown", {"z3": solved})
    # Guard: the two bound steps, exactly, on a grid (a wrong lemma would show here).
    for k in range(1, kmax + 1):
        for c in _grid(10, 1):
            for a in _grid(10)[:-1]:
                bound = (1 - a) * (k * c / (1 - a**k) + 1 - k * c * (1 - a))
                exact = ref.dsi_latency_per_token(c, a, k)
                if exact > min(bound, F(1)):
                    return Outcome(
                        "unknown", {"error": "bound step fails", "k": k, "c": str(c), "a": str(a)}
                    )
    return Outcome("proved", {"z3": solved, "k_range": [1, kmax]})


@REGISTRY.claim(
    "dsi_si_slower_than_nonsi_region",
    "SI can be slower than non-SI: its per-token latency exceeds 1 exactly when "
    "$Kc > \\sum_{i=1}^K a^i$ (for $a < 1$; never at $a = 1$), because "
    "$(Kc + 1)(1 - a) - (1 - a^{K+1}) = (1 - a)(Kc - \\sum_{i=1}^K a^i)$ (sympy identity for "
    "$K = 1..20$). Witness: $c = 0.9$, $a = 0.3$, $K = 3$ gives SI $\\approx 2.61$, DSI $= 1$. DSI is "
    "never slower than non-SI there.",
    "sympy identity + exact witness",
    scope="K = 1..20 (identity) + one witness",
)
def check_si_slower_region(options: CheckOptions) -> Outcome:
    """The identity for each K by sympy, then the witness in Fractions."""
    import sympy

    a, c = sympy.symbols("a c")
    for k in range(1, 21):
        lhs = (k * c + 1) * (1 - a) - (1 - a ** (k + 1))
        rhs = (1 - a) * (k * c - sum(a**i for i in range(1, k + 1)))
        if sympy.expand(lhs - rhs) != 0:
            return _refuted(k=k, identity=str(sympy.expand(lhs - rhs)))
    c0, a0 = F(9, 10), F(3, 10)
    si, dsi = ref.si_latency_per_token(c0, a0, 3), ref.dsi_latency_per_token(c0, a0, 3)
    if not (si > 1 and ref.si_slower_than_nonsi(c0, a0, 3) and dsi <= 1):
        return Outcome("unknown", {"error": "witness failed", "si": str(si), "dsi": str(dsi)})
    return Outcome(
        "proved",
        {
            "identity_k_range": [1, 20],
            "witness": {"c": "9/10", "a": "3/10", "k": 3, "si": str(si), "dsi": str(dsi)},
        },
    )


@REGISTRY.claim(
    "dsi_target_server_count",
    "With $n \\ge \\lceil 1/(Kc) \\rceil$ verification servers no full block's job waits, and DSI "
    "with queueing costs what the offline model says up to end-of-run waits (the last one or two "
    "jobs of a run have fewer than $K$ drafts and can queue: at most 2 target forwards in all); with $n \\ge$ `min_servers_no_wait` (also $((n - 2)K + 1)c \\ge 1$) no job waits and the "
    "costs are equal; with $n = \\lceil 1/(Kc) \\rceil - 1 \\ge 1$ full blocks do wait on some "
    "simulated path (the bound is tight). Checked on simulated paths (FCFS queueing).",
    "simulation (event queue)",
    scope="simulated paths (see certificate)",
)
def check_target_server_count(options: CheckOptions) -> Outcome:
    """Queueing simulation on a few configurations."""
    from specproof.dsi.queueing import (
        dsi_cost_with_servers,
        min_servers_full_blocks,
        min_servers_no_wait,
    )
    from specproof.dsi.simulator import accepted_counts

    rng = np.random.default_rng(options.seed)
    paths = 40 if options.thorough else 8
    configs = [
        (F(1, 10), 5),
        (F(1, 20), 3),
        (F(3, 10), 1),
        (F(1, 50), 4),
        (F(1, 2), 2),
        (F(1, 4), 2),
        (F(1, 7), 3),
    ]
    report = []
    for c, k in configs:
        counts = accepted_counts(rng, np.full(paths, 0.95), np.full(paths, k, dtype=np.int64), 120)
        full, none = min_servers_full_blocks(c, k), min_servers_no_wait(c, k)
        if full != math.ceil(1 / (k * c)):
            return Outcome(
                "unknown", {"error": "min_servers_full_blocks disagrees with ceil(1/(Kc))"}
            )
        tight = False
        end_delay = 0.0
        for path in counts:
            free = dsi_cost_with_servers(c, k, 120, path, None)
            at_full = dsi_cost_with_servers(c, k, 120, path, full)
            at_none = dsi_cost_with_servers(c, k, 120, path, none)
            end_delay = max(end_delay, at_full.cost - free.cost)
            if at_full.full_block_waits or not (0 <= at_full.cost - free.cost <= 2):
                return _refuted(c=str(c), k=k, servers=full, path=path.tolist())
            if at_none.waits or at_none.cost != free.cost:
                return _refuted(c=str(c), k=k, servers=none, path=path.tolist())
            if full > 1:
                fewer = dsi_cost_with_servers(c, k, 120, path, full - 1)
                tight = tight or fewer.full_block_waits > 0
        if full > 1 and not tight:
            return _refuted(c=str(c), k=k, servers=full - 1, note="no full block waited")
        report.append(
            {
                "c": str(c),
                "k": k,
                "full_blocks": full,
                "no_wait": none,
                "max_end_delay": float(end_delay),
            }
        )
    return Outcome("checked", {"configs": report, "paths_each": paths, "tokens": 120, "a": 0.95})


@REGISTRY.claim(
    "dsi_lossless_toy",
    "DSI commits exactly the target's own tokens: on generated toy-LM pairs (vocabulary 3, Markov "
    "order 1), with the reference's greedy and exact-match verifiers (one uniform per position), "
    "$K \\in \\{1, 2, 3\\}$, 1 or 2 verification servers, with and without the target-only chain "
    "and the bonus token, and random worker delays, the DSI runtime's output equals the target's "
    "autoregressive decoding with the same per-position uniforms, token for token.",
    "exact comparison (runtime over the reference)",
    scope="generated instances: V = 3, K = 1..3",
)
def check_dsi_lossless_toy(options: CheckOptions) -> Outcome:
    """Run the DSI orchestrator over `ToyTarget`/`ToyDrafter` and compare exactly."""
    import itertools
    import random

    runs = 0
    cases = list(itertools.product(["greedy", "exact_match"], [1, 2, 3], [1, 2], [True, False]))
    for seed in range(4 if options.thorough else 1):
        for verifier, k, servers, target_only in cases:
            failure = lossless_case(
                random.Random(f"{options.seed}-{seed}-{verifier}-{k}-{servers}-{target_only}"),
                verifier,
                k,
                servers,
                target_only,
            )
            runs += 1
            if failure is not None:
                return _refuted(**failure)
    return Outcome("checked", {"runs": runs, "tokens_per_run": 8, "seed": options.seed})
