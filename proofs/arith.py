r"""The sympy and z3 arithmetics that execute `specproof.reference.formulas` symbolically.

The reference runs every formula with
[`FRACTION_ARITH`][specproof.reference.formulas.FRACTION_ARITH]; the proofs run *the same
functions* with [`SYMPY_ARITH`][specproof.proofs.arith.SYMPY_ARITH] (on sympy expressions) or
[`Z3_ARITH`][specproof.proofs.arith.Z3_ARITH] (on z3 real terms), so what is proved is the
formula that executes. The four operations beyond `+ - * /`:

| operation | sympy | z3 |
|---|---|---|
| $\min(a, b)$ | `Min(a, b)` | `If(a <= b, a, b)` |
| $\max(a, b)$ | `Max(a, b)` | `If(a >= b, a, b)` |
| $(a)_+$ | `Piecewise((a, a > 0), (0, True))` | `If(a > 0, a, 0)` |
| $a / b$ or $0$ if $b = 0$ | `Piecewise((0, Eq(b, 0)), (a / b, True))` | `If(b == 0, 0, a / b)` |

Both are exact: sympy's `Rational` and z3's `Real` sort are the rationals (z3's reals also hold
algebraic numbers), never floats.

The provers take the formula they check as an argument (the reference's by default), typed by
the shapes below, so that a test can hand them a deliberately wrong formula.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sympy
import z3

from specproof.reference.formulas import Arith

RateFormula = Callable[[Sequence[Any], Sequence[Any], Arith], Any]
"""`formula(target, draft, arith)`: a rate over the vocabulary (e.g. `acceptance_rate`)."""

ResidualFormula = Callable[[Sequence[Any], Sequence[Any], Arith], list[Any]]
"""`formula(target, draft, arith)`: a per-token row (e.g. `residual`)."""

OutputFormula = Callable[[Sequence[Any], Sequence[Any], int, Arith], Any]
"""`formula(target, draft, token, arith)`: one step's output probability of `token`."""


class SympyArith:
    """Formulas on sympy expressions, with `Min`, `Max` and `Piecewise`."""

    zero: Any = sympy.Integer(0)
    one: Any = sympy.Integer(1)

    def min(self, a: Any, b: Any) -> Any:
        """`Min(a, b)`."""
        return sympy.Min(a, b)

    def max(self, a: Any, b: Any) -> Any:
        """`Max(a, b)`."""
        return sympy.Max(a, b)

    def pos(self, a: Any) -> Any:
        """`Piecewise((a, a > 0), (0, True))`."""
        return sympy.Piecewise((a, a > 0), (sympy.Integer(0), True))

    def div_or_zero(self, a: Any, b: Any) -> Any:
        """`Piecewise((0, Eq(b, 0)), (a / b, True))`."""
        return sympy.Piecewise((sympy.Integer(0), sympy.Eq(b, 0)), (a / b, True))


class Z3Arith:
    """Formulas on z3 `Real` terms, with `If`."""

    zero: Any = z3.RealVal(0)
    one: Any = z3.RealVal(1)

    def min(self, a: Any, b: Any) -> Any:
        """`If(a <= b, a, b)`."""
        return z3.If(a <= b, a, b)

    def max(self, a: Any, b: Any) -> Any:
        """`If(a >= b, a, b)`."""
        return z3.If(a >= b, a, b)

    def pos(self, a: Any) -> Any:
        """`If(a > 0, a, 0)`."""
        return z3.If(a > 0, a, z3.RealVal(0))

    def div_or_zero(self, a: Any, b: Any) -> Any:
        """`If(b == 0, 0, a / b)` (z3's own `a / 0` is unspecified, so it is never reached)."""
        return z3.If(b == 0, z3.RealVal(0), a / b)


SYMPY_ARITH = SympyArith()
"""The sympy arithmetic (an [`Arith`][specproof.reference.formulas.Arith])."""

Z3_ARITH = Z3Arith()
"""The z3 arithmetic (an [`Arith`][specproof.reference.formulas.Arith])."""

__all__ = [
    "SYMPY_ARITH",
    "Z3_ARITH",
    "OutputFormula",
    "RateFormula",
    "ResidualFormula",
    "SympyArith",
    "Z3Arith",
]
