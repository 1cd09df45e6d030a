"""Adapter: transformers' assisted-generation paths not covered by `specproof audit transformers`.

Runs under `.venv-findings/transformers` (transformers 5.24.0), or under
`.venv-findings/transformers@transformers-5.25` for the plans pinned to 5.25.0. Target from `SPECPROOF_TARGET_DIR`, same-tokenizer
drafter from `SPECPROOF_DRAFT_DIR`; every function calls `target.generate(...)` once, seeded
with `torch.manual_seed(seed)`, `eos_token_id = pad_token_id = 0`, `top_k=0` unless stated,
and returns the new tokens. Nothing of transformers' logic is changed.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import torch
import transformers

torch.set_num_threads(1)
_AUTO = transformers.AutoModelForCausalLM
TARGET = _AUTO.from_pretrained(os.environ["SPECPROOF_TARGET_DIR"]).float().eval()
DRAFT = _AUTO.from_pretrained(os.environ["SPECPROOF_DRAFT_DIR"]).float().eval()


def _assistant(**settings: Any) -> Any:
    assistant = copy.deepcopy(DRAFT)
    for key, value in settings.items():
        setattr(assistant.generation_config, key, value)
    return assistant


def _generate(prompt_ids: list[int], m: int, seed: int, **kwargs: Any) -> list[int]:
    torch.manual_seed(seed)
    ids = torch.tensor([prompt_ids], dtype=torch.long)
    kwargs.setdefault("top_k", 0)
    with torch.no_grad():
        out = TARGET.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=m, eos_token_id=0,
            pad_token_id=0, **kwargs,
        )
    return [int(t) for t in out[0, len(prompt_ids) :]]


HEURISTIC = _assistant(num_assistant_tokens=1, num_assistant_tokens_schedule="heuristic")
TRANSIENT = _assistant(num_assistant_tokens=1, num_assistant_tokens_schedule="heuristic_transient")
THRESHOLD = _assistant(
    num_assistant_tokens=5, num_assistant_tokens_schedule="constant",
    assistant_confidence_threshold=0.5,
)


def early_exit_greedy(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Self-speculative early exit: `assistant_early_exit=1` (the target's first layer drafts)."""
    return _generate(prompt_ids, max_new_tokens, seed, do_sample=False, assistant_early_exit=1)


def early_exit_sample(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """`assistant_early_exit=1`, sampling at temperature 1."""
    return _generate(prompt_ids, max_new_tokens, seed, do_sample=True, assistant_early_exit=1)


def heuristic_greedy(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Assisted greedy decoding with the `heuristic` lookahead schedule (starting at 1)."""
    return _generate(prompt_ids, max_new_tokens, seed, do_sample=False, assistant_model=HEURISTIC)


def transient_sample(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Assisted sampling with the `heuristic_transient` schedule (starting at 1)."""
    return _generate(prompt_ids, max_new_tokens, seed, do_sample=True, assistant_model=TRANSIENT)


def threshold_greedy(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Assisted greedy decoding, 5 drafts, `assistant_confidence_threshold=0.5`."""
    return _generate(prompt_ids, max_new_tokens, seed, do_sample=False, assistant_model=THRESHOLD)


def prompt_lookup_sample_t07_k3(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Prompt lookup (3 tokens, `max_matching_ngram_size=1`), temperature 0.7, top-k 3."""
    return _generate(
        prompt_ids, max_new_tokens, seed, do_sample=True, temperature=0.7, top_k=3,
        prompt_lookup_num_tokens=3, max_matching_ngram_size=1,
    )


def prompt_lookup_greedy_ngram1(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Prompt lookup greedy (3 tokens, `max_matching_ngram_size=1`)."""
    return _generate(
        prompt_ids, max_new_tokens, seed, do_sample=False, prompt_lookup_num_tokens=3,
        max_matching_ngram_size=1,
    )


def _other_tokenizer_drafter() -> tuple[Any, Any, Any]:
    """The target's tokenizer, a tiny drafter with another vocabulary, and that vocabulary.

    The drafter's character tokenizer (`<eos>` then `gfedcbaxy`) shares the target's `<eos>` and
    `a`-`g` under other ids and adds `x`, `y` (as `specproof audit transformers` does).
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers

    vocab = {"<eos>": 0} | {c: i + 1 for i, c in enumerate("gfedcbaxy")}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<eos>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    draft_tokenizer = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<eos>", pad_token="<eos>"
    )
    target_tokenizer = transformers.AutoTokenizer.from_pretrained(os.environ["SPECPROOF_TARGET_DIR"])
    torch.manual_seed(2)
    config = transformers.LlamaConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, eos_token_id=0, pad_token_id=0,
    )
    return target_tokenizer, transformers.LlamaForCausalLM(config).float().eval(), draft_tokenizer


TARGET_TOKENIZER, OTHER_DRAFT, OTHER_TOKENIZER = _other_tokenizer_drafter()


def uad_fresh_assistant_sample(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Universal assisted decoding, sampling, a fresh copy of the other-tokenizer drafter per call.

    A copy per call keeps the caller's drafter as it was (sampled universal assisted decoding
    rewrites its assistant in place); 2 drafts per round, constant schedule.
    """
    assistant = copy.deepcopy(OTHER_DRAFT)
    assistant.generation_config.num_assistant_tokens = 2
    assistant.generation_config.num_assistant_tokens_schedule = "constant"
    return _generate(
        prompt_ids, max_new_tokens, seed, do_sample=True, assistant_model=assistant,
        tokenizer=TARGET_TOKENIZER, assistant_tokenizer=OTHER_TOKENIZER,
    )


#: The other-tokenizer drafter with the drafter settings of `specproof audit transformers`
#: (3 drafts per round, constant schedule, `assistant_confidence_threshold=0.0`: never stop
#: drafting early). Greedy universal assisted decoding leaves its assistant as it was.
UAD_GREEDY = copy.deepcopy(OTHER_DRAFT)
UAD_GREEDY.generation_config.num_assistant_tokens = 3
UAD_GREEDY.generation_config.num_assistant_tokens_schedule = "constant"
UAD_GREEDY.generation_config.assistant_confidence_threshold = 0.0


def uad_greedy(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """Universal assisted decoding, greedy: the other-tokenizer drafter, 3 drafts per round."""
    return _generate(
        prompt_ids, max_new_tokens, seed, do_sample=False, assistant_model=UAD_GREEDY,
        tokenizer=TARGET_TOKENIZER, assistant_tokenizer=OTHER_TOKENIZER,
    )
