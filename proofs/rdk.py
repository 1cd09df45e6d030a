r"""Claims about Redistributing Drafter Kernels (RDK): losslessness and the first-order form.

The reference is `specproof.reference.rdk` (kernels, two-stage drafting, verification by standard
SD). The claims about the rank-one mixture $q_\lambda = (1-\lambda) q' + \lambda r$ and its
acceptance $\alpha(\lambda)$ (concavity, piecewise linearity, the oracle bound, the fixed-$\lambda$
counterexample) live in [`specproof.proofs.rdk_mixture`][specproof.proofs.rdk_mixture], which this
module imports so that importing it registers every `rdk_` claim (the algorithm registry names
this module); the strategies are in [`specproof.proofs.rdk_strategies`][specproof.proofs.rdk_strategies].
"""

from __future__ import annotations

from typing import Any

import sympy

from specproof.reference import Dist, autoregressive_law, speculative_law
from specproof.reference import formulas as f
from specproof.reference.rdk import (
    RDK,
    mixture_probs,
    rdk_proposal_probs,
    two_stage_law,
)

from .arith import SYMPY_ARITH
from .checking import Examples, dist_json, law_difference, lm_json
from .claims import ACCEPTANCE_METHOD, LOSSLESS_METHOD, hypothesis_claim
from .rdk_strategies import (
    RoundInstance,
    rdk_instances,
    step_instances,
)
from .registry import REGISTRY, CheckOptions, Outcome
from .symbolic import prove_zero_by_expansion

# --- Losslessness -----------------------------------------------------------------------------


def rdk_law_equality(instance: RoundInstance) -> dict[str, Any] | None:
    """`None` if SD with the RDK proposals has the target's law, else the difference."""
    target, drafter, kept, kernel, prefix, n, k = instance
    proposals = RDK(kernel).proposal_lm(drafter, kept)
    expected = autoregressive_law(target, prefix, n)
    actual = speculative_law(target, proposals, prefix, n, k, "sd")
    if actual == expected:
        return None
    return {
        "target": lm_json(target),
        "drafter": lm_json(drafter),
        "kept": [repr(t) for t in kept],
        "kernel": {
            repr(x): dist_json(row) for x, row in zip(kernel.tokens, kernel.rows, strict=True)
        },
        "prefix": [repr(t) for t in prefix],
        "n": n,
        "k": k,
        "law_difference": law_difference(expected, actual),
    }


check_rdk_lossless = hypothesis_claim(
    "rdk_lossless",
    r"RDK is lossless for every row-stochastic kernel $M$: for generated target and drafter toy "
    r"LMs, a pruned drafter vocabulary $D \subseteq T$, a kernel $M$, prefix, $n$ and $K$, the "
    r"exact law of the first $n$ output tokens of standard SD with proposals "
    r"$\mathrm{TLI}(q) M$ equals the target's autoregressive law.",
    rdk_instances(),
    rdk_law_equality,
    Examples(150, 1500, "toy-LM target/drafter: V<=4, orders 0-1, kept subset, kernel, n<=3, K<=3"),
    method=LOSSLESS_METHOD,
)
"""Law equality of the speculative loop with RDK proposals."""


def step_law_is_target(
    instance: tuple[Dist, Dist, Any], rdk_type: type[RDK] = RDK
) -> dict[str, Any] | None:
    r"""One step of the pinned two-stage rule + SD: law $= p$, acceptance $= \sum\min(p, q'M)$.

    Args:
        instance: `(target row, pruned drafter row, kernel)`.
        rdk_type: the RDK class under test (a broken subclass is the tests' negative control).
    """
    target, draft_row, kernel = instance
    rdk = rdk_type(kernel)
    proposal = rdk.proposal(draft_row)
    drafted = two_stage_law(draft_row, kernel)
    law, accepted = rdk.step_law(target, draft_row)
    expected_law = {t: p for t, p in target.items() if p > 0}
    expected_drafted = {t: p for t, p in proposal.items() if p > 0}
    alpha = f.acceptance_rate(target.probs, [proposal[t] for t in target], f.FRACTION_ARITH)
    if law == expected_law and drafted == expected_drafted and accepted == alpha:
        return None
    return {
        "target": dist_json(target),
        "draft_row": dist_json(draft_row),
        "proposal": dist_json(proposal),
        "two_stage_law": {repr(t): str(v) for t, v in drafted.items()},
        "step_law": {repr(t): str(v) for t, v in law.items()},
        "acceptance_executed": str(accepted),
        "acceptance_formula": str(alpha),
    }


check_rdk_step_law = hypothesis_claim(
    "rdk_step_law_is_target",
    r"One RDK step, integrated over its four explicit uniforms (source $x$ by inverse CDF of "
    r"$q'$, draft $y$ by inverse CDF of $M[x,\cdot]$, SD's accept and final uniforms): the draft "
    r"token has law exactly $q' M$, the output token has law exactly $p$, and the acceptance "
    r"probability is exactly $\sum_y \min(p(y), (q'M)(y))$.",
    step_instances(),
    step_law_is_target,
    Examples(300, 3000, "target row over V<=5, pruned drafter row over a kept subset, kernel"),
    method=ACCEPTANCE_METHOD,
)
"""Exact one-step laws of the pinned two-stage rule."""


def prove_proposal_is_distribution(vocab_sizes: range) -> Outcome:
    r"""$q'M$ is a distribution for every distribution $q'$ and row-stochastic $M$ (sympy).

    For each $V$: `rdk_proposal_probs` run on symbols $q'_x \ge 0$, $M_{xy} \ge 0$; with
    $q'_{V-1} = 1 - \sum_{x<V-1} q'_x$ and $M_{x,V-1} = 1 - \sum_{y<V-1} M_{xy}$ substituted,
    $\sum_y (q'M)_y - 1$ expands to 0; each $(q'M)_y$ before substitution is a sum of
    products of nonnegative symbols, which sympy reports nonnegative.
    """
    chain = []
    for size in vocab_sizes:
        source = [sympy.Symbol(f"s_{x}", nonnegative=True) for x in range(size)]
        matrix = [
            [sympy.Symbol(f"m_{x}_{y}", nonnegative=True) for y in range(size)] for x in range(size)
        ]
        proposal = rdk_proposal_probs(source, matrix, SYMPY_ARITH)
        substitution = {source[-1]: 1 - sum(source[:-1], sympy.Integer(0))}
        for x in range(size):
            substitution[matrix[x][-1]] = 1 - sum(matrix[x][:-1], sympy.Integer(0))
        step = prove_zero_by_expansion(
            f"sum_y (q'M)_y = 1, V = {size}", sum(proposal, sympy.Integer(0)) - 1, substitution
        )
        step["entries_nonnegative"] = all(bool(e.is_nonnegative) for e in proposal)
        chain.append(step)
        if not (step["proved"] and step["entries_nonnegative"]):
            return Outcome("unknown", {"backend": "sympy", "reason": "step failed", "chain": chain})
    return Outcome(
        "proved",
        {
            "backend": "sympy",
            "uses": ["sd_output_is_target_symbolic"],
            "composition": "q'M is a distribution, so the SD theorem (for every distribution "
            "q) applies with q = q'M: one RDK step outputs p",
            "chain": chain,
        },
    )


@REGISTRY.claim(
    "rdk_lossless_symbolic",
    r"One RDK step is lossless for every row-stochastic $M$: $q'M \ge 0$ and "
    r"$\sum_y (q'M)(y) = 1$ for all distributions $q'$ and row-stochastic $M$ (expanded "
    r"symbolically for $V = 1, \dots, 6$; $\le 9$ thorough), so the single-step SD theorem "
    r"`sd_output_is_target_symbolic` (every distribution $q$) gives output law $p$.",
    "sympy",
    scope="V = 1..6 (1..9 thorough)",
)
def check_rdk_lossless_symbolic(options: CheckOptions) -> Outcome:
    """Proved by [`prove_proposal_is_distribution`][specproof.proofs.rdk.prove_proposal_is_distribution]."""
    return prove_proposal_is_distribution(range(1, 10 if options.thorough else 7))


@REGISTRY.claim(
    "rdk_first_order_is_kernel",
    r"The first-order form is exact: $(1-\lambda) q' + \lambda r = q' M_\lambda$ with "
    r"$M_\lambda = (1-\lambda)\mathrm{Id} + \lambda \mathbf{1} r^\top$, for every distribution "
    r"$q'$ (symbolic $q', r, \lambda$; $V = 1, \dots, 6$, $\le 10$ thorough). The left side costs "
    r"$O(N)$, the right $O(N^2)$.",
    "sympy",
    scope="V = 1..6 (1..10 thorough)",
)
def check_rdk_first_order_is_kernel(options: CheckOptions) -> Outcome:
    """`mixture_probs` equals `rdk_proposal_probs` with the rank-one kernel, by expansion."""
    chain = []
    lam = sympy.Symbol("lambda", real=True)
    for size in range(1, 11 if options.thorough else 7):
        source = [sympy.Symbol(f"s_{x}", real=True) for x in range(size)]
        prior = [sympy.Symbol(f"r_{x}", real=True) for x in range(size)]
        matrix = [
            [(1 - lam) * (1 if x == y else 0) + lam * prior[y] for y in range(size)]
            for x in range(size)
        ]
        linear = mixture_probs(source, prior, lam)
        dense = rdk_proposal_probs(source, matrix, SYMPY_ARITH)
        normalise = {source[-1]: 1 - sum(source[:-1], sympy.Integer(0))}
        for y in range(size):
            step = prove_zero_by_expansion(
                f"mixture(y={y}) = (q'M)(y), V = {size}", linear[y] - dense[y], normalise
            )
            if not step["proved"]:
                return Outcome(
                    "unknown", {"backend": "sympy", "reason": "did not expand to 0", "step": step}
                )
            chain.append(step)
    return Outcome("proved", {"backend": "sympy", "identities": len(chain), "chain": chain[:6]})


# Registers the rank-one claims (rdk_mixture_*, rdk_oracle_dominates, rdk_fixed_mix_can_lose).
from . import rdk_mixture  # noqa: E402, F401
