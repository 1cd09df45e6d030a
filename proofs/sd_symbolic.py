r"""Sympy proofs about standard SD: the residual identity, output = target, expected tokens.

Each `prove_*` function runs the formulas of `specproof.reference.formulas` with the sympy
arithmetic ([`SYMPY_ARITH`][specproof.proofs.arith.SYMPY_ARITH]), so the proofs are about the
formulas the reference executes, and takes the formula it checks as an argument (defaulting to
the reference's), so that the tests can hand it a deliberately wrong formula and see it
refuted. The claims that run them are registered in
[`specproof.proofs.sd`][specproof.proofs.sd].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import sympy

from specproof.reference import Dist, expected_tokens_per_round
from specproof.reference import formulas as f

from .arith import SYMPY_ARITH, OutputFormula, ResidualFormula
from .registry import Outcome
from .symbolic import Case, prove_zero_by_cases, sign_cases, sign_pattern_cases

ClosedForm = Callable[[Any, Any], Any]
"""`closed_form(alpha, K)`: a candidate closed form of the expected tokens per round."""


def prove_residual_identity(residual: ResidualFormula = f.residual) -> Outcome:
    r"""Prove the per-token residual identities and their sum, for every vocabulary size (sympy).

    Theorem. For all reals $a, b$ (a token's target and draft probabilities):
    $$\min(a, b) + (a - b)_+ = a, \qquad b - \min(a, b) = (b - a)_+ ,$$
    and hence, for distributions $p, q$ over any finite vocabulary,
    $$\sum_x (p(x) - q(x))_+ = 1 - \sum_x \min(p(x), q(x)).$$

    Hypotheses: $a, b$ real; for the sum, $\sum_x p(x) = 1$.

    Backend: sympy. The per-token identities are built from `accepted_mass`, `rejected_mass` and
    `residual` and proved by the three cases $a > b$, $a < b$, $a = b$ (which cover all reals).
    The sum step is linearity of finite sums over an indexed family of symbolic length $n$:
    $\sum r + \sum m - \sum p = \sum (m + r - p) = \sum 0 = 0$ termwise by the first identity.

    Certificate: for each identity, the expression and its per-case simplification chain; for the
    sum, the chain of expressions before and after each step.

    Args:
        residual: the residual formula to check (the reference's by default).
    """
    a, b = sympy.Symbol("a", real=True), sympy.Symbol("b", real=True)

    def first(values: Mapping[str, Any], arith: f.Arith) -> Any:
        p, q = values["a"], values["b"]
        return f.accepted_mass(p, q, arith) + residual([p], [q], arith)[0] - p

    def second(values: Mapping[str, Any], arith: f.Arith) -> Any:
        p, q = values["a"], values["b"]
        return f.rejected_mass(p, q, arith) - residual([q], [p], arith)[0]

    identities = {}
    for name, difference, text in (
        ("accepted_plus_residual", first, "min(a, b) + (a - b)_+ = a"),
        ("rejected_is_reverse_residual", second, "b - min(a, b) = (b - a)_+"),
    ):
        outcome = prove_zero_by_cases(text, [a, b], difference, sign_cases("a", "b"))
        if outcome.status != "proved":
            return outcome
        identities[name] = outcome.certificate
    x, n = sympy.symbols("x n", integer=True, positive=True)
    target, minimum, res = (sympy.IndexedBase(s) for s in ("p", "m", "r"))
    before = sympy.Sum(res[x], (x, 1, n)) - (1 - sympy.Sum(minimum[x], (x, 1, n)))
    normalised = sympy.Sum(res[x], (x, 1, n)) - (
        sympy.Sum(target[x], (x, 1, n)) - sympy.Sum(minimum[x], (x, 1, n))
    )
    combined = sympy.simplify(normalised)
    if not isinstance(combined, sympy.Sum):
        return Outcome("unknown", {"backend": "sympy", "reason": f"sum step gave {combined}"})
    termwise = sympy.Sum(
        combined.function.subs(res[x], target[x] - minimum[x]), *combined.limits
    ).doit()
    sum_chain = [
        {"step": "claim: sum r - (1 - sum m)", "expression": str(before)},
        {"step": "1 = sum p (normalisation)", "expression": str(normalised)},
        {"step": "linearity of finite sums", "expression": str(combined)},
        {"step": "r = p - m termwise (first identity)", "expression": str(termwise)},
    ]
    if termwise != 0:
        return Outcome(
            "unknown", {"backend": "sympy", "reason": "sum step not 0", "chain": sum_chain}
        )
    return Outcome(
        "proved",
        {"backend": "sympy", "identities": identities, "sum_identity": sum_chain},
    )


def prove_output_is_target(
    vocab_sizes: Sequence[int], output: OutputFormula = f.sd_output_probability
) -> Outcome:
    r"""Prove that one SD step outputs token $y$ with probability exactly $p(y)$ (sympy).

    Theorem. For distributions $p, q$ over a vocabulary of size $V$ and every token $y$,
    $$\min(p(y), q(y)) + \Big(\sum_x q(x) - \min(p(x), q(x))\Big)\,
      \frac{(p(y) - q(y))_+}{\sum_z (p(z) - q(z))_+} = p(y)$$
    (the fraction read as $0$ when its denominator is $0$), which is
    `sd_output_probability`.

    Hypotheses: $p, q \ge 0$, $\sum p = \sum q = 1$.

    Backend: sympy, two ways.

    - *Every $V$*: by `sd_residual_identity`, the rejected mass
      $\sum_x q(x) - \min(p(x), q(x)) = \sum_x (q(x) - p(x))_+ = \sum_x (p(x) - q(x))_+$ (the two
      positive parts differ by $\sum (p - q) = 0$), which is $r(y) + s$ with
      $s = \sum_{x \ne y} (p(x) - q(x))_+ \ge 0$. So the output probability is
      $\min(a, b) + (r + s)\,[r / (r + s)]$ with $a = p(y)$, $b = q(y)$, $r = (a - b)_+$, built
      from the reference's `accepted_mass`, `residual` and `div_or_zero`; the cases
      $a > b$, $a < b$, $a = b$ (with a symbol $s \ge 0$) reduce it to $a$.
    - *Fixed $V$* (each of `vocab_sizes`): `output` itself on $2V$ symbols, split into every
      feasible sign pattern of $p - q$ (see
      [`sign_pattern_cases`][specproof.proofs.symbolic.sign_pattern_cases]), each simplified to 0.

    Certificate: the general-$V$ chain (expression, per-case substitution and simplification) and,
    per fixed $V$ and token, the number of cases and (for $V \le 3$) their chains.

    Args:
        vocab_sizes: the sizes proved directly from `output`.
        output: the output-probability formula to check (the reference's by default).
    """
    a, b = sympy.Symbol("a", real=True), sympy.Symbol("b", real=True)
    s = sympy.Symbol("s", nonnegative=True)

    def aggregated(values: Mapping[str, Any], arith: f.Arith) -> Any:
        p, q, rest = values["a"], values["b"], values["s"]
        r = f.residual([p], [q], arith)[0]
        return f.accepted_mass(p, q, arith) + (r + rest) * arith.div_or_zero(r, r + rest) - p

    cases = [
        Case(c.name, c.substitution, witnesses=[{**w, "s": Fraction(1, 4)} for w in c.witnesses])
        for c in sign_cases("a", "b")
    ]
    general = prove_zero_by_cases(
        "min(a,b) + (r + s) * [r / (r + s)] = a, r = (a - b)_+, s >= 0",
        [a, b, s],
        aggregated,
        cases,
    )
    if general.status != "proved":
        return general
    fixed: list[dict[str, Any]] = []
    for vocab_size in vocab_sizes:
        symbols = [sympy.Symbol(f"{r}_{i}", real=True) for r in "pq" for i in range(vocab_size)]
        patterns = list(sign_pattern_cases(vocab_size))
        for y in range(vocab_size):

            def difference(
                values: Mapping[str, Any], arith: f.Arith, y: int = y, size: int = vocab_size
            ) -> Any:
                target = [values[f"p_{i}"] for i in range(size)]
                draft = [values[f"q_{i}"] for i in range(size)]
                return output(target, draft, y, arith) - target[y]

            outcome = prove_zero_by_cases(
                f"output({y}) = p_{y}, V = {vocab_size}",
                symbols,
                difference,
                patterns,
                chain=vocab_size <= 3,
            )
            if outcome.status != "proved":
                return Outcome(
                    outcome.status, {"vocab_size": vocab_size, "token": y, **outcome.certificate}
                )
            fixed.append({"vocab_size": vocab_size, "token": y, **outcome.certificate})
    return Outcome(
        "proved",
        {
            "backend": "sympy",
            "uses": ["sd_residual_identity"],
            "every_vocab_size": general.certificate,
            "fixed_vocab_sizes": fixed,
        },
    )


def geometric_closed_form(alpha: Any, k: Any) -> Any:
    r"""$(1 - \alpha^{K+1}) / (1 - \alpha)$."""
    return (1 - alpha ** (k + 1)) / (1 - alpha)


def prove_expected_tokens_closed_form(
    max_k: int, closed_form: ClosedForm = geometric_closed_form
) -> Outcome:
    r"""Prove $\sum_{j=0}^{K} \alpha^j = (1 - \alpha^{K+1}) / (1 - \alpha)$ for every $K \ge 0$.

    Theorem. For every integer $K \ge 0$ and real $\alpha \ne 1$, the expected tokens per round
    `expected_tokens_per_round(alpha, K)` $= \sum_{j=0}^{K} \alpha^j$ equals
    $(1 - \alpha^{K+1})/(1 - \alpha)$ (and $K + 1$ at $\alpha = 1$).

    Hypotheses: $\alpha \ne 1$ for the closed form.

    Backend: sympy. (1) For $K = 0, \dots,$ `max_k`: the reference's formula run on a symbol
    $\alpha$, times $(1 - \alpha)$, minus $1 - \alpha^{K+1}$ expands to 0; at $\alpha = 1$ it is
    $K + 1$. (2) For every $K$, by induction on a symbolic integer $K$: base
    $C(0) = 1 = \sum_{j \le 0} \alpha^j$, step $C(K + 1) - C(K) = \alpha^{K+1}$ (simplified to 0),
    which is the sum's own recursion $S(K+1) = S(K) + \alpha^{K+1}$.

    Certificate: per $K$, the expression before and after expansion; the induction's base and
    step expressions before and after simplification.

    Args:
        max_k: the largest $K$ checked directly from the formula.
        closed_form: `closed_form(alpha, K)` to check (the geometric closed form by default).
    """
    alpha = sympy.Symbol("alpha", real=True)
    per_k: list[dict[str, Any]] = []
    for k in range(max_k + 1):
        formula = f.expected_tokens_per_round(alpha, k, SYMPY_ARITH)
        difference = sympy.cancel(formula - closed_form(alpha, sympy.Integer(k)))
        at_one = formula.subs(alpha, 1)
        step = {
            "k": k,
            "before": f"({formula}) - ({closed_form(alpha, k)})",
            "after": str(difference),
            "at_alpha_1": str(at_one),
        }
        per_k.append(step)
        if difference != 0 or at_one != k + 1:
            witness = Fraction(1, 2)
            formula_value = f.expected_tokens_per_round(witness, k, f.FRACTION_ARITH)
            closed_value = closed_form(witness, k)
            return Outcome(
                "refuted",
                {
                    "backend": "sympy",
                    "counterexample": {
                        "k": k,
                        "alpha": str(witness),
                        "formula_exactly": str(formula_value),
                        "closed_form_exactly": str(closed_value),
                        "reference_expected_tokens": str(
                            expected_tokens_per_round(
                                Dist({0: Fraction(1), 1: Fraction(0)}),
                                Dist({0: witness, 1: 1 - witness}),
                                k,
                            )
                        ),
                        "reference_rows": "p = (1, 0), q = (1/2, 1/2): acceptance 1/2",
                    },
                    "chain": per_k,
                },
            )
    k_sym = sympy.Symbol("K", integer=True, nonnegative=True)
    base = sympy.simplify(closed_form(alpha, sympy.Integer(0)) - 1)
    step = sympy.simplify(
        closed_form(alpha, k_sym + 1) - closed_form(alpha, k_sym) - alpha ** (k_sym + 1)
    )
    induction = {
        "base": {"before": "C(0) - 1", "after": str(base)},
        "step": {"before": "C(K+1) - C(K) - alpha**(K+1)", "after": str(step)},
    }
    if base != 0 or step != 0:
        return Outcome(
            "unknown",
            {
                "backend": "sympy",
                "reason": "induction did not simplify to 0",
                "induction": induction,
                "chain": per_k,
            },
        )
    return Outcome(
        "proved",
        {
            "backend": "sympy",
            "sympy_version": sympy.__version__,
            "checked_k": max_k,
            "chain": per_k,
            "induction": induction,
        },
    )


__all__ = [
    "ClosedForm",
    "geometric_closed_form",
    "prove_expected_tokens_closed_form",
    "prove_output_is_target",
    "prove_residual_identity",
]
