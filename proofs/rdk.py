r"""Claims about Redistributing Drafter Kernels (RDK), checked against the exact reference.

The reference is `specproof.reference.rdk` (kernels, two-stage drafting, verification by standard
SD) and `specproof.reference.rdk_mixture` (the rank-one form $q_\lambda = (1-\lambda) q' +
\lambda r$ and its acceptance $\alpha(\lambda)$).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import sympy
import z3
from hypothesis import strategies as st

from specproof.reference import Dist, ToyLM, autoregressive_law, speculative_law
from specproof.reference import formulas as f
from specproof.reference.laws import acceptance_rate
from specproof.reference.rdk import (
    RDK,
    mixture_probs,
    rank_one_kernel,
    rdk_proposal_probs,
    two_stage_law,
)
from specproof.reference.rdk_mixture import (
    mixture_acceptance,
    mixture_acceptance_formula,
    mixture_breakpoints,
    mixture_slope_at_zero,
    optimal_mix,
)
from specproof.reference.strategies import dists, kernels, ks, prefixes, toy_lms, vocabularies
from specproof.reference.tli import tli_proposal

from .arith import SYMPY_ARITH, Z3_ARITH
from .checking import check_by_hypothesis, dist_json, law_difference, lm_json
from .registry import REGISTRY, CheckOptions, Outcome
from .smt import prove_by_refutation, to_fraction
from .symbolic import prove_zero_by_expansion

# --- Strategies -------------------------------------------------------------------------------


@st.composite
def kept_subsets(draw: st.DrawFn, vocab: tuple[Any, ...]) -> tuple[Any, ...]:
    r"""A nonempty pruned vocabulary $D \subseteq T$, in vocabulary order."""
    mask = draw(st.lists(st.booleans(), min_size=len(vocab), max_size=len(vocab)))
    if not any(mask):
        mask[draw(st.integers(0, len(vocab) - 1))] = True
    return tuple(t for t, keep in zip(vocab, mask, strict=True) if keep)


RoundInstance = tuple[ToyLM, ToyLM, tuple[Any, ...], Any, tuple[Any, ...], int, int]


@st.composite
def rdk_instances(
    draw: st.DrawFn, max_vocab: int = 4, max_n: int = 3, max_k: int = 3
) -> RoundInstance:
    """`(target, drafter, kept, kernel, prefix, n, k)` over one vocabulary, orders 0-1."""
    vocab = draw(vocabularies(1, max_vocab))
    order = draw(st.integers(0, 1))
    target = draw(toy_lms(vocab, order))
    drafter = draw(toy_lms(vocab, draw(st.integers(0, 1)), allow_zeros=False))
    kept = draw(kept_subsets(vocab))
    kernel = draw(kernels(vocab))
    prefix = draw(prefixes(vocab, max_length=2))
    return target, drafter, kept, kernel, prefix, draw(st.integers(0, max_n)), draw(ks(max_k))


@st.composite
def step_instances(draw: st.DrawFn, max_vocab: int = 5) -> tuple[Dist, Dist, Any]:
    """`(target row over T, pruned drafter row over D, kernel over T)`."""
    vocab = draw(vocabularies(1, max_vocab))
    kept = draw(kept_subsets(vocab))
    return draw(dists(vocab)), draw(dists(kept)), draw(kernels(vocab))


@st.composite
def mixture_instances(draw: st.DrawFn, max_vocab: int = 6) -> tuple[Dist, Dist, Dist]:
    """`(p, q', r)` over one vocabulary: $q'$ zero off a kept subset (a pruned drafter)."""
    vocab = draw(vocabularies(1, max_vocab))
    kept = draw(kept_subsets(vocab))
    source = tli_proposal(draw(dists(kept)), vocab)
    return draw(dists(vocab)), source, draw(dists(vocab))


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


@REGISTRY.claim(
    "rdk_lossless",
    r"RDK is lossless for every row-stochastic kernel $M$: for generated target and drafter toy "
    r"LMs, a pruned drafter vocabulary $D \subseteq T$, a kernel $M$, prefix, $n$ and $K$, the "
    r"exact law of the first $n$ output tokens of standard SD with proposals "
    r"$\mathrm{TLI}(q) M$ equals the target's autoregressive law.",
    "hypothesis + exact enumeration",
    scope="generated instances (see certificate)",
)
def check_rdk_lossless(options: CheckOptions) -> Outcome:
    """Law equality of the speculative loop with RDK proposals."""
    return check_by_hypothesis(
        rdk_instances(),
        rdk_law_equality,
        options,
        examples=150,
        thorough_examples=1500,
        generator="toy-LM target/drafter: V<=4, orders 0-1, kept subset, kernel, n<=3, K<=3",
    )


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


@REGISTRY.claim(
    "rdk_step_law_is_target",
    r"One RDK step, integrated over its four explicit uniforms (source $x$ by inverse CDF of "
    r"$q'$, draft $y$ by inverse CDF of $M[x,\cdot]$, SD's accept and final uniforms): the draft "
    r"token has law exactly $q' M$, the output token has law exactly $p$, and the acceptance "
    r"probability is exactly $\sum_y \min(p(y), (q'M)(y))$.",
    "hypothesis + exact arithmetic",
    scope="generated instances (see certificate)",
)
def check_rdk_step_law(options: CheckOptions) -> Outcome:
    """Exact one-step laws of the pinned two-stage rule."""
    return check_by_hypothesis(
        step_instances(),
        step_law_is_target,
        options,
        examples=300,
        thorough_examples=3000,
        generator="target row over V<=5, pruned drafter row over a kept subset, kernel",
    )


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


# --- The rank-one form: concavity, piecewise linearity, the oracle bound ----------------------


def prove_mixture_midpoint_concave(timeout_s: float) -> Outcome:
    r"""Per-token midpoint concavity of $\lambda \mapsto \min(p, (1-\lambda)s + \lambda r)$ (z3).

    For all reals $p, s, r, \lambda_1, \lambda_2$:
    $\min(p, q_{\bar\lambda}) \ge \tfrac12 \min(p, q_{\lambda_1}) + \tfrac12 \min(p, q_{\lambda_2})$
    with $\bar\lambda = (\lambda_1 + \lambda_2)/2$ and $q_\lambda$ built by the reference's
    `mixture_probs`. Summed over tokens (a sum of midpoint-concave functions is one) and with
    continuity, $\alpha$ is concave.
    """
    p, s, r, l1, l2 = z3.Reals("p s r lambda_1 lambda_2")

    def term(lam: Any) -> Any:
        return Z3_ARITH.min(p, mixture_probs([s], [r], lam)[0])

    return prove_by_refutation(
        {}, term((l1 + l2) / 2) >= (term(l1) + term(l2)) / 2, [p, s, r, l1, l2], timeout_s
    )


@REGISTRY.claim(
    "rdk_mixture_concave_smt",
    r"$\alpha(\lambda) = \sum_t \min(p(t), (1-\lambda) q'(t) + \lambda r(t))$ is concave: each "
    r"term is midpoint concave in $\lambda$ for all real $p, q', r, \lambda_1, \lambda_2$ (z3 "
    r"refutes the negation), and a continuous sum of midpoint-concave terms is concave.",
    "z3",
    scope="all real p, q', r, lambda (per-term lemma)",
)
def check_rdk_mixture_concave(options: CheckOptions) -> Outcome:
    """Proved by [`prove_mixture_midpoint_concave`][specproof.proofs.rdk.prove_mixture_midpoint_concave]."""
    return prove_mixture_midpoint_concave(options.timeout_s)


def piecewise_linear_and_slope(
    instance: tuple[Dist, Dist, Dist],
    slope_formula: Callable[[Dist, Dist, Dist], Fraction] = mixture_slope_at_zero,
) -> dict[str, Any] | None:
    r"""Between consecutive kinks $\alpha$ is linear; slopes decrease; $\alpha'(0^+)$ is the formula.

    Args:
        instance: `(p, q', r)`.
        slope_formula: the closed form of $\alpha'(0^+)$ under test.
    """
    target, source, prior = instance
    cuts = [Fraction(0), *mixture_breakpoints(target, source, prior), Fraction(1)]

    def alpha(lam: Fraction) -> Fraction:
        return mixture_acceptance(target, source, prior, lam)

    slopes = []
    for lo, hi in zip(cuts[:-1], cuts[1:], strict=True):
        slope = (alpha(hi) - alpha(lo)) / (hi - lo)
        for t in (Fraction(1, 3), Fraction(1, 2), Fraction(5, 7)):
            point = lo + t * (hi - lo)
            if alpha(point) != alpha(lo) + slope * (point - lo):
                return {
                    "reason": "not linear between kinks",
                    "segment": [str(lo), str(hi)],
                    "point": str(point),
                    **_mixture_json(instance),
                }
        slopes.append(slope)
    if any(b > a for a, b in zip(slopes[:-1], slopes[1:], strict=True)):
        return {
            "reason": "slopes increase (not concave)",
            "slopes": [str(s) for s in slopes],
            **_mixture_json(instance),
        }
    formula = slope_formula(target, source, prior)
    if slopes[0] != formula:
        return {
            "reason": "alpha'(0+) differs from the formula",
            "slope": str(slopes[0]),
            "formula": str(formula),
            **_mixture_json(instance),
        }
    return None


def _mixture_json(instance: tuple[Dist, Dist, Dist]) -> dict[str, Any]:
    target, source, prior = instance
    return {"target": dist_json(target), "source": dist_json(source), "prior": dist_json(prior)}


@REGISTRY.claim(
    "rdk_mixture_piecewise_linear",
    r"$\alpha(\lambda)$ is linear between consecutive kinks $\lambda_t = (p - q')/(r - q')$ "
    r"(exactly, at interior points of every segment), its slopes decrease, and its right "
    r"derivative at 0 is $\alpha'(0^+) = \sum_{q'<p}(r - q') + \sum_{q'=p}\min(0, r - q')$.",
    "hypothesis + exact arithmetic",
    scope="generated instances (see certificate)",
)
def check_rdk_mixture_piecewise_linear(options: CheckOptions) -> Outcome:
    """Exact check over generated $(p, q', r)$."""
    return check_by_hypothesis(
        mixture_instances(),
        piecewise_linear_and_slope,
        options,
        examples=300,
        thorough_examples=3000,
        generator="(p, q', r) over V<=6, q' zero off a kept subset",
    )


def oracle_dominates(instance: tuple[Dist, Dist, Dist]) -> dict[str, Any] | None:
    r"""$\alpha(\lambda^*) \ge \alpha_{\text{vanilla}}$, strict iff $\alpha'(0^+) > 0$, $\lambda^*$ maximal."""
    target, source, prior = instance
    best, best_alpha = optimal_mix(target, source, prior)
    vanilla = acceptance_rate(target, source, "sd")
    slope = mixture_slope_at_zero(target, source, prior)
    grid = [Fraction(i, 48) for i in range(49)]
    beaten = [lam for lam in grid if mixture_acceptance(target, source, prior, lam) > best_alpha]
    if best_alpha >= vanilla and (best_alpha > vanilla) == (slope > 0) and not beaten:
        return None
    return {
        "lambda_star": str(best),
        "alpha_star": str(best_alpha),
        "alpha_vanilla_executed": str(vanilla),
        "slope_at_zero": str(slope),
        "grid_points_beating_lambda_star": [str(x) for x in beaten],
        **_mixture_json(instance),
    }


@REGISTRY.claim(
    "rdk_oracle_dominates_vanilla",
    r"The oracle mix is never worse than vanilla SD with the pruned drafter: "
    r"$\alpha(\lambda^*) \ge \alpha(0) = \sum \min(p, q')$ (vanilla's acceptance, executed), "
    r"strictly iff $\alpha'(0^+) > 0$; and $\lambda^*$ (maximum over the kinks and ends) beats "
    r"every $\lambda$ of a 1/48 grid.",
    "hypothesis + exact arithmetic",
    scope="generated instances (see certificate)",
)
def check_rdk_oracle_dominates(options: CheckOptions) -> Outcome:
    """Exact check over generated $(p, q', r)$."""
    return check_by_hypothesis(
        mixture_instances(),
        oracle_dominates,
        options,
        examples=300,
        thorough_examples=3000,
        generator="(p, q', r) over V<=6, q' zero off a kept subset",
    )


def find_fixed_mix_loss(vocab_size: int, mix: Fraction, timeout_s: float) -> Outcome:
    r"""z3 finds distributions $p, q', r$ with $\alpha(\lambda) < \alpha(0)$ at a fixed $\lambda$.

    With $\lambda$ a constant the problem is linear. The witness is replayed exactly: the
    reference's executed acceptance of standard SD with $q'$ (vanilla) and with $q_\lambda$,
    and RDK's exact one-step law with the rank-one kernel.
    """
    target = [z3.Real(f"p_{i}") for i in range(vocab_size)]
    source = [z3.Real(f"s_{i}") for i in range(vocab_size)]
    prior = [z3.Real(f"r_{i}") for i in range(vocab_size)]
    solver = z3.Solver()
    solver.set("timeout", max(1, round(timeout_s * 1000)))
    for vector in (target, source, prior):
        solver.add(*(v >= 0 for v in vector), z3.Sum(vector) == 1)
    lam = z3.RealVal(str(mix))
    solver.add(
        mixture_acceptance_formula(target, source, prior, lam, Z3_ARITH)
        < mixture_acceptance_formula(target, source, prior, z3.RealVal(0), Z3_ARITH)
    )
    result = solver.check()
    if result != z3.sat:
        return Outcome("unknown", {"backend": "z3", "result": str(result)})
    model = solver.model()
    values = {
        str(v): to_fraction(model.eval(v, model_completion=True))[0]
        for v in (*target, *source, *prior)
    }
    tokens = list(range(vocab_size))
    p = Dist.over(tokens, [values[f"p_{i}"] for i in tokens])
    s = Dist.over(tokens, [values[f"s_{i}"] for i in tokens])
    r = Dist.over(tokens, [values[f"r_{i}"] for i in tokens])
    kernel = rank_one_kernel(r, mix)
    vanilla = acceptance_rate(p, s, "sd")
    _, rdk_alpha = RDK(kernel).step_law(p, s)
    if not rdk_alpha < vanilla:
        return Outcome("unknown", {"backend": "z3", "reason": "the witness did not replay"})
    family = {
        str(x): str(mixture_acceptance(s, s, r, x)) for x in (Fraction(1, 4), mix, Fraction(3, 4))
    }
    return Outcome(
        "proved",
        {
            "backend": "z3",
            "witness": {
                "target": dist_json(p),
                "source": dist_json(s),
                "prior": dist_json(r),
                "mix": str(mix),
            },
            "alpha_vanilla_executed": str(vanilla),
            "alpha_rdk_executed": str(rdk_alpha),
            "family": "p = q' (a drafter the target agrees with) and r != q': "
            "alpha(lambda) = 1 - lambda * TV(q', r) < 1 = alpha(0) for every lambda > 0; "
            "at the witness's q' and r:",
            "family_alpha_at_p_equals_q": family,
        },
    )


@REGISTRY.claim(
    "rdk_fixed_mix_can_lose",
    r"A fixed mixing weight can make RDK worse than vanilla: z3 finds $p, q', r$ with "
    r"$\alpha(1/2) < \alpha(0)$, replayed exactly by the reference (vanilla SD vs the RDK step "
    r"with $M_{1/2}$). Family: $p = q' \ne r$ gives $\alpha(\lambda) = 1 - \lambda\,"
    r"\mathrm{TV}(q', r) < 1$. So $\lambda$ must be chosen, not fixed blindly.",
    "z3 (witness)",
    scope="one exact witness",
)
def check_rdk_fixed_mix_can_lose(options: CheckOptions) -> Outcome:
    """Proved by [`find_fixed_mix_loss`][specproof.proofs.rdk.find_fixed_mix_loss]."""
    return find_fixed_mix_loss(3, Fraction(1, 2), options.timeout_s)
