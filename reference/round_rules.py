r"""Round rules for the token-law criterion: lossless ones whose round laws differ, and broken ones.

Each rule is a [`RoundRule`][specproof.reference.token_law.RoundRule]: a program that draws
through `choose`, so [`enumerate_law`][specproof.reference.token_law.enumerate_law] gives its
exact law. The broken rules are the exact forms of the auditor's negative controls
(`specproof.audit.controls.BROKEN`, same names) plus a stopping rule that reads the draft it
drops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import TypeVar

from .dist import Dist, Token
from .exact_match import EXACT_MATCH
from .formulas import FRACTION_ARITH, residual
from .sd import STANDARD_SD
from .token_law import Choose, RoundRule, draw
from .verifier import ACCEPT, Verifier, _Accept

Key = TypeVar("Key")


def _accepts(target_prob: Fraction, draft_prob: Fraction, choose: Choose) -> bool:
    """The pinned test `u * q(x) < p(x)` integrated over `u`: probability `min(1, p/q)`."""
    if target_prob <= 0:
        return False
    if draft_prob <= target_prob:
        return True
    ratio = target_prob / draft_prob
    return choose([ratio, 1 - ratio]) == 0


PositionStep = Callable[[Dist, Dist, Token, Choose], Token | _Accept]
"""`step(target_row, draft_row, draft_token, choose)`: `ACCEPT`, or the token that ends the round."""


def left_to_right(
    step: PositionStep,
    bonus: Callable[[Dist, Choose], Token] = draw,
    bonus_offset: int = 0,
) -> RoundRule:
    """The round rule that runs `step` at each draft position until one does not accept.

    The round outputs the accepted drafts, then the first token a step returns instead; if every
    draft is accepted, a bonus token drawn by `bonus` from target row `K - bonus_offset`.

    Args:
        step: decides one draft position (see `PositionStep`).
        bonus: `bonus(target_row, choose) -> token` (default: a draw from the row).
        bonus_offset: the bonus row is `K - bonus_offset` (at least 0); 0 is the honest one.
    """

    def rule(
        target_rows: Sequence[Dist],
        draft_rows: Sequence[Dist],
        draft_tokens: Sequence[Token],
        choose: Choose,
    ) -> tuple[Token, ...]:
        out: list[Token] = []
        for i, x in enumerate(draft_tokens):
            outcome = step(target_rows[i], draft_rows[i], x, choose)
            if isinstance(outcome, _Accept):
                out.append(x)
                continue
            return (*out, outcome)
        return (*out, bonus(target_rows[max(len(draft_tokens) - bonus_offset, 0)], choose))

    return rule


def _choose_key(law: dict[Key, Fraction], choose: Choose) -> Key:
    """A key of `law` drawn through `choose` with its probability."""
    outcomes = list(law)
    return outcomes[choose([law[o] for o in outcomes])]


# --- Lossless rules -----------------------------------------------------------------------------


def verifier_rule(verifier: Verifier) -> RoundRule:
    """A reference [`Verifier`][specproof.reference.verifier.Verifier] as a round rule.

    Each position draws from the verifier's exact conditional law (`position_law`, its pinned
    rule integrated over its uniforms); the bonus from its `bonus_law`.
    """
    return left_to_right(
        lambda target_row, draft_row, x, choose: _choose_key(
            verifier.position_law(target_row, draft_row, x), choose
        ),
        lambda target_row, choose: _choose_key(verifier.bonus_law(target_row), choose),
    )


standard_sd = verifier_rule(STANDARD_SD)
"""Standard SD (the reference's pinned rule)."""
sample_and_match = verifier_rule(EXACT_MATCH)
"""Sample-and-match: accept a draft iff it equals a fresh draw from the target; emit that draw."""


def sibling_candidates(draft_row: Dist, draft_token: Token) -> tuple[Token, ...]:
    """The drafted token, then the draft row's most probable other token (lowest index on ties)."""
    others = [t for t in draft_row.tokens if t != draft_token]
    if not others:
        return (draft_token,)
    best = max(others, key=lambda t: (draft_row[t], -draft_row.tokens.index(t)))
    return (draft_token, best)


def _sibling_step(target_row: Dist, draft_row: Dist, x: Token, choose: Choose) -> Token | _Accept:
    weights = dict(zip(target_row.tokens, target_row.probs, strict=True))
    for candidate in sibling_candidates(draft_row, x):
        mass = sum(weights.values(), Fraction(0))
        share = weights[candidate]
        if share > 0 and choose([share, mass - share]) == 0:
            return ACCEPT if candidate == x else candidate
        weights[candidate] = Fraction(0)
    return target_row.tokens[choose([weights[t] for t in target_row.tokens])]


_sequential_sibling = left_to_right(_sibling_step)


def sequential_sibling(
    target_rows: Sequence[Dist],
    draft_rows: Sequence[Dist],
    draft_tokens: Sequence[Token],
    choose: Choose,
) -> tuple[Token, ...]:
    r"""The sequential-sibling rule for deterministic candidates.

    At position $i$ the candidates are [`sibling_candidates`][specproof.reference.round_rules.sibling_candidates]
    (a fixed function of the draft). With $p' = p_i$: for each candidate $c$ in order, accept it
    with probability $p'(c) / \sum p'$; if it is the draft, go on to the next position, else
    emit it and end; if rejected, set $p'(c) = 0$. After all candidates, emit a draw from $p'$.
    Lossless for every fixed candidate list; its round law is not standard SD's.
    """
    return _sequential_sibling(target_rows, draft_rows, draft_tokens, choose)


#: Draft-only stopping: stop after the first draft whose draft probability is below this.
CONFIDENCE = Fraction(1, 2)


def verified_drafts(draft_rows: Sequence[Dist], draft_tokens: Sequence[Token]) -> int:
    """How many drafts a confidence-stopping drafter keeps: up to the first unconfident one."""
    for i, x in enumerate(draft_tokens):
        if draft_rows[i][x] < CONFIDENCE:
            return i + 1
    return len(draft_tokens)


def draft_only_stopping(
    target_rows: Sequence[Dist],
    draft_rows: Sequence[Dist],
    draft_tokens: Sequence[Token],
    choose: Choose,
) -> tuple[Token, ...]:
    """Standard SD on the drafts kept by a drafter that stops after its first unconfident draft.

    Whether position $i$ is verified depends only on the drafts before it, so the rule is
    lossless; the bonus is drawn from the row after the last kept draft.
    """
    kept = verified_drafts(draft_rows, draft_tokens)
    return standard_sd(target_rows[: kept + 1], draft_rows[:kept], draft_tokens[:kept], choose)


#: The lossless rules whose round laws differ from standard SD's, by name (plus standard SD).
LOSSLESS_RULES: dict[str, RoundRule] = {
    "standard-sd": standard_sd,
    "sample-and-match": sample_and_match,
    "sequential-sibling": sequential_sibling,
    "draft-only-stopping": draft_only_stopping,
}


# --- Broken rules (the auditor's negative controls, in exact form) ------------------------------


def _squared(row: Dist) -> list[Fraction]:
    mass = sum((p * p for p in row.probs), Fraction(0))
    return [p * p / mass for p in row.probs]


def broken_sd(
    ratio_target: Callable[[Dist], Sequence[Fraction]] | None = None,
    ratio_draft: Callable[[Dist], Sequence[Fraction]] | None = None,
    recover: Callable[[list[Fraction], Choose], int] | None = None,
    bonus_offset: int = 0,
) -> RoundRule:
    """Standard SD with one part replaced (the hooks of `specproof.audit.controls`).

    Args:
        ratio_target: the target row the acceptance test reads (default: the true one).
        ratio_draft: the draft row the acceptance test reads (default: the true one).
        recover: `recover(residual weights, choose) -> token index` (default: the residual law).
        bonus_offset: the bonus is drawn from target row `K - bonus_offset` (at least 0).
    """

    def step(p_row: Dist, q_row: Dist, x: Token, choose: Choose) -> Token | _Accept:
        index = p_row.tokens.index(x)
        p = (ratio_target(p_row) if ratio_target else p_row.probs)[index]
        q = (ratio_draft(q_row) if ratio_draft else [q_row[t] for t in p_row.tokens])[index]
        if (p > 0 and q == 0) or _accepts(p, q, choose):
            return ACCEPT
        weights = residual(p_row.probs, [q_row[t] for t in p_row.tokens], FRACTION_ARITH)
        return p_row.tokens[recover(weights, choose) if recover else choose(weights)]

    return left_to_right(step, bonus_offset=bonus_offset)


def _recover_unnormalised(weights: list[Fraction], choose: Choose) -> int:
    # First y with u < cumsum(r)[y], else the last token: the last one takes 1 - sum(r) too.
    return choose([*weights[:-1], weights[-1] + 1 - sum(weights, Fraction(0))])


def _recover_argmax(weights: list[Fraction], choose: Choose) -> int:
    return max(range(len(weights)), key=lambda y: (weights[y], -y))


def _swap_first_two(row: Dist) -> list[Fraction]:
    probs = list(row.probs)
    if len(probs) >= 2:
        probs[0], probs[1] = probs[1], probs[0]
    return probs


def accept_always(
    target_rows: Sequence[Dist],
    draft_rows: Sequence[Dist],
    draft_tokens: Sequence[Token],
    choose: Choose,
) -> tuple[Token, ...]:
    """Every draft accepted, then a bonus token."""
    return (*draft_tokens, draw(target_rows[len(draft_tokens)], choose))


def stop_on_unconfident_draft(
    target_rows: Sequence[Dist],
    draft_rows: Sequence[Dist],
    draft_tokens: Sequence[Token],
    choose: Choose,
) -> tuple[Token, ...]:
    """Lossy stopping: drop the first unconfident draft itself (the decision reads that draft)."""
    kept = verified_drafts(draft_rows, draft_tokens)
    if kept and draft_rows[kept - 1][draft_tokens[kept - 1]] < CONFIDENCE:
        kept -= 1
    return standard_sd(target_rows[: kept + 1], draft_rows[:kept], draft_tokens[:kept], choose)


#: Exact forms of `specproof.audit.controls.BROKEN` (same names), plus a lossy stopping rule.
BROKEN_RULES: dict[str, RoundRule] = {
    "wrong-q-reported": broken_sd(ratio_draft=_squared),
    "processor-one-side": broken_sd(ratio_target=_squared),
    "residual-not-renormalised": broken_sd(recover=_recover_unnormalised),
    "argmax-fallback": broken_sd(recover=_recover_argmax),
    "bonus-off-by-one": broken_sd(bonus_offset=1),
    "permuted-vocabulary": broken_sd(ratio_draft=_swap_first_two),
    "accept-always": accept_always,
    "stop-on-unconfident-draft": stop_on_unconfident_draft,
}
