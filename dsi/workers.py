r"""Workers for the DSI runtime: the drafter and target interfaces and their implementations.

A **drafter** proposes the next token of a sequence (`next_token`). A **target** returns, for a
sequence and a start position $s$, the target's own token at every position $s, s + 1, \dots$
given the sequence before it (`target_tokens`): the verifier's decisions. The runtime only
compares those tokens with the drafts, so the output is whatever the target would produce on its
own, one position at a time. That holds pathwise, whatever the timing, for *greedy* verification
(argmax) and for *exact-match* verification with one fixed uniform per position (the target's
token at position $p$ is the inverse CDF of its distribution at the uniform $u_p$, whatever was
drafted). It does not hold for standard rejection-sampling SD with a target-only path: there the
token at a position depends on whether the drafter or the target-only chain decided it, so DSI
here verifies by greedy or exact match (as the authors' proof of concept does).

Workers may get a `cancel` event: a worker that can stop early (the sleeping workers) returns
`None` once it is set; real forwards cannot be interrupted and just finish (their result is
then ignored).

Implementations: `SleepDrafter`/`SleepTarget` (online simulation: they sleep for measured
latencies and follow an acceptance pattern), `ToyDrafter`/`ToyTarget` (the exact reference's
toy LMs and verifiers, for the lossless checks), and the Hugging Face workers in
`specproof.engine.dsi.hf` (torch).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Protocol

Token = Any


class Drafter(Protocol):
    """Proposes tokens."""

    def next_token(
        self, sequence: Sequence[Token], fresh: bool, cancel: threading.Event | None = None
    ) -> Token | None:
        """The drafted token after `sequence` (`fresh`: first token since a (re)start)."""


class Target(Protocol):
    """Decides tokens."""

    def target_tokens(
        self, sequence: Sequence[Token], start: int, cancel: threading.Event | None = None
    ) -> list[Token] | None:
        """The target's token at positions `start ..`, each given the sequence before it.

        Returns at least one token (position `start`) and at most `len(sequence) - start + 1`
        (the last is the bonus position after the whole sequence). A verifier may stop after the
        first position whose token differs from `sequence` (later positions would be conditioned
        on a token the target did not choose).
        """


def _sleep(seconds: float, cancel: threading.Event | None) -> bool:
    """Sleep `seconds`; return False if `cancel` was set meanwhile."""
    if cancel is None:
        time.sleep(seconds)
        return True
    return not cancel.wait(seconds)


@dataclass
class AcceptancePattern:
    """Which drafts are right: position $p$'s draft is right iff `right[p]`.

    The target's token is 0 at every position; a right draft is 0, a wrong one 1. Built from
    one uniform per position (`from_rate`), so acceptance is i.i.d. with rate $a$ along the
    positions, whatever the block structure.
    """

    right: list[bool]

    @classmethod
    def from_rate(cls, a: float, length: int, seed: int) -> AcceptancePattern:
        """An i.i.d. pattern of `length` positions with acceptance rate `a`."""
        import numpy as np

        if not 0 <= a <= 1:
            raise ValueError(f"a must lie in [0, 1], got {a}")
        return cls((np.random.default_rng(seed).random(length) < a).tolist())


@dataclass
class SleepDrafter:
    """A drafter that sleeps `first_s` for the first token after a (re)start, then `per_token_s`."""

    pattern: AcceptancePattern
    per_token_s: float
    first_s: float | None = None

    def next_token(
        self, sequence: Sequence[Token], fresh: bool, cancel: threading.Event | None = None
    ) -> Token | None:
        """Sleep, then draft 0 (right) or 1 (wrong) per the pattern."""
        delay = self.first_s if (fresh and self.first_s is not None) else self.per_token_s
        if not _sleep(delay, cancel):
            return None
        position = len(sequence)
        return 0 if position >= len(self.pattern.right) or self.pattern.right[position] else 1


@dataclass
class SleepTarget:
    """A target that sleeps `first_s` on its first call, then `per_call_s`; its token is always 0."""

    per_call_s: float
    first_s: float | None = None
    calls: int = field(default=0)

    def target_tokens(
        self, sequence: Sequence[Token], start: int, cancel: threading.Event | None = None
    ) -> list[Token] | None:
        """Sleep, then return 0 up to and including the first non-zero draft."""
        delay = self.first_s if (self.calls == 0 and self.first_s is not None) else self.per_call_s
        self.calls += 1
        if not _sleep(delay, cancel):
            return None
        out: list[Token] = []
        for position in range(start, len(sequence) + 1):
            out.append(0)
            if position < len(sequence) and sequence[position] != 0:
                break
        return out


@dataclass
class ToyTarget:
    """The exact reference as a target: a `ToyLM` verified by a reference `Verifier`.

    Args:
        lm: the target toy LM.
        draft_lm: the drafter's toy LM (the verifier's `draft_rows`; exact match ignores them).
        verifier: `"greedy"` or `"exact_match"` (position-consistent verifiers, see the module).
        uniforms: one `Fraction` in $[0, 1)$ per absolute position (exact match); position $p$'s
            token is decided with `uniforms[p]`, whether $p$ holds a draft or is the bonus.
        delay_s: optional sleep per call (to vary timings in tests).
    """

    lm: Any
    draft_lm: Any
    verifier: str = "greedy"
    uniforms: Sequence[Fraction] = ()
    delay_s: Callable[[], float] | None = None

    def target_tokens(
        self, sequence: Sequence[Token], start: int, cancel: threading.Event | None = None
    ) -> list[Token] | None:
        """Verify `sequence[start:]` as drafts with the reference verifier; return its verdict."""
        from specproof.reference import Draws, get_verifier

        if self.verifier not in ("greedy", "exact_match"):
            raise ValueError(f"verifier must be 'greedy' or 'exact_match', got {self.verifier!r}")
        if self.delay_s is not None and not _sleep(self.delay_s(), cancel):
            return None
        drafts = list(sequence[start:])
        contexts = [list(sequence[:position]) for position in range(start, len(sequence) + 1)]
        target_rows = [self.lm.next_dist(ctx) for ctx in contexts]
        draft_rows = [self.draft_lm.next_dist(ctx) for ctx in contexts[:-1]]
        u = [self._u(position) for position in range(start, len(sequence) + 1)]
        verdict = get_verifier(self.verifier).verify(
            target_rows, draft_rows, drafts, Draws(tuple(u[:-1]), u[-1])
        )
        return list(verdict.tokens)

    def _u(self, position: int) -> Fraction:
        if self.verifier == "greedy":
            return Fraction(0)
        if position >= len(self.uniforms):
            raise ValueError(
                f"uniforms cover {len(self.uniforms)} positions, position {position} needs one"
            )
        return Fraction(self.uniforms[position])


@dataclass
class ToyDrafter:
    """A toy LM as drafter: greedy (argmax) or inverse CDF at one uniform per position."""

    lm: Any
    uniforms: Sequence[Fraction] = ()
    delay_s: Callable[[], float] | None = None

    def next_token(
        self, sequence: Sequence[Token], fresh: bool, cancel: threading.Event | None = None
    ) -> Token | None:
        """The drafted token after `sequence`."""
        from specproof.reference import argmax, inverse_cdf

        if self.delay_s is not None and not _sleep(self.delay_s(), cancel):
            return None
        row = self.lm.next_dist(list(sequence))
        if not self.uniforms:
            return argmax(row)
        return inverse_cdf(row.probs, row.tokens, Fraction(self.uniforms[len(sequence)]))


def target_sequential(target: Target, prompt: Sequence[Token], max_new_tokens: int) -> list[Token]:
    """The target alone, one position at a time: the output DSI must reproduce."""
    sequence = list(prompt)
    for _ in range(max_new_tokens):
        tokens = target.target_tokens(sequence, len(sequence))
        if not tokens:
            raise RuntimeError("target returned no token")
        sequence.append(tokens[0])
    return sequence[len(prompt) :]
