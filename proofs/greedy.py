"""Claims about greedy verification."""

from __future__ import annotations

from .claims import lossless_claim

check_greedy_lossless = lossless_claim(
    "greedy",
    "Greedy verification (argmax match, lowest index on ties, greedy drafting) outputs exactly the "
    "target's greedy decoding: for every generated toy-LM pair, prefix, $n$ and $K$ the law of "
    "the first $n$ output tokens is the point mass on the target's greedy continuation.",
)
"""Law equality with greedy decoding ([`check_lossless`][specproof.proofs.harness.check_lossless])."""
