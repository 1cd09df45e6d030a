r"""Claims about RDK's rank-one form $q_\lambda = (1-\lambda) q' + \lambda r$ and its acceptance.

$\alpha(\lambda)$ is concave and piecewise linear, the oracle $\lambda^*$ never loses to vanilla,
and a fixed $\lambda$ can (reference: `specproof.reference.rdk_mixture`). Imported by
[`specproof.proofs.rdk`][specproof.proofs.rdk], which the algorithm registry names.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import z3

from specproof.reference import Dist
from specproof.reference.laws import acceptance_rate
from specproof.reference.rdk import (
    RDK,
    mixture_probs,
    rank_one_kernel,
)
from specproof.reference.rdk_mixture import (
    mixture_acceptance,
    mixture_acceptance_formula,
    mixture_breakpoints,
    mixture_slope_at_zero,
    optimal_mix,
)

from .arith import Z3_ARITH
from .checking import Examples, dist_json
from .claims import ACCEPTANCE_METHOD, hypothesis_claim, proof_claim
from .rdk_strategies import (
    mixture_instances,
)
from .registry import Outcome
from .smt import prove_by_refutation, to_fraction

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


check_rdk_mixture_concave = proof_claim(
    "rdk_mixture_concave_smt",
    r"$\alpha(\lambda) = \sum_t \min(p(t), (1-\lambda) q'(t) + \lambda r(t))$ is concave: each "
    r"term is midpoint concave in $\lambda$ for all real $p, q', r, \lambda_1, \lambda_2$ (z3 "
    r"refutes the negation), and a continuous sum of midpoint-concave terms is concave.",
    "z3",
    prove_mixture_midpoint_concave,
    timeout=True,
    scope="all real p, q', r, lambda (per-term lemma)",
)
"""Proved by [`prove_mixture_midpoint_concave`][specproof.proofs.rdk_mixture.prove_mixture_midpoint_concave]."""


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


MIXTURE_EXAMPLES = Examples(300, 3000, "(p, q', r) over V<=6, q' zero off a kept subset")
"""The generated mixtures both exact mixture claims are checked on."""


check_rdk_mixture_piecewise_linear = hypothesis_claim(
    "rdk_mixture_piecewise_linear",
    r"$\alpha(\lambda)$ is linear between consecutive kinks $\lambda_t = (p - q')/(r - q')$ "
    r"(exactly, at interior points of every segment), its slopes decrease, and its right "
    r"derivative at 0 is $\alpha'(0^+) = \sum_{q'<p}(r - q') + \sum_{q'=p}\min(0, r - q')$.",
    mixture_instances(),
    piecewise_linear_and_slope,
    MIXTURE_EXAMPLES,
    method=ACCEPTANCE_METHOD,
)
"""Exact check over generated $(p, q', r)$."""


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


check_rdk_oracle_dominates = hypothesis_claim(
    "rdk_oracle_dominates_vanilla",
    r"The oracle mix is never worse than vanilla SD with the pruned drafter: "
    r"$\alpha(\lambda^*) \ge \alpha(0) = \sum \min(p, q')$ (vanilla's acceptance, executed), "
    r"strictly iff $\alpha'(0^+) > 0$; and $\lambda^*$ (maximum over the kinks and ends) beats "
    r"every $\lambda$ of a 1/48 grid.",
    mixture_instances(),
    oracle_dominates,
    MIXTURE_EXAMPLES,
    method=ACCEPTANCE_METHOD,
)
"""Exact check over generated $(p, q', r)$."""


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


check_rdk_fixed_mix_can_lose = proof_claim(
    "rdk_fixed_mix_can_lose",
    r"A fixed mixing weight can make RDK worse than vanilla: z3 finds $p, q', r$ with "
    r"$\alpha(1/2) < \alpha(0)$, replayed exactly by the reference (vanilla SD vs the RDK step "
    r"with $M_{1/2}$). Family: $p = q' \ne r$ gives $\alpha(\lambda) = 1 - \lambda\,"
    r"\mathrm{TV}(q', r) < 1$. So $\lambda$ must be chosen, not fixed blindly.",
    "z3 (witness)",
    find_fixed_mix_loss,
    default=(3, Fraction(1, 2)),
    timeout=True,
    scope="one exact witness",
)
"""Proved by [`find_fixed_mix_loss`][specproof.proofs.rdk_mixture.find_fixed_mix_loss]."""
