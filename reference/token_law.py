r"""The token-law criterion of losslessness for one verification round, exactly.

A *round rule* gets the target rows $p_0, \dots, p_K$, the draft rows $q_0, \dots, q_{K-1}$ and
the drafts $x_0, \dots, x_{K-1}$ and emits $1..K+1$ tokens $o_0, \dots, o_J$. Standard SD is one
such rule; sample-and-match, the sequential-sibling rule and draft-only stopping rules are others
whose *round law* (the law of the output tuple) differs from standard SD's while they are
lossless ([`round_rules`][specproof.reference.round_rules]). The auditor therefore judges a round by its *token law*:

- **(a)** the round ends at its first emitted token that differs from the draft at that
  position: $o_i = x_i$ for every $i < J$;
- **(b)** the emitted tokens completed with fresh draws $z_{J+1} \sim p_{J+1}, \dots,
  z_K \sim p_K$ follow exactly $p_0 \otimes \dots \otimes p_K$, marginally over the drafts
  ($x_i \sim q_i$ independently) and the rule's coins.

**Per-position form of (b).** (b) holds iff for every position $j \le K$ the token emitted at
$j$, given that the round reached $j$ ($J \ge j$) and given $o_{<j}$, is distributed $p_j$.
Proof: write $c$ for the completed tuple. When $J < j$, $c_j$ is a fresh draw independent of
$(c_{<j}, J)$, so $P(c_{\le j}, J < j) = P(c_{<j}, J < j)\, p_j(c_j)$. If (b) holds,
$P(c_{\le j}) = P(c_{<j})\, p_j(c_j)$, and subtracting gives $P(c_{\le j}, J \ge j) =
P(c_{<j}, J \ge j)\, p_j(c_j)$. Conversely, adding the two factorised parts gives
$P(c_{\le j}) = P(c_{<j})\, p_j(c_j)$ for every $j$, which is (b) by induction. This is what makes
per-position tests of the auditor exact for every lossless rule, standard or not
([`emitted_laws`][specproof.reference.token_law.emitted_laws]).

**When (a) + (b) imply a lossless generation.** In a generation, row $i$ is the target's
distribution after the context and $x_{<i}$, and $x_i \sim q(\cdot \mid \text{context}, x_{<i})$.
Sufficient conditions, for a rule that satisfies (a) and (b) for *every* choice of rows:

1. *causality*: everything the rule emits up to and including position $i$, and whether it goes
   past $i$, is a function of $p_{\le i}$, the drafts and draft rows, and coins independent of
   the rows; it reads row $i+1$ only after it has emitted position $i$;
2. *drafts are the drafter's*: the rule gets the draft rows the drafts were drawn from, and
   whether a draft position is verified depends only on the drafts before it (a stopping rule
   that looks at the draft it drops is lossy:
   [`stop_on_unconfident_draft`][specproof.reference.round_rules.stop_on_unconfident_draft]).

Then, given the context and the emitted prefix, position $i$ was decided from rows that are the
target's and the drafter's true conditionals at that prefix, so the per-position form of (b)
holds conditionally at every prefix, and the generation's law is the target's autoregressive
law (induction over rounds: each round continues from its emitted tokens).
[`generation_law`][specproof.reference.token_law.generation_law] computes that law exactly for
toy LMs; the registered claims check all three statements
(`audit_token_law_lossless_rules`, `audit_token_law_broken_controls_fail`,
`audit_token_law_implies_lossless_generation`). What a sampler-level audit cannot see (a rule
that peeks at a later row, which is constant when rows are context-free) only a generation-level
audit can.

**Exact enumeration.** A rule is written as a program that draws through a `choose(weights)`
callback; [`enumerate_law`][specproof.reference.token_law.enumerate_law] runs it along every
branch and adds up the exact probability of each result. Everything is `Fraction`s.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

from .dist import Dist, Token
from .laws import autoregressive_law
from .toylm import ToyLM

Choose = Callable[[Sequence[Fraction]], int]
"""Draw an index `i` with probability `weights[i] / sum(weights)`."""
RoundRule = Callable[[Sequence[Dist], Sequence[Dist], Sequence[Token], Choose], tuple[Token, ...]]
"""`rule(target_rows [K+1], draft_rows [K], draft_tokens [K], choose) -> emitted tokens`."""
T = TypeVar("T", bound=Hashable)


class _Branch(Exception):
    def __init__(self, weights: tuple[Fraction, ...]) -> None:
        super().__init__("branch")
        self.weights = weights


def _run(program: Callable[[Choose], T], trace: tuple[int, ...]) -> tuple[T, Fraction]:
    """Run `program` with its first draws fixed by `trace`; `_Branch` at the first free draw."""
    position = 0
    probability = Fraction(1)

    def choose(weights: Sequence[Fraction]) -> int:
        nonlocal position, probability
        ws = tuple(Fraction(w) for w in weights)
        total = sum(ws, Fraction(0))
        if any(w < 0 for w in ws) or total <= 0:
            raise ValueError(f"cannot draw from weights {[str(w) for w in ws]}")
        if position == len(trace):
            raise _Branch(ws)
        index = trace[position]
        position += 1
        probability *= ws[index] / total
        return index

    return program(choose), probability


def enumerate_law(program: Callable[[Choose], T]) -> dict[T, Fraction]:
    """The exact law of `program`'s result over every sequence of its draws.

    `program(choose)` must be deterministic given the indices `choose` returns. Zero-weight
    choices are never taken.

    Raises:
        ValueError: if the program draws from weights that are negative or all zero.

    Examples:
        >>> from fractions import Fraction as F
        >>> enumerate_law(lambda choose: choose([F(1), F(3)]) + choose([F(1), F(1)]))
        {0: Fraction(1, 8), 1: Fraction(1, 2), 2: Fraction(3, 8)}
    """
    law: dict[T, Fraction] = {}
    stack: list[tuple[int, ...]] = [()]
    while stack:
        trace = stack.pop()
        try:
            result, probability = _run(program, trace)
        except _Branch as branch:
            stack.extend(
                (*trace, i) for i in reversed(range(len(branch.weights))) if branch.weights[i] > 0
            )
            continue
        law[result] = law.get(result, Fraction(0)) + probability
    return dict(sorted(law.items(), key=lambda kv: repr(kv[0])))


def draw(row: Dist, choose: Choose) -> Token:
    """A token of `row` drawn through `choose`."""
    return row.tokens[choose(row.probs)]


# --- The criterion --------------------------------------------------------------------------------


def _check_rows(target_rows: Sequence[Dist], draft_rows: Sequence[Dist]) -> int:
    k = len(draft_rows)
    if k < 1 or len(target_rows) != k + 1:
        raise ValueError(
            f"need K >= 1 draft rows and K+1 target rows, got {len(draft_rows)} and "
            f"{len(target_rows)}"
        )
    vocab = target_rows[0].tokens
    for what, rows in (("target_rows", target_rows), ("draft_rows", draft_rows)):
        for i, row in enumerate(rows):
            if row.tokens != vocab:
                raise ValueError(f"{what}[{i}] must list the tokens of target_rows[0] in order")
    return k


def round_outcomes(
    rule: RoundRule, target_rows: Sequence[Dist], draft_rows: Sequence[Dist]
) -> dict[tuple[tuple[Token, ...], tuple[Token, ...]], Fraction]:
    """Exact law of `(drafts, emitted tokens)`, drafts drawn independently from `draft_rows`.

    Raises:
        ValueError: on rows of mismatched sizes or vocabularies, or a rule that emits a number
            of tokens outside 1..K+1.
    """
    k = _check_rows(target_rows, draft_rows)

    def program(choose: Choose) -> tuple[tuple[Token, ...], tuple[Token, ...]]:
        drafts = tuple(draw(row, choose) for row in draft_rows)
        out = tuple(rule(target_rows, draft_rows, drafts, choose))
        if not 1 <= len(out) <= k + 1:
            raise ValueError(f"a round must emit 1..K+1 = 1..{k + 1} tokens, got {out!r}")
        return drafts, out

    return enumerate_law(program)


def round_law(
    rule: RoundRule, target_rows: Sequence[Dist], draft_rows: Sequence[Dist]
) -> dict[tuple[Token, ...], Fraction]:
    """Exact law of the emitted tuple, marginally over the drafts and the coins."""
    law: dict[tuple[Token, ...], Fraction] = {}
    for (_, out), prob in round_outcomes(rule, target_rows, draft_rows).items():
        law[out] = law.get(out, Fraction(0)) + prob
    return law


def mismatch_probability(
    rule: RoundRule, target_rows: Sequence[Dist], draft_rows: Sequence[Dist]
) -> Fraction:
    """P(an emitted token other than the last differs from the draft there): (a) needs 0."""
    return sum(
        (
            prob
            for (drafts, out), prob in round_outcomes(rule, target_rows, draft_rows).items()
            if out[:-1] != drafts[: len(out) - 1]
        ),
        Fraction(0),
    )


def completed_law(
    law: dict[tuple[Token, ...], Fraction], target_rows: Sequence[Dist]
) -> dict[tuple[Token, ...], Fraction]:
    """A round law's tuples completed with fresh draws from the following target rows."""
    completed: dict[tuple[Token, ...], Fraction] = {}
    for out, prob in law.items():
        partial = {out: prob}
        for row in target_rows[len(out) :]:
            partial = {
                (*seq, t): mass * p
                for seq, mass in partial.items()
                for t, p in zip(row.tokens, row.probs, strict=True)
                if p > 0
            }
        for seq, mass in partial.items():
            completed[seq] = completed.get(seq, Fraction(0)) + mass
    return completed


def token_law(
    rule: RoundRule, target_rows: Sequence[Dist], draft_rows: Sequence[Dist]
) -> dict[tuple[Token, ...], Fraction]:
    """The rule's token law: emitted tokens completed to K+1 with fresh target draws."""
    return completed_law(round_law(rule, target_rows, draft_rows), target_rows)


def target_token_law(target_rows: Sequence[Dist]) -> dict[tuple[Token, ...], Fraction]:
    r"""$p_0 \otimes \dots \otimes p_K$: the law of $K+1$ fresh draws from the target rows."""
    return completed_law({(): Fraction(1)}, target_rows)


def emitted_laws(
    rule: RoundRule, target_rows: Sequence[Dist], draft_rows: Sequence[Dist]
) -> list[dict[tuple[Token, ...], dict[Token, Fraction]]]:
    """Per position $j$: `{emitted prefix o_<j: law of o_j given J >= j and that prefix}`."""
    law = round_law(rule, target_rows, draft_rows)
    result: list[dict[tuple[Token, ...], dict[Token, Fraction]]] = []
    for j in range(len(target_rows)):
        joint: dict[tuple[Token, ...], dict[Token, Fraction]] = {}
        for out, prob in law.items():
            if len(out) > j:
                row = joint.setdefault(out[:j], {})
                row[out[j]] = row.get(out[j], Fraction(0)) + prob
        result.append(
            {
                prefix: {t: m / sum(row.values(), Fraction(0)) for t, m in row.items()}
                for prefix, row in joint.items()
            }
        )
    return result


@dataclass(frozen=True)
class TokenLawCheck:
    r"""The token-law criterion on one set of rows.

    Attributes:
        mismatch_probability: P((a) fails); 0 for a rule that satisfies (a).
        token_law: the rule's completed token law.
        target_law: $p_0 \otimes \dots \otimes p_K$.
        positions_hold: whether every position's emitted law given its prefix is $p_j$.
    """

    mismatch_probability: Fraction
    token_law: dict[tuple[Token, ...], Fraction]
    target_law: dict[tuple[Token, ...], Fraction]
    positions_hold: bool

    @property
    def holds(self) -> bool:
        """(a) and (b)."""
        return self.mismatch_probability == 0 and self.token_law == self.target_law


def check_token_law(
    rule: RoundRule, target_rows: Sequence[Dist], draft_rows: Sequence[Dist]
) -> TokenLawCheck:
    """Evaluate (a), (b) and the per-position form of (b) exactly."""
    positions_hold = all(
        {t: p for t, p in zip(target_rows[j].tokens, target_rows[j].probs, strict=True) if p > 0}
        == row
        for j, laws in enumerate(emitted_laws(rule, target_rows, draft_rows))
        for row in laws.values()
    )
    return TokenLawCheck(
        mismatch_probability(rule, target_rows, draft_rows),
        token_law(rule, target_rows, draft_rows),
        target_token_law(target_rows),
        positions_hold,
    )


def generation_law(
    rule: RoundRule,
    target: ToyLM,
    draft: ToyLM,
    prefix: Sequence[Token],
    n: int,
    k: int,
) -> dict[tuple[Token, ...], Fraction]:
    """Exact law of the first `n` tokens of the speculative loop with `rule` on toy LMs.

    Each round drafts `k` tokens from `draft` (context-dependent rows), gives the rule the
    target's rows at the drafted contexts, and continues from the emitted tokens.

    Raises:
        ValueError: if `n < 0` or `k < 1`.
    """
    if n < 0 or k < 1:
        raise ValueError(f"need n >= 0 and k >= 1, got n={n}, k={k}")
    start = target.check_prefix(prefix)

    def program(choose: Choose) -> tuple[Token, ...]:
        seq = list(start)
        out: list[Token] = []
        while len(out) < n:
            drafts: list[Token] = []
            draft_rows = []
            for _ in range(k):
                row = draft.next_dist((*seq, *drafts))
                draft_rows.append(row)
                drafts.append(draw(row, choose))
            target_rows = [target.next_dist((*seq, *drafts[:i])) for i in range(k + 1)]
            emitted = rule(target_rows, draft_rows, drafts, choose)
            out.extend(emitted)
            seq.extend(emitted)
        return tuple(out[:n])

    return enumerate_law(program)


def is_lossless_generation(
    rule: RoundRule, target: ToyLM, draft: ToyLM, prefix: Sequence[Token], n: int, k: int
) -> bool:
    """Whether [`generation_law`][specproof.reference.token_law.generation_law] is the target's."""
    expected = dict(autoregressive_law(target, prefix, n).items())
    return generation_law(rule, target, draft, prefix, n, k) == expected


__all__ = [
    "Choose",
    "RoundRule",
    "TokenLawCheck",
    "check_token_law",
    "completed_law",
    "draw",
    "emitted_laws",
    "enumerate_law",
    "generation_law",
    "is_lossless_generation",
    "mismatch_probability",
    "round_law",
    "round_outcomes",
    "target_token_law",
    "token_law",
]
