r"""Exact-match (sample-and-match) verification.

At each draft position the target samples its own token $y \sim p$ by the inverse-CDF rule at
`accept_u[i]`; the draft $x$ is accepted iff $y = x$, and otherwise $y$ itself is output (the
*recovered* token). After all $K$ drafts the bonus is the inverse CDF of the last target row at
`final_u`. Lossless for any proposal; the acceptance rate is $\sum_x p(x) q(x)$.
"""

from __future__ import annotations

from fractions import Fraction

from .dist import Dist, Token
from .verifier import ACCEPT, Verifier, _Accept, cdf_breakpoints, inverse_cdf


class ExactMatch(Verifier):
    """Sample-and-match verification."""

    name = "exact_match"

    def decide(
        self, target_row: Dist, draft_row: Dist, draft_token: Token, u: Fraction, final_u: Fraction
    ) -> Token | _Accept:
        """The target's own sample at `u`; `ACCEPT` if it equals the draft."""
        sample = inverse_cdf(target_row.probs, target_row.tokens, u)
        return ACCEPT if sample == draft_token else sample

    def decide_breakpoints(
        self, target_row: Dist, draft_row: Dist, draft_token: Token
    ) -> tuple[list[Fraction], list[Fraction]]:
        """The target row's cumulative sums in `u`; `final_u` is not used."""
        return cdf_breakpoints(target_row.probs), []

    def bonus(self, target_row: Dist, final_u: Fraction) -> Token:
        """Inverse CDF of the target row at `final_u`."""
        return inverse_cdf(target_row.probs, target_row.tokens, final_u)

    def bonus_breakpoints(self, target_row: Dist) -> list[Fraction]:
        """The target row's cumulative sums."""
        return cdf_breakpoints(target_row.probs)


EXACT_MATCH = ExactMatch()
