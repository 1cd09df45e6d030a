"""Model forwards with a KV cache per row, and the rollback of those caches.

[`RowStreams`][specproof.engine.streams.RowStreams] gives each row of a batch its own cache and
its own forwards (batch size 1, no padding): rows keep different numbers of tokens after a
round, and a per-row cache rolls back exactly by cropping, with no attention masks or position
ids. The generation loop and the model drafter reach a model only through this class's two
methods, `logits` and `keep`, so a batched implementation can take its place.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import torch


class _ModelStream:
    """One model's view of one row: its KV cache and how many tokens of the row it holds."""

    def __init__(self, model: Any, use_cache: bool) -> None:
        from transformers import DynamicCache

        self.model = model
        self.use_cache = use_cache
        self.cache = DynamicCache(config=model.config) if use_cache else None
        self.cached = 0
        self.device = next(model.parameters()).device
        # transformers 5 renamed `past_key_values` to `cache`; older versions know only the former.
        parameters = inspect.signature(model.forward).parameters
        self.cache_kwarg = "cache" if "cache" in parameters else "past_key_values"
        # Compute the output head only where logits are read (the prompt's prefill needs one row).
        self.keep_kwarg = "logits_to_keep" in parameters

    def logits(self, sequence: Sequence[int], last: int) -> torch.Tensor:
        """`[last, V]` logits at the last `last` positions of `sequence`, feeding what is uncached."""
        if self.use_cache:
            new = sequence[self.cached :]
            if len(new) < last:
                raise RuntimeError("internal: fewer uncached tokens than logits requested")
            ids = torch.tensor([list(new)], dtype=torch.long, device=self.device)
            kwargs: dict[str, Any] = {self.cache_kwarg: self.cache}
            if self.keep_kwarg:
                kwargs["logits_to_keep"] = last
            out = self.model(input_ids=ids, use_cache=True, **kwargs)
            self.cached = len(sequence)
        else:
            ids = torch.tensor([list(sequence)], dtype=torch.long, device=self.device)
            out = self.model(input_ids=ids, use_cache=False)
        return out.logits[0, -last:]

    def keep(self, length: int) -> None:
        """Roll the cache back to the first `length` tokens of the row."""
        if self.use_cache and self.cached > length:
            self.cache.crop(length - self.cached)  # a negative count: tokens to remove
            self.cached = length


class RowStreams:
    """One model over the rows of a batch, one KV cache and one forward per row.

    Args:
        model: a transformers causal LM.
        rows: the number of rows.
        use_cache: keep KV caches (False recomputes every forward from scratch).
    """

    def __init__(self, model: Any, rows: int, use_cache: bool) -> None:
        self.model = model
        self.streams = [_ModelStream(model, use_cache) for _ in range(rows)]
        self.device = self.streams[0].device if self.streams else torch.device("cpu")
        #: Forward passes so far (one per row per call of `logits`).
        self.calls = 0

    def logits(
        self, rows: Sequence[int], sequences: Sequence[Sequence[int]], lasts: Sequence[int]
    ) -> list[torch.Tensor]:
        """Per requested row, the `[last, V]` logits at the last `last` positions of its sequence.

        Args:
            rows: the row indices.
            sequences: per row, its whole sequence (the cache's tokens are a prefix of it).
            lasts: per row, how many positions' logits to return (>= 1).
        """
        self.calls += len(rows)
        return [
            self.streams[row].logits(sequence, last)
            for row, sequence, last in zip(rows, sequences, lasts, strict=True)
        ]

    def keep(self, row: int, length: int) -> None:
        """Roll row `row`'s cache back to the first `length` tokens of its sequence."""
        self.streams[row].keep(length)
