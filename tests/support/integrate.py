"""Exact integration of a function of independent uniforms, over a grid of breakpoints.

If, along each coordinate, the function's answer can change only at the given points (whatever
the other coordinates), it is constant on every cell of the product grid (left-closed cells),
so evaluating it at each cell's lower corner and weighting by the cell's volume gives its exact
law. Test helper: ties a law computed by enumeration to the rule that runs draw by draw.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

from specproof.reference.verifier import cdf_breakpoints


def cells(points):
    """The left ends and widths of the cells that `points` cut [0, 1) into."""
    cuts = sorted({Fraction(0), Fraction(1), *(Fraction(p) for p in points if 0 < p < 1)})
    return [(lo, hi - lo) for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)]


def cdf_points(rows):
    """Every normalised cumulative sum of every row (where an inverse CDF changes)."""
    return {p for row in rows for p in cdf_breakpoints(list(row.probs))}


def integrate(run, grids):
    """`{run(lower corner): total volume}` over the product of the coordinates' cells."""
    law = {}
    for corner in itertools.product(*(cells(points) for points in grids)):
        volume = Fraction(1)
        for _, width in corner:
            volume *= width
        outcome = run([lo for lo, _ in corner])
        law[outcome] = law.get(outcome, Fraction(0)) + volume
    return law
