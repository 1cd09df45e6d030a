r"""The speculative-decoding formulas, written once against a swappable arithmetic.

Every formula here takes an `arith` argument (an [`Arith`][specproof.reference.formulas.Arith])
that supplies the few operations beyond `+ - * /` and comparison that the formulas need:
`min`, `max`, `pos` (positive part) and `div_or_zero`. The reference executes them with
[`FRACTION_ARITH`][specproof.reference.formulas.FRACTION_ARITH] on `Fraction`s; the proofs
(`specproof.proofs`) execute the very same functions with sympy and z3 arithmetics, so what is
proved is what runs.

Notation (Leviathan et al. 2023): $p$ is the target distribution, $q$ the draft distribution,
over one vocabulary; $x$ a token. In code the roles are named `target` and `draft`.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any, Protocol


class Arith(Protocol):
    """The operations a formula may use besides `+ - * /`."""

    zero: Any
    one: Any

    def min(self, a: Any, b: Any) -> Any:
        """The smaller of `a` and `b`."""

    def max(self, a: Any, b: Any) -> Any:
        """The larger of `a` and `b`."""

    def pos(self, a: Any) -> Any:
        r"""The positive part $(a)_+ = \max(a, 0)$."""

    def div_or_zero(self, a: Any, b: Any) -> Any:
        """`a / b`, or zero when `b` is zero."""


class FractionArith:
    """Exact rational arithmetic on `fractions.Fraction`."""

    zero = Fraction(0)
    one = Fraction(1)

    def min(self, a: Fraction, b: Fraction) -> Fraction:
        """The smaller of `a` and `b`."""
        return a if a <= b else b

    def max(self, a: Fraction, b: Fraction) -> Fraction:
        """The larger of `a` and `b`."""
        return a if a >= b else b

    def pos(self, a: Fraction) -> Fraction:
        """The positive part of `a`."""
        return a if a > 0 else self.zero

    def div_or_zero(self, a: Fraction, b: Fraction) -> Fraction:
        """`a / b`, or zero when `b` is zero."""
        return self.zero if b == 0 else a / b


FRACTION_ARITH = FractionArith()


def total(values: Sequence[Any], arith: Arith) -> Any:
    """The sum of `values`, starting from `arith.zero`."""
    result = arith.zero
    for value in values:
        result = result + value
    return result


def accepted_mass(target_prob: Any, draft_prob: Any, arith: Arith) -> Any:
    r"""Probability that token $x$ is drafted *and* accepted: $\min(p(x), q(x))$.

    The draft proposes $x$ with probability $q(x)$ and the rule `u * q(x) < p(x)` accepts it
    with probability $\min(1, p(x)/q(x))$; their product is $\min(p(x), q(x))$.
    """
    return arith.min(target_prob, draft_prob)


def rejected_mass(target_prob: Any, draft_prob: Any, arith: Arith) -> Any:
    r"""Probability that token $x$ is drafted and rejected: $q(x) - \min(p(x), q(x))$."""
    return draft_prob - accepted_mass(target_prob, draft_prob, arith)


def acceptance_probability(target_prob: Any, draft_prob: Any, arith: Arith) -> Any:
    r"""Probability that a drafted token $x$ (with $q(x) > 0$) is accepted: $\min(1, p(x)/q(x))$."""
    return arith.min(arith.one, target_prob / draft_prob)


def residual(target: Sequence[Any], draft: Sequence[Any], arith: Arith) -> list[Any]:
    r"""The unnormalised residual $r(x) = (p(x) - q(x))_+$, token by token."""
    return [arith.pos(p - q) for p, q in zip(target, draft, strict=True)]


def acceptance_rate(target: Sequence[Any], draft: Sequence[Any], arith: Arith) -> Any:
    r"""Per-position acceptance rate of standard SD: $\alpha = \sum_x \min(p(x), q(x))$."""
    return total([accepted_mass(p, q, arith) for p, q in zip(target, draft, strict=True)], arith)


def total_variation(target: Sequence[Any], draft: Sequence[Any], arith: Arith) -> Any:
    r"""Total variation distance $\mathrm{TV}(p, q) = \frac12 \sum_x |p(x) - q(x)|$."""
    diffs = [arith.max(p - q, q - p) for p, q in zip(target, draft, strict=True)]
    return total(diffs, arith) / 2


def sd_output_probability(
    target: Sequence[Any], draft: Sequence[Any], index: int, arith: Arith
) -> Any:
    r"""Probability that one standard-SD step outputs the token at `index`.

    $$P(\text{out} = y) = \min(p(y), q(y)) + \Big(\sum_x q(x) - \min(p(x), q(x))\Big)
      \frac{r(y)}{\sum_z r(z)},\qquad r = (p - q)_+ .$$

    The first term is "drafted $y$ and accepted", the second "some draft rejected, then $y$
    recovered from the normalised residual". When $\sum_z r(z) = 0$ no rejection can happen
    and the second term is zero.
    """
    res = residual(target, draft, arith)
    rejected = total(
        [rejected_mass(p, q, arith) for p, q in zip(target, draft, strict=True)], arith
    )
    accepted = accepted_mass(target[index], draft[index], arith)
    return accepted + rejected * arith.div_or_zero(res[index], total(res, arith))


def exact_match_acceptance_rate(target: Sequence[Any], draft: Sequence[Any], arith: Arith) -> Any:
    r"""Acceptance rate of exact-match verification: $\sum_x p(x)\,q(x)$.

    The draft proposes $x \sim q$, the target samples $y \sim p$ independently, and the draft
    is accepted iff $y = x$.
    """
    return total([p * q for p, q in zip(target, draft, strict=True)], arith)


def exact_match_output_probability(
    target: Sequence[Any], draft: Sequence[Any], index: int, arith: Arith
) -> Any:
    r"""Probability that one exact-match step outputs the token at `index`.

    $$P(\text{out} = y) = q(y)\,p(y) + \sum_{x \ne y} q(x)\,p(y)$$
    (accepted when the draft is $y$ and the target sample is $y$; otherwise the target's own
    sample $y$ is output).
    """
    matched = draft[index] * target[index]
    mismatched = total([q * target[index] for i, q in enumerate(draft) if i != index], arith)
    return matched + mismatched


def expected_tokens_per_round(alpha: Any, k: int, arith: Arith) -> Any:
    r"""Expected output tokens per target call with $K$ drafts and i.i.d. acceptance $\alpha$.

    The number accepted is $N = \min(G, K)$ with $P(N \ge j) = \alpha^j$, and the round outputs
    $N + 1$ tokens, so $E[N + 1] = \sum_{j=0}^{K} \alpha^j$. (Its closed form
    $(1 - \alpha^{K+1})/(1 - \alpha)$ is a theorem, proved in `specproof.proofs`.)
    """
    result = arith.zero
    power = arith.one
    for _ in range(k + 1):
        result = result + power
        power = power * alpha
    return result
