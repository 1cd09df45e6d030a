r"""Standard speculative decoding (Leviathan et al. 2023, Alg. 1; Chen et al. 2023).

Notation: $p$ is the target row, $q$ the draft row at a position, $x$ the draft token there.

Pinned rules (stated here once; the engine mirrors them):

- **accept** $x$ iff $u \cdot q(x) < p(x)$ (strict, division-free, $u \in [0, 1)$), which has
  probability $\min(1, p(x)/q(x))$;
- **recovered** token: the first $y$ (in the target row's order) with
  $u_{\text{final}} \cdot \sum_z r(z) < \mathrm{cumsum}(r)[y]$, where $r = (p - q)_+$;
- **bonus** token: the same inverse-CDF rule on the target row after the last draft.

A rejection needs $q(x) > p(x)$, hence some $y$ with $p(y) > q(y)$: the residual of a reachable
rejection is never all zero.
"""

from __future__ import annotations

from fractions import Fraction

from .dist import Dist, Token
from .formulas import FRACTION_ARITH, residual
from .verifier import ACCEPT, Verifier, _Accept, cdf_breakpoints, inverse_cdf


def recovered_token(target_row: Dist, draft_row: Dist, final_u: Fraction) -> Token:
    """The recovered token: inverse CDF of the residual $(p - q)_+$ at `final_u`."""
    weights = residual(target_row.probs, [draft_row[t] for t in target_row.tokens], FRACTION_ARITH)
    return inverse_cdf(weights, target_row.tokens, final_u)


class StandardSD(Verifier):
    """Standard SD verification: accept / recover from the residual / bonus from the target."""

    name = "sd"

    def decide(
        self, target_row: Dist, draft_row: Dist, draft_token: Token, u: Fraction, final_u: Fraction
    ) -> Token | _Accept:
        """`ACCEPT` iff `u * q(x) < p(x)`; otherwise the recovered token."""
        if u * draft_row[draft_token] < target_row[draft_token]:
            return ACCEPT
        return recovered_token(target_row, draft_row, final_u)

    def decide_breakpoints(
        self, target_row: Dist, draft_row: Dist, draft_token: Token
    ) -> tuple[list[Fraction], list[Fraction]]:
        """`u` changes the answer at $p(x)/q(x)$; `final_u` at the residual's cumulative sums."""
        ratio = target_row[draft_token] / draft_row[draft_token]
        if ratio >= 1:
            return [], []
        weights = residual(
            target_row.probs, [draft_row[t] for t in target_row.tokens], FRACTION_ARITH
        )
        return [ratio], cdf_breakpoints(weights)

    def bonus(self, target_row: Dist, final_u: Fraction) -> Token:
        """Inverse CDF of the target row at `final_u`."""
        return inverse_cdf(target_row.probs, target_row.tokens, final_u)

    def bonus_breakpoints(self, target_row: Dist) -> list[Fraction]:
        """The target row's cumulative sums."""
        return cdf_breakpoints(target_row.probs)


STANDARD_SD = StandardSD()
