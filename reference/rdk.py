r"""Redistributing Drafter Kernels (RDK; arXiv 2506.03206): out-of-vocabulary drafting.

A drafter with a pruned vocabulary $D \subset T$ (e.g. a pruned LM head) cannot propose the
target tokens $T \setminus D$. RDK moves its mass onto them with a **kernel**: a row-stochastic
$N \times N$ matrix $M$ over the target vocabulary $T$ ($N = |T|$), $M[x, y]$ the share of $x$'s
mass that goes to $y$. With $q' = \mathrm{TLI}(q)$ the drafter's row restricted to
$I = T \cap D$ ([`tli_proposal`][specproof.reference.tli.tli_proposal]), the RDK proposal is

$$q_{\mathrm{RDK}} = q' M,\qquad q_{\mathrm{RDK}}(y) = \sum_x q'(x)\,M[x, y],$$

a distribution over $T$ whenever $q'$ is one and $M$ is row-stochastic. So standard SD
([`STANDARD_SD`][specproof.reference.sd.STANDARD_SD]) verifies it unchanged, which makes RDK
lossless for *every* row-stochastic $M$; what $M$ changes is the acceptance rate
$\sum_y \min(p(y), q_{\mathrm{RDK}}(y))$.

**Pinned sampling rule** (two stages, randomness as arguments): the source token
$x$ = inverse CDF of $q'$ at `first_u`, then the draft token $y$ = inverse CDF of the row
$M[x, \cdot]$ at `second_u` (the project's inverse-CDF rule: the first $y$ with
$u \sum w < \mathrm{cumsum}(w)[y]$, in vocabulary order). Its exact law is $q' M$ (integrated
over both uniforms by [`two_stage_law`][specproof.reference.rdk.two_stage_law]); $y$ is then
verified by standard SD against the target row with $q_{\mathrm{RDK}}(y)$.

Kernels here: any row-stochastic matrix ([`Kernel`][specproof.reference.rdk.Kernel]), the
identity (RDK = TLI = vanilla SD for a pruned drafter), the first-order (rank-one) mixture
$M_\lambda = (1 - \lambda)\,\mathrm{Id} + \lambda\,\mathbf{1} r^\top$ whose proposal
$(1 - \lambda) q' + \lambda r$ costs $O(N)$, and sparse top-$k$ kernels built from affinity
scores. The mixture's acceptance as a function of $\lambda$ is in
`specproof.reference.rdk_mixture`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .dist import Dist, Token, as_fraction
from .formulas import FRACTION_ARITH, Arith, total
from .sd import STANDARD_SD
from .tli import tli_proposal
from .toylm import ToyLM
from .verifier import (
    ACCEPT,
    BaseVerifier,
    RoundInputs,
    Verdict,
    _intervals,
    cdf_breakpoints,
    check_uniform,
    inverse_cdf,
)


@dataclass(frozen=True, init=False)
class Kernel:
    """A row-stochastic kernel over an ordered vocabulary: one distribution per token.

    Args:
        tokens: the vocabulary $T$, in order (the order the inverse-CDF rule walks).
        rows: `{x: row}` for every token `x` of `tokens`; each row a `Dist` (or a mapping
            `{token: probability}`) over exactly `tokens`.

    Raises:
        ValueError: on an empty or repeating vocabulary, a missing or extra row, or a row that is
            not a distribution over exactly `tokens`.

    Examples:
        >>> from fractions import Fraction as F
        >>> kernel = Kernel("ab", {"a": {"a": F(1, 2), "b": F(1, 2)}, "b": {"a": 0, "b": 1}})
        >>> kernel.apply(Dist({"a": F(1, 2), "b": F(1, 2)}))
        Dist({'a': 1/4, 'b': 3/4})
    """

    tokens: tuple[Token, ...]
    rows: tuple[Dist, ...]

    def __init__(self, tokens: Sequence[Token], rows: Mapping[Token, Any]) -> None:
        tokens = tuple(tokens)
        if not tokens:
            raise ValueError("tokens must not be empty")
        if len(set(tokens)) != len(tokens):
            raise ValueError(f"tokens must be distinct, got {list(tokens)!r}")
        if not isinstance(rows, Mapping):
            raise ValueError(f"rows must be a mapping {{token: row}}, got {type(rows).__name__}")
        extra = [x for x in rows if x not in set(tokens)]
        missing = [x for x in tokens if x not in rows]
        if extra or missing:
            raise ValueError(f"rows: need one row per token (missing {missing!r}, extra {extra!r})")
        checked = []
        for x in tokens:
            row = rows[x]
            try:
                row = row if isinstance(row, Dist) else Dist(row)
                if set(row.tokens) != set(tokens):
                    raise ValueError("its tokens are not exactly the kernel's vocabulary")
            except ValueError as exc:
                raise ValueError(f"rows[{x!r}] is not a distribution over tokens: {exc}") from None
            checked.append(row.reordered(tokens))
        object.__setattr__(self, "tokens", tokens)
        object.__setattr__(self, "rows", tuple(checked))

    def row(self, token: Token) -> Dist:
        r"""The row $M[x, \cdot]$ of `token`."""
        try:
            return self.rows[self.tokens.index(token)]
        except ValueError:
            raise ValueError(f"token {token!r} is not in the kernel's vocabulary") from None

    def apply(self, dist: Dist) -> Dist:
        """The distribution $q M$ for a distribution $q$ over the kernel's vocabulary.

        Raises:
            ValueError: if `dist` is not over exactly the kernel's vocabulary.
        """
        if set(dist.tokens) != set(self.tokens):
            raise ValueError("dist must be over exactly the kernel's vocabulary")
        probs = [dist[x] for x in self.tokens]
        matrix = [list(row.probs) for row in self.rows]
        return Dist.over(self.tokens, rdk_proposal_probs(probs, matrix, FRACTION_ARITH))


def rdk_proposal_probs(
    source: Sequence[Any], kernel_rows: Sequence[Sequence[Any]], arith: Arith
) -> list[Any]:
    r"""The row vector times matrix $q' M$: $(q'M)(y) = \sum_x q'(x) M[x, y]$ (any arithmetic).

    Args:
        source: $q'$, one entry per token.
        kernel_rows: $M$, `kernel_rows[x][y]`.
        arith: the arithmetic (`FRACTION_ARITH` here; sympy and z3 in the proofs).
    """
    size = len(source)
    return [total([source[x] * kernel_rows[x][y] for x in range(size)], arith) for y in range(size)]


def mixture_probs(source: Sequence[Any], prior: Sequence[Any], mix: Any) -> list[Any]:
    r"""The first-order proposal $(1 - \lambda) q' + \lambda r$ in $O(N)$ (any arithmetic).

    It equals $q' M_\lambda$ for $M_\lambda = (1 - \lambda)\,\mathrm{Id} + \lambda\,\mathbf{1}
    r^\top$ when $\sum q' = 1$ (theorem `rdk_first_order_is_kernel`).
    """
    return [(1 - mix) * s + mix * r for s, r in zip(source, prior, strict=True)]


def identity_kernel(tokens: Sequence[Token]) -> Kernel:
    """The identity kernel: every token keeps its mass (RDK = TLI)."""
    return Kernel(tokens, {x: Dist.point(tokens, x) for x in tokens})


def check_mix(mix: object) -> Fraction:
    r"""`mix` as a `Fraction` in $[0, 1]$, or `ValueError` naming it."""
    value = as_fraction(mix, "mix")
    if not 0 <= value <= 1:
        raise ValueError(f"mix must lie in [0, 1], got {value}")
    return value


def rank_one_kernel(prior: Dist, mix: object) -> Kernel:
    r"""$M_\lambda = (1 - \lambda)\,\mathrm{Id} + \lambda\,\mathbf{1} r^\top$ over `prior`'s tokens.

    Args:
        prior: $r$, the distribution every row sends a share $\lambda$ of its mass to.
        mix: $\lambda \in [0, 1]$ (an exact rational).

    Raises:
        ValueError: if `mix` is not an exact rational in $[0, 1]$.
    """
    lam = check_mix(mix)
    tokens = prior.tokens
    return Kernel(
        tokens,
        {x: {y: (1 - lam) * (x == y) + lam * prior[y] for y in tokens} for x in tokens},
    )


def top_k_kernel(
    tokens: Sequence[Token], affinity: Mapping[Token, Mapping[Token, Any]], k: int
) -> Kernel:
    """A sparse kernel: each row keeps its `k` highest affinities, normalised.

    Ties are broken by vocabulary order (the earlier token is kept). Affinities missing from
    `affinity[x]` count as zero.

    Args:
        tokens: the vocabulary.
        affinity: `{x: {y: score}}` with non-negative exact rational scores, one entry per token.
        k: neighbours kept per row, `1 <= k <= len(tokens)`.

    Raises:
        ValueError: on a bad `k`, a missing row, a negative or inexact score, or a row whose `k`
            kept scores are all zero.
    """
    tokens = tuple(tokens)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= len(tokens):
        raise ValueError(f"k must be an int in [1, {len(tokens)}], got {k!r}")
    rows: dict[Token, dict[Token, Fraction]] = {}
    for x in tokens:
        if x not in affinity:
            raise ValueError(f"affinity has no row for token {x!r}")
        scores = [as_fraction(affinity[x].get(y, 0), f"affinity[{x!r}][{y!r}]") for y in tokens]
        if any(s < 0 for s in scores):
            raise ValueError(f"affinity[{x!r}] holds a negative score")
        order = sorted(range(len(tokens)), key=lambda i: -scores[i])[:k]
        mass = sum((scores[i] for i in order), Fraction(0))
        if mass == 0:
            raise ValueError(f"affinity[{x!r}]: the {k} kept scores are all zero")
        rows[x] = {
            y: (scores[i] / mass if i in order else Fraction(0)) for i, y in enumerate(tokens)
        }
    return Kernel(tokens, rows)


def rdk_proposal(draft_row: Dist, kernel: Kernel) -> Dist:
    r"""$q_{\mathrm{RDK}} = \mathrm{TLI}(q) \cdot M$ over the kernel's (the target's) vocabulary.

    Args:
        draft_row: the drafter's row over its own (pruned) vocabulary $D$.
        kernel: $M$ over the target vocabulary $T$.

    Raises:
        ValueError: if the drafter puts no mass on $T \cap D$.
    """
    return kernel.apply(tli_proposal(draft_row, kernel.tokens))


def draw_rdk(
    draft_row: Dist, kernel: Kernel, first_u: object, second_u: object
) -> tuple[Token, Token]:
    r"""The pinned two-stage draw: `(source x, draft token y)`.

    Args:
        draft_row: the drafter's row over $D$.
        kernel: $M$ over $T$.
        first_u: uniform in $[0, 1)$ for $x$ = inverse CDF of $\mathrm{TLI}(q)$.
        second_u: uniform in $[0, 1)$ for $y$ = inverse CDF of $M[x, \cdot]$.

    Raises:
        ValueError: on a uniform outside $[0, 1)$ or a drafter with no mass on $T \cap D$.
    """
    u1, u2 = check_uniform(first_u, "first_u"), check_uniform(second_u, "second_u")
    source = tli_proposal(draft_row, kernel.tokens)
    x = inverse_cdf(source.probs, source.tokens, u1)
    row = kernel.row(x)
    return x, inverse_cdf(row.probs, row.tokens, u2)


def two_stage_law(draft_row: Dist, kernel: Kernel) -> dict[Token, Fraction]:
    r"""Exact law of the drafted token $y$ of [`draw_rdk`][specproof.reference.rdk.draw_rdk].

    Integrates the rule over both uniforms: between the cumulative sums of $\mathrm{TLI}(q)$
    (for `first_u`) and of each row $M[x, \cdot]$ (for `second_u`) the draw is constant, so
    each cell contributes its area. Zero-probability tokens are left out.
    """
    source = tli_proposal(draft_row, kernel.tokens)
    law: dict[Token, Fraction] = {}
    for lo1, hi1 in _intervals(cdf_breakpoints(source.probs)):
        x = inverse_cdf(source.probs, source.tokens, lo1)
        row = kernel.row(x)
        for lo2, hi2 in _intervals(cdf_breakpoints(row.probs)):
            _, y = draw_rdk(draft_row, kernel, lo1, lo2)
            law[y] = law.get(y, Fraction(0)) + (hi1 - lo1) * (hi2 - lo2)
    return law


@dataclass(frozen=True)
class StageDraws:
    """The uniforms of RDK's two-stage drafting, one pair per draft position.

    Attributes:
        first_u: $K$ uniforms in $[0, 1)$ for the source tokens.
        second_u: $K$ uniforms in $[0, 1)$ for the kernel rows.
    """

    first_u: tuple[Fraction, ...]
    second_u: tuple[Fraction, ...]

    def __post_init__(self) -> None:
        if len(self.first_u) != len(self.second_u):
            raise ValueError("first_u and second_u must have the same length K")
        first = tuple(check_uniform(u, f"first_u[{i}]") for i, u in enumerate(self.first_u))
        second = tuple(check_uniform(u, f"second_u[{i}]") for i, u in enumerate(self.second_u))
        object.__setattr__(self, "first_u", first)
        object.__setattr__(self, "second_u", second)


@dataclass(frozen=True)
class RDK(BaseVerifier):
    """RDK with a fixed kernel: propose with $q' M$, draft in two stages, verify by standard SD.

    Attributes:
        kernel: $M$ over the target vocabulary (its token order is the target's).
    """

    kernel: Kernel
    name = "rdk"

    def proposal(self, draft_row: Dist) -> Dist:
        r"""$q_{\mathrm{RDK}}$ for one drafter row (see [`rdk_proposal`][specproof.reference.rdk.rdk_proposal])."""
        return rdk_proposal(draft_row, self.kernel)

    def draft(self, draft_rows: Sequence[Dist], stage_draws: StageDraws) -> tuple[Token, ...]:
        """The $K$ draft tokens, drawn in two stages from the given drafter rows.

        Args:
            draft_rows: $K$ drafter rows over $D$ (row $i$ conditioned on drafts before $i$).
            stage_draws: the two uniforms per position.

        Raises:
            ValueError: if the lengths differ.
        """
        if len(draft_rows) != len(stage_draws.first_u):
            raise ValueError("draft_rows and stage_draws must have the same length K")
        return tuple(
            draw_rdk(row, self.kernel, u1, u2)[1]
            for row, u1, u2 in zip(
                draft_rows, stage_draws.first_u, stage_draws.second_u, strict=True
            )
        )

    def verdict(self, inputs: RoundInputs) -> Verdict:
        """Standard SD on the RDK proposals: `STANDARD_SD.verify(target_rows, q_RDK rows, ...)`.

        Here `target_rows` are over $T$, `draft_rows` are the drafter's rows over $D$ (not yet
        redistributed) and `draft_tokens` come from [`draft`][specproof.reference.rdk.RDK.draft].

        Args:
            inputs: the round, as `verify` received it.
        """
        proposals = [self.proposal(row) for row in inputs.draft_rows]
        return STANDARD_SD.verify(inputs.target_rows, proposals, inputs.draft_tokens, inputs.draws)

    def step_law(self, target_row: Dist, draft_row: Dist) -> tuple[dict[Token, Fraction], Fraction]:
        r"""Exact law of one RDK step's output token, and its exact acceptance probability.

        Integrates over all four uniforms: the two-stage draw (`first_u`, `second_u`) and
        standard SD's `u` and `final_u` at the drafted token.

        Returns:
            `(law, acceptance)`: `{token: probability}` (zeros left out) and $P(\text{accept})$.
        """
        proposal = self.proposal(draft_row)
        law: dict[Token, Fraction] = {}
        accepted = Fraction(0)
        for y, drafted in two_stage_law(draft_row, self.kernel).items():
            for outcome, prob in STANDARD_SD.position_law(target_row, proposal, y).items():
                token = y if outcome is ACCEPT else outcome
                law[token] = law.get(token, Fraction(0)) + drafted * prob
                if outcome is ACCEPT:
                    accepted += drafted * prob
        return law, accepted

    def proposal_lm(self, drafter: ToyLM, kept: Sequence[Token]) -> ToyLM:
        """A toy LM whose rows are the RDK proposals of a drafter whose head is pruned to `kept`.

        The drafter reads every target token (its context) but can emit only `kept`: its pruned
        row is its full row restricted to `kept` and renormalised (a pruned softmax).

        Raises:
            ValueError: if `drafter`'s vocabulary is not the kernel's, or some row has no mass
                on `kept`.
        """
        if set(drafter.vocab) != set(self.kernel.tokens):
            raise ValueError("drafter must be over the kernel's (the target's) vocabulary")
        table = {ctx: self.proposal(tli_proposal(row, kept)) for ctx, row in drafter.table.items()}
        return ToyLM(self.kernel.tokens, drafter.order, table)


__all__ = [
    "RDK",
    "Kernel",
    "StageDraws",
    "check_mix",
    "draw_rdk",
    "identity_kernel",
    "mixture_probs",
    "rank_one_kernel",
    "rdk_proposal",
    "rdk_proposal_probs",
    "top_k_kernel",
    "two_stage_law",
]
