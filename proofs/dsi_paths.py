r"""What the DSI claims run: exact per-path costs, simulated grid paths, runtime runs.

The exact costs of one path under the authors' loops, the heatmap grid's simulated paths, and
one run of the DSI runtime over the exact reference.

The claims themselves are registered in [`specproof.proofs.dsi`][specproof.proofs.dsi].
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from .registry import CheckOptions

F = Fraction


def grid_paths(options: CheckOptions, repeats: int) -> tuple[Any, Any]:
    """The heatmap grid (c, a on 20 steps, K = 1..20), `repeats` paths each, S = 200."""
    from specproof.dsi.simulator import simulate_lanes

    c, a, k = np.meshgrid(
        np.linspace(0.05, 1, 20), np.linspace(0.01, 0.99, 20), np.arange(1, 21), indexing="ij"
    )
    cs, as_, ks = (np.repeat(x.ravel(), repeats) for x in (c, a, k))
    costs = simulate_lanes(cs, as_, ks, 200, np.random.default_rng(options.seed))

    def lane(i: int) -> dict[str, Any]:
        return {
            "c": float(cs[i]),
            "a": float(as_[i]),
            "k": int(ks[i]),
            "tokens": 200,
            "seed": options.seed,
            "lane": i,
        }

    return costs, lane


def scalar_si_cost(c: Fraction, k: int, tokens: int, counts: list[int]) -> Fraction:
    """SI's cost on one path, the authors' loop written out (exact)."""
    left, cost, block = tokens, F(0), 0
    while left > 0:
        cost += min(k, left - 1) * c + 1
        left -= counts[block] + 1
        block += 1
    return cost


def scalar_dsi_cost(c: Fraction, k: int, tokens: int, counts: list[int]) -> Fraction:
    """DSI's cost on one path, the authors' loop written out (exact), "verified" rule included."""
    cost, done, block, verified = F(0), 0, 0, False
    while done < tokens:
        new, segment = 0, F(0)
        while True:
            lookahead = min(k, tokens - 1 - done - new)
            accepted = min(lookahead, counts[block])
            block += 1
            new += accepted
            if accepted > 0 or not verified:
                segment += lookahead * c
            if lookahead == 0 or accepted < lookahead:
                segment += 1
                new += 1
                verified = True
                break
            verified = False
        cost += min(segment, F(new))
        done += new
    return cost


def lossless_case(
    rng: Any, verifier: str, k: int, servers: int, target_only: bool
) -> dict[str, Any] | None:
    """Run DSI once over a random toy-LM pair; `None` if it commits the target's own tokens.

    Args:
        rng: the source of the LMs, uniforms, worker delays and `use_bonus`.
        verifier: `"greedy"` or `"exact_match"`.
        k: the lookahead $K$.
        servers: verification servers.
        target_only: run the target-only chain.

    Returns:
        `None`, or the case and both token sequences when they differ.
    """
    from specproof.dsi.runtime import DSIConfig, make_servers, run_dsi
    from specproof.dsi.workers import ToyDrafter, ToyTarget
    from specproof.reference import Dist, ToyLM, argmax, inverse_cdf

    vocab = ["a", "b", "c"]

    def lm() -> ToyLM:
        def row() -> Dist:
            weights = [rng.randint(1, 6) for _ in vocab]
            return Dist.over(vocab, [F(w, sum(weights)) for w in weights])

        return ToyLM(vocab, 1, {(): row(), **{(t,): row() for t in vocab}})

    target_lm, draft_lm = lm(), lm()
    n = 8
    sampled = verifier == "exact_match"
    uniforms = [F(rng.randrange(64), 64) for _ in range(n + 2)] if sampled else []
    draft_u = [F(rng.randrange(64), 64) for _ in range(n + 2)] if sampled else []
    delays = [rng.random() * 0.002 for _ in range(64)]

    def delay() -> float:
        return delays.pop() if delays else 0.0

    def target() -> ToyTarget:
        return ToyTarget(target_lm, draft_lm, verifier, uniforms, delay)

    def drafter() -> ToyDrafter:
        return ToyDrafter(draft_lm, draft_u, delay)

    expected: list[Any] = ["a"]
    for _ in range(n):
        row = target_lm.next_dist(expected)
        expected.append(
            inverse_cdf(row.probs, row.tokens, uniforms[len(expected)]) if sampled else argmax(row)
        )
    config = DSIConfig(
        lookahead=k,
        target_only=target_only,
        use_bonus=rng.random() < 0.5,
        job_timeout_s=10,
        run_timeout_s=30,
    )
    result = run_dsi(
        ["a"], n, make_servers(drafter, 1, prefix="drafter")[0], make_servers(target, servers),
        make_servers(target, 1, prefix="chain")[0] if target_only else None, config,
    )  # fmt: skip
    if result.tokens != expected[1:]:
        return {
            "verifier": verifier, "k": k, "servers": servers, "target_only": target_only,
            "dsi": [repr(t) for t in result.tokens], "target": [repr(t) for t in expected[1:]],
            "uniforms": [str(u) for u in uniforms],
        }  # fmt: skip
    return None


__all__ = ["grid_paths", "lossless_case", "scalar_dsi_cost", "scalar_si_cost"]
