"""Claims about toy SLEM (string-level exact match across tokenizers)."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from specproof.reference import ToyLM, autoregressive_law
from specproof.reference.rounds import round_kernel_law
from specproof.reference.strategies import prefixes, tokenizer_pairs, toy_lms
from specproof.reference.string_level import MATCHES, LookbehindSlemRound, Match
from specproof.reference.tokenizers import ToyTokenizer, VocabularyRelation

from .checking import Examples, kernel_law_check, law_difference
from .claims import LOSSLESS_METHOD, hypothesis_claim
from .heterogeneous import instance_json

SlemInstance = tuple[ToyLM, ToyLM, ToyTokenizer, ToyTokenizer, tuple[Any, ...], int, int, Match]


@st.composite
def slem_instances(
    draw: st.DrawFn,
    relation: VocabularyRelation | None = None,
    max_order: int = 1,
    max_n: int = 3,
    max_k: int = 2,
) -> SlemInstance:
    """`(target, drafter, target_tokenizer, drafter_tokenizer, prefix, n, k, match)`.

    Tokenizer pairs related as `relation` (any but `"disjoint"` when `None`) over the alphabet
    `"ab"` (the drafter sometimes with an extra character the target drops, maps or cannot
    express), toy LMs over each vocabulary of orders 0 to `max_order`.
    """
    target_tokenizer, drafter_tokenizer = draw(tokenizer_pairs(relation, max_multi=3))
    target = draw(toy_lms(target_tokenizer.tokens, draw(st.integers(0, max_order))))
    drafter = draw(toy_lms(drafter_tokenizer.tokens, draw(st.integers(0, max_order))))
    prefix = draw(prefixes(target.vocab, max_length=2))
    n = draw(st.integers(0, max_n))
    k = draw(st.integers(0, max_k))
    match = draw(st.sampled_from(MATCHES))
    return target, drafter, target_tokenizer, drafter_tokenizer, prefix, n, k, match


def slem_equality(
    instance: SlemInstance, kernel: type[LookbehindSlemRound] = LookbehindSlemRound
) -> dict[str, Any] | None:
    """`None` if toy SLEM's law equals the target's autoregressive law, else the difference.

    Args:
        instance: see `slem_instances`.
        kernel: the round kernel class (a broken subclass for a negative control).
    """
    target, drafter, target_tokenizer, drafter_tokenizer, prefix, n, k, match = instance
    expected = autoregressive_law(target, prefix, n)
    round_kernel = kernel(target, drafter, target_tokenizer, drafter_tokenizer, k, match=match)
    actual = round_kernel_law(round_kernel, prefix, n)
    if expected == actual:
        return None
    return {
        **instance_json(instance[:7]),
        "match": match,
        "law_difference": law_difference(expected, actual),
    }


SLEM_EXAMPLES = Examples(
    100,
    600,
    "tokenizer pairs over 'ab' (+x), <=3 multi-character tokens, orders 0-1, prefix<=2, n<=3, "
    "K<=2, both match rules",
)
"""The instances of `slem_toy_lossless` (and of its negative control)."""


check_slem_lossless = kernel_law_check(
    slem_instances(), slem_equality, SLEM_EXAMPLES, LookbehindSlemRound
)
"""`check_slem_lossless(options, kernel=LookbehindSlemRound)`: law equality through the
string-level round kernel `kernel` on generated instances (a broken subclass must be refuted)."""


check_slem_toy_lossless = hypothesis_claim(
    "slem_toy_lossless",
    "Toy SLEM is lossless: a drafter over another tokenizer drafts $K$ tokens, their string is "
    "cut to what the target's tokenizer expresses and normalised, and the target verifies it by "
    "sample-and-match, token by token against its re-tokenisation or by string prefix; for every "
    "generated pair of tokenizers (equal, subset, superset, overlapping or sharing only single "
    "characters; injective or not), toy LMs, prefix, $n$ and $K$, the exact law of the first $n$ "
    "target tokens equals the target's autoregressive law.",
    slem_instances(),
    slem_equality,
    SLEM_EXAMPLES,
    method=LOSSLESS_METHOD,
)
"""Law equality through the string-level round kernel: `check_slem_lossless` with SLEM's own."""
