r"""SLRS's cost in the engine: $\psi$ over segmentations, with an explicit bound.

Mirrors [`specproof.reference.slrs`][specproof.reference.slrs]. $\psi(s)$, the drafter's
probability of producing exactly the string $s$ as a sequence of its tokens, sums over every
segmentation of $s$ into drafter tokens: up to $2^{L-1}$ for a string of length $L$.
[`psi_from_drafter`][specproof.engine.slrs.psi_from_drafter] counts the segmentations first
(dynamic programming, $O(L \cdot \ell_{max})$) and refuses, with a `ValueError`, a string with
more than `max_segmentations`; otherwise it calls the drafter once per distinct segmentation
prefix (shared prefixes are computed once).

**The SLRS sampler.** Lossless SLRS verifies against $\tilde\psi_i$, the exact law of the
proposal's $i$-th token given its first $i - 1$, not against $\psi$ (claim
`slrs_psi_verification_not_lossless`). [`proposal_law`][specproof.engine.slrs.proposal_law]
computes the proposal's law exactly, as the reference does, by enumerating every draft of
positive probability (a tree of drafter rows, one batched call per depth) and re-tokenising
each; [`conditional_rows`][specproof.engine.slrs.conditional_rows] turns it into the rows
$\tilde\psi_i$; [`SlrsDrafter`][specproof.engine.slrs.SlrsDrafter] draws the real draft along
the same tree (the loop's sampler, one uniform per drafter token) and proposes it with those
rows, and the loop verifies by standard SD ([`verify_sd`][specproof.engine.sd.verify_sd], SLRS's
registered engine form).
**The bound**: the drafts enumerated number up to $|\mathrm{supp}\, q|^K$; past `max_drafts`
(default [`MAX_DRAFTS`][specproof.engine.slrs.MAX_DRAFTS]) the drafter refuses with a
`ValueError` that names the count. On a real model that means a drafter restricted by
`--top-k` (support $k$ per row) and a small $K$, or a drafter with a small vocabulary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from specproof.reference.arguments import check_int
from specproof.reference.slrs import segmentation_count

from .cross_drafters import SlemDrafter
from .drafters import DraftRequest, Proposal, Sampler

#: The most segmentations `psi_from_drafter` evaluates before refusing.
MAX_SEGMENTATIONS = 1 << 12


def count_segmentations(text: str, string_to_id: Mapping[str, int]) -> int:
    """How many ways `text` splits into the drafter's token strings (exact, dynamic programming).

    The reference's [`segmentation_count`][specproof.reference.slrs.segmentation_count] over
    the drafter's token strings (`string_to_id`'s keys, not copied).
    """
    return segmentation_count(text, string_to_id.keys())


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


#: The most drafts `draft_tree` enumerates before refusing.
MAX_DRAFTS = 1 << 12

#: Drafter rows `[n, V_D]` after each of `n` draft prefixes (drafter ids after the context).
RowsFn = Callable[[Sequence[tuple[int, ...]]], torch.Tensor]


def draft_tree(
    rows: RowsFn, k: int, max_drafts: int = MAX_DRAFTS
) -> dict[tuple[int, ...], torch.Tensor]:
    """The drafter's row after every draft prefix of positive probability shorter than `k`.

    Args:
        rows: the drafter's rows, one call per depth.
        k: drafter tokens per round.
        max_drafts: refuse when more than this many drafts have positive probability.

    Raises:
        ValueError: past `max_drafts`, naming the count reached.
    """
    tree: dict[tuple[int, ...], torch.Tensor] = {}
    level: list[tuple[int, ...]] = [()]
    for depth in range(k):
        children: list[tuple[int, ...]] = []
        for prefix, row in zip(level, rows(level), strict=True):
            tree[prefix] = row
            children.extend((*prefix, int(t)) for t in row.nonzero().flatten().tolist())
        if len(children) > max_drafts:
            raise ValueError(
                f"SLRS: {len(children)} drafts of {depth + 1} drafter tokens have positive "
                f"probability, more than max_drafts={max_drafts}: restrict the drafter "
                "(--top-k) or lower K"
            )
        level = children
    return tree


def proposal_law(
    tree: Mapping[tuple[int, ...], torch.Tensor],
    k: int,
    propose: Callable[[tuple[int, ...]], Sequence[int]],
) -> dict[tuple[int, ...], float]:
    """The law of the proposal: every `k`-token draft of the tree, re-tokenised by `propose`.

    A draft's weight is the product of its rows' entries, each divided by its row's sum (the
    inverse-CDF rule draws from the normalised row).
    """
    law: dict[tuple[int, ...], float] = {}

    def walk(prefix: tuple[int, ...], weight: float) -> None:
        if len(prefix) == k:
            proposal = tuple(int(t) for t in propose(prefix))
            law[proposal] = law.get(proposal, 0.0) + weight
            return
        row = tree[prefix]
        total = float(row.sum())
        for token in row.nonzero().flatten().tolist():
            walk((*prefix, int(token)), weight * float(row[token]) / total)

    walk((), 1.0)
    return law


def conditional_rows(
    law: Mapping[tuple[int, ...], float], proposal: Sequence[int], vocab: int
) -> torch.Tensor:
    r"""`[len(proposal), vocab]` float64: row $i$ is $\tilde\psi_i(\cdot \mid t_{<i})$.

    As the reference's [`conditional_proposal`][specproof.reference.slrs.conditional_proposal]:
    the law of token $i$ among the proposals that start with `proposal[:i]` and go on.

    Raises:
        ValueError: if `proposal` has no positive weight in `law`.
    """
    proposal = tuple(proposal)
    if not law.get(proposal, 0.0) > 0:
        raise ValueError(f"proposal {proposal!r} has no positive weight in the proposal law")
    rows = torch.zeros((len(proposal), vocab), dtype=torch.float64)
    for i in range(len(proposal)):
        prefix = proposal[:i]
        going_on = {p: w for p, w in law.items() if p[:i] == prefix and len(p) > i and w}
        mass = sum(going_on.values())
        for p, w in going_on.items():
            rows[i, p[i]] += w / mass
    return rows


class SlrsDrafter(SlemDrafter):
    r"""SLRS: SLEM's proposal, with the rows $\tilde\psi_i$ computed exactly (see the module).

    Args:
        *args: [`SlemDrafter`][specproof.engine.cross_drafters.SlemDrafter]'s arguments
            (target, drafter, vocab_map, lookbehind, drafter_tokens).
        max_drafts: refuse a round with more drafts of positive probability.
        **kwargs: `SlemDrafter`'s arguments by name.

    Raises:
        ValueError: on bad arguments.
    """

    def __init__(self, *args: Any, max_drafts: int = MAX_DRAFTS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_drafts = check_int(max_drafts, "max_drafts")

    def rows_after(self, context_ids: Sequence[int]) -> RowsFn:
        """The drafter's rows after `context_ids` + each prefix (uncached, batched forwards)."""
        context, _ = self._started()
        device = next(self.drafter.model.parameters()).device

        def rows(prefixes: Sequence[tuple[int, ...]]) -> torch.Tensor:
            ids = torch.tensor([[*context_ids, *p] for p in prefixes], dtype=torch.long)
            out = []
            for chunk in ids.split(64):
                logits = self.drafter.model(input_ids=chunk.to(device), use_cache=False).logits
                out.append(context.probs(logits[:, -1]))
            self.forward_calls += len(prefixes)
            return torch.cat(out)

        return rows

    def propose(self, requests: Sequence[DraftRequest], sample: Sampler) -> list[Proposal]:
        """Per request: the tree, the drawn draft, the proposal (cut to `k`) and its rows."""
        context, _ = self._started()
        proposals = []
        for request in requests:
            steps = self.steps(request)
            ids = self._readings[request.row].update(request.sequence)
            tree = draft_tree(self.rows_after(list(ids)), steps, self.max_drafts)
            drafts: tuple[int, ...] = ()
            for _ in range(steps):
                drafts += (int(sample(tree[drafts][None])[0]),)

            def propose(
                d: tuple[int, ...],
                committed: Sequence[int] = request.sequence,
                cut: int = request.k,
            ) -> list[int]:
                return self.proposal(committed, d)[:cut]

            law = proposal_law(tree, steps, propose)
            tokens = propose(drafts)
            rows = conditional_rows(law, tokens, context.vocab)
            proposals.append(
                Proposal(
                    tuple(tokens),
                    rows.to(dtype=context.prob_dtype, device=context.device),
                    {"drafter_tokens": float(steps), "distinct_proposals": float(len(law))},
                )
            )
        return proposals


__all__ = [
    "MAX_DRAFTS",
    "MAX_SEGMENTATIONS",
    "SlrsDrafter",
    "conditional_rows",
    "count_segmentations",
    "draft_tree",
    "enumerate_segmentations",
    "proposal_law",
    "psi_from_drafter",
]
