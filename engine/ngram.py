r"""Prompt lookup: a drafter that copies its drafts from the prompt and the text so far.

[`NgramDrafter`][specproof.engine.ngram.NgramDrafter] implements the
[`Drafter`][specproof.engine.drafters.Drafter] protocol without a model: each draft's $q$ is
one-hot on it. Why that is exact: the n-gram drafter's tokens are a deterministic function of
the committed sequence, so the distribution each was drawn from is the point mass on it.
Standard SD then accepts draft $x$ with probability $\min(1, p(x) / 1) = p(x)$ and recovers
from $(p - \delta_x)_+ \propto p$ off $x$: the output law is still $p$.

[`parse_drafter`][specproof.engine.ngram.parse_drafter] reads the CLI's `--draft ngram[:...]`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from specproof.reference.arguments import check_int

from .drafters import DraftContext, DraftRequest, Proposal, Sampler


class NgramDrafter:
    """Prompt lookup: copy what followed the latest earlier occurrence of the sequence's tail.

    For the longest `size` from `n` down to `min_n` whose last `size` tokens occur earlier in
    the row's sequence (prompt and text so far) with at least one token after them, the drafts
    are the up to `k` tokens that follow the latest such occurrence; with no match the row gets
    no drafts. Each draft's $q$ is one-hot on it. Features: `match_length` (the `size` matched,
    0 for none) and `match_distance` (tokens from the match's end to the sequence's end).

    Args:
        n: the longest n-gram matched (>= 1).
        min_n: the shortest (1 <= min_n <= n).
    """

    def __init__(self, n: int = 3, min_n: int = 1) -> None:
        for name, value in (("n", n), ("min_n", min_n)):
            check_int(value, name)
        if min_n > n:
            raise ValueError(f"min_n ({min_n}) must be <= n ({n})")
        self.n = n
        self.min_n = min_n
        self.deterministic = True
        self.forward_calls = 0
        self._context: DraftContext | None = None

    def start(self, prompts: Sequence[Sequence[int]], context: DraftContext) -> None:
        """Remember the vocabulary and dtype (the drafter keeps no state per row)."""
        self._context = context

    def lookup(self, sequence: Sequence[int], k: int) -> tuple[list[int], int, int]:
        """`(drafts, match_length, match_distance)` for `sequence`, at most `k` drafts."""
        length = len(sequence)
        for size in range(min(self.n, length - 1), self.min_n - 1, -1):
            tail = list(sequence[length - size :])
            # Latest start first; the continuation must hold at least one token.
            for start in range(length - size - 1, -1, -1):
                if list(sequence[start : start + size]) == tail:
                    end = start + size
                    return list(sequence[end : end + k]), size, length - end
        return [], 0, 0

    def propose(self, requests: Sequence[DraftRequest], sample: Sampler) -> list[Proposal]:
        """One lookup per request; `sample` is not used (the drafts are deterministic)."""
        context = self._context
        if context is None:
            raise RuntimeError("NgramDrafter.propose called before start")
        proposals = []
        for request in requests:
            drafts, size, distance = self.lookup(request.sequence, request.k)
            q = torch.zeros(
                (len(drafts), context.vocab), dtype=context.prob_dtype, device=context.device
            )
            if drafts:
                q[torch.arange(len(drafts)), torch.tensor(drafts)] = 1
            features = {"match_length": float(size), "match_distance": float(distance)}
            proposals.append(Proposal(tuple(drafts), q, features))
        return proposals

    def keep(self, row: int, length: int) -> None:
        """Nothing to roll back."""


def parse_drafter(name: str) -> NgramDrafter | None:
    """The drafter named by `ngram[:n=N,min_n=M]`, or None when `name` names a model.

    Raises:
        ValueError: on a bad option of `ngram` (the message names `name`).
    """
    base, sep, rest = name.partition(":")
    if base.strip() != "ngram":
        return None
    options: dict[str, int] = {}
    for item in rest.split(",") if sep else []:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or key not in ("n", "min_n"):
            raise ValueError(f"draft: option {item!r} of {name!r} must be n=N or min_n=M")
        try:
            options[key] = int(value)
        except ValueError:
            raise ValueError(f"draft: option {key} of {name!r} must be an integer") from None
    try:
        return NgramDrafter(**options)
    except ValueError as exc:  # a value out of range: say which --draft it came from
        raise ValueError(f"draft: {name!r}: {exc}") from None


__all__ = ["NgramDrafter", "parse_drafter"]
