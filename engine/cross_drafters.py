r"""Drafters whose model has another tokenizer than the target (TLI, SLEM; SLRS builds on them).

They plug into the generation loop's drafter seam
([`Drafter`][specproof.engine.drafters.Drafter]), so `specproof generate --algorithm tli|slem|slrs`
runs the one loop of [`specproof.engine.generate`][specproof.engine.generate] with the target's
KV cache, batches and traces, and verifies with the algorithm's registered engine form:

- [`TliDrafter`][specproof.engine.cross_drafters.TliDrafter]: each draft is drawn from the TLI
  proposal $q_I$ ([`tli_proposal`][specproof.engine.tli.tli_proposal]) over the target's
  vocabulary, and verified by standard SD against it;
- [`SlemDrafter`][specproof.engine.cross_drafters.SlemDrafter]: $K$ drafter tokens of its own,
  their text re-tokenised for the target with a look-behind window
  ([`LookbehindRetokenizer`][specproof.engine.slem.LookbehindRetokenizer]); each proposed
  token's row is one-hot (the proposal is a function of the drafter's draws and the committed
  tokens) and exact-match verification never reads it. Under `algorithm="greedy"` (the loop's
  sampler then takes the argmax) this is greedy SLEM, whose output is the target's greedy
  decoding. A proposal longer than the round's $K$ is cut to $K$ target tokens (the loop
  verifies at most $K$), which changes the speed, never the law.

**How the drafter reads the target's tokens** (as the reference's
[`read_as_drafter`][specproof.reference.heterogeneous.read_as_drafter] and Hugging Face's
universal assisted decoding): token by token; a shared token is its drafter id; a special
target token the drafter lacks (Gemma's `<bos>` for SmolLM2) is skipped; any other target token
is its text encoded with the drafter's tokenizer. If the drafter's tokenizer starts every
encoding with its own beginning-of-sequence token, the reading starts with it too.

**Bad input.** Vocabularies that share no token string are refused (`ValueError` from
[`VocabMap.from_strings`][specproof.engine.vocab_map.VocabMap.from_strings]); a special token
matches only a special token of the same string. A target token whose text the drafter's
tokenizer cannot express is read as that tokenizer encodes it (byte fallback, or its unknown
token): this only changes what the drafter conditions on, never the output law, which every
algorithm takes from the target (tested in `tests/engine/test_cross_drafters.py`). Likewise
draft text the target's tokenizer cannot express is proposed as that tokenizer encodes it
(SLEM, SLRS), which only changes the proposal, and a drafter-only token is never accepted
(union: the target gives it probability 0; TLI never drafts it).

**KV cache.** Each row has its own drafter cache (or one padded cache for all rows, as the
loop's `batch_forwards` asks). The reading of the committed tokens is extended token by token;
before drafting, the cache is cropped to the longest common prefix of what it holds and the new
reading (for TLI that keeps the accepted drafts, which are shared tokens; for SLEM it keeps the
committed context), so each forward feeds only what is new.

**Stopping early.** `TliDrafter` asks a stepwise lookahead policy's hook after each drafted
position (`stops_early`), with the drafted target ids and their $q_I$ rows, so a round that a
policy stops costs only the forwards it drafted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .drafters import (
    DraftContext,
    DraftedRows,
    DraftRequest,
    EarlyStoppingDrafter,
    Proposal,
    Sampler,
    TokenByTokenDrafter,
)
from .models import LoadedModel
from .slem import LookbehindRetokenizer
from .streams import BatchedStreams, RowStreams, model_streams
from .tli import tli_proposal
from .vocab_map import VocabMap, token_strings


def vocab_map_for(target: LoadedModel, drafter: LoadedModel) -> VocabMap:
    """The vocabulary map of two loaded models, sized to their output rows.

    Ids past a tokenizer's length (padding rows of the output layer) have no string.

    Raises:
        ValueError: on an empty intersection.
    """
    target_strings = token_strings(target.tokenizer)
    draft_strings = token_strings(drafter.tokenizer)
    target_strings += [None] * (target.vocab_size - len(target_strings))
    draft_strings += [None] * (drafter.vocab_size - len(draft_strings))
    return VocabMap.from_strings(
        target_strings[: target.vocab_size],
        draft_strings[: drafter.vocab_size],
        target_special=set(target.tokenizer.all_special_ids),
        draft_special=set(drafter.tokenizer.all_special_ids),
    )


def _leading_bos(tokenizer: Any) -> int | None:
    """The drafter tokenizer's beginning-of-sequence id if its encodings start with it."""
    bos = getattr(tokenizer, "bos_token_id", None)
    if bos is None:
        return None
    try:
        ids = tokenizer("a")["input_ids"]
    except Exception:  # an in-memory tokenizer without a call form adds nothing
        return None
    return int(bos) if ids and int(ids[0]) == int(bos) else None


class DrafterReader:
    """Target ids -> drafter ids, token by token (see the module).

    Args:
        target: the target (its tokenizer decodes the tokens the drafter lacks).
        drafter: the drafter.
        vocab_map: the map between their vocabularies.
    """

    def __init__(self, target: LoadedModel, drafter: LoadedModel, vocab_map: VocabMap) -> None:
        self.target_tokenizer = target.tokenizer
        self.drafter_tokenizer = drafter.tokenizer
        self.to_draft = vocab_map.target_to_draft.tolist()
        self.special = set(target.tokenizer.all_special_ids)
        self.bos = _leading_bos(drafter.tokenizer)

    def token(self, token: int) -> list[int]:
        """The drafter ids one target id reads as (possibly none)."""
        mapped = self.to_draft[token] if 0 <= token < len(self.to_draft) else -1
        if mapped >= 0:
            return [mapped]
        if token in self.special:
            return []  # a special token the drafter lacks: it does not see it
        text = self.target_tokenizer.decode([token], clean_up_tokenization_spaces=False)
        return list(self.drafter_tokenizer.encode(text, add_special_tokens=False))

    def read(self, target_ids: Sequence[int]) -> list[int]:
        """The drafter ids of a whole target sequence."""
        out = [] if self.bos is None else [self.bos]
        for token in target_ids:
            out.extend(self.token(int(token)))
        return out


class _RowReading:
    """One row's reading: the target ids read so far and the drafter ids they became."""

    def __init__(self, reader: DrafterReader) -> None:
        self.reader = reader
        self.target: list[int] = []
        self.ids: list[int] = [] if reader.bos is None else [reader.bos]
        self.lengths: list[int] = []  # drafter ids after each target id

    def update(self, sequence: Sequence[int]) -> list[int]:
        """Read `sequence` (re-reading from where it leaves the ids read so far)."""
        common = 0
        limit = min(len(self.target), len(sequence))
        while common < limit and self.target[common] == sequence[common]:
            common += 1
        if common < len(self.target):
            start = self.lengths[common - 1] if common else (0 if self.reader.bos is None else 1)
            del self.target[common:], self.lengths[common:], self.ids[start:]
        for token in sequence[common:]:
            self.target.append(int(token))
            self.ids.extend(self.reader.token(int(token)))
            self.lengths.append(len(self.ids))
        return self.ids


class CrossVocabularyDrafter(TokenByTokenDrafter):
    """The shared part of the cross-vocabulary drafters: reading, caches, drafting rows.

    Args:
        target: the target model and tokenizer.
        drafter: the drafter model and tokenizer (another vocabulary).
        vocab_map: the map (built once with `vocab_map_for` when not given).

    Raises:
        ValueError: on an empty intersection of the vocabularies.
    """

    def __init__(
        self, target: LoadedModel, drafter: LoadedModel, vocab_map: VocabMap | None = None
    ) -> None:
        self.target = target
        self.drafter = drafter
        self.vocab_map = vocab_map if vocab_map is not None else vocab_map_for(target, drafter)
        self.reader = DrafterReader(target, drafter, self.vocab_map)
        self.forward_calls = 0
        self._context: DraftContext | None = None
        self._streams: RowStreams | BatchedStreams | None = None
        self._readings: list[_RowReading] = []
        self._fed: list[list[int]] = []

    @property
    def target_model(self) -> Any:
        """The model `generate` must be given as its target (the target's own model here)."""
        return self.target.model

    @property
    def loop_vocab(self) -> int:
        """The vocabulary size the loop must run over (the target's)."""
        return self.vocab_map.target_size

    def start(self, prompts: Sequence[Sequence[int]], context: DraftContext) -> None:
        """Check the loop's vocabulary size; open the drafter's caches; read the prompts."""
        if context.vocab != self.loop_vocab:
            raise ValueError(
                f"draft: this drafter proposes over {self.loop_vocab} ids, the target model has "
                f"{context.vocab}: give generate the drafter's target_model as the target"
            )
        self._context = context
        self._streams = model_streams(
            self.drafter.model, len(prompts), context.use_cache, context.batched
        )
        self._readings = [_RowReading(self.reader) for _ in prompts]
        self._fed = [[] for _ in prompts]
        self.forward_calls = 0
        for b, prompt in enumerate(prompts):
            if not self._readings[b].update(prompt):
                raise ValueError(
                    f"prompts[{b}]: the drafter reads nothing of it (only special tokens it "
                    "lacks); start the prompt with some text"
                )

    def context_ids(self, request: DraftRequest) -> list[int]:
        """The drafter ids of the request's committed tokens; crops the row's cache to match."""
        _, streams = self._started()
        ids = self._readings[request.row].update(request.sequence)
        fed = self._fed[request.row]
        common = 0
        limit = min(len(fed), len(ids))
        while common < limit and fed[common] == ids[common]:
            common += 1
        if common == len(ids):
            # Nothing new to feed (the last committed token read as no drafter id): re-feed the
            # last id, so that the forward has a position to give logits at.
            common -= 1
        streams.keep(request.row, common)
        del fed[common:]
        return list(ids)

    def feeding(self, row: int, sequence: list[int]) -> None:
        """Record what row `row`'s cache holds (`context_ids` crops it to the next reading)."""
        self._fed[row] = sequence

    def keep(self, row: int, length: int) -> None:
        """Nothing now: the next `propose` crops the cache to what the new reading shares."""


class TliDrafter(CrossVocabularyDrafter, EarlyStoppingDrafter):
    """TLI: drafts drawn from $q_I$ over the target's vocabulary (see the module)."""

    def choose(self, q: torch.Tensor, sample: Sampler) -> tuple[list[int], list[int]]:
        """Sample target ids from the TLI proposal; their drafter ids are fed back."""
        targets = [int(t) for t in sample(tli_proposal(self.vocab_map, q)).tolist()]
        to_draft = self.vocab_map.target_to_draft
        return targets, [int(to_draft[t]) for t in targets]

    def proposal_rows(self, q_own: torch.Tensor) -> torch.Tensor:
        """The rows the drafts are verified against: $q_I$ over the target's vocabulary."""
        return tli_proposal(self.vocab_map, q_own)

    def proposals(self, drafted: DraftedRows) -> list[Proposal]:
        """The drafts as target ids, each with its proposal row $q_I$ over the target's vocabulary."""
        _, rows, chosen = drafted
        return [
            Proposal(tuple(chosen[i]), self.proposal_rows(torch.stack(rows[i])))
            for i in range(len(chosen))
        ]


class SlemDrafter(CrossVocabularyDrafter):
    """SLEM: drafter text re-tokenised for the target, one-hot rows (see the module).

    Args:
        target: the target model and tokenizer.
        drafter: the drafter model and tokenizer.
        vocab_map: the map (built when not given; SLEM uses it only to read the context).
        lookbehind: committed target ids re-encoded with each draft text (>= 0).
        drafter_tokens: drafter tokens per round (default: the round's K, which also caps the
            target tokens proposed).

    Raises:
        ValueError: on a negative `lookbehind`, a `drafter_tokens` below 1, or an empty
            intersection.
    """

    def __init__(
        self,
        target: LoadedModel,
        drafter: LoadedModel,
        vocab_map: VocabMap | None = None,
        lookbehind: int = 4,
        drafter_tokens: int | None = None,
    ) -> None:
        super().__init__(target, drafter, vocab_map)
        self.retokenizer = LookbehindRetokenizer(target.tokenizer, lookbehind)
        if drafter_tokens is not None and (
            isinstance(drafter_tokens, bool)
            or not isinstance(drafter_tokens, int)
            or drafter_tokens < 1
        ):
            raise ValueError(f"drafter_tokens must be None or an int >= 1, got {drafter_tokens!r}")
        self.drafter_tokens = drafter_tokens

    def steps(self, request: DraftRequest) -> int:
        """Drafter tokens drawn for `request`."""
        return request.k if self.drafter_tokens is None else self.drafter_tokens

    def proposal(self, committed: Sequence[int], drafts: Sequence[int]) -> list[int]:
        """The target ids proposed for drafter ids `drafts` after the committed target ids."""
        if not drafts:
            return []
        text = self.drafter.tokenizer.decode(list(drafts), clean_up_tokenization_spaces=False)
        return self.retokenizer.propose(committed, text)

    def propose(self, requests: Sequence[DraftRequest], sample: Sampler) -> list[Proposal]:
        """`k` drafter tokens per request, re-tokenised; cut to `k` target ids; one-hot rows."""
        context, _ = self._started()
        drafted, _, _ = self.draft_rows(requests, sample, [self.steps(r) for r in requests])
        proposals = []
        for request, drafts in zip(requests, drafted, strict=True):
            tokens = self.proposal(request.sequence, drafts)[: request.k]
            rows = torch.zeros(
                (len(tokens), context.vocab), dtype=context.prob_dtype, device=context.device
            )
            if tokens:
                rows[torch.arange(len(tokens)), torch.tensor(tokens)] = 1
            proposals.append(Proposal(tuple(tokens), rows, {"drafter_tokens": float(len(drafts))}))
        return proposals


__all__ = [
    "CrossVocabularyDrafter",
    "DrafterReader",
    "SlemDrafter",
    "TliDrafter",
    "vocab_map_for",
]
