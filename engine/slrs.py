r"""SLRS's cost in the engine: $\psi$ over segmentations, with an explicit bound.

Mirrors [`specproof.reference.slrs`][specproof.reference.slrs]. $\psi(s)$, the drafter's
probability of producing exactly the string $s$ as a sequence of its tokens, sums over every
segmentation of $s$ into drafter tokens: up to $2^{L-1}$ for a string of length $L$.
[`psi_from_drafter`][specproof.engine.slrs.psi_from_drafter] counts the segmentations first
(dynamic programming, $O(L \cdot \ell_{max})$) and refuses, with a `ValueError`, a string with
more than `max_segmentations`; otherwise it calls the drafter once per distinct segmentation
prefix (shared prefixes are computed once).

What is not here: an SLRS sampler for real models. Lossless SLRS verifies against
$\tilde\psi$, the exact law of the proposed token, which the reference computes by enumerating
drafts; verifying against $\psi$ is not lossless in general (claim
`slrs_psi_verification_not_lossless`). This module gives the engine the $\psi$ computation and
its bound, for drafters with short tokens.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch

#: The most segmentations `psi_from_drafter` evaluates before refusing.
MAX_SEGMENTATIONS = 1 << 12


def count_segmentations(text: str, string_to_id: Mapping[str, int]) -> int:
    """How many ways `text` splits into the drafter's token strings (exact, dynamic programming)."""
    longest = max((len(s) for s in string_to_id), default=0)
    count = [1] + [0] * len(text)
    for end in range(1, len(text) + 1):
        for start in range(max(0, end - longest), end):
            if text[start:end] in string_to_id:
                count[end] += count[start]
    return count[len(text)]


def enumerate_segmentations(
    text: str, string_to_id: Mapping[str, int], max_segmentations: int = MAX_SEGMENTATIONS
) -> list[tuple[int, ...]]:
    """Every segmentation of `text` as drafter ids.

    Raises:
        ValueError: if there are more than `max_segmentations` (counted before enumerating).
    """
    count = count_segmentations(text, string_to_id)
    if count > max_segmentations:
        raise ValueError(
            f"text {text!r} (length {len(text)}) has {count} segmentations into drafter tokens, "
            f"more than max_segmentations={max_segmentations}: SLRS needs drafters with short "
            "tokens"
        )
    out: list[tuple[int, ...]] = []

    def walk(position: int, ids: tuple[int, ...]) -> None:
        if position == len(text):
            out.append(ids)
            return
        for end in range(position + 1, len(text) + 1):
            piece = text[position:end]
            if piece in string_to_id:
                walk(end, (*ids, string_to_id[piece]))

    walk(0, ())
    return out


def psi_from_drafter(
    next_probs: Callable[[Sequence[int]], torch.Tensor],
    context: Sequence[int],
    text: str,
    string_to_id: Mapping[str, int],
    *,
    max_segmentations: int = MAX_SEGMENTATIONS,
) -> float:
    r"""$\psi(\text{text})$ for a drafter given as `next_probs(ids) -> [V_D]` probabilities.

    Args:
        next_probs: the drafter's next-token probabilities after a sequence of its ids.
        context: the drafter ids before.
        text: the string.
        string_to_id: the drafter's token strings and ids.
        max_segmentations: refuse strings with more segmentations.

    Raises:
        ValueError: past `max_segmentations`.
    """
    cache: dict[tuple[int, ...], torch.Tensor] = {}
    start = tuple(context)
    total = 0.0
    for segmentation in enumerate_segmentations(text, string_to_id, max_segmentations):
        prob = 1.0
        for i, token in enumerate(segmentation):
            key = start + segmentation[:i]
            if key not in cache:
                cache[key] = next_probs(key)
            prob *= float(cache[key][token])
            if prob == 0.0:
                break
        total += prob
    return total


__all__ = [
    "MAX_SEGMENTATIONS",
    "count_segmentations",
    "enumerate_segmentations",
    "psi_from_drafter",
]
