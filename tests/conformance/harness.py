r"""The conformance harness: one test body, run over any verifier, judged against the reference.

[`check_conforms`][] verifies one round with the exact reference and with a candidate (the
engine through `EngineVerifier`, or a deliberately broken one), and accepts a difference only
when the decision where the two first part ways is within `epsilon` of its boundary, with the
distance to the boundary (the *margin*) computed exactly, in `Fraction`s, from the round:

- standard SD, one side accepts and the other rejects at position $j$: $|u_j q_j(x_j) - p_j(x_j)|$;
- standard SD, both reject at $j$ but recover different tokens: $\min_y |u' \sum r - \mathrm{cumsum}(r)[y]|$,
  $r = (p_j - q_j)_+$;
- exact-match at $j$: $\min_y |u_j - \mathrm{cumsum}(p_j)[y]|$;
- bonus (both accepted all $K$): $\min_y |u' - \mathrm{cumsum}(p_K)[y]|$;
- greedy: the gap between the largest probability of the row and the next smaller one.

[`epsilon_for`][] states the float tolerance: every compared quantity is a sum of at most
$V + 2$ rounded terms of size at most 1, so its float error is below $4 (V + 1)$ units of
the dtype's epsilon on each side of the comparison; $\varepsilon = 8 (V + 1)\,\mathrm{eps}$.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import torch
from hypothesis import event

from specproof.reference import Dist, Draws, Verdict
from specproof.reference.formulas import FRACTION_ARITH, residual

Round = tuple[list[Dist], list[Dist], list[int], Draws]


def epsilon_for(dtype: torch.dtype, vocab: int) -> Fraction:
    """The tolerance on the margin of a decision for `dtype` at vocabulary size `vocab`."""
    return 8 * (vocab + 1) * Fraction(torch.finfo(dtype).eps)


@dataclass(frozen=True)
class Mismatch:
    """Where a candidate's verdict first departs from the reference's, and how close it was."""

    position: int
    decision: str
    margin: Fraction
    expected: Verdict
    got: Verdict

    def __str__(self) -> str:
        return (
            f"mismatch at position {self.position} ({self.decision}): expected "
            f"{self.expected.tokens} (n_accepted={self.expected.n_accepted}), got "
            f"{self.got.tokens} (n_accepted={self.got.n_accepted}); exact margin "
            f"{float(self.margin):.3g}"
        )


def cdf_margin(weights: Sequence[Fraction], u: Fraction) -> Fraction:
    r"""$\min_y |u \sum w - \mathrm{cumsum}(w)[y]|$: how far the inverse-CDF threshold is from a switch."""
    mass = sum(weights, Fraction(0))
    threshold = u * mass
    cumulative, best = Fraction(0), None
    for weight in weights:
        cumulative += weight
        gap = abs(threshold - cumulative)
        best = gap if best is None else min(best, gap)
    assert best is not None
    return best


def argmax_gap(row: Dist) -> Fraction:
    """The largest probability minus the next smaller distinct one (1 if all are equal)."""
    top = max(row.probs)
    below = [p for p in row.probs if p < top]
    return top - max(below) if below else Fraction(1)


def decision_margin(
    algorithm: str, rnd: Round, position: int, one_side_accepts: bool
) -> tuple[str, Fraction]:
    """The exact margin of the decision at `position` (`K` means the bonus draw)."""
    target_rows, draft_rows, draft_tokens, draws = rnd
    k = len(draft_tokens)
    if algorithm == "greedy":
        return ("argmax", argmax_gap(target_rows[position]))
    if position == k:
        return ("bonus", cdf_margin(target_rows[k].probs, draws.final_u))
    target, draft, token = target_rows[position], draft_rows[position], draft_tokens[position]
    if algorithm == "exact_match":
        return ("target sample", cdf_margin(target.probs, draws.accept_u[position]))
    if one_side_accepts:
        return ("accept", abs(draws.accept_u[position] * draft[token] - target[token]))
    weights = residual(target.probs, [draft[t] for t in target.tokens], FRACTION_ARITH)
    return ("recovered", cdf_margin(weights, draws.final_u))


def find_mismatch(algorithm: str, expected: Verdict, got: Verdict, rnd: Round) -> Mismatch | None:
    """`None` if the verdicts are equal, else the first point of departure and its margin."""
    if expected == got:
        return None
    n_exp, n_got = expected.n_accepted, got.n_accepted
    position = min(n_exp, n_got)
    for i, (a, b) in enumerate(zip(expected.tokens, got.tokens, strict=False)):
        if a != b:
            position = min(position, i)
            break
    one_side_accepts = (n_exp > position) != (n_got > position)
    decision, margin = decision_margin(algorithm, rnd, position, one_side_accepts)
    return Mismatch(position, decision, margin, expected, got)


def check_conforms(
    algorithm: str, reference: object, candidate: object, rnd: Round, epsilon: Fraction
) -> Mismatch | None:
    """The conformance test body: `candidate` agrees with `reference` on `rnd`, up to `epsilon`.

    Args:
        algorithm: `"sd"`, `"exact_match"` or `"greedy"` (which margins apply).
        reference: a reference verifier (exact).
        candidate: any object with the same `verify` method.
        rnd: `(target_rows, draft_rows, draft_tokens, draws)`.
        epsilon: differences are accepted only at decisions whose exact margin is below this.

    Returns:
        The tolerated mismatch, if any (recorded as a hypothesis `event`).

    Raises:
        AssertionError: on a mismatch whose margin is not below `epsilon`, or an output token
            outside the vocabulary.
    """
    expected = reference.verify(*rnd)  # type: ignore[attr-defined]
    got = candidate.verify(*rnd)  # type: ignore[attr-defined]
    vocab = len(rnd[0][0])
    assert all(isinstance(t, int) and 0 <= t < vocab for t in got.tokens), got
    mismatch = find_mismatch(algorithm, expected, got, rnd)
    if mismatch is None:
        event("identical")
        return None
    assert mismatch.margin < epsilon, f"{mismatch} (epsilon {float(epsilon):.3g})"
    event(f"tolerated mismatch: {mismatch.decision}, margin < epsilon")
    return mismatch
