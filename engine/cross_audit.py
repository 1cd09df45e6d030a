r"""The cross-vocabulary algorithms as generate functions the auditor can call.

`specproof audit generate specproof.engine.cross_audit:tli --target T --draft D` audits TLI
(likewise `union`, `slem`, `slrs`, and `slem_greedy` with `--greedy`) with a drafter of
another tokenizer: the exact law is the target's, so the auditor needs nothing from the drafter; it passes the drafter's name to the
function in the environment variable `SPECPROOF_DRAFT` (the target's in `SPECPROOF_TARGET`), or,
under the drafting regimes that `--draft` turns on, each regime's draft as a model folder in
`SPECPROOF_DRAFT_DIR`.
Each is an [`AuditedAlgorithm`][specproof.engine.cross_audit.AuditedAlgorithm], a callable with
the audited signature `fn(prompt_ids, max_new_tokens, seed) -> new ids` that
samples at temperature 1 in float32 with $K = 2$, and loads its models once per process.

`tli_unnormalised` is the negative control: TLI drafts from $q_I = q / q(I)$ but verifies as
if it had drafted from the uniform distribution on $I$ (a distribution, as the engine's checks
require, but not the one the drafts come from): it accepts nearly every draft the target gives
more than $1 / |I|$, so its output leans towards the drafter's law, and the audit must reject it.
(Its first form verified against $q$ on $I$ without renormalising; the engine now refuses such
rows outright.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

import torch

from .cross_drafters import CrossVocabularyDrafter, SlemDrafter, TliDrafter, vocab_map_for
from .generate import generate
from .models import LoadedModel, load_model
from .slrs import SlrsDrafter
from .union import UnionDrafter
from .vocab_map import VocabMap

#: Drafter tokens per round of the audited functions.
K = 2


@cache
def _models() -> tuple[LoadedModel, LoadedModel]:
    # Under drafting regimes the auditor hands each regime's draft over as a folder.
    draft = os.environ.get("SPECPROOF_DRAFT_DIR") or os.environ.get("SPECPROOF_DRAFT")
    names = [os.environ.get("SPECPROOF_TARGET_DIR") or os.environ.get("SPECPROOF_TARGET"), draft]
    if not names[0] or not names[1]:
        raise ValueError(
            "SPECPROOF_TARGET and SPECPROOF_DRAFT (or SPECPROOF_DRAFT_DIR) must name the models "
            "(specproof audit generate ... --target T --draft D sets them)"
        )
    return load_model(names[0]), load_model(names[1])


@cache
def _vocab_map() -> VocabMap:
    return vocab_map_for(*_models())


class _UnnormalisedTliDrafter(TliDrafter):
    """The negative control: drafts from $q_I$, verifies as if it had drafted uniformly on $I$."""

    def proposal_rows(self, q_own: torch.Tensor) -> torch.Tensor:
        rows = q_own.new_zeros((q_own.shape[0], self.vocab_map.target_size))
        target_ids = self.vocab_map.target_ids.to(q_own.device)
        rows[:, target_ids] = 1.0 / target_ids.numel()
        return rows


@dataclass(frozen=True)
class AuditedAlgorithm:
    """One cross-vocabulary algorithm as a generate function in the audited signature.

    Calling it generates with the drafter named by `SPECPROOF_DRAFT` (see the module).

    Attributes:
        drafter_class: the drafter, built as `drafter_class(target, drafter model, vocab map)`.
        algorithm: the `generate` algorithm name it verifies with.
    """

    drafter_class: type[CrossVocabularyDrafter]
    algorithm: str

    def __call__(self, prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
        """The new token ids after `prompt_ids` (at most `max_new_tokens`, sampled from `seed`).

        Args:
            prompt_ids: the prompt's target token ids.
            max_new_tokens: how many tokens to generate at most.
            seed: the sampling seed.
        """
        target, drafter_model = _models()
        drafter = self.drafter_class(target, drafter_model, _vocab_map())
        result = generate(
            drafter.target_model,
            drafter,
            [list(prompt_ids)],
            algorithm=self.algorithm,
            k=K,
            max_new_tokens=max_new_tokens,
            seed=seed,
            eos_token_id=target.eos_token_id,
        )
        return result.tokens[0]


tli = AuditedAlgorithm(TliDrafter, "tli")
"""TLI with the drafter named by `SPECPROOF_DRAFT`."""
union = AuditedAlgorithm(UnionDrafter, "union")
"""The union baseline with the drafter named by `SPECPROOF_DRAFT`."""
slem = AuditedAlgorithm(SlemDrafter, "slem")
"""Sampled SLEM with the drafter named by `SPECPROOF_DRAFT`."""
slrs = AuditedAlgorithm(SlrsDrafter, "slrs")
"""SLRS with the drafter named by `SPECPROOF_DRAFT`."""
slem_greedy = AuditedAlgorithm(SlemDrafter, "greedy")
"""Greedy SLEM (audit with `--greedy`): must be the target's greedy decoding."""
tli_unnormalised = AuditedAlgorithm(_UnnormalisedTliDrafter, "tli")
"""The negative control (see the module): must fail the audit."""


__all__ = [
    "K",
    "AuditedAlgorithm",
    "slem",
    "slem_greedy",
    "slrs",
    "tli",
    "tli_unnormalised",
    "union",
]
