r"""Z3 proofs about standard SD: lossless for every pair of distributions, acceptance, optimality.

Each prover builds its claim from the formulas of `specproof.reference.formulas` run with the
z3 arithmetic ([`Z3_ARITH`][specproof.proofs.arith.Z3_ARITH]) and proves it by refuting its
negation; each takes the formula or bound it checks as an argument (defaulting to the
reference's), so that the tests can hand it a deliberately wrong one and see it refuted. The
claims that run them are registered in [`specproof.proofs.sd`][specproof.proofs.sd].
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import z3

from specproof.reference import Dist, ToyLM, speculative_law
from specproof.reference import formulas as f

from .arith import Z3_ARITH, OutputFormula
from .registry import Outcome
from .smt import (
    DistributionClaim,
    distribution_variables,
    prove_by_refutation,
    prove_for_distributions,
    prove_for_sizes,
    prove_lemma_sum,
    reference_rates,
)


def _one_step_law(target: Dist, draft: Dist) -> dict[str, Any]:
    """The reference's exact law of one SD step (order-0 models, one output token, K = 1)."""
    vocab = list(target.tokens)
    law = speculative_law(
        ToyLM(vocab, 0, {(): dict(target)}), ToyLM(vocab, 0, {(): dict(draft)}), (), 1, 1
    )
    return {
        "sd_one_step_law": {repr(k[0]): str(v) for k, v in law.items()},
        **reference_rates(target, draft),
    }


def sd_lossless_claim(output: OutputFormula = f.sd_output_probability) -> DistributionClaim:
    """`output(p, q, y) == p(y)` for every token $y$, as a distribution claim."""
    return DistributionClaim(
        "sd_output_probability(p, q, y) == p(y) for every y",
        lambda p, q, arith: [output(p, q, y, arith) == p[y] for y in range(len(p))],
        _one_step_law,
    )


def prove_residual_lemmas_smt(timeout_s: float) -> Outcome:
    r"""Prove the per-token residual identities once, for all reals $a, b$ (z3).

    Lemmas: $\min(a, b) + (a - b)_+ = a$ (`accepted_mass` + `residual`) and
    $b - \min(a, b) = (b - a)_+$ (`rejected_mass`), the same identities that
    [`prove_residual_identity`][specproof.proofs.sd_symbolic.prove_residual_identity] proves with sympy.
    Certificate: z3's certificate for their conjunction (no hypotheses: they hold for all reals).
    """
    a, b = z3.Reals("a b")
    return prove_by_refutation(
        {},
        z3.And(_residual_lemma_pair(a, b)),
        [a, b],
        timeout_s,
        replay=lambda v: {
            "claim_holds_exactly": all(_residual_lemma_pair(v["a"], v["b"], f.FRACTION_ARITH))
        },
    )


def _residual_lemma_pair(a: Any, b: Any, arith: f.Arith = Z3_ARITH) -> list[Any]:
    return [
        f.accepted_mass(a, b, arith) + f.residual([a], [b], arith)[0] == a,
        f.rejected_mass(a, b, arith) == arith.pos(b - a),
    ]


def residual_lemma_instances(target: Sequence[Any], draft: Sequence[Any]) -> dict[str, Any]:
    """The residual lemmas instantiated at every token, as named z3 hypotheses."""
    instances: dict[str, Any] = {}
    for i, (p, q) in enumerate(zip(target, draft, strict=True)):
        plus, rejected = _residual_lemma_pair(p, q)
        instances[f"lemma_accepted_plus_residual_{i}"] = plus
        instances[f"lemma_rejected_is_reverse_residual_{i}"] = rejected
    return instances


def prove_sd_lossless_smt(
    vocab_sizes: Sequence[int],
    timeout_s: float,
    *,
    lemmas: bool = True,
    output: OutputFormula = f.sd_output_probability,
) -> Outcome:
    r"""Prove one SD step lossless for every pair of distributions of each size (z3).

    Theorem: $\forall p, q \in \Delta_V\ \forall y:\ \mathrm{out}_{p,q}(y) = p(y)$, with
    $\mathrm{out}$ = `sd_output_probability` (`output`).

    Hypotheses: $p, q \ge 0$, $\sum p = \sum q = 1$; with `lemmas`, also the per-token residual
    identities instantiated at every token. Those are instances of lemmas z3 proves first for all
    reals ([`prove_residual_lemmas_smt`][specproof.proofs.sd_smt.prove_residual_lemmas_smt]), so
    adding them changes nothing that holds, only what z3 must rediscover: without them direct
    solving (nonlinear: the recovered mass divides by the residual's sum) takes tens of seconds
    at $V = 7$ and times out at $V = 8$; with them $V = 8$ takes milliseconds, and it stops
    scaling near $V = 16$.

    Certificate: the lemmas' certificate, then per $V$: z3's result, the negated formula's size,
    the hypotheses (lemma instances by name), statistics and time (no unsat core: tracking
    assertions blocks z3's preprocessing here).

    Args:
        vocab_sizes: the sizes to prove.
        timeout_s: z3's time limit per call.
        lemmas: add the residual lemma instances.
        output: the output-probability formula to check (the reference's by default).
    """
    claim = sd_lossless_claim(output)
    extra = residual_lemma_instances if lemmas else None
    lemma_outcome = prove_residual_lemmas_smt(timeout_s) if lemmas else None
    if lemma_outcome is not None and lemma_outcome.status != "proved":
        return Outcome(
            lemma_outcome.status, {"step": "residual lemmas", **lemma_outcome.certificate}
        )
    sizes = prove_for_sizes(
        lambda v: prove_for_distributions(claim, v, timeout_s, track=False, lemmas=extra),
        vocab_sizes,
    )
    certificate = dict(sizes.certificate)
    if lemma_outcome is not None:
        certificate["lemmas"] = lemma_outcome.certificate
    return Outcome(sizes.status, certificate)


def acceptance_tv_claim(scale: int = 1) -> DistributionClaim:
    r"""$\sum_x \min(p, q) = 1 - \mathrm{scale} \cdot \mathrm{TV}(p, q)$ (true for `scale` 1)."""
    return DistributionClaim(
        f"acceptance_rate(p, q) == 1 - {scale} * total_variation(p, q)",
        lambda p, q, arith: [
            f.acceptance_rate(p, q, arith) == 1 - scale * f.total_variation(p, q, arith)
        ],
        reference_rates,
    )


def prove_acceptance_is_maximal(
    vocab_sizes: Sequence[int],
    timeout_s: float,
    bound: Callable[[Any, Any, f.Arith], Any] = f.accepted_mass,
    combination_size: int = 1000,
) -> Outcome:
    r"""Prove that no lossless single-draft verifier of proposal $q$ accepts more than SD.

    Theorem. Let $p, q$ be distributions over $V$ tokens. A *single-draft verifier* drafts
    $x \sim q$, accepts it with probability $a(x) \in [0, 1]$, and on rejection outputs $y$ with
    probability $\rho_x(y)$ (any distribution $\rho_x$, which may depend on the rejected draft).
    If it is lossless, i.e. for every $y$
    $$q(y)\,a(y) + \sum_x q(x)\,(1 - a(x))\,\rho_x(y) = p(y),$$
    then its acceptance rate $\sum_x q(x)\,a(x) \le \sum_x \min(p(x), q(x))$, SD's rate.
    (SD attains it, so SD's acceptance is the maximum over this class.)

    Backend: z3.

    - *Per-coordinate lemma, every $V$*: for reals $p, q, a, R$ with $q \ge 0$, $0 \le a \le 1$,
      $R \ge 0$ and $q a + R = p$: $q a \le \min(p, q)$ (`bound`, the reference's
      `accepted_mass`). For the verifier, $R = \sum_x q(x)(1 - a(x))\rho_x(y)$ is a sum of terms
      that z3 proves nonnegative ($q \ge 0$, $a \le 1$, $\rho \ge 0$), so the lemma applies
      at every $y$; summing the $V$ instances (all with coefficient 1; a sum of valid
      inequalities is valid) gives the theorem for every $V$. That combination step is run
      mechanically at `combination_size` by
      [`prove_lemma_sum`][specproof.proofs.smt.prove_lemma_sum] (abstraction to fresh reals,
      exact unit Farkas check, z3 linear refutation).
    - *Directly for each of `vocab_sizes`*: the whole statement with $2V + V + V^2$ real
      variables ($p, q, a, \rho$), refuting its negation.

    Certificate: the lemma's z3 certificate (unsat core shows which hypotheses it uses), the
    nonnegativity lemma's, the combination's, and the per-size direct certificates.

    Args:
        vocab_sizes: the sizes proved directly.
        timeout_s: z3's time limit per call.
        bound: the per-token bound on accepted mass to check (the reference's by default).
        combination_size: the $V$ at which the lemma combination is run.
    """
    p, q, a, rest = z3.Reals("p q a R")
    lemma = prove_by_refutation(
        {
            "q_nonnegative": q >= 0,
            "a_at_least_0": a >= 0,
            "a_at_most_1": a <= 1,
            "R_nonnegative": rest >= 0,
            "lossless_at_y": q * a + rest == p,
        },
        q * a <= bound(p, q, Z3_ARITH),
        [p, q, a, rest],
        timeout_s,
        replay=lambda v: {
            "claim_holds_exactly": v["q"] * v["a"] <= bound(v["p"], v["q"], f.FRACTION_ARITH),
            "accepted_mass_q_times_a": str(v["q"] * v["a"]),
            "bound_exactly": str(bound(v["p"], v["q"], f.FRACTION_ARITH)),
        },
    )
    if lemma.status != "proved":
        return Outcome(lemma.status, {"step": "per-token lemma", **lemma.certificate})
    rho = z3.Real("rho")
    nonnegative = prove_by_refutation(
        {"q_nonnegative": q >= 0, "a_at_most_1": a <= 1, "rho_nonnegative": rho >= 0},
        q * (1 - a) * rho >= 0,
        [q, a, rho],
        timeout_s,
    )
    if nonnegative.status != "proved":
        return Outcome("unknown", {"step": "rejected mass nonnegative", **nonnegative.certificate})
    target = [z3.Real(f"p_{i}") for i in range(combination_size)]
    draft = [z3.Real(f"q_{i}") for i in range(combination_size)]
    accept = [z3.Real(f"a_{i}") for i in range(combination_size)]
    bounds = [bound(pp, qq, Z3_ARITH) for pp, qq in zip(target, draft, strict=True)]
    accepted = [qq * aa for qq, aa in zip(draft, accept, strict=True)]
    fresh_bounds = [z3.Real(f"m_{i}") for i in range(combination_size)]
    fresh_accepted = [z3.Real(f"c_{i}") for i in range(combination_size)]
    combination = prove_lemma_sum(
        lemma,
        (f.total(bounds, Z3_ARITH), z3.Sum(accepted)),
        list(zip(bounds, fresh_bounds, strict=True))
        + list(zip(accepted, fresh_accepted, strict=True)),
        [m >= c for m, c in zip(fresh_bounds, fresh_accepted, strict=True)],
        target + draft + accept,
        timeout_s,
    )
    if combination.status != "proved":
        return Outcome("unknown", {"step": "lemma combination", **combination.certificate})

    def direct(vocab_size: int) -> Outcome:
        target, draft, hypotheses = distribution_variables(vocab_size)
        accept = [z3.Real(f"a_{i}") for i in range(vocab_size)]
        redistribute = [
            [z3.Real(f"rho_{x}_{y}") for y in range(vocab_size)] for x in range(vocab_size)
        ]
        for x in range(vocab_size):
            hypotheses[f"a_{x}_in_0_1"] = z3.And(accept[x] >= 0, accept[x] <= 1)
            hypotheses[f"rho_{x}_is_a_distribution"] = z3.And(
                *[r >= 0 for r in redistribute[x]], z3.Sum(redistribute[x]) == 1
            )
        for y in range(vocab_size):
            hypotheses[f"lossless_at_{y}"] = (
                draft[y] * accept[y]
                + z3.Sum(
                    [draft[x] * (1 - accept[x]) * redistribute[x][y] for x in range(vocab_size)]
                )
                == target[y]
            )
        claim = z3.Sum([draft[x] * accept[x] for x in range(vocab_size)]) <= f.total(
            [bound(pp, qq, Z3_ARITH) for pp, qq in zip(target, draft, strict=True)], Z3_ARITH
        )
        variables = target + draft + accept + [r for row in redistribute for r in row]
        return Outcome(
            *_with_size(
                vocab_size,
                prove_by_refutation(hypotheses, claim, variables, timeout_s, track=False),
            )
        )

    sizes = prove_for_sizes(direct, vocab_sizes)
    return Outcome(
        sizes.status,
        {
            "backend": "z3",
            "lemma": lemma.certificate,
            "rejected_mass_nonnegative": nonnegative.certificate,
            "combination": {k: v for k, v in combination.certificate.items() if k != "lemma"},
            "direct": sizes.certificate,
            **(
                {"counterexample": sizes.certificate["counterexample"]}
                if "counterexample" in sizes.certificate
                else {}
            ),
        },
    )


def _with_size(vocab_size: int, outcome: Outcome) -> tuple[Any, dict[str, Any]]:
    return outcome.status, {"vocab_size": vocab_size, **outcome.certificate}


__all__ = [
    "acceptance_tv_claim",
    "prove_acceptance_is_maximal",
    "prove_residual_lemmas_smt",
    "prove_sd_lossless_smt",
    "residual_lemma_instances",
    "sd_lossless_claim",
]
