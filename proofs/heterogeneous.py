"""Shared pieces of the heterogeneous-vocabulary claims: instances and law equality.

Instances are pairs of toy tokenizers of every vocabulary relation that leaves a non-empty
intersection (`equal`, `subset`, `superset`, `overlapping`, `singles_only`), injective or not,
with toy LMs over each vocabulary (the drafter's rows always put mass on the shared tokens, the
one case TLI refuses), a prefix, $n$ and $K$.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from hypothesis import strategies as st

from specproof.reference import Dist, ToyLM, autoregressive_law
from specproof.reference.dist import Token
from specproof.reference.heterogeneous import CrossVocabularyAlgorithm, shared_tokens
from specproof.reference.rounds import round_kernel_law
from specproof.reference.strategies import dists, prefixes, tokenizer_pairs, toy_lms
from specproof.reference.tokenizers import ToyTokenizer, vocabulary_relation

from .checking import Examples, check_by_hypothesis, dist_json, law_difference, lm_json
from .claims import ACCEPTANCE_METHOD, GENERATED_SCOPE, LOSSLESS_METHOD
from .registry import REGISTRY, Check, CheckOptions, Outcome, Registry

Instance = tuple[ToyLM, ToyLM, ToyTokenizer, ToyTokenizer, tuple[Any, ...], int, int]


@st.composite
def drafter_lms(
    draw: st.DrawFn, vocab: Sequence[Token], order: int, shared: Sequence[Token]
) -> ToyLM:
    """Toy LMs over `vocab` whose every row puts positive mass on `shared`.

    A generated row with no mass on `shared` is replaced by the uniform row (so the corner
    "zero on some shared tokens" stays, and "zero on all of them" is tested as bad input).
    """
    vocab = tuple(vocab)
    table = {}
    for length in range(order + 1):
        for context in itertools.product(vocab, repeat=length):
            row = draw(dists(vocab))
            if not any(row[t] for t in shared):
                row = Dist.uniform(vocab)
            table[context] = row
    return ToyLM(vocab, order, table)


@st.composite
def cross_vocabulary_instances(
    draw: st.DrawFn, max_order: int = 1, max_n: int = 3, max_k: int = 3
) -> Instance:
    """`(target, drafter, target_tokenizer, drafter_tokenizer, prefix, n, k)`."""
    target_tokenizer, drafter_tokenizer = draw(tokenizer_pairs(max_multi=3))
    shared = shared_tokens(target_tokenizer.tokens, drafter_tokenizer.tokens)
    target = draw(toy_lms(target_tokenizer.tokens, draw(st.integers(0, max_order))))
    drafter = draw(drafter_lms(drafter_tokenizer.tokens, draw(st.integers(0, max_order)), shared))
    prefix = draw(prefixes(target.vocab, max_length=2))
    n = draw(st.integers(0, max_n))
    k = draw(st.integers(0, max_k))
    return target, drafter, target_tokenizer, drafter_tokenizer, prefix, n, k


#: How the cross-vocabulary lossless claims end: what was generated, what was compared.
GENERATED_LOSSLESS = (
    "for every generated pair of toy tokenizers (equal, subset, superset, overlapping or sharing "
    "only single characters; injective or not), toy LMs, prefix, $n$ and $K$, the exact law of the "
    "first $n$ target tokens equals the target's autoregressive law."
)


def instance_json(instance: Instance) -> dict[str, Any]:
    """An instance as JSON data."""
    target, drafter, target_tokenizer, drafter_tokenizer, prefix, n, k = instance
    return {
        "target": lm_json(target),
        "drafter": lm_json(drafter),
        "target_tokens": list(target_tokenizer.tokens),
        "target_normalise": dict(target_tokenizer.normalise),
        "drafter_tokens": list(drafter_tokenizer.tokens),
        "relation": vocabulary_relation(target_tokenizer, drafter_tokenizer),
        "prefix": [repr(t) for t in prefix],
        "n": n,
        "k": k,
    }


def law_equality(algorithm: CrossVocabularyAlgorithm, instance: Instance) -> dict[str, Any] | None:
    """`None` if the algorithm's exact law equals the target's autoregressive law, else the difference."""
    target, drafter, target_tokenizer, drafter_tokenizer, prefix, n, k = instance
    expected = autoregressive_law(target, prefix, n)
    kernel = algorithm.round(target, drafter, target_tokenizer, drafter_tokenizer, k)
    actual = round_kernel_law(kernel, prefix, n)
    if expected == actual:
        return None
    return {**instance_json(instance), "law_difference": law_difference(expected, actual)}


def check_cross_lossless(
    algorithm: CrossVocabularyAlgorithm, options: CheckOptions, *, examples: int = 150
) -> Outcome:
    """Law equality of `algorithm` on generated cross-vocabulary instances."""
    return check_by_hypothesis(
        cross_vocabulary_instances(),
        lambda instance: law_equality(algorithm, instance),
        options,
        Examples(
            examples,
            examples * 6,
            "tokenizer pairs over 'ab' (+x; equal, subset, superset, overlapping, "
            "singles_only; lossy or not), <=3 multi-character tokens, orders 0-1, prefix<=2, n<=3, "
            "K<=3",
        ),
    )


def cross_lossless_claim(
    algorithm: CrossVocabularyAlgorithm,
    statement: str,
    *,
    examples: int = 150,
    registry: Registry = REGISTRY,
) -> Check:
    """Register `<algorithm>_lossless`, checked by `check_cross_lossless`; return its check.

    The cross-vocabulary counterpart of
    [`lossless_claim`][specproof.proofs.claims.lossless_claim] (method `LOSSLESS_METHOD`, scope
    `GENERATED_SCOPE`).

    Args:
        algorithm: the algorithm's reference object (its `name` is the claim's prefix).
        statement: the claim in words and LaTeX maths.
        examples: generated instances per run (six times as many with `--thorough`).
        registry: where to register it (the default registry unless a test passes its own).
    """
    check: Check = partial(check_cross_lossless, algorithm, examples=examples)
    registry.claim(f"{algorithm.name}_lossless", statement, LOSSLESS_METHOD, scope=GENERATED_SCOPE)(
        check
    )
    return check


@st.composite
def cross_dist_pairs(draw: st.DrawFn) -> tuple[Dist, Dist]:
    """`(target row over T, drafter row over D)` for a generated tokenizer pair, $q(I) > 0$."""
    target_tokenizer, drafter_tokenizer = draw(tokenizer_pairs(max_multi=4))
    shared = shared_tokens(target_tokenizer.tokens, drafter_tokenizer.tokens)
    target = draw(dists(target_tokenizer.tokens))
    drafter = draw(dists(drafter_tokenizer.tokens))
    if not any(drafter[t] for t in shared):
        drafter = Dist.uniform(drafter_tokenizer.tokens)
    return target, drafter


def check_on_cross_rows(
    prop: Callable[[Dist, Dist, tuple[Token, ...]], dict[str, Any] | None], options: CheckOptions
) -> Outcome:
    """Check `prop(target_row, drafter_row, shared_tokens)` on generated row pairs.

    The pairs are `cross_dist_pairs` (300 examples, 3000 thorough); `prop` returns `None` when
    the claim holds, else the counterexample's JSON data.

    Args:
        prop: the property.
        options: the run's options.
    """

    def on_pair(pair: tuple[Dist, Dist]) -> dict[str, Any] | None:
        target, draft = pair
        shared = tuple(shared_tokens(target.tokens, draft.tokens))
        found = prop(target, draft, shared)
        return (
            None
            if found is None
            else {"target": dist_json(target), "draft": dist_json(draft)} | found
        )

    return check_by_hypothesis(
        cross_dist_pairs(),
        on_pair,
        options,
        Examples(300, 3000, "rows over generated tokenizer pairs' vocabularies, with zeros"),
    )


def cross_rows_claim(
    name: str,
    statement: str,
    prop: Callable[[Dist, Dist, tuple[Token, ...]], dict[str, Any] | None],
    *,
    registry: Registry = REGISTRY,
) -> Check:
    """Register `name`, checked by `check_on_cross_rows` of `prop`; return its check.

    A claim about one position's rows over two vocabularies (method `ACCEPTANCE_METHOD`, scope
    `GENERATED_SCOPE`), such as an executed acceptance rate equal to its closed form.

    Args:
        name: the claim's full name (prefixed by its algorithm's short name).
        statement: the claim in words and LaTeX maths.
        prop: `prop(target_row, drafter_row, shared_tokens)`: `None` where the claim holds, else
            the counterexample's JSON data.
        registry: where to register it (the default registry unless a test passes its own).
    """
    check: Check = partial(check_on_cross_rows, prop)
    registry.claim(name, statement, ACCEPTANCE_METHOD, scope=GENERATED_SCOPE)(check)
    return check


__all__ = [
    "Instance",
    "check_cross_lossless",
    "cross_lossless_claim",
    "check_on_cross_rows",
    "cross_dist_pairs",
    "cross_rows_claim",
    "cross_vocabulary_instances",
    "drafter_lms",
    "instance_json",
    "law_equality",
]
