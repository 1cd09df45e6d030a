r"""Drafters: what proposes a round's draft tokens, with the distributions they were drawn from.

A [`Drafter`][specproof.engine.drafters.Drafter] is asked, once per round, for up to $K_b$
tokens for each active row $b$ (the lookahead policy chooses $K_b$); it answers with a
[`Proposal`][specproof.engine.drafters.Proposal] per row: the tokens, in the *target's*
vocabulary, and the distributions $q$ they were drawn from, `[len(tokens), V]` in the target's
vocabulary too, since that is what verification compares with $p$. A drafter may propose fewer
than $K_b$ tokens, even none (the round then outputs one token drawn from the target).

Randomness stays in the loop: a drafter that samples calls the `sample` function it is handed,
which turns `[n, V']` probability rows into `n` tokens by the loop's rule (the pinned inverse-CDF
rule at uniforms from the loop's source, or the argmax for greedy verification).

**Stopping early.** A drafter that drafts token by token may let the loop stop a row after any
drafted token (a [stepwise lookahead policy][specproof.engine.lookahead.StepwisePolicy]): it
sets `stops_early = True` and its `propose` takes a keyword `keep_drafting`, a
[`StepHook`][specproof.engine.drafters.StepHook] it calls after each drafted position for the
rows that could draft more. For other drafters the loop asks the policy after the fact and
truncates their proposals (the same answers; only drafting work is not saved). A drafter whose
drafts are a deterministic function of the sequence sets `deterministic = True` (its step
states then carry `token_prob` 1.0, no top probabilities and entropy 0.0).

Implementations:

- [`ModelDrafter`][specproof.engine.drafters.ModelDrafter]: a causal LM drafting token by token
  with its own KV caches, in the target's vocabulary or in its own through a vocabulary map;
- [`layer_dropped_drafter`][specproof.engine.drafters.layer_dropped_drafter]: a model drafter
  made of the target's first layers;
- [`NgramDrafter`][specproof.engine.ngram.NgramDrafter] (in `specproof.engine.ngram`, also
  importable from here): prompt lookup, drafts copied from the prompt and the text so far, each
  with a one-hot $q$ (no model, no randomness).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch

from .streams import BatchedStreams, RowStreams, model_streams

#: Turns `[n, V']` probability rows into `n` sampled token ids (the loop's sampling rule).
Sampler = Callable[[torch.Tensor], torch.Tensor]

#: `keep_drafting(indices, position, tokens, draft_probs) -> one bool per index`: after drafting
#: position `position`, asked for the requests `indices` (into the `propose` call's requests)
#: that could draft more; `tokens` are their drafted tokens and `draft_probs` `[n, V']` the rows
#: they were drawn from. False stops that request's drafting.
StepHook = Callable[[list[int], int, list[int], torch.Tensor], list[bool]]


@dataclass(frozen=True)
class DraftContext:
    """What a drafter learns about the run when it starts.

    Attributes:
        vocab: the target's vocabulary size V (proposals' `draft_probs` have V columns).
        prob_dtype: the dtype of the run's probabilities.
        device: where the run's probabilities live.
        probs: the run's logits-to-probabilities map (its temperature, top-k, top-p), returning
            `prob_dtype`.
        use_cache: whether models keep KV caches.
        batched: one padded forward for all rows ([`BatchedStreams`][specproof.engine.streams.BatchedStreams])
            instead of one per row.
    """

    vocab: int
    prob_dtype: torch.dtype
    device: torch.device
    probs: Callable[[torch.Tensor], torch.Tensor]
    use_cache: bool = True
    batched: bool = False

    def stack_rows(self, rows: Sequence[torch.Tensor], vocab: int) -> torch.Tensor:
        """A row's draft distributions stacked, `[len(rows), vocab]` (`[0, vocab]` for none).

        Args:
            rows: the distributions, one `[vocab]` tensor per draft.
            vocab: the rows' width (the empty stack's column count).
        """
        if rows:
            return torch.stack(list(rows))
        return torch.empty((0, vocab), dtype=self.prob_dtype, device=self.device)


@dataclass(frozen=True)
class DraftRequest:
    """One row's request in a round.

    Attributes:
        row: the row's index in the batch.
        sequence: the row's committed tokens, prompt included.
        k: the most drafts wanted (>= 1).
    """

    row: int
    sequence: Sequence[int]
    k: int


@dataclass(frozen=True)
class Proposal:
    """One row's drafts.

    Attributes:
        tokens: the draft tokens, in the target's vocabulary.
        draft_probs: `[len(tokens), V]`: row i is the distribution token i was drawn from, in
            the target's vocabulary and the run's dtype.
        features: numbers describing how the drafts were made (match length, ...), for traces.
    """

    tokens: tuple[int, ...]
    draft_probs: torch.Tensor
    features: Mapping[str, float] = field(default_factory=dict)


@runtime_checkable
class Drafter(Protocol):
    """Proposes each round's drafts; see the module docstring."""

    #: Draft-model forward passes so far (0 for a drafter without a model).
    forward_calls: int

    def start(self, prompts: Sequence[Sequence[int]], context: DraftContext) -> None:
        """Begin a run over `prompts` (one row each); raise `ValueError` if it cannot draft it."""
        ...

    def propose(self, requests: Sequence[DraftRequest], sample: Sampler) -> list[Proposal]:
        """One proposal per request, in order, each with at most `request.k` tokens."""
        ...

    def keep(self, row: int, length: int) -> None:
        """The round's verdict: row `row`'s first `length` tokens are committed (roll back the rest)."""
        ...


#: What token-by-token drafting gives per request: `(drafter ids, drafter rows, sampled ids)`.
DraftedRows = tuple[list[list[int]], list[list[torch.Tensor]], list[list[int]]]


class TokenByTokenDrafter:
    """The drafting loop of a model that drafts token by token from its KV caches.

    Shared by [`ModelDrafter`][specproof.engine.drafters.ModelDrafter] and the cross-vocabulary
    drafters ([`CrossVocabularyDrafter`][specproof.engine.cross_drafters.CrossVocabularyDrafter]).
    A subclass opens `_context` and `_streams` in `start`, says what the model conditions on for
    a request (`context_ids`) and, where it differs from the default, what is sampled from the
    model's rows (`choose`) and what a stepwise hook sees of them (`proposal_rows`).
    """

    forward_calls: int
    _context: DraftContext | None
    _streams: RowStreams | BatchedStreams | None

    def _started(self) -> tuple[DraftContext, RowStreams | BatchedStreams]:
        if self._context is None or self._streams is None:
            raise RuntimeError(f"{type(self).__name__}.propose called before start")
        return self._context, self._streams

    def context_ids(self, request: DraftRequest) -> list[int]:
        """The ids, in the model's vocabulary, that it conditions on for `request`."""
        raise NotImplementedError

    def feeding(self, row: int, sequence: list[int]) -> None:
        """Called before row `row`'s cache is fed up to `sequence` (default: nothing to note)."""

    def choose(self, q: torch.Tensor, sample: Sampler) -> tuple[list[int], list[int]]:
        """`(sampled ids, drafter ids)` for drafter rows `q` `[n, V_D]` (default: sample `q`)."""
        ids = [int(t) for t in sample(q).tolist()]
        return ids, ids

    def proposal_rows(self, q_own: torch.Tensor) -> torch.Tensor:
        """The rows a stepwise hook sees for drafter rows `q_own` (default: themselves)."""
        return q_own

    def draft_rows(
        self,
        requests: Sequence[DraftRequest],
        sample: Sampler,
        steps: Sequence[int] | None = None,
        keep_drafting: StepHook | None = None,
    ) -> DraftedRows:
        """Draft token by token in the drafter's vocabulary, with its KV cache.

        One batched forward and one batched sampling call per draft position.

        Args:
            requests: the rows.
            sample: the loop's sampler (`choose` decides what it is applied to).
            steps: drafter tokens per request (default each request's `k`).
            keep_drafting: asked after each position for the requests that could draft more,
                with `choose`'s ids and `proposal_rows` of their rows; False stops that request
                (None: every request drafts its `steps`).

        Returns:
            `(drafter ids, drafter rows [V_D] in the run's dtype, sampled ids)` per request; the
            sampled ids are `choose`'s first answer (target ids for TLI).
        """
        context, streams = self._started()
        limits = [r.k for r in requests] if steps is None else list(steps)
        contexts = [self.context_ids(r) for r in requests]
        drafted: list[list[int]] = [[] for _ in requests]
        rows: list[list[torch.Tensor]] = [[] for _ in requests]
        chosen: list[list[int]] = [[] for _ in requests]
        for step in range(max(limits, default=0)):
            need = [i for i, n in enumerate(limits) if n > step]
            if not need:
                break
            sequences = [contexts[i] + drafted[i] for i in need]
            logits = torch.stack(
                streams.logits([requests[i].row for i in need], sequences, [1] * len(need))
            )[:, 0]
            for i, sequence in zip(need, sequences, strict=True):
                self.feeding(requests[i].row, list(sequence))
            q = context.probs(logits)
            picks, own = self.choose(q, sample)
            for j, i in enumerate(need):
                drafted[i].append(int(own[j]))
                chosen[i].append(int(picks[j]))
                rows[i].append(q[j])
            if keep_drafting is not None:
                ask = [j for j, i in enumerate(need) if limits[i] > step + 1]
                if ask:
                    keep = keep_drafting(
                        [need[j] for j in ask],
                        step,
                        [int(picks[j]) for j in ask],
                        self.proposal_rows(q[ask]),
                    )
                    for j, go in zip(ask, keep, strict=True):
                        if not go:
                            limits[need[j]] = step + 1
        self.forward_calls = streams.calls
        return drafted, rows, chosen


class EarlyStoppingDrafter(TokenByTokenDrafter):
    """A token-by-token drafter that lets a stepwise policy stop a row after any drafted token.

    It holds the public `propose` (see the module docstring, "Stopping early"); a subclass says
    what its drafted rows become (`proposals`).
    """

    #: `propose` takes `keep_drafting` (see the module docstring).
    stops_early = True

    def propose(
        self,
        requests: Sequence[DraftRequest],
        sample: Sampler,
        keep_drafting: StepHook | None = None,
    ) -> list[Proposal]:
        """Draw up to `k` tokens per request, one batched sampling call per draft position.

        Args:
            requests: one request per row.
            sample: the loop's sampling rule.
            keep_drafting: asked after each position for the requests that could draft more;
                False stops that request (None: every request drafts its `k`).
        """
        return self.proposals(self.draft_rows(requests, sample, keep_drafting=keep_drafting))

    def proposals(self, drafted: DraftedRows) -> list[Proposal]:
        """One proposal per request from what [`draft_rows`][specproof.engine.drafters.TokenByTokenDrafter.draft_rows] drafted."""
        raise NotImplementedError


class ModelDrafter(EarlyStoppingDrafter):
    """A causal LM as the drafter: K draws, one forward each, from its KV cache per row.

    Args:
        model: a transformers causal LM.
        vocab_map: None when the model's vocabulary is the target's (same size); else, for each
            of the model's token ids, the target's id of the same token: a list or 1-D tensor of
            length V' holding distinct ids in `[0, V)`. The model samples in its own vocabulary;
            its $q$ is carried to the target's vocabulary (`q_target[map[j]] = q[j]`, zero on
            target tokens outside the map), and committed target tokens are fed back through
            the inverse map (a committed token outside the map is a `ValueError`).
    """

    #: The drafts are sampled.
    deterministic = False

    def __init__(self, model: Any, vocab_map: Sequence[int] | torch.Tensor | None = None) -> None:
        self.model = model
        self.vocab_map = (
            None if vocab_map is None else torch.as_tensor(vocab_map, dtype=torch.long).cpu()
        )
        self.forward_calls = 0
        self._streams: RowStreams | BatchedStreams | None = None
        self._context: DraftContext | None = None
        self._to_target: torch.Tensor | None = None
        self._to_draft: list[int] | None = None

    @property
    def vocab_size(self) -> int:
        """The model's output vocabulary size V'."""
        return int(self.model.get_output_embeddings().weight.shape[0])

    def start(self, prompts: Sequence[Sequence[int]], context: DraftContext) -> None:
        """Check the vocabularies, open one KV cache per row."""
        own = self.vocab_size
        if self.vocab_map is None:
            if own != context.vocab:
                raise ValueError(
                    f"draft: vocabulary size {own} differs from the target's {context.vocab} "
                    "(give ModelDrafter a vocab_map from the draft's token ids to the target's; a "
                    "drafter with another tokenizer needs --algorithm tli, union, slem or slrs)"
                )
            self._to_target = self._to_draft = None
        else:
            ids = self.vocab_map
            if ids.dim() != 1 or ids.numel() != own:
                raise ValueError(
                    f"vocab_map must hold one target id per draft token ({own}), "
                    f"got shape {tuple(ids.shape)}"
                )
            if own and (int(ids.min()) < 0 or int(ids.max()) >= context.vocab):
                raise ValueError(f"vocab_map holds an id outside the target's [0, {context.vocab})")
            if len(set(ids.tolist())) != own:
                raise ValueError("vocab_map must map distinct draft tokens to distinct target ids")
            self._to_target = ids.to(context.device)
            inverse = [-1] * context.vocab
            for draft_id, target_id in enumerate(ids.tolist()):
                inverse[target_id] = draft_id
            self._to_draft = inverse
        self._context = context
        self._streams = model_streams(self.model, len(prompts), context.use_cache, context.batched)
        self.forward_calls = 0

    def context_ids(self, request: DraftRequest) -> list[int]:
        """The request's committed tokens in the model's vocabulary (through the inverse map).

        Raises:
            ValueError: on a committed token outside the vocabulary map.
        """
        if self._to_draft is None:
            return list(request.sequence)
        ids = [self._to_draft[t] for t in request.sequence]
        if -1 in ids:
            missing = request.sequence[ids.index(-1)]
            raise ValueError(f"draft: target token {missing} has no counterpart in vocab_map")
        return ids

    def proposals(self, drafted: DraftedRows) -> list[Proposal]:
        """The drafts and their rows, carried to the target's vocabulary through the map."""
        context, _ = self._started()
        drafted_ids, rows_q, _ = drafted
        proposals = []
        for i in range(len(drafted_ids)):
            q_own = context.stack_rows(rows_q[i], self.vocab_size)
            if self._to_target is None:
                proposals.append(Proposal(tuple(drafted_ids[i]), q_own))
                continue
            q_target = torch.zeros(
                (q_own.shape[0], context.vocab), dtype=q_own.dtype, device=q_own.device
            )
            q_target[:, self._to_target] = q_own
            tokens = tuple(int(self._to_target[t]) for t in drafted_ids[i])
            proposals.append(Proposal(tokens, q_target))
        return proposals

    def keep(self, row: int, length: int) -> None:
        """Crop row `row`'s KV cache to its first `length` tokens."""
        if self._streams is not None:
            self._streams.keep(row, length)


def layer_dropped_drafter(model: Any, layers: int) -> ModelDrafter:
    """A [`ModelDrafter`][specproof.engine.drafters.ModelDrafter] of `model`'s first `layers` layers.

    Args:
        model: the target (a transformers causal LM).
        layers: how many of its transformer layers the draft keeps.

    Raises:
        ValueError: if `layers` is not in `1 ..` the model's number of layers.
    """
    from .models import drop_layers

    return ModelDrafter(drop_layers(model, layers))


def __getattr__(name: str) -> Any:
    """`NgramDrafter` and `parse_drafter`, from `specproof.engine.ngram`.

    Imported lazily, as that module imports this one.
    """
    if name in ("NgramDrafter", "parse_drafter"):
        from . import ngram

        return getattr(ngram, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
