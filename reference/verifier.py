r"""The verifier interface: explicit draws, verdicts, and the shared verification loop.

Glossary (vLLM's, used everywhere in specproof):

- *accepted*: a draft token kept;
- *recovered*: the token output at the first rejected position, in place of the draft;
- *bonus*: the token drawn from the target after all $K$ drafts are accepted;
- *output* = accepted + (recovered or bonus), so a round outputs between 1 and $K + 1$ tokens.

**Randomness is an argument.** A verifier never draws random numbers: it gets
[`Draws`][specproof.reference.verifier.Draws] (`accept_u`, one uniform per draft position, and
`final_u`, used for the recovered or the bonus token). Each concrete verifier defines
two pure decision functions (`decide` at a draft position, `bonus` after all drafts) and
declares where, in $[0, 1)$, their answers can change (`breakpoints`). Between breakpoints
each decision is constant on left-closed intervals, so the exact conditional law of a decision
is obtained by evaluating it at the left end of every interval and weighting by the interval's
length ([`position_law`][specproof.reference.verifier.Verifier.position_law]). The exact laws
of the whole speculative loop (`specproof.reference.laws`) are built from these conditional
laws: the law is derived from the very rule that runs draw by draw.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal

from .dist import Dist, Token, as_fraction, same_vocabulary


class _Accept:
    """Sentinel outcome of a draft position: the draft token is accepted."""

    def __repr__(self) -> str:
        return "ACCEPT"


ACCEPT: Final = _Accept()
"""The outcome of [`Verifier.decide`][specproof.reference.verifier.Verifier.decide] that keeps the draft."""


def check_uniform(value: object, what: str) -> Fraction:
    """Return `value` as a `Fraction` in $[0, 1)$, or raise `ValueError` naming `what`."""
    u = as_fraction(value, what)
    if not 0 <= u < 1:
        raise ValueError(f"{what} must lie in [0, 1), got {u}")
    return u


@dataclass(frozen=True)
class Draws:
    """The uniforms one verification round consumes.

    Attributes:
        accept_u: one uniform in $[0, 1)$ per draft position (length $K$).
        final_u: one uniform in $[0, 1)$ for the recovered or the bonus token.
    """

    accept_u: tuple[Fraction, ...]
    final_u: Fraction

    def __post_init__(self) -> None:
        accept = tuple(check_uniform(u, f"accept_u[{i}]") for i, u in enumerate(self.accept_u))
        object.__setattr__(self, "accept_u", accept)
        object.__setattr__(self, "final_u", check_uniform(self.final_u, "final_u"))


@dataclass(frozen=True)
class Verdict:
    """The result of verifying one round.

    Attributes:
        tokens: the output tokens, accepted drafts then the recovered or bonus token.
        n_accepted: how many drafts were accepted (`len(tokens) == n_accepted + 1`).
        last: `"recovered"` or `"bonus"`.
    """

    tokens: tuple[Token, ...]
    n_accepted: int
    last: Literal["recovered", "bonus"]


def inverse_cdf(weights: Sequence[Fraction], tokens: Sequence[Token], u: Fraction) -> Token:
    r"""The pinned inverse-CDF rule: the first token $x$ with $u \cdot \sum w < \mathrm{cumsum}(w)[x]$.

    Division-free and strict. With $u \in [0, 1)$ and $\sum w > 0$ some token always qualifies,
    and it has positive weight.

    Raises:
        ValueError: if all weights are zero (nothing can be drawn).
    """
    mass = sum(weights, Fraction(0))
    if mass == 0:
        raise ValueError("cannot draw from all-zero weights")
    threshold = u * mass
    cumulative = Fraction(0)
    for token, weight in zip(tokens, weights, strict=True):
        cumulative += weight
        if threshold < cumulative:
            return token
    raise AssertionError("unreachable: u < 1 so the last cumulative sum exceeds u * mass")


def cdf_breakpoints(weights: Sequence[Fraction]) -> list[Fraction]:
    """Where the inverse-CDF rule's answer changes: the normalised cumulative sums."""
    mass = sum(weights, Fraction(0))
    points: list[Fraction] = []
    cumulative = Fraction(0)
    for weight in weights[:-1]:
        cumulative += weight
        points.append(cumulative / mass)
    return points


def _intervals(points: Sequence[Fraction]) -> list[tuple[Fraction, Fraction]]:
    """The left-closed intervals that `points` cut $[0, 1)$ into (empty ones dropped)."""
    cuts = sorted({Fraction(0), Fraction(1), *(p for p in points if 0 < p < 1)})
    return list(zip(cuts[:-1], cuts[1:], strict=True))


@dataclass(frozen=True)
class RoundInputs:
    """One round's inputs to `verify`, their lengths checked to fit together.

    Attributes:
        target_rows: $K + 1$ target distributions.
        draft_rows: $K$ draft distributions.
        draft_tokens: the $K$ drafted tokens.
        draws: `accept_u` of length $K$ and `final_u`.
    """

    target_rows: tuple[Dist, ...]
    draft_rows: tuple[Dist, ...]
    draft_tokens: tuple[Token, ...]
    draws: Draws

    @property
    def k(self) -> int:
        """The number of drafts $K$."""
        return len(self.draft_tokens)


class BaseVerifier(ABC):
    """Anything that verifies one round of drafts with explicit uniforms (the `verify` contract).

    [`Verifier`][specproof.reference.verifier.Verifier] (a rule given by decision functions),
    [`RDK`][specproof.reference.rdk.RDK] and the engine's
    [`EngineVerifier`][specproof.engine.adapters.EngineVerifier] share the public `verify`, its
    docstring and its length checks (template method); each writes only its rule, `verdict`.
    """

    #: Short algorithm name, the prefix of its registered theorems.
    name: str = "verifier"

    def verify(
        self,
        target_rows: Sequence[Dist],
        draft_rows: Sequence[Dist],
        draft_tokens: Sequence[Token],
        draws: Draws,
    ) -> Verdict:
        """Verify $K$ draft tokens left to right with explicit uniforms.

        Args:
            target_rows: $K + 1$ target distributions; row $i$ is the target's distribution at
                draft position $i$, row $K$ the one after all drafts.
            draft_rows: $K$ draft distributions, row $i$ the one `draft_tokens[i]` was drawn from.
            draft_tokens: the $K$ drafted tokens.
            draws: `accept_u` of length $K$ and `final_u`.

        Returns:
            The [`Verdict`][specproof.reference.verifier.Verdict].

        Raises:
            ValueError: on mismatched lengths or vocabularies, a draft token outside the
                vocabulary or with zero draft probability.
        """
        k = self.check_round(target_rows, draft_rows, draft_tokens)
        if len(draws.accept_u) != k:
            raise ValueError(f"draws.accept_u must have length K={k}, got {len(draws.accept_u)}")
        inputs = RoundInputs(tuple(target_rows), tuple(draft_rows), tuple(draft_tokens), draws)
        return self.verdict(inputs)

    def check_round(
        self,
        target_rows: Sequence[Dist],
        draft_rows: Sequence[Dist],
        draft_tokens: Sequence[Token],
    ) -> int:
        """Check that one round's lengths fit together ($K$ drafts, $K + 1$ target rows); return $K$."""
        k = len(draft_tokens)
        if len(draft_rows) != k:
            raise ValueError(
                f"draft_rows must have length K={k} (one per draft token), got {len(draft_rows)}"
            )
        if len(target_rows) != k + 1:
            raise ValueError(f"target_rows must have length K+1={k + 1}, got {len(target_rows)}")
        return k

    @abstractmethod
    def verdict(self, inputs: RoundInputs) -> Verdict:
        """The rule: the verdict of one round whose lengths fit together (see `verify`)."""


class Verifier(BaseVerifier):
    """A verification rule given by pure decision functions of explicit uniforms.

    Subclasses define `decide`, `bonus` and their breakpoints. Everything else (the loop over
    draft positions, input validation, exact conditional laws) is shared.
    """

    #: How the draft model proposes tokens in the speculative loop: "sample" or "greedy".
    drafting: Literal["sample", "greedy"] = "sample"

    @abstractmethod
    def decide(
        self, target_row: Dist, draft_row: Dist, draft_token: Token, u: Fraction, final_u: Fraction
    ) -> Token | _Accept:
        """At one draft position: `ACCEPT`, or the token to output instead (which ends the round)."""

    @abstractmethod
    def decide_breakpoints(
        self, target_row: Dist, draft_row: Dist, draft_token: Token
    ) -> tuple[list[Fraction], list[Fraction]]:
        """Points of $[0, 1)$ where `decide`'s answer may change, in `u` and in `final_u`."""

    @abstractmethod
    def bonus(self, target_row: Dist, final_u: Fraction) -> Token:
        """The bonus token after all drafts are accepted."""

    @abstractmethod
    def bonus_breakpoints(self, target_row: Dist) -> list[Fraction]:
        """Points of $[0, 1)$ where `bonus`'s answer may change."""

    def verdict(self, inputs: RoundInputs) -> Verdict:
        """Decide draft by draft, left to right; the bonus token after all $K$ are accepted."""
        self.check_rows(inputs)
        target_rows, draft_rows = inputs.target_rows, inputs.draft_rows
        draft_tokens, draws = inputs.draft_tokens, inputs.draws
        accepted: list[Token] = []
        for i in range(inputs.k):
            outcome = self.decide(
                target_rows[i], draft_rows[i], draft_tokens[i], draws.accept_u[i], draws.final_u
            )
            if outcome is ACCEPT:
                accepted.append(draft_tokens[i])
                continue
            return Verdict((*accepted, outcome), len(accepted), "recovered")
        return Verdict((*accepted, self.bonus(target_rows[-1], draws.final_u)), inputs.k, "bonus")

    @staticmethod
    def check_rows(inputs: RoundInputs) -> None:
        """Check the rows: `Dist`s, draft rows over their target rows' tokens, drafts drawable.

        Every draft token must lie in its row's vocabulary with positive draft probability.

        Raises:
            ValueError: naming the first offending row or token.
        """
        for i, row in enumerate(inputs.target_rows):
            if not isinstance(row, Dist):
                raise ValueError(f"target_rows[{i}] must be a Dist, got {type(row).__name__}")
        for i, row in enumerate(inputs.draft_rows):
            if not isinstance(row, Dist):
                raise ValueError(f"draft_rows[{i}] must be a Dist, got {type(row).__name__}")
            same_vocabulary(inputs.target_rows[i], row, f"target_rows[{i}] and draft_rows[{i}]")
            token = inputs.draft_tokens[i]
            if token not in row:
                raise ValueError(f"draft_tokens[{i}] = {token!r} is outside the vocabulary")
            if row[token] == 0:
                raise ValueError(
                    f"draft_tokens[{i}] = {token!r} has zero draft probability in draft_rows[{i}]"
                )

    def position_law(
        self, target_row: Dist, draft_row: Dist, draft_token: Token
    ) -> dict[Token | _Accept, Fraction]:
        """Exact law of `decide` at one position, over independent uniforms `u` and `final_u`.

        Obtained by evaluating `decide` at the left end of every interval between breakpoints;
        as a guard against an incomplete breakpoint list, the midpoint must agree.

        Raises:
            AssertionError: if a verifier's declared breakpoints miss a change of decision.
        """
        u_points, final_points = self.decide_breakpoints(target_row, draft_row, draft_token)
        law: dict[Token | _Accept, Fraction] = {}
        for u_lo, u_hi in _intervals(u_points):
            for f_lo, f_hi in _intervals(final_points):
                outcome = self.decide(target_row, draft_row, draft_token, u_lo, f_lo)
                mid = self.decide(
                    target_row, draft_row, draft_token, (u_lo + u_hi) / 2, (f_lo + f_hi) / 2
                )
                assert outcome == mid, f"{self.name}: breakpoints miss a change of decision"
                law[outcome] = law.get(outcome, Fraction(0)) + (u_hi - u_lo) * (f_hi - f_lo)
        return law

    def bonus_law(self, target_row: Dist) -> dict[Token, Fraction]:
        """Exact law of the bonus token over a uniform `final_u`."""
        law: dict[Token, Fraction] = {}
        for lo, hi in _intervals(self.bonus_breakpoints(target_row)):
            token = self.bonus(target_row, lo)
            assert token == self.bonus(target_row, (lo + hi) / 2), (
                f"{self.name}: bonus breakpoints miss a change of token"
            )
            law[token] = law.get(token, Fraction(0)) + (hi - lo)
        return law

    def draft_law(self, draft_row: Dist) -> dict[Token, Fraction]:
        """How the draft model proposes a token from `draft_row` in the speculative loop."""
        if self.drafting == "greedy":
            return {argmax(draft_row): Fraction(1)}
        return {t: p for t, p in zip(draft_row.tokens, draft_row.probs, strict=True) if p > 0}


def argmax(row: Dist) -> Token:
    """The most probable token; the lowest index wins ties."""
    best = 0
    for i, p in enumerate(row.probs):
        if p > row.probs[best]:
            best = i
    return row.tokens[best]
