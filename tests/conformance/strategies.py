r"""Rounds whose numbers are exact in float64, with uniforms pushed onto decision boundaries.

[`dyadic_rounds`][] takes a round from `specproof.reference.strategies.rounds` and moves every
probability to the grid $2^{-24}\mathbb{Z}$ (the sum kept at exactly 1) and every uniform to
$2^{-29}\mathbb{Z}$. Then every quantity the pinned rules compare (products $u \cdot q$ of
$24 + 29 = 53$ significant bits, differences, cumulative sums, $u' \cdot \sum r$) is exact in
float64, so the float64 engine must agree with the reference *exactly*, ties included. Float32
rounds those products, so near a boundary it may differ, and the harness checks that it differs
only there. With `near_boundary=True` the uniforms are moved to within one grid step of a
decision boundary (the acceptance ratio $p(x)/q(x)$, or a cumulative sum of the row the token
is drawn from), exactly onto it when the boundary is on the grid.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from specproof.reference import Dist, Draws
from specproof.reference.formulas import FRACTION_ARITH, residual
from specproof.reference.strategies import dists, draws, ks, rounds, vocabularies

PROB_GRID = 2**24
UNIFORM_GRID = 2**29
# float32's largest value below 1 is 1 - 2**-24: larger grid uniforms would round to 1.
MAX_UNIFORM = Fraction(PROB_GRID - 1, PROB_GRID)


def quantise(row: Dist) -> Dist:
    """`row` on the grid 2**-24, still summing to exactly 1 (the deficit goes to the mode)."""
    weights = [int(p * PROB_GRID) for p in row.probs]
    mode = max(range(len(weights)), key=lambda i: row.probs[i])
    weights[mode] += PROB_GRID - sum(weights)
    return Dist.over(row.tokens, [Fraction(w, PROB_GRID) for w in weights])


def on_grid(u: Fraction, step: int = 0) -> Fraction:
    """`u` rounded down to the uniform grid, moved `step` grid points, kept in [0, MAX_UNIFORM]."""
    value = Fraction(int(u * UNIFORM_GRID) + step, UNIFORM_GRID)
    return min(max(value, Fraction(0)), MAX_UNIFORM)


def cumsums(weights: list[Fraction]) -> list[Fraction]:
    """The normalised cumulative sums (the inverse-CDF rule's switch points)."""
    mass = sum(weights, Fraction(0))
    out, total = [], Fraction(0)
    for w in weights:
        total += w
        out.append(total / mass)
    return out


@st.composite
def shaped_rounds(draw: st.DrawFn, vocab: tuple[int, ...], k: int):
    """Rounds like `rounds()` but with a given vocabulary and K (to stack into a batch)."""
    target_rows = [draw(dists(vocab)) for _ in range(k + 1)]
    draft_rows = [target_rows[i] if draw(st.booleans()) else draw(dists(vocab)) for i in range(k)]
    draft_tokens = [draw(st.sampled_from(row.support)) for row in draft_rows]
    return target_rows, draft_rows, draft_tokens, draw(draws(k))


@st.composite
def dyadic_rounds(draw: st.DrawFn, algorithm: str = "sd", near_boundary: bool = False, base=None):
    """A round (from `base`, default `rounds()`) on the dyadic grids; optionally with uniforms
    at decision boundaries."""
    target_rows, draft_rows, draft_tokens, round_draws = draw(rounds() if base is None else base)
    target_rows = [quantise(r) for r in target_rows]
    draft_rows = [quantise(r) for r in draft_rows]
    accept_u = [on_grid(u) for u in round_draws.accept_u]
    final_u = on_grid(round_draws.final_u)
    k = len(draft_tokens)
    if near_boundary:
        steps = st.sampled_from([-1, 0, 0, 1])
        for i in range(k):
            if not draw(st.booleans()):
                continue
            p, q = target_rows[i], draft_rows[i]
            if algorithm == "sd":
                boundary = p[draft_tokens[i]] / q[draft_tokens[i]]
                if boundary >= 1:
                    continue
            else:
                boundary = draw(st.sampled_from(cumsums(list(p.probs))))
            accept_u[i] = on_grid(boundary, draw(steps))
        source = draw(st.integers(0, k))
        weights = list(target_rows[source].probs)
        if algorithm == "sd" and source < k:
            q = draft_rows[source]
            weights = residual(weights, [q[t] for t in target_rows[source].tokens], FRACTION_ARITH)
        if sum(weights) > 0:
            final_u = on_grid(draw(st.sampled_from(cumsums(weights))), draw(steps))
    return target_rows, draft_rows, list(draft_tokens), Draws(tuple(accept_u), final_u)


@st.composite
def batches(draw: st.DrawFn, algorithm: str = "sd", max_batch: int = 6):
    """Several dyadic near-boundary rounds sharing one vocabulary and one K (one batch)."""
    vocab = draw(vocabularies(1, 5))
    k = draw(ks(4))
    size = draw(st.integers(1, max_batch))
    base = shaped_rounds(vocab, k)
    return [draw(dyadic_rounds(algorithm, near_boundary=True, base=base)) for _ in range(size)]
