r"""Generation loops for a drafter and a target with different tokenizers (TLI, union, SLEM).

Standalone loops over [`LoadedModel`][specproof.engine.models.LoadedModel]s, one sequence at a
time, without a KV cache (every forward reads the whole sequence). `specproof generate` runs
TLI, SLEM and SLRS through the main loop instead, with KV caches and batches (the drafters of
[`specproof.engine.cross_drafters`][specproof.engine.cross_drafters]); this module remains the
only generation path of the union baseline (a drafter-only draft has no target id, so it does
not fit the main loop's drafter seam) and a slow second implementation the tests compare with. Each round uses the per-round
samplers: [`tli_round`][specproof.engine.tli.tli_round],
[`union_round`][specproof.engine.union.union_round],
[`verify_slem`][specproof.engine.slem.verify_slem].

The drafter reads the committed target tokens **token by token**, as the reference does
([`read_as_drafter`][specproof.reference.heterogeneous.read_as_drafter]): a shared token is its
drafter id; a special target token the drafter lacks (Gemma's `<bos>` for SmolLM2) is skipped;
any other target token is its text encoded with the drafter's tokenizer. Randomness
comes from one `torch.Generator`, in a fixed order per round (drafter draws, then the
verification's uniforms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch

from .cross_drafters import vocab_map_for
from .kernels import inverse_cdf_with_mass
from .models import LoadedModel
from .slem import LookbehindRetokenizer, verify_slem
from .tli import draw_drafts, tli_proposal, tli_round
from .union import union_round
from .vocab_map import VocabMap

Algorithm = Literal["tli", "union", "slem"]


@dataclass
class HeteroResult:
    """What a loop produced.

    Attributes:
        tokens: the new target ids.
        rounds: target calls.
        accepted: proposed tokens accepted, summed over rounds.
        proposed: tokens proposed, summed over rounds.
    """

    tokens: list[int] = field(default_factory=list)
    rounds: int = 0
    accepted: int = 0
    proposed: int = 0


def _next_probs(model: LoadedModel, ids: list[int]) -> torch.Tensor:
    """`[len(ids), V]` float64 next-token probabilities after every prefix of `ids`."""
    with torch.no_grad():
        logits = model.model(torch.tensor([ids])).logits[0]
    return torch.softmax(logits.to(torch.float64), -1)


class _DrafterReader:
    """Target ids -> drafter ids, token by token (see the module)."""

    def __init__(self, target: LoadedModel, drafter: LoadedModel, vocab_map: VocabMap) -> None:
        self.target, self.drafter, self.map = target, drafter, vocab_map
        self.special = set(target.tokenizer.all_special_ids)

    def read(self, target_ids: list[int]) -> list[int]:
        out: list[int] = []
        for token in target_ids:
            mapped = int(self.map.target_to_draft[token]) if token < self.map.target_size else -1
            if mapped >= 0:
                out.append(mapped)
            elif token in self.special:
                continue  # a special token the drafter lacks: it does not see it
            else:
                text = self.target.tokenizer.decode([token], clean_up_tokenization_spaces=False)
                out.extend(self.drafter.tokenizer.encode(text, add_special_tokens=False))
        return out


def generate(
    algorithm: Algorithm,
    target: LoadedModel,
    drafter: LoadedModel,
    prompt: list[int],
    max_new_tokens: int,
    k: int,
    generator: torch.Generator,
    *,
    vocab_map: VocabMap | None = None,
    mode: Literal["sample", "greedy"] = "sample",
    lookbehind: int = 4,
) -> HeteroResult:
    """Generate up to `max_new_tokens` target ids after `prompt` with a heterogeneous drafter.

    Args:
        algorithm: `"tli"`, `"union"` or `"slem"`.
        target: the target model.
        drafter: the drafter model (another tokenizer).
        prompt: target ids, at least one.
        max_new_tokens: stop after this many new ids (or at the target's end-of-sequence id).
        k: drafter tokens per round.
        generator: the source of every uniform.
        vocab_map: the map (built once with `vocab_map_for` when not given).
        mode: SLEM only: `"sample"` or `"greedy"` (TLI and union sample).
        lookbehind: SLEM's look-behind window.

    Raises:
        ValueError: on an unknown algorithm, an empty prompt, bad counts, or what the round
            samplers refuse (e.g. a drafter row with no mass on the shared tokens, for TLI).
    """
    if algorithm not in ("tli", "union", "slem"):
        raise ValueError(f"algorithm must be 'tli', 'union' or 'slem', got {algorithm!r}")
    if not prompt:
        raise ValueError("prompt must hold at least one target id")
    if max_new_tokens < 0 or k < 0:
        raise ValueError(f"max_new_tokens and k must be >= 0, got {max_new_tokens} and {k}")
    vocab_map = vocab_map or vocab_map_for(target, drafter)
    reader = _DrafterReader(target, drafter, vocab_map)
    retokenizer = LookbehindRetokenizer(target.tokenizer, lookbehind)
    ids = list(prompt)
    result = HeteroResult()
    while len(result.tokens) < max_new_tokens:
        draft_context = reader.read(ids)
        drafts: list[int] = []
        draft_rows: list[torch.Tensor] = []
        for _ in range(k):
            row = _next_probs(drafter, draft_context + drafts)[-1]
            u = torch.rand(1, generator=generator, dtype=torch.float64)
            if algorithm == "tli":
                target_choice = int(draw_drafts(tli_proposal(vocab_map, row)[None], u)[0])
                drafts.append(int(vocab_map.target_to_draft[target_choice]))
            elif algorithm == "slem" and mode == "greedy":
                drafts.append(int(row.argmax()))
            else:
                drafts.append(int(inverse_cdf_with_mass(row[None], u)[0][0]))
            draft_rows.append(row)
        if algorithm == "slem":
            text = drafter.tokenizer.decode(drafts, clean_up_tokenization_spaces=False)
            proposal = retokenizer.propose(ids, text) if k else []
            probs = _next_probs(target, ids + proposal)[len(ids) - 1 :]
            target_u = torch.rand(1, len(proposal) + 1, generator=generator, dtype=torch.float64)
            verdict = verify_slem(probs[None], [proposal], target_u, mode)
            result.proposed += len(proposal)
        else:
            mapped = [int(vocab_map.draft_to_target[d]) for d in drafts]
            known = [m if m >= 0 else 0 for m in mapped]
            probs = _next_probs(target, ids + known)[len(ids) - 1 :]
            accept_u = torch.rand(1, k, generator=generator, dtype=torch.float64)
            final_u = torch.rand(1, generator=generator, dtype=torch.float64)
            rows = torch.stack(draft_rows)[None] if k else probs.new_zeros(1, 0, drafter.vocab_size)
            sampler = tli_round if algorithm == "tli" else union_round
            verdict = sampler(
                vocab_map,
                probs[None],
                rows,
                torch.tensor([drafts], dtype=torch.int64).reshape(1, k),
                accept_u,
                final_u,
            )
            result.proposed += k
        out = verdict.row(0)
        result.rounds += 1
        result.accepted += int(verdict.n_accepted[0])
        for token in out:
            if len(result.tokens) >= max_new_tokens:
                break
            result.tokens.append(token)
            ids.append(token)
            if token == target.eos_token_id:
                return result
    return result


__all__ = ["Algorithm", "HeteroResult", "generate", "vocab_map_for"]
