"""Claims about exact-match (sample-and-match) verification."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import sympy
import z3

from specproof.reference import Dist, ToyLM, speculative_law
from specproof.reference import formulas as f

from .arith import SYMPY_ARITH, Z3_ARITH, OutputFormula
from .claims import acceptance_claim, distribution_claim, lossless_claim, proof_claim
from .registry import Outcome
from .smt import (
    DistributionClaim,
    prove_by_refutation,
    prove_lemma_sum,
    reference_rates,
)
from .symbolic import prove_zero_by_expansion

check_exact_match_lossless = lossless_claim(
    "exact_match",
    "Exact-match verification is lossless: for every generated target/draft toy-LM pair, "
    "prefix, $n$ and $K$, the law of the first $n$ output tokens equals the target's "
    "autoregressive law.",
)
"""Law equality for exact-match verification."""

check_exact_match_acceptance = acceptance_claim(
    "exact_match",
    "acceptance_le_sd",
    r"The acceptance rate of exact-match verification, obtained by integrating its rule, equals "
    r"$\sum_x p(x)\,q(x)$, which is at most standard SD's $\sum_x \min(p(x), q(x))$.",
    equal_to={"sum_pq": f.exact_match_acceptance_rate},
    at_most={"sum_min": f.acceptance_rate},
)
"""Executed exact-match acceptance == sum p q <= sum min(p, q)."""


# --- Proofs: sympy and z3 ---------------------------------------------------------------------

TermFormula = Callable[[Any, Any, f.Arith], Any]


def prove_output_is_target(
    vocab_sizes: Sequence[int], output: OutputFormula = f.exact_match_output_probability
) -> Outcome:
    r"""Prove that one exact-match step outputs token $y$ with probability exactly $p(y)$ (sympy).

    Theorem. For distributions $p, q$ over $V$ tokens and every token $y$:
    $q(y)\,p(y) + \sum_{x \ne y} q(x)\,p(y) = p(y)$ (`exact_match_output_probability`).

    Hypotheses: $\sum_x q(x) = 1$ (nonnegativity is not needed).

    Backend: sympy. For each $V$ in `vocab_sizes` and each $y$, the formula on $2V$ symbols,
    with $q_{V-1} = 1 - \sum_{x < V-1} q_x$ substituted, expands to $p_y$. (For every $V$: the
    formula is $p(y) \sum_x q(x)$, linear in $q$, so the same holds with one symbol for
    $\sum_{x \ne y} q(x)$; the fixed sizes check the formula itself.)

    Certificate: per $V$ and $y$, the expression before and after substitution and expansion.
    A case that does not expand to 0 is evaluated exactly with $p$ and $q$ both uniform, which
    then is the counterexample.

    Args:
        vocab_sizes: the sizes to prove.
        output: the output-probability formula to check (the reference's by default).
    """
    chain: list[dict[str, Any]] = []
    for vocab_size in vocab_sizes:
        target = [sympy.Symbol(f"p_{i}", real=True) for i in range(vocab_size)]
        draft = [sympy.Symbol(f"q_{i}", real=True) for i in range(vocab_size)]
        normalise = {draft[-1]: 1 - sum(draft[:-1], sympy.Integer(0))}
        for y in range(vocab_size):
            expression = output(target, draft, y, SYMPY_ARITH) - target[y]
            step = prove_zero_by_expansion(
                f"output({y}) = p_{y}, V = {vocab_size}", expression, normalise
            )
            chain.append(step)
            if not step["proved"]:
                uniform = [Fraction(1, vocab_size)] * vocab_size
                value = output(uniform, uniform, y, f.FRACTION_ARITH)
                if value == uniform[y]:
                    return Outcome(
                        "unknown",
                        {"backend": "sympy", "reason": "did not expand to 0", "chain": chain},
                    )
                law = speculative_law(
                    ToyLM(list(range(vocab_size)), 0, {(): dict(enumerate(uniform))}),
                    ToyLM(list(range(vocab_size)), 0, {(): dict(enumerate(uniform))}),
                    (),
                    1,
                    1,
                    "exact_match",
                )
                return Outcome(
                    "refuted",
                    {
                        "backend": "sympy",
                        "counterexample": {
                            "target": [str(v) for v in uniform],
                            "draft": [str(v) for v in uniform],
                            "token": y,
                            "formula_exactly": str(value),
                            "target_probability": str(uniform[y]),
                            "reference_one_step_law": {repr(k[0]): str(v) for k, v in law.items()},
                        },
                        "chain": chain,
                    },
                )
    return Outcome(
        "proved", {"backend": "sympy", "sympy_version": sympy.__version__, "chain": chain}
    )


check_exact_match_output_is_target = proof_claim(
    "exact_match_output_is_target_symbolic",
    r"One exact-match step outputs every token $y$ with probability exactly $p(y)$: "
    r"$q(y)p(y) + \sum_{x \ne y} q(x)p(y) = p(y)$ for all distributions $p, q$ "
    r"(the formula expanded symbolically for $V = 1, \dots, 8$; $V \le 16$ thorough).",
    "sympy",
    prove_output_is_target,
    default=(range(1, 9),),
    thorough=(range(1, 17),),
    scope="V = 1..8 (1..16 thorough)",
)
"""The exact-match output formula equals the target."""


def ordering_claim(reverse: bool = False) -> DistributionClaim:
    r"""$\sum_x \min(p, q) \ge \sum_x p q$ (SD accepts at least as often as exact match).

    With `reverse` the false variant $\le$, for negative controls.
    """
    if reverse:
        return DistributionClaim(
            "acceptance_rate(p, q) <= exact_match_acceptance_rate(p, q)",
            lambda p, q, a: [f.acceptance_rate(p, q, a) <= f.exact_match_acceptance_rate(p, q, a)],
            reference_rates,
        )
    return DistributionClaim(
        "acceptance_rate(p, q) >= exact_match_acceptance_rate(p, q)",
        lambda p, q, a: [f.acceptance_rate(p, q, a) >= f.exact_match_acceptance_rate(p, q, a)],
        reference_rates,
    )


check_exact_match_acceptance_le_sd_smt = distribution_claim(
    "exact_match_acceptance_le_sd_smt",
    r"For all distributions $p, q$ over $V$ tokens, "
    r"$\sum_x p(x)q(x) \le \sum_x \min(p(x), q(x))$ (exact-match acceptance at most SD's), "
    r"proved directly by z3 for $V = 2, 3$; under `--thorough` it tries $V$ up to 8, and direct "
    r"nonlinear solving stops scaling at $V = 4$ (timeout, reported `unknown`).",
    ordering_claim(),
    sizes=range(2, 4),
    thorough_sizes=range(2, 9),
    track=False,
)
"""Prove the acceptance ordering directly for each $V$ (z3, nonlinear real arithmetic)."""


def prove_ordering_any_vocabulary(
    vocab_size: int,
    timeout_s: float,
    sd_term: TermFormula = f.accepted_mass,
    exact_match_term: TermFormula = lambda p, q, arith: p * q,
) -> Outcome:
    r"""Prove $\sum_x \min(p, q) \ge \sum_x p q$ for every $V$ by a per-token lemma, summed (z3).

    Theorem. For distributions $p, q$ over any finite vocabulary,
    `exact_match_acceptance_rate`$(p, q) = \sum_x p(x)q(x) \le \sum_x \min(p(x), q(x)) =$
    `acceptance_rate`$(p, q)$.

    Proof, in three z3 steps:

    1. *Lemma* (one token): for reals $a, b \in [0, 1]$, $\min(a, b) \ge a b$ (built from
       `sd_term` and `exact_match_term`, the per-token terms of the two rate formulas).
       Nonlinear, two variables: z3 refutes the negation.
    2. *Bounds*: for a distribution, every $p(x) \in [0, 1]$, so each token meets the lemma's
       hypotheses: z3 proves $x \ge 0,\ r \ge 0,\ x + r = 1 \Rightarrow x \le 1$, applied
       with $x = p(x)$ and $r = \sum_{z \ne x} p(z)$ (a sum of nonnegatives; same for $q$).
    3. *Combination*: both rates are sums of per-token terms (`total` over tokens). Each term is
       replaced by a fresh real; the lemma instances become $m_x \ge s_x$ and the negated claim
       $\sum m_x < \sum s_x$; z3 refutes that in linear arithmetic (summing all instances with
       coefficient 1). The step is valid for any $V$, because a counterexample at any $V$ would
       give values of the fresh reals satisfying every instance (step 1 holds for all
       $a, b \in [0, 1]$ and step 2 puts every token there) while violating the sum, which no
       assignment can do. It is run mechanically at `vocab_size` (1000 by default) to show
       that the abstraction leaves no original variable and the linear step is fast.

    Certificate: each step's z3 certificate (result, unsat core where tracked, size,
    statistics, time), the abstraction check and the Farkas coefficients.

    Args:
        vocab_size: the size at which steps 2 and 3 are run.
        timeout_s: z3's time limit per call.
        sd_term: SD's per-token accepted mass (the reference's `accepted_mass` by default).
        exact_match_term: exact match's per-token accepted mass ($p q$ by default).
    """
    a, b = z3.Reals("a b")
    lemma = prove_by_refutation(
        {"a_in_0_1": z3.And(a >= 0, a <= 1), "b_in_0_1": z3.And(b >= 0, b <= 1)},
        sd_term(a, b, Z3_ARITH) >= exact_match_term(a, b, Z3_ARITH),
        [a, b],
        timeout_s,
        replay=lambda v: {
            "sd_term_exactly": str(sd_term(v["a"], v["b"], f.FRACTION_ARITH)),
            "exact_match_term_exactly": str(exact_match_term(v["a"], v["b"], f.FRACTION_ARITH)),
            "reference": reference_rates(
                Dist({0: v["a"], 1: 1 - v["a"]}), Dist({0: v["b"], 1: 1 - v["b"]})
            )
            if v["a"] <= 1 and v["b"] <= 1
            else None,
        },
    )
    if lemma.status != "proved":
        return lemma
    x, rest = z3.Reals("x rest")
    bounds = prove_by_refutation(
        {"x_nonnegative": x >= 0, "rest_nonnegative": rest >= 0, "sums_to_one": x + rest == 1},
        z3.And(x >= 0, x <= 1),
        [x, rest],
        timeout_s,
    )
    if bounds.status != "proved":
        return Outcome(
            "unknown", {"backend": "z3", "reason": "bounds step", "bounds": bounds.certificate}
        )
    target = [z3.Real(f"p_{i}") for i in range(vocab_size)]
    draft = [z3.Real(f"q_{i}") for i in range(vocab_size)]
    sd_terms = [sd_term(p, q, Z3_ARITH) for p, q in zip(target, draft, strict=True)]
    em_terms = [exact_match_term(p, q, Z3_ARITH) for p, q in zip(target, draft, strict=True)]
    minima = [z3.Real(f"m_{i}") for i in range(vocab_size)]
    products = [z3.Real(f"s_{i}") for i in range(vocab_size)]
    totals = (
        f.acceptance_rate(target, draft, Z3_ARITH),
        f.exact_match_acceptance_rate(target, draft, Z3_ARITH),
    )
    atoms = list(zip(sd_terms, minima, strict=True)) + list(zip(em_terms, products, strict=True))
    instances = [m >= s for m, s in zip(minima, products, strict=True)]
    outcome = prove_lemma_sum(lemma, totals, atoms, instances, target + draft, timeout_s)
    if outcome.status != "proved":
        return outcome
    return Outcome(
        "proved", {**outcome.certificate, "bounds": bounds.certificate, "vocab_size": vocab_size}
    )


check_exact_match_acceptance_le_sd_any_vocabulary = proof_claim(
    "exact_match_acceptance_le_sd_any_vocabulary",
    r"For distributions $p, q$ over any finite vocabulary, "
    r"$\sum_x p(x)q(x) \le \sum_x \min(p(x), q(x))$: a z3-proved per-token lemma "
    r"($\min(a, b) \ge ab$ on $[0, 1]^2$) summed over tokens; the linear combination step is run "
    r"by z3 at $V = 1000$ ($V = 2000$ thorough).",
    "z3",
    prove_ordering_any_vocabulary,
    default=(1000,),
    thorough=(2000,),
    timeout=True,
    scope="all V (lemma; sum step at V = 1000)",
)
"""The acceptance ordering for every $V$."""
