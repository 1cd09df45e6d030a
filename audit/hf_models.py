"""The models of the transformers audit and the generate function of one configuration.

[`load_models`][specproof.audit.hf_models.load_models] loads the target and the two drafters
(tiny random Llama models by default), [`make_generate`][specproof.audit.hf_models.make_generate]
turns a configuration into `fn(prompt_ids, max_new_tokens, seed)` calling the installed
transformers, and [`usd_mapping_probe`][specproof.audit.hf_models.usd_mapping_probe] explains a
universal-speculative-decoding verdict.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .hf_configurations import OTHER_ALPHABET, HFConfiguration
from .regimes import regime_draft


@dataclass
class Models:
    """The models an audit runs: target, same-tokenizer drafter, different-tokenizer drafter."""

    target: Any
    draft: Any
    other_draft: Any
    names: dict[str, str]


def load_models(
    target: str | None = None, draft: str | None = None, other_draft: str | None = None
) -> Models:
    """Load the models by name (see `specproof.engine.models`); default: the tiny trio."""
    from specproof.engine.models import LoadedModel, char_tokenizer, load_model, tiny_model

    if target is None:
        t = tiny_model("llama", vocab=8, seed=0, init_std=0.6)
        d = tiny_model("llama", vocab=8, seed=1, init_std=0.6)
        od_raw = tiny_model("llama", vocab=len(OTHER_ALPHABET) + 1, seed=2, init_std=0.6)
        od = LoadedModel(
            "tiny-llama:other-alphabet", od_raw.model, char_tokenizer(OTHER_ALPHABET), 0
        )
        names = {"target": "tiny-llama:vocab=8,seed=0", "draft": "tiny-llama:vocab=8,seed=1"}
        names["other_draft"] = f"tiny-llama:vocab=10,seed=2 (alphabet <eos>{OTHER_ALPHABET})"
        return Models(t, d, od, names)
    t = load_model(target)
    d = load_model(draft or f"{target}:layers=2")
    od = load_model(other_draft) if other_draft else None
    return Models(
        t,
        d,
        od,
        {"target": target, "draft": draft or f"{target}:layers=2", "other_draft": str(other_draft)},
    )


def make_generate(
    models: Models, config: HFConfiguration
) -> Callable[[list[int], int, int], list[int]]:
    """The generate function of one configuration: `fn(prompt_ids, max_new_tokens, seed)`."""
    import torch

    target = models.target
    eos = target.eos_token_id
    drafted = [0]  # forward calls of the drafter: one per drafted token (0: it never drafted)
    kwargs: dict[str, Any] = {
        "do_sample": config.do_sample,
        "eos_token_id": eos,
        "pad_token_id": eos if eos is not None else 0,
        **config.generate_kwargs,
    }
    if config.do_sample:
        p = config.processing
        kwargs |= {
            "temperature": p.temperature,
            "top_k": p.top_k or 0,
            "top_p": p.top_p if p.top_p is not None else 1.0,
        }
    kwargs["repetition_penalty"] = config.processing.repetition_penalty or 1.0
    if config.mode in ("same-tokenizer", "different-tokenizers"):
        drafter = models.draft if config.mode == "same-tokenizer" else models.other_draft
        if drafter is None:
            raise ValueError(f"configuration {config.name!r} needs a different-tokenizer drafter")
        assistant = (
            copy.deepcopy(drafter.model)
            if config.regime == "own"
            else regime_draft(models.target.model, config.regime)
        )
        for key, value in config.drafter.items():
            setattr(assistant.generation_config, key, value)
        assistant.register_forward_hook(lambda *_: drafted.__setitem__(0, drafted[0] + 1))
        kwargs["assistant_model"] = assistant
        if config.mode == "different-tokenizers":
            kwargs["tokenizer"] = target.tokenizer
            kwargs["assistant_tokenizer"] = drafter.tokenizer

    def generate(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
        torch.manual_seed(seed)
        ids = torch.tensor([prompt_ids], dtype=torch.long)
        with torch.no_grad():
            out = target.model.generate(
                ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new_tokens, **kwargs
            )
        return [int(t) for t in out[0, len(prompt_ids) :]]

    generate.drafter_calls = drafted  # type: ignore[attr-defined]
    return generate


def usd_mapping_probe(models: Models | None = None) -> dict[str, Any]:
    """Explain a universal-speculative-decoding verdict: where do the drafter's logits land?

    Takes transformers' `AssistantToTargetTranslator` for the target and the different-tokenizer
    drafter from transformers' own cache (the one `generate` used, if it ran in this process;
    otherwise a new one, built as `generate` builds it, with the pruned assistant head), then
    compares, for every row of the pruned head, the target id its logit is written to with the
    target id of the token that row scores. Returns the lists and `consistent` (whether they
    agree). Diagnostic only: the verdict is the statistical audit's.
    """
    from transformers.generation.candidate_generator import AssistantVocabTranslatorCache

    models = models or load_models()
    translator = AssistantVocabTranslatorCache.get_translator(
        models.target.tokenizer,
        models.other_draft.tokenizer,
        models.target.vocab_size,
        assistant_model=copy.deepcopy(models.other_draft.model),
        assistant_prune_lm_head=True,
    )
    if not getattr(translator, "assistant_prune_lm_head", False) or not hasattr(
        translator, "assistant_overlap_token_ids"
    ):
        return {"pruned": False, "consistent": True}
    rows = [int(a) for a in translator.assistant_overlap_token_ids.tolist()]
    to_target = translator._assistant_to_target_input_ids
    written = [int(t) for t in to_target[to_target != translator.SUPPRESS_TOKEN_ID].tolist()]
    correct = [int(to_target[a]) for a in rows]
    return {
        "pruned": True,
        "assistant_ids_of_pruned_rows": rows,
        "target_ids_written": written,
        "target_ids_correct": correct,
        "consistent": written == correct,
    }
