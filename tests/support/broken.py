"""Deliberately broken verifiers: the negative controls of the lossless checks."""

from __future__ import annotations

from fractions import Fraction

from specproof.reference import ACCEPT, Dist, StandardSD
from specproof.reference.formulas import FRACTION_ARITH, residual
from specproof.reference.string_level import LookbehindSlemRound
from specproof.reference.verifier import cdf_breakpoints, inverse_cdf


class RecoverFromTarget(StandardSD):
    """Bug: after a rejection, sample from the target row instead of the residual."""

    name = "broken_recover_from_target"

    def decide(self, target_row, draft_row, draft_token, u, final_u):
        if u * draft_row[draft_token] < target_row[draft_token]:
            return ACCEPT
        return inverse_cdf(target_row.probs, target_row.tokens, final_u)

    def decide_breakpoints(self, target_row, draft_row, draft_token):
        ratio = target_row[draft_token] / draft_row[draft_token]
        return ([ratio] if ratio < 1 else []), cdf_breakpoints(target_row.probs)


class InvertedRatio(StandardSD):
    """Bug: accept iff u < q(x)/p(x) (the ratio upside down)."""

    name = "broken_inverted_ratio"

    def decide(self, target_row, draft_row, draft_token, u, final_u):
        if u * target_row[draft_token] < draft_row[draft_token]:
            return ACCEPT
        return super().decide(
            target_row, draft_row, draft_token, Fraction(1) - Fraction(1, 10**9), final_u
        )

    def decide_breakpoints(self, target_row, draft_row, draft_token):
        p, q = target_row[draft_token], draft_row[draft_token]
        points = [q / p] if p > 0 and q / p < 1 else []
        res = residual(target_row.probs, [draft_row[t] for t in target_row.tokens], FRACTION_ARITH)
        return points, (cdf_breakpoints(res) if sum(res) > 0 else [])


class ResidualNotRenormalised(StandardSD):
    """Bug: recover with the first y such that u < cumsum(r)[y], r = (p - q)+ unnormalised;
    when u exceeds the residual's mass, fall back to the last token."""

    name = "broken_residual_not_renormalised"

    def decide(self, target_row, draft_row, draft_token, u, final_u):
        if u * draft_row[draft_token] < target_row[draft_token]:
            return ACCEPT
        res = residual(target_row.probs, [draft_row[t] for t in target_row.tokens], FRACTION_ARITH)
        cumulative = Fraction(0)
        for token, weight in zip(target_row.tokens, res, strict=True):
            cumulative += weight
            if final_u < cumulative:
                return token
        return target_row.tokens[-1]

    def decide_breakpoints(self, target_row, draft_row, draft_token):
        ratio = target_row[draft_token] / draft_row[draft_token]
        res = residual(target_row.probs, [draft_row[t] for t in target_row.tokens], FRACTION_ARITH)
        cumsums, c = [], Fraction(0)
        for w in res:
            c += w
            cumsums.append(c)
        return ([ratio] if ratio < 1 else []), cumsums


BROKEN_VERIFIERS = [RecoverFromTarget(), InvertedRatio(), ResidualNotRenormalised()]


def dist(*probs):
    return Dist.over(list(range(len(probs))), [Fraction(p) for p in probs])


class SlemKeepsDraftOnMismatch(LookbehindSlemRound):
    """Bug (SLEM): where the target's sample differs from the proposed token, output the
    proposed token instead of the target's sample (and end the round)."""

    def verify_law(self, context, proposal):
        proposal = tuple(proposal)
        law = {}

        def walk(output, weight):
            position = len(output)
            for token, prob in self.target.next_dist(context + output).items():
                if not prob:
                    continue
                if position < len(proposal) and token == proposal[position]:
                    walk((*output, token), weight * prob)
                    continue
                last = proposal[position] if position < len(proposal) else token
                key = (*output, last)
                law[key] = law.get(key, Fraction(0)) + weight * prob

        walk((), Fraction(1))
        return law
