"""Claims about standard speculative decoding, checked against the exact reference.

Every standard-SD claim is registered here, in this order: the checked ones (lossless and
acceptance from the [claim factories][specproof.proofs.claims], expected tokens per round),
then the sympy proofs ([`specproof.proofs.sd_symbolic`][specproof.proofs.sd_symbolic]) and the
z3 proofs ([`specproof.proofs.sd_smt`][specproof.proofs.sd_smt]) that the checks call.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from specproof.reference import acceptance_rate, expected_tokens_per_round
from specproof.reference import formulas as f
from specproof.reference.strategies import dist_pairs, ks

from .checking import Examples, dist_json
from .claims import (
    LOSSLESS_METHOD,
    acceptance_claim,
    distribution_claim,
    hypothesis_claim,
    lossless_claim,
    proof_claim,
)
from .harness import one_minus_total_variation
from .sd_smt import (
    acceptance_tv_claim,
    prove_acceptance_is_maximal,
    prove_sd_lossless_smt,
)
from .sd_symbolic import (
    prove_expected_tokens_closed_form,
    prove_output_is_target,
    prove_residual_identity,
)

check_sd_lossless = lossless_claim(
    "sd",
    "Standard SD is lossless: for every generated target/draft toy-LM pair, prefix, $n$ and $K$, "
    "the exact law of the first $n$ output tokens of the speculative loop equals the target's "
    "autoregressive law.",
)
"""Law equality for standard SD ([`check_lossless`][specproof.proofs.harness.check_lossless])."""

check_sd_acceptance = acceptance_claim(
    "sd",
    "acceptance_is_one_minus_tv",
    r"The probability that standard SD accepts a drafted token, obtained by integrating the rule "
    r"$u\,q(x) < p(x)$, equals $\sum_x \min(p(x), q(x)) = 1 - \mathrm{TV}(p, q)$.",
    equal_to={"sum_min": f.acceptance_rate, "one_minus_tv": one_minus_total_variation},
)
"""Executed acceptance rate == sum of minima == 1 - TV, exactly."""


def expected_tokens_match_closed_form(case: Any) -> dict[str, Any] | None:
    """Enumerated E[N+1] == closed form."""
    (target, draft), k = case
    enumerated = expected_tokens_per_round(target, draft, k, "sd")
    alpha = acceptance_rate(target, draft, "sd")
    closed = Fraction(k + 1) if alpha == 1 else (1 - alpha ** (k + 1)) / (1 - alpha)
    if enumerated == closed:
        return None
    return {
        "target": dist_json(target),
        "draft": dist_json(draft),
        "k": k,
        "enumerated": str(enumerated),
        "closed_form": str(closed),
    }


check_sd_expected_tokens = hypothesis_claim(
    "sd_expected_tokens_per_round",
    r"With $K$ drafts and i.i.d. acceptance $\alpha$ (the same rows $p, q$ at every position), the "
    r"expected output tokens per target call, enumerated exactly, equal "
    r"$(1 - \alpha^{K+1})/(1 - \alpha)$ (and $K + 1$ when $\alpha = 1$).",
    st.tuples(dist_pairs(max_size=5), ks(8)),
    expected_tokens_match_closed_form,
    Examples(300, 5000, "distribution pairs V<=5, K<=8"),
    method=LOSSLESS_METHOD,
    scope="generated instances: V <= 5, K <= 8",
)
"""Enumerated E[N+1] == closed form."""


check_sd_residual_identity = proof_claim(
    "sd_residual_identity",
    r"For all reals $a, b$: $\min(a, b) + (a - b)_+ = a$ and $b - \min(a, b) = (b - a)_+$; hence "
    r"for distributions $p, q$ over any finite vocabulary "
    r"$\sum_x (p(x) - q(x))_+ = 1 - \sum_x \min(p(x), q(x))$.",
    "sympy",
    prove_residual_identity,
    scope="all reals a, b; all V",
)
"""The reference's residual formulas satisfy the identities."""


check_sd_output_is_target = proof_claim(
    "sd_output_is_target_symbolic",
    r"One standard-SD step outputs every token $y$ with probability exactly $p(y)$: "
    r"$\min(p(y), q(y)) + \big(\sum_x q(x) - \min(p(x), q(x))\big)\,"
    r"\frac{(p(y) - q(y))_+}{\sum_z (p(z) - q(z))_+} = p(y)$ for all distributions $p, q$ "
    r"(any vocabulary size; also directly from the formula for $V = 2, 3$, $V \le 5$ thorough).",
    "sympy",
    prove_output_is_target,
    default=(range(2, 4),),
    thorough=(range(2, 6),),
    scope="all V; direct V = 2, 3 (2..5 thorough)",
)
"""`sd_output_probability` equals the target."""


check_sd_expected_tokens_closed_form = proof_claim(
    "sd_expected_tokens_closed_form",
    r"For every $K \ge 0$: $\sum_{j=0}^{K} \alpha^j = (1 - \alpha^{K+1})/(1 - \alpha)$ for "
    r"$\alpha \ne 1$ and $= K + 1$ at $\alpha = 1$ (the formula `expected_tokens_per_round` run "
    r"symbolically for $K \le 16$, and by induction on a symbolic $K$).",
    "sympy",
    prove_expected_tokens_closed_form,
    default=(16,),
    thorough=(64,),
    scope="all K >= 0 (induction); K <= 16 direct",
)
"""The expected-tokens formula has the closed form."""


check_sd_lossless_smt = proof_claim(
    "sd_lossless_smt",
    r"For all distributions $p, q$ over $V$ tokens and every token $y$, the output probability of "
    r"one standard-SD step (`sd_output_probability`, accepted plus recovered mass) equals $p(y)$; "
    r"proved by z3 for each $V = 2, \dots, 8$ ($V \le 12$ thorough), given the per-token "
    r"residual identities $\min(a, b) + (a - b)_+ = a$, $b - \min(a, b) = (b - a)_+$ (proved "
    r"first by z3 for all reals) instantiated at every token.",
    "z3",
    prove_sd_lossless_smt,
    default=(range(2, 9),),
    thorough=(range(2, 13),),
    timeout=True,
    scope="V = 2..8 (2..12 thorough)",
)
"""SD is lossless for each $V$."""


check_sd_acceptance_tv_smt = distribution_claim(
    "sd_acceptance_is_one_minus_tv_smt",
    r"For all distributions $p, q$ over $V$ tokens, "
    r"$\sum_x \min(p(x), q(x)) = 1 - \mathrm{TV}(p, q)$, "
    r"$\mathrm{TV}(p, q) = \frac12 \sum_x |p(x) - q(x)|$; proved by z3 for each $V = 2, \dots, 8$ "
    r"($V \le 16$ thorough).",
    acceptance_tv_claim(),
    sizes=range(2, 9),
    thorough_sizes=range(2, 17),
)
r"""Prove acceptance $= 1 - \mathrm{TV}$ for each $V$ (z3, linear arithmetic with `If`).

The unsat core shows that both normalisation hypotheses ($\sum p = \sum q = 1$) are needed.
"""


check_sd_acceptance_is_maximal = proof_claim(
    "sd_acceptance_is_maximal",
    r"Among single-draft verifiers of proposal $q$ (accept draft $x$ with probability "
    r"$a(x) \in [0, 1]$, else output $y \sim \rho_x$) that are lossless "
    r"($q(y)a(y) + \sum_x q(x)(1 - a(x))\rho_x(y) = p(y)$ for all $y$), the acceptance rate "
    r"$\sum_x q(x)a(x) \le \sum_x \min(p(x), q(x))$, standard SD's: for every $V$ by a z3-proved "
    r"per-token lemma ($q a \le \min(p, q)$) summed over tokens (the sum step run by z3 at "
    r"$V = 1000$), and directly by z3 for $V = 2, 3$ (direct solving times out from $V = 4$).",
    "z3",
    prove_acceptance_is_maximal,
    default=(range(2, 4),),
    timeout=True,
    scope="all V (lemma); direct V = 2, 3",
)
"""SD's acceptance is maximal among lossless single-draft verifiers."""
