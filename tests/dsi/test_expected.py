"""The vectorised float recursions of `specproof.dsi.expected` equal the exact reference.

Compared with the reference evaluated in `Fraction`s (exact) over corners of every parameter:
c near 0, 1/2 and 1; a = 0, 1 and between; K = 1 (every block one token), K > S (no full block)
and in between; S from 1 (no drafting at all) up. The only difference allowed is the rounding
of float sums, bounded here by a relative 1e-12 (observed: 3e-15).
"""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from specproof.dsi import expected
from specproof.reference import dsi as ref

GRID_C = [F(1, 1000), F(1, 2), F(9999, 10000), F(1)]
GRID_A = [F(0), F(1, 5), F(99, 100), F(1)]
GRID_K = [1, 2, 3, 40]
TOKENS = [1, 2, 3, 4, 7, 13, 30]


def _relative_error(value: float, exact: F) -> F:
    return abs(F(value) - exact) / max(exact, F(1))


@pytest.mark.parametrize("name", ["si_expected_cost", "dsi_expected_cost"])
def test_the_float_recursion_equals_the_exact_reference(name):
    fast, exact = getattr(expected, name), getattr(ref, name)
    for c in GRID_C:
        for a in GRID_A:
            for k in GRID_K:
                for s in TOKENS:
                    value = fast(float(c), float(a), k, s)
                    truth = exact(c, a, k, s)
                    assert _relative_error(value, truth) < F(1, 10**12), (name, c, a, k, s)


@pytest.mark.parametrize("name", ["si_expected_cost", "dsi_expected_cost"])
def test_negative_control_the_tolerance_catches_a_tiny_model_error(name):
    """A drafter cost off by one part in a million is outside the tolerance: the comparison
    above can fail on errors far smaller than any wrong term of the recursion."""
    fast, exact = getattr(expected, name), getattr(ref, name)
    c, a, k, s = F(1, 2), F(1, 2), 3, 30
    assert _relative_error(fast(0.5 * (1 + 1e-6), float(a), k, s), exact(c, a, k, s)) > F(1, 10**12)


@pytest.mark.parametrize("chunk", [3, 1 << 20])
def test_the_float_latency_per_token_equals_the_exact_reference(chunk, monkeypatch):
    """The series summed in chunks of 3 terms (every chunk boundary) and of a million (one
    chunk); c = 9/10 rather than 9999/10000, whose exact series (about 400,000 terms for K = 40)
    in `Fraction`s would take minutes."""
    monkeypatch.setattr(expected, "_CHUNK", chunk)
    for c in [F(1, 1000), F(1, 2), F(9, 10), F(1)]:
        for a in GRID_A:
            for k in GRID_K:
                value = expected.dsi_latency_per_token(float(c), float(a), k)
                truth = ref.dsi_latency_per_token(c, a, k)
                assert _relative_error(value, truth) < F(1, 10**12), (c, a, k)


def test_bad_arguments_are_refused_as_in_the_reference():
    with pytest.raises(ValueError, match="c"):
        expected.dsi_expected_cost(0.0, 0.5, 2, 10)
    with pytest.raises(ValueError, match="tokens"):
        expected.si_expected_cost(0.5, 0.5, 2, 0)
