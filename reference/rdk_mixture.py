r"""RDK's first-order (rank-one) form: the acceptance rate as a function of the mixing weight.

With $q'$ the drafter's TLI row, $r$ a prior over the target vocabulary and $\lambda \in [0, 1]$,
the proposal is $q_\lambda = (1 - \lambda) q' + \lambda r$ and standard SD accepts with

$$\alpha(\lambda) = \sum_t \min\big(p(t),\ q'(t) + \lambda\,(r(t) - q'(t))\big).$$

Each term is the minimum of a constant and an affine function of $\lambda$, so $\alpha$ is
concave and piecewise linear; its kinks are at $\lambda_t = (p(t) - q'(t)) / (r(t) - q'(t))$
where that lies in $(0, 1)$. Its right derivative at 0 is

$$\alpha'(0^+) = \sum_{q'(t) < p(t)} (r(t) - q'(t)) + \sum_{q'(t) = p(t)} \min(0, r(t) - q'(t)).$$

$\alpha(0)$ is vanilla SD with the pruned drafter (TLI). Two kinds of $\lambda$:

- **oracle** ([`optimal_mix`][specproof.reference.rdk_mixture.optimal_mix]): the exact maximiser
  $\lambda^*$, over the breakpoints and the ends. It reads $p$, which no drafter has at drafting
  time: an upper bound on what the rank-one form can recover, never an implementable rule.
- **implementable** ([`frequency_mix`][specproof.reference.rdk_mixture.frequency_mix]): from
  drafter-side information only, here the corpus share of the pruned tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from .dist import Dist, Token, as_fraction, same_vocabulary
from .formulas import FRACTION_ARITH, Arith, acceptance_rate, total
from .rdk import check_mix, mixture_probs


def _rows(target: Dist, source: Dist, prior: Dist) -> tuple[list[Fraction], ...]:
    same_vocabulary(target, source, "target and source")
    same_vocabulary(target, prior, "target and prior")
    return (
        list(target.probs),
        [source[t] for t in target.tokens],
        [prior[t] for t in target.tokens],
    )


def mixture_acceptance(target: Dist, source: Dist, prior: Dist, mix: object) -> Fraction:
    r"""$\alpha(\lambda) = \sum_t \min(p(t), (1 - \lambda) q'(t) + \lambda r(t))$, exactly.

    Args:
        target: $p$ over $T$.
        source: $q' = \mathrm{TLI}(q)$ over $T$.
        prior: $r$ over $T$.
        mix: $\lambda \in [0, 1]$.

    Raises:
        ValueError: on differing vocabularies or `mix` outside $[0, 1]$.
    """
    p, s, r = _rows(target, source, prior)
    alpha: Fraction = acceptance_rate(p, mixture_probs(s, r, check_mix(mix)), FRACTION_ARITH)
    return alpha


def mixture_slope_terms(
    target: Sequence[Any], source: Sequence[Any], prior: Sequence[Any]
) -> list[Any]:
    r"""Per-token right derivatives at $\lambda = 0$ (exact rationals only: they branch on signs).

    $r - q'$ where $q' < p$; $\min(0, r - q')$ where $q' = p$; $0$ where $q' > p$.
    """
    terms = []
    for p, s, r in zip(target, source, prior, strict=True):
        if s < p:
            terms.append(r - s)
        elif s == p:
            terms.append(min(0, r - s))
        else:
            terms.append(0 * s)
    return terms


def mixture_slope_at_zero(target: Dist, source: Dist, prior: Dist) -> Fraction:
    r"""$\alpha'(0^+)$ by the closed form in the module docstring.

    Raises:
        ValueError: on differing vocabularies.
    """
    terms: list[Fraction] = mixture_slope_terms(*_rows(target, source, prior))
    return sum(terms, Fraction(0))


def mixture_breakpoints(target: Dist, source: Dist, prior: Dist) -> list[Fraction]:
    r"""The kinks of $\alpha$ in $(0, 1)$: $\lambda_t = (p(t) - q'(t)) / (r(t) - q'(t))$, sorted.

    Raises:
        ValueError: on differing vocabularies.
    """
    p, s, r = _rows(target, source, prior)
    points = {(pt - st) / (rt - st) for pt, st, rt in zip(p, s, r, strict=True) if rt != st}
    return sorted(x for x in points if 0 < x < 1)


def optimal_mix(target: Dist, source: Dist, prior: Dist) -> tuple[Fraction, Fraction]:
    r"""The oracle $(\lambda^*, \alpha(\lambda^*))$: the exact maximum of $\alpha$ on $[0, 1]$.

    A piecewise-linear function attains its maximum over an interval at a kink or an end, so
    the maximum over $\{0, 1\} \cup$ [`mixture_breakpoints`][specproof.reference.rdk_mixture.mixture_breakpoints]
    is exact; the smallest maximiser is returned. **Reads $p$: an oracle bound, not a rule a
    drafter can run.**

    Raises:
        ValueError: on differing vocabularies.
    """
    candidates = [Fraction(0), *mixture_breakpoints(target, source, prior), Fraction(1)]
    best, best_alpha = candidates[0], mixture_acceptance(target, source, prior, candidates[0])
    for lam in candidates[1:]:
        alpha = mixture_acceptance(target, source, prior, lam)
        if alpha > best_alpha:
            best, best_alpha = lam, alpha
    return best, best_alpha


def _counts(frequencies: Mapping[Token, Any], tokens: Sequence[Token]) -> list[Fraction]:
    counts = [as_fraction(frequencies.get(t, 0), f"frequencies[{t!r}]") for t in tokens]
    if any(c < 0 for c in counts):
        raise ValueError("frequencies must be non-negative")
    return counts


def frequency_mix(frequencies: Mapping[Token, Any], kept: Sequence[Token]) -> Fraction:
    r"""An implementable $\lambda$: the corpus share of the tokens the pruned head cannot emit.

    Drafter-side information only (a corpus count, fixed before decoding).

    Args:
        frequencies: `{token: count}` over a corpus (non-negative rationals; missing = 0).
        kept: the pruned drafter's vocabulary $D$.

    Raises:
        ValueError: on negative counts or a corpus with no tokens.
    """
    tokens = list(frequencies)
    counts = _counts(frequencies, tokens)
    mass = sum(counts, Fraction(0))
    if mass == 0:
        raise ValueError("frequencies must count at least one token")
    kept_set = set(kept)
    pruned = sum((c for t, c in zip(tokens, counts, strict=True) if t not in kept_set), Fraction(0))
    return pruned / mass


def pruned_prior(
    frequencies: Mapping[Token, Any], kept: Sequence[Token], tokens: Sequence[Token]
) -> Dist:
    r"""A prior $r$ over $T$: corpus frequencies of the pruned tokens $T \setminus D$, normalised.

    Args:
        frequencies: `{token: count}` (missing = 0).
        kept: $D$.
        tokens: $T$, the target vocabulary (the result's order).

    Raises:
        ValueError: if no pruned token has a positive count.
    """
    kept_set = set(kept)
    counts = [
        c if t not in kept_set else Fraction(0)
        for t, c in zip(tokens, _counts(frequencies, tokens), strict=True)
    ]
    mass = sum(counts, Fraction(0))
    if mass == 0:
        raise ValueError("no pruned token (outside kept) has a positive frequency")
    return Dist.over(tokens, [c / mass for c in counts])


def mixture_acceptance_formula(
    target: Sequence[Any], source: Sequence[Any], prior: Sequence[Any], mix: Any, arith: Arith
) -> Any:
    r"""$\alpha(\lambda)$ as a formula in any arithmetic (the proofs run it with z3 and sympy)."""
    return total(
        [arith.min(p, q) for p, q in zip(target, mixture_probs(source, prior, mix), strict=True)],
        arith,
    )


__all__ = [
    "frequency_mix",
    "mixture_acceptance",
    "mixture_acceptance_formula",
    "mixture_breakpoints",
    "mixture_slope_at_zero",
    "mixture_slope_terms",
    "optimal_mix",
    "pruned_prior",
]
