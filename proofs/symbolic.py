r"""Symbolic proofs with sympy: identities proved by exhaustive case analysis, as data.

An identity $E = 0$ is built by running the formulas of `specproof.reference.formulas` with
[`SYMPY_ARITH`][specproof.proofs.arith.SYMPY_ARITH] on sympy symbols. Its `Min`, `Max` and
`Piecewise` terms depend on the signs of differences such as $p(x) - q(x)$, and sympy's
`simplify` does not reliably decide those on its own. So the proof splits into **cases** that
cover every admissible input, each given by a substitution that fixes the signs (for instance
$a = b + t$ with a symbol $t > 0$, $a = b - t$, $a = b$): under it every `Min`/`Piecewise`
evaluates, and what is left is a rational expression that must simplify to $0$.

The certificate is the simplification chain: the expression, and for each case its
substitution, the expression after substitution and after simplification. If a case does not
simplify to $0$, the identity is evaluated *exactly* (the same builder, run with
[`FRACTION_ARITH`][specproof.reference.formulas.FRACTION_ARITH]) at the case's witness points;
a nonzero value is a counterexample (`refuted`), otherwise the outcome is `unknown`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import product
from typing import Any

import sympy

from specproof.reference import formulas as f

from .arith import SYMPY_ARITH
from .registry import Outcome

#: `difference(values, arith)`: the identity's left side minus its right side.
Difference = Callable[[Mapping[str, Any], f.Arith], Any]


@dataclass(frozen=True)
class Case:
    """One case of a case analysis.

    Attributes:
        name: what the case assumes, in words or maths.
        substitution: symbol → expression in fresh symbols whose assumptions (e.g. positive)
            make every sign condition of the case decidable.
        then: a second substitution applied after the first has been simplified (e.g. an
            equation such as normalisation, solved for one symbol).
        witnesses: exact points of the case, `{symbol name: Fraction}`, where a case that does
            not simplify to zero is evaluated to find a counterexample.
    """

    name: str
    substitution: Mapping[sympy.Symbol, Any]
    then: Mapping[sympy.Symbol, Any] = field(default_factory=dict)
    witnesses: Sequence[Mapping[str, Fraction]] = ()


def _simplify(expr: Any) -> Any:
    return sympy.simplify(sympy.piecewise_fold(expr))


def prove_zero_by_cases(
    name: str,
    symbols: Sequence[sympy.Symbol],
    difference: Difference,
    cases: Sequence[Case],
    *,
    chain: bool = True,
) -> Outcome:
    r"""Prove `difference == 0` on every case (sympy), or find an exact counterexample.

    Args:
        name: the identity's name, for the certificate.
        symbols: the symbols `difference` is built over (looked up by name).
        difference: builds the identity's left side minus right side from `values` with `arith`.
        cases: the case split; the caller is responsible for it covering every admissible input
            (the claim's docstring says why it does).
        chain: keep every case's expressions in the certificate (else only counts).

    Returns:
        `proved` (certificate: `backend`, `identity`, `expression`, `cases`, `chain`, `seconds`),
        `refuted` (`counterexample`: the case, the exact values, the nonzero value) or `unknown`
        (`reason`: a case that did not simplify to 0 and no witness refuted it).
    """
    start = time.perf_counter()
    expression = difference({s.name: s for s in symbols}, SYMPY_ARITH)
    steps: list[dict[str, Any]] = []
    for case in cases:
        substituted = _simplify(expression.subs(dict(case.substitution)))
        simplified = _simplify(substituted.subs(dict(case.then))) if case.then else substituted
        step = {
            "case": case.name,
            "substitution": {str(k): str(v) for k, v in {**case.substitution, **case.then}.items()},
            "after_substitution": str(substituted),
            "simplified": str(simplified),
        }
        if chain:
            steps.append(step)
        if simplified == 0:
            continue
        for witness in case.witnesses:
            value = difference(witness, f.FRACTION_ARITH)
            if value != 0:
                return Outcome(
                    "refuted",
                    {
                        "backend": "sympy",
                        "identity": name,
                        "expression": str(expression),
                        "counterexample": {
                            "case": case.name,
                            "values": {k: str(v) for k, v in witness.items()},
                            "difference_exactly": str(value),
                            "simplified_case": str(simplified),
                        },
                    },
                )
        return Outcome(
            "unknown",
            {
                "backend": "sympy",
                "identity": name,
                "reason": f"case {case.name!r} simplified to {simplified}, not 0, and no witness "
                "refuted it",
                "chain": steps,
            },
        )
    return Outcome(
        "proved",
        {
            "backend": "sympy",
            "sympy_version": sympy.__version__,
            "identity": name,
            "expression": str(expression),
            "cases": len(cases),
            "chain": steps,
            "seconds": time.perf_counter() - start,
        },
    )


def prove_zero_by_expansion(
    name: str, expression: Any, substitution: Mapping[sympy.Symbol, Any] | None = None
) -> dict[str, Any]:
    """Expand `expression` (after `substitution`) and report the chain; `proved` iff it is 0."""
    substituted = expression.subs(dict(substitution)) if substitution else expression
    expanded = sympy.expand(substituted)
    return {
        "identity": name,
        "before": str(expression),
        "substitution": {str(k): str(v) for k, v in (substitution or {}).items()},
        "after": str(expanded),
        "proved": expanded == 0,
    }


def sign_cases(left: str, right: str, witness_right: Fraction = Fraction(1, 2)) -> list[Case]:
    r"""The three cases $a > b$, $a < b$, $a = b$ for symbols named `left` ($a$), `right` ($b$).

    Every pair of reals falls into exactly one of them. The substitutions are $a = b + t$,
    $a = b - t$ with a fresh symbol $t > 0$, and $a = b$; witnesses put $b$ at `witness_right`.
    """
    a, b = sympy.Symbol(left, real=True), sympy.Symbol(right, real=True)
    t = sympy.Symbol("t", positive=True)
    w = witness_right
    return [
        Case(f"{left} > {right}", {a: b + t}, witnesses=[{left: w + Fraction(1, 4), right: w}]),
        Case(f"{left} < {right}", {a: b - t}, witnesses=[{left: w - Fraction(1, 4), right: w}]),
        Case(f"{left} = {right}", {a: b}, witnesses=[{left: w, right: w}]),
    ]


def sign_pattern_cases(vocab_size: int) -> Iterator[Case]:
    r"""Every feasible sign pattern of $p - q$ for two distributions over `vocab_size` tokens.

    For a pattern $\sigma \in \{+, -, 0\}^V$ the case substitutes $p_x = q_x + \sigma_x t_x$ with
    symbols $t_x > 0$; normalisation $\sum p = \sum q$ means $\sum_{\sigma_x = +} t_x =
    \sum_{\sigma_x = -} t_x$, so a pattern with pluses but no minus (or the reverse) is infeasible
    and skipped, and otherwise the first minus's $t$ is solved for (the `then` substitution,
    applied after the signs have evaluated every `Min`/`Piecewise`). Each case has one exact
    witness: $q$ uniform and $t$ spread evenly so that both sides carry mass $1/(2V)$.
    """
    target = [sympy.Symbol(f"p_{i}", real=True) for i in range(vocab_size)]
    draft = [sympy.Symbol(f"q_{i}", real=True) for i in range(vocab_size)]
    gaps = [sympy.Symbol(f"t_{i}", positive=True) for i in range(vocab_size)]
    for pattern in product("+-0", repeat=vocab_size):
        plus = [i for i, s in enumerate(pattern) if s == "+"]
        minus = [i for i, s in enumerate(pattern) if s == "-"]
        if bool(plus) != bool(minus):
            continue
        sign = {"+": 1, "-": -1, "0": 0}
        substitution = {target[i]: draft[i] + sign[s] * gaps[i] for i, s in enumerate(pattern)}
        then = {}
        if minus:
            first, rest = minus[0], minus[1:]
            then[gaps[first]] = sum((gaps[i] for i in plus), sympy.Integer(0)) - sum(
                (gaps[i] for i in rest), sympy.Integer(0)
            )
        uniform = Fraction(1, vocab_size)
        mass = Fraction(1, 2 * vocab_size)
        witness: dict[str, Fraction] = {}
        for i, s in enumerate(pattern):
            step = mass / len(plus) if s == "+" else -mass / len(minus) if s == "-" else 0
            witness[f"q_{i}"] = uniform
            witness[f"p_{i}"] = uniform + step
        yield Case("".join(pattern), substitution, then, [witness])


__all__ = [
    "Case",
    "Difference",
    "prove_zero_by_cases",
    "prove_zero_by_expansion",
    "sign_cases",
    "sign_pattern_cases",
]
