"""Adapter: dejavuu's retrieval-based speculative decoding (`dejavuu.core.engine.generate`).

Runs under `.venv-findings/dejavuu`. The target is loaded from `SPECPROOF_TARGET_DIR` through
the library's own transformers backend (`dejavuu.decoders.hf.HFBackend`, CPU); drafters come
from its registry (`dejavuu.drafters.make_drafter`), one fresh instance per call; sampling
uses its `Sampler` (a draw per absolute position, seeded by `(seed, position)`) with the
audit's seed. End of sequence: the target's id 0. The adapter changes nothing else.
"""

from __future__ import annotations

import os

from dejavuu.core import engine
from dejavuu.core.sampling import Sampler
from dejavuu.decoders.hf import HFBackend
from dejavuu.drafters import make_drafter

_EOS = 0
MODEL = HFBackend(model_id=os.environ["SPECPROOF_TARGET_DIR"], device="cpu")


def _run(prompt: list[int], m: int, method: str, sampler: Sampler | None, **kw: object) -> list[int]:
    res = engine.generate(
        MODEL, list(prompt), m, drafter=make_drafter(method), budget=4, eos=_EOS,
        sampler=sampler, **kw,  # type: ignore[arg-type]
    )
    return [int(t) for t in res.tokens[:m]]


def greedy_pld(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Greedy, prompt-lookup drafter (`pld`), chain verification."""
    return _run(prompt_ids, max_new_tokens, "pld", None)


def greedy_token_recycling_tree(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Greedy, token-recycling drafter, tree verification (`tree=True`)."""
    return _run(prompt_ids, max_new_tokens, "token_recycling", None, tree=True)


def greedy_suffix(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Greedy, suffix-decoding drafter."""
    return _run(prompt_ids, max_new_tokens, "suffix_decoding", None)


def sample_pld(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Sampling (`Sampler(temperature=1.0, seed=seed)`), prompt-lookup drafter."""
    return _run(prompt_ids, max_new_tokens, "pld", Sampler(temperature=1.0, seed=seed))


def sample_token_recycling_tree(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Sampling at temperature 0.7, top-p 0.8, token-recycling drafter, tree verification."""
    sampler = Sampler(temperature=0.7, top_p=0.8, seed=seed)
    return _run(prompt_ids, max_new_tokens, "token_recycling", sampler, tree=True)


def greedy_loose_top2(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Greedy with `accept_top_k=2` (documented as lossy: accepts drafts in the target's top 2)."""
    return _run(prompt_ids, max_new_tokens, "pld", None, accept_top_k=2)
