"""Claims about greedy verification."""

from __future__ import annotations

from .registry import REGISTRY, CheckOptions, Outcome
from .sd import check_lossless


@REGISTRY.claim(
    "greedy_lossless",
    "Greedy verification (argmax match, lowest index on ties, greedy drafting) outputs exactly the "
    "target's greedy decoding: for every generated toy-LM pair, prefix, $n$ and $K$ the law of "
    "the first $n$ output tokens is the point mass on the target's greedy continuation.",
    "hypothesis + exact enumeration",
)
def check_greedy_lossless(options: CheckOptions) -> Outcome:
    """Law equality with greedy decoding."""
    return check_lossless("greedy", options)
