"""Small exact language models shared by the reference tests."""

from __future__ import annotations

from fractions import Fraction as F

from specproof.reference import Dist, ToyLM

VOCAB = ("a", "b", "c")

ORDER_ONE_TARGET = ToyLM(
    VOCAB,
    1,
    {
        (): Dist.over(VOCAB, [F(1, 2), F(1, 3), F(1, 6)]),
        ("a",): Dist.over(VOCAB, [F(1, 5), F(1, 5), F(3, 5)]),
        ("b",): Dist.over(VOCAB, [F(1, 2), 0, F(1, 2)]),
        ("c",): Dist.over(VOCAB, [F(1, 3), F(1, 3), F(1, 3)]),
    },
)
"""An order-1 target over `VOCAB` with a zero entry (after "b") and no zero rows."""
