"""A deliberately plain implementation of the exact laws (dicts of Fractions, no tricks).

Test oracle for the optimised `specproof.reference.laws`: same definition, written the obvious
way. Slow; small instances only.
"""

from __future__ import annotations

from fractions import Fraction

from specproof.reference import ACCEPT, argmax, get_verifier


def _extend(law, head, weight, tail_law):
    for tail, prob in tail_law.items():
        law[head + tail] = law.get(head + tail, Fraction(0)) + weight * prob


def simple_autoregressive_law(lm, prefix, n, greedy=False):
    def rest(sequence, remaining):
        if remaining == 0:
            return {(): Fraction(1)}
        row = lm.next_dist(sequence)
        steps = {argmax(row): Fraction(1)} if greedy else {t: p for t, p in row.items() if p > 0}
        law = {}
        for token, prob in steps.items():
            _extend(law, (token,), prob, rest((*sequence, token), remaining - 1))
        return law

    return rest(tuple(prefix), n)


def simple_speculative_law(target, draft, prefix, n, k, algorithm="sd"):
    verifier = get_verifier(algorithm)

    def round_law(sequence, remaining):
        out = {}

        def walk(accepted, weight):
            if len(accepted) == remaining:
                out[accepted] = out.get(accepted, Fraction(0)) + weight
                return
            target_row = target.next_dist(sequence + accepted)
            if len(accepted) == k:
                for token, prob in verifier.bonus_law(target_row).items():
                    key = (*accepted, token)
                    out[key] = out.get(key, Fraction(0)) + weight * prob
                return
            draft_row = draft.next_dist(sequence + accepted)
            for token, draft_prob in verifier.draft_law(draft_row).items():
                for outcome, prob in verifier.position_law(target_row, draft_row, token).items():
                    if outcome is ACCEPT:
                        walk((*accepted, token), weight * draft_prob * prob)
                    else:
                        key = (*accepted, outcome)
                        out[key] = out.get(key, Fraction(0)) + weight * draft_prob * prob

        walk((), Fraction(1))
        return out

    def rest(sequence, remaining):
        if remaining == 0:
            return {(): Fraction(1)}
        law = {}
        for head, weight in round_law(sequence, remaining).items():
            _extend(law, head, weight, rest(sequence + head, remaining - len(head)))
        return law

    return {key: p for key, p in rest(tuple(prefix), n).items() if p}
