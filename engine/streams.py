"""Model forwards with a KV cache per row, and the rollback of those caches.

[`RowStreams`][specproof.engine.streams.RowStreams] gives each row of a batch its own cache and
its own forwards (batch size 1, no padding): rows keep different numbers of tokens after a
round, and a per-row cache rolls back exactly by cropping, with no attention masks or position
ids. The generation loop and the model drafter reach a model only through this class's two
methods, `logits` and `keep`, so a batched implementation can take its place.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
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


class BatchedStreams:
    """One model over the rows of a batch: one KV cache and one padded forward for all rows.

    The cache has the same number of columns for every row; a per-row mask says which columns
    hold the row's tokens. A call appends $T$ columns to every row ($T$ = the most new tokens
    of any requested row): row $b$'s new tokens first, then padding; rows not requested get
    padding only. Each token's position id is its index in its own row (the row's valid column
    count before it), so a row's tokens see exactly its own earlier tokens, wherever the
    columns lie. Rollback does not crop: it masks the row's columns past the kept length (the
    cache is cropped only where every row's trailing columns are masked). During a forward the
    padding columns are unmasked so that no query attends to nothing (a fully masked softmax
    row would be NaN); they come after the row's real tokens, so causality keeps them out of
    the real tokens' view, and they are masked from the next call on. When masked columns
    outnumber the valid ones (more columns than twice the longest row, plus 8), a call first
    compacts the cache: each row's valid columns move to the front, in order (their keys and
    values already hold their positions, so moving them changes nothing a later query sees).
    Layers that evict old columns (sliding-window caches) are not supported beyond their window.

    Args:
        model: a transformers causal LM.
        rows: the number of rows.
        use_cache: must be True (without a cache, use `RowStreams`).
    """

    #: Compact when the columns exceed `COMPACT_RATIO` times the longest row plus `COMPACT_SLACK`.
    COMPACT_RATIO = 2
    COMPACT_SLACK = 8
    #: Run the output head on the read positions only, when the head is a plain linear layer.
    GATHER_HEAD = True

    def __init__(self, model: Any, rows: int, use_cache: bool = True) -> None:
        from transformers import DynamicCache

        if not use_cache:
            raise ValueError("use_cache: batched forwards need a KV cache")
        self.model = model
        self.rows = rows
        self.device = next(model.parameters()).device
        self.cache = DynamicCache(config=model.config)
        parameters = inspect.signature(model.forward).parameters
        self.cache_kwarg = "cache" if "cache" in parameters else "past_key_values"
        self.keep_kwarg = "logits_to_keep" in parameters
        #: Run the output head on the read positions only (see `_gather_hook`); `False` runs it
        #: on every position of the block `logits_to_keep` leaves, padding and idle rows included.
        # Models without a standard output head (e.g. a pruned-head wrapper) keep the full path.
        get_head = getattr(model, "get_output_embeddings", None)
        self.gather_head = (
            self.GATHER_HEAD and get_head is not None and isinstance(get_head(), torch.nn.Linear)
        )
        self.mask = torch.zeros((rows, 0), dtype=torch.long, device=self.device)
        self.cached = [0] * rows
        #: Row forwards so far (the rows requested, summed over calls), as `RowStreams` counts.
        self.calls = 0

    def logits(
        self, rows: Sequence[int], sequences: Sequence[Sequence[int]], lasts: Sequence[int]
    ) -> list[torch.Tensor]:
        """Per requested row, the `[last, V]` logits at the last `last` positions of its sequence.

        Args:
            rows: the row indices (each at most once).
            sequences: per row, its whole sequence (the cache's tokens are a prefix of it).
            lasts: per row, how many positions' logits to return (>= 1).
        """
        if self.mask.shape[1] > self.COMPACT_RATIO * max(self.cached) + self.COMPACT_SLACK:
            self._compact()
        new = {row: list(seq[self.cached[row] :]) for row, seq in zip(rows, sequences, strict=True)}
        for row, last in zip(rows, lasts, strict=True):
            if len(new[row]) < last:
                raise RuntimeError("internal: fewer uncached tokens than logits requested")
        width = max(len(tokens) for tokens in new.values())
        pad = 0
        ids = torch.full((self.rows, width), pad, dtype=torch.long)
        positions = torch.empty((self.rows, width), dtype=torch.long)
        real = torch.zeros((self.rows, width), dtype=torch.long)
        for b in range(self.rows):
            positions[b] = torch.arange(self.cached[b], self.cached[b] + width)
            tokens = new.get(b)
            if tokens:
                ids[b, : len(tokens)] = torch.tensor(tokens)
                real[b, : len(tokens)] = 1
        real = real.to(self.device)
        forward_mask = torch.cat([self.mask, torch.ones_like(real)], 1)
        first = min(len(new[row]) - last for row, last in zip(rows, lasts, strict=True))
        kwargs: dict[str, Any] = {self.cache_kwarg: self.cache}
        if self.keep_kwarg:
            kwargs["logits_to_keep"] = width - first
        # (row, first column, last column + 1) of the block whose logits are read.
        wanted = [
            (row, len(new[row]) - last, len(new[row]))
            for row, last in zip(rows, lasts, strict=True)
        ]
        head = self.model.get_output_embeddings() if self.gather_head else None
        hook = None if head is None else head.register_forward_pre_hook(_gather_hook(wanted, width))
        try:
            out = self.model(
                input_ids=ids.to(self.device),
                attention_mask=forward_mask,
                position_ids=positions.to(self.device),
                use_cache=True,
                **kwargs,
            )
        finally:
            if hook is not None:
                hook.remove()
        self.calls += len(rows)
        self.mask = torch.cat([self.mask, real], 1)
        for row, _, n in wanted:
            self.cached[row] += n
        logits = out.logits
        if hook is not None:
            # The head ran on the wanted positions only, row after row: `[1, sum(lasts), V]`.
            if logits.shape[:2] != (1, sum(lasts)):
                raise RuntimeError(
                    f"internal: the output head gave logits of shape {tuple(logits.shape)}"
                )
            return list(logits[0].split(list(lasts)))
        offset = width - logits.shape[1]  # columns of the block the head skipped
        return [logits[row, a - offset : b - offset] for row, a, b in wanted]

    def _compact(self) -> None:
        """Move each row's valid columns to the front, in order; drop the rest of the holes."""
        width = int(self.mask.sum(1).max())
        index = torch.zeros((self.rows, width), dtype=torch.long, device=self.device)
        mask = torch.zeros((self.rows, width), dtype=torch.long, device=self.device)
        for b in range(self.rows):
            valid = self.mask[b].nonzero().flatten()
            index[b, : valid.numel()] = valid
            mask[b, : valid.numel()] = 1
        for layer in self.cache.layers:
            for name in ("keys", "values"):
                tensor = getattr(layer, name, None)
                if tensor is None or tensor.dim() != 4 or tensor.shape[-2] != self.mask.shape[1]:
                    raise RuntimeError("internal: a cache layer without one column per mask column")
                gather = index[:, None, :, None].expand(
                    tensor.shape[0], tensor.shape[1], width, tensor.shape[3]
                )
                setattr(layer, name, tensor.gather(2, gather))
        self.mask = mask

    def keep(self, row: int, length: int) -> None:
        """Mask row `row`'s columns past its first `length` tokens; crop columns nobody uses."""
        if self.cached[row] <= length:
            return
        valid = self.mask[row].nonzero().flatten()
        self.mask[row, valid[length:]] = 0
        self.cached[row] = length
        used = self.mask.any(0).nonzero()
        keep_columns = int(used.max()) + 1 if used.numel() else 0
        if keep_columns < self.mask.shape[1]:
            self.cache.crop(
                keep_columns - self.mask.shape[1]
            )  # a negative count: columns to remove
            self.mask = self.mask[:, :keep_columns]


def _gather_hook(
    wanted: Sequence[tuple[int, int, int]], width: int
) -> Callable[[Any, tuple[Any, ...]], tuple[Any, ...]]:
    """A forward pre-hook for the output head: keep only the hidden states whose logits are read.

    The model hands its head the hidden states `[B, W', H]` of the block's last `W'` columns
    (`logits_to_keep`); the hook passes on `[1, N, H]`, the wanted columns of each wanted row in
    order, so the head (and anything the model applies to its output element by element, such
    as a final soft-capping) computes `N = sum(lasts)` rows instead of `B * W'`, none of them
    padding.

    Args:
        wanted: per wanted row, (row, first column, end column) in the block of `width` columns.
        width: the block's number of columns.
    """

    def hook(module: Any, args: tuple[Any, ...]) -> tuple[Any, ...]:
        hidden = args[0]
        offset = width - hidden.shape[1]
        index = torch.cat(
            [
                torch.arange(a - offset, b - offset, device=hidden.device) + row * hidden.shape[1]
                for row, a, b in wanted
            ]
        )
        picked = hidden.reshape(-1, hidden.shape[-1]).index_select(0, index)
        return (picked.unsqueeze(0), *args[1:])

    return hook


def model_streams(
    model: Any, rows: int, use_cache: bool, batched: bool
) -> RowStreams | BatchedStreams:
    """[`BatchedStreams`][specproof.engine.streams.BatchedStreams] if `batched` and `rows > 1`, else [`RowStreams`][specproof.engine.streams.RowStreams].

    A single row gains nothing from padding and masks, so it always gets `RowStreams`.

    Args:
        model: a transformers causal LM.
        rows: the number of rows.
        use_cache: keep KV caches.
        batched: one padded forward for all rows.

    Raises:
        ValueError: if `batched` without `use_cache`.
    """
    if batched and not use_cache:
        raise ValueError("use_cache: batched forwards need a KV cache")
    if batched and rows > 1:
        return BatchedStreams(model, rows, use_cache)
    return RowStreams(model, rows, use_cache)
