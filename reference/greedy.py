r"""Greedy verification: accept a draft iff it is the target's argmax.

The argmax takes the lowest index on ties. At the first mismatch the target's argmax is output
(recovered); after all drafts, the argmax of the last target row (bonus). No uniform is used. In
the speculative loop the draft model drafts greedily too (its own argmax). The output equals the
target's greedy decoding whatever the draft; this is a verifier of its own, not a temperature
limit of standard SD.
"""

from __future__ import annotations

from fractions import Fraction

from .dist import Dist, Token
from .verifier import ACCEPT, Verifier, _Accept, argmax


class Greedy(Verifier):
    """Argmax-match verification."""

    name = "greedy"
    drafting = "greedy"

    def decide(
        self, target_row: Dist, draft_row: Dist, draft_token: Token, u: Fraction, final_u: Fraction
    ) -> Token | _Accept:
        """`ACCEPT` iff the draft is the target's argmax; otherwise the argmax."""
        best = argmax(target_row)
        return ACCEPT if draft_token == best else best

    def decide_breakpoints(
        self, target_row: Dist, draft_row: Dist, draft_token: Token
    ) -> tuple[list[Fraction], list[Fraction]]:
        """No uniform is used."""
        return [], []

    def bonus(self, target_row: Dist, final_u: Fraction) -> Token:
        """The target's argmax."""
        return argmax(target_row)

    def bonus_breakpoints(self, target_row: Dist) -> list[Fraction]:
        """No uniform is used."""
        return []


GREEDY = Greedy()
