"""Hypothesis strategies for the RDK claims: pruned vocabularies, rounds, steps, mixtures.

Shared by [`specproof.proofs.rdk`][specproof.proofs.rdk] (losslessness) and
[`specproof.proofs.rdk_mixture`][specproof.proofs.rdk_mixture] (the rank-one form).
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from specproof.reference import Dist, ToyLM
from specproof.reference.strategies import dists, kernels, ks, prefixes, toy_lms, vocabularies
from specproof.reference.tli import tli_proposal


@st.composite
def kept_subsets(draw: st.DrawFn, vocab: tuple[Any, ...]) -> tuple[Any, ...]:
    r"""A nonempty pruned vocabulary $D \subseteq T$, in vocabulary order."""
    mask = draw(st.lists(st.booleans(), min_size=len(vocab), max_size=len(vocab)))
    if not any(mask):
        mask[draw(st.integers(0, len(vocab) - 1))] = True
    return tuple(t for t, keep in zip(vocab, mask, strict=True) if keep)


RoundInstance = tuple[ToyLM, ToyLM, tuple[Any, ...], Any, tuple[Any, ...], int, int]


@st.composite
def rdk_instances(
    draw: st.DrawFn, max_vocab: int = 4, max_n: int = 3, max_k: int = 3
) -> RoundInstance:
    """`(target, drafter, kept, kernel, prefix, n, k)` over one vocabulary, orders 0-1."""
    vocab = draw(vocabularies(1, max_vocab))
    order = draw(st.integers(0, 1))
    target = draw(toy_lms(vocab, order))
    drafter = draw(toy_lms(vocab, draw(st.integers(0, 1)), allow_zeros=False))
    kept = draw(kept_subsets(vocab))
    kernel = draw(kernels(vocab))
    prefix = draw(prefixes(vocab, max_length=2))
    return target, drafter, kept, kernel, prefix, draw(st.integers(0, max_n)), draw(ks(max_k))


@st.composite
def step_instances(draw: st.DrawFn, max_vocab: int = 5) -> tuple[Dist, Dist, Any]:
    """`(target row over T, pruned drafter row over D, kernel over T)`."""
    vocab = draw(vocabularies(1, max_vocab))
    kept = draw(kept_subsets(vocab))
    return draw(dists(vocab)), draw(dists(kept)), draw(kernels(vocab))


@st.composite
def mixture_instances(draw: st.DrawFn, max_vocab: int = 6) -> tuple[Dist, Dist, Dist]:
    """`(p, q', r)` over one vocabulary: $q'$ zero off a kept subset (a pruned drafter)."""
    vocab = draw(vocabularies(1, max_vocab))
    kept = draw(kept_subsets(vocab))
    source = tli_proposal(draw(dists(kept)), vocab)
    return draw(dists(vocab)), source, draw(dists(vocab))
