r"""The built-in adapter: audit Hugging Face transformers' speculative decoding paths.

Every configuration below calls `target.generate(...)` of the installed transformers version,
one prompt, `max_new_tokens = m`, seeded by `torch.manual_seed(seed)`, batch size 1 (the only
size assisted generation supports), and compares the new tokens with the target's exact law
under the same logits processing ([`TargetLaw`][specproof.audit.target_law.TargetLaw],
float64). Sampling configurations get a chi-square verdict; greedy ones are compared token by
token with the float64 argmax path on several prompts.

Modes and what transformers does in each (read from transformers 5.x `generation/utils.py` and
`generation/candidate_generator.py`):

- `same-tokenizer`: `generate(assistant_model=draft)`. With sampling and drafter logits,
  rejection sampling (`_speculative_sampling`: accept while `u <= p/q`, residual `(p - q)+`
  normalised, bonus from `p`); greedy: keep drafts while they equal the target's argmax.
  The drafter samples with the target's processors. Covered: temperature, top-k, top-p,
  repetition penalty, the constant lookahead, the `heuristic` schedule (+2 after a fully
  accepted round, -1 otherwise), and `assistant_confidence_threshold` (drafting stops when
  the drafter's probability of its token falls below it).
- `different-tokenizers`: `generate(assistant_model=draft, tokenizer=..., assistant_tokenizer=...)`
  with a drafter whose vocabulary differs (another size, another order of ids). Greedy: the
  universal assisted generation path (drafts re-tokenized through text); sampling: universal
  speculative decoding (the drafter's head restricted to the vocabulary intersection and mapped
  to target ids, then rejection sampling).
- `prompt-lookup`: `generate(prompt_lookup_num_tokens=k)`: n-gram drafts from the prompt, no
  drafter logits, so sampling takes the sample-and-match path.
- `baseline`: plain `generate(do_sample=True)` without drafts; it checks the auditor's own
  reference law (if it failed, the auditor would be wrong, not transformers).

`assistant_ensemble_weight` (DIVERSE static ensemble verification) is lossy by design;
`include_lossy=True` adds it as a positive control that must be flagged.

Models: by default tiny random Llama models from [`specproof.engine.models`][] (target: vocabulary
8, `<eos>` + `abcdefg`; same-tokenizer drafter: another seed; different-tokenizer drafter:
vocabulary 10, `<eos>` + `gfedcbaxy`, so shared strings have different ids). Real models on
request (`target="smollm2"`, drafters by name); for large vocabularies the first-token marginal
and conditional second-token laws are tested.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Unpack

from .collect import progress_ticker
from .core import Audit, Configuration, decide
from .generation import Processing, TargetLaw, greedy_configuration, sampling_configuration
from .hf_configurations import (
    CONSTANT,
    DEFAULT_PROMPT_TEXT,
    GREEDY_PROMPTS,
    MODES,
    ONE_DRAFT,
    OTHER_ALPHABET,
    HFConfiguration,
    configurations,
    greedy_prompts,
)
from .hf_models import Models, load_models, make_generate, usd_mapping_probe
from .settings import Statistics, with_defaults

__all__ = [
    "CONSTANT",
    "DEFAULT_PROMPT_TEXT",
    "GREEDY_PROMPTS",
    "MODES",
    "ONE_DRAFT",
    "OTHER_ALPHABET",
    "HFConfiguration",
    "Models",
    "audit_transformers",
    "configurations",
    "greedy_prompts",
    "load_models",
    "make_generate",
    "never_drafted",
    "usd_mapping_probe",
]


def never_drafted(result: Configuration, config: HFConfiguration, fn: Any) -> None:
    """Record the drafter's forward calls; a drafter that was never called cannot be `consistent`."""
    if config.mode not in ("same-tokenizer", "different-tokenizers"):
        return
    calls = int(getattr(fn, "drafter_calls", [0])[0])
    result.details["drafter_forward_calls"] = calls
    if calls == 0 and result.error is None:
        result.not_consistent_because = (
            "the generation never drafted a token: its tokens say nothing about verification"
        )


def audit_transformers(
    modes: Sequence[str] | None = None,
    do_sample: bool | None = None,
    processing: Processing | None = None,
    n_samples: int = 2000,
    max_new_tokens: int = 2,
    models: Models | None = None,
    include_lossy: bool = False,
    on_progress: Callable[[str, int], None] | None = None,
    on_configuration: Callable[[Configuration], None] | None = None,
    select: Callable[[HFConfiguration], bool] | None = None,
    make_fn: Callable[[Models, HFConfiguration], Any] = make_generate,
    **statistics: Unpack[Statistics],
) -> Audit:
    """Audit the installed transformers' SD paths (see the module docstring).

    `seed` also picks the greedy configurations' prompts.

    Args:
        modes: which modes (default all, plus the baseline).
        do_sample: only sampling or only greedy configurations (default both).
        processing: one processing for every sampling configuration instead of the sweep.
        n_samples: samples per sampling configuration.
        max_new_tokens: m, the number of new tokens whose joint law is tested.
        models: preloaded models (default: the tiny trio).
        include_lossy: add the lossy-by-design positive control.
        on_progress: called with (configuration name, samples done).
        on_configuration: called with each finished configuration (before the Holm step).
        select: keep only the configurations for which this returns True.
        make_fn: builds each configuration's generate function: in this process by default
            ([`make_generate`][specproof.audit.hf_models.make_generate]), or behind the process
            boundary with [`hf_isolated.isolated`][specproof.audit.hf_isolated.isolated] (then
            anything transformers does ends as a `crashed` configuration with the reason).
            A function with a `close()` is closed after its configuration.
        **statistics: `alpha`, `tv`, `power`, `test` and `seed`
            ([`Statistics`][specproof.audit.settings.Statistics]).

    Raises:
        TypeError: on an unknown keyword.
    """
    plan = with_defaults("audit_transformers", statistics)
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    models = models or load_models()
    tokenizer = models.target.tokenizer
    prompt = tokenizer.encode(DEFAULT_PROMPT_TEXT, add_special_tokens=False)
    alphabet = getattr(tokenizer, "alphabet", None) or "abcdefg"
    prompts_greedy = [
        tokenizer.encode(t, add_special_tokens=False)
        for t in greedy_prompts(alphabet, seed=plan["seed"])
    ]
    laws: dict[Processing, TargetLaw] = {}
    results: list[Configuration] = []
    for config in configurations(modes, do_sample, processing, include_lossy):
        if select is not None and not select(config):
            continue
        if config.processing not in laws:
            laws[config.processing] = TargetLaw(
                models.target.model, config.processing, models.target.eos_token_id
            )
        law = laws[config.processing]
        try:
            fn = make_fn(models, config)
        except Exception as exc:  # noqa: BLE001 - a setup failure is the configuration's verdict
            result = Configuration(config.name, error=f"{type(exc).__name__}: {exc}")
        else:
            with contextlib.closing(fn) if hasattr(fn, "close") else contextlib.nullcontext():
                result = _run(
                    config,
                    fn,
                    law,
                    prompt,
                    prompts_greedy,
                    max_new_tokens,
                    n_samples,
                    plan,
                    on_progress,
                )
        result.details |= {
            "mode": config.mode,
            "lossy_by_design": config.lossy,
            "regime": config.regime,
            "drafter": config.drafter,
            "generate_kwargs": config.generate_kwargs,
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "models": models.names,
        }
        if on_configuration is not None:
            on_configuration(result)
        results.append(result)
    return decide(results, plan["alpha"], plan["tv"], plan["power"])


def _run(
    config: HFConfiguration,
    fn: Any,
    law: TargetLaw,
    prompt: list[int],
    prompts_greedy: list[list[int]],
    max_new_tokens: int,
    n_samples: int,
    plan: Statistics,
    on_progress: Callable[[str, int], None] | None,
) -> Configuration:
    """One configuration's audit with its generate function `fn`."""
    if not config.do_sample:
        return greedy_configuration(config.name, fn, law, prompts_greedy, max_new_tokens + 2)
    m = max(config.new_tokens or 0, max_new_tokens)
    result = sampling_configuration(
        config.name,
        fn,
        law,
        prompt,
        m,
        n_samples,
        plan["test"],
        plan["alpha"],
        plan["seed"],
        progress_ticker(on_progress, config.name),
    )
    never_drafted(result, config, fn)
    return result
