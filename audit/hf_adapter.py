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

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .core import DEFAULT_POWER, DEFAULT_TV, Audit, Configuration, decide
from .generation import Processing, TargetLaw, greedy_configuration, sampling_configuration
from .regimes import regime_draft
from .stats import DEFAULT_ALPHA

MODES = ("same-tokenizer", "different-tokenizers", "prompt-lookup")
#: The different-tokenizer drafter's alphabet (after `<eos>`): other size, other id order.
OTHER_ALPHABET = "gfedcbaxy"
#: Prompt of the sampling configurations (repeats bigrams, so prompt lookup finds candidates).
DEFAULT_PROMPT_TEXT = "abcabca"
#: Number of prompts of the greedy configurations (random strings over the target alphabet).
GREEDY_PROMPTS = 100


def greedy_prompts(
    alphabet: str = "abcdefg", count: int = GREEDY_PROMPTS, seed: int = 0
) -> list[str]:
    """`count` distinct prompts of 1 to 6 characters of `alphabet`, drawn with a fixed seed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    prompts: list[str] = []
    while len(prompts) < count:
        text = "".join(rng.choice(list(alphabet), size=int(rng.integers(1, 7))))
        if text not in prompts:
            prompts.append(text)
    return prompts


@dataclass(frozen=True)
class HFConfiguration:
    """One transformers decoding setup.

    Attributes:
        name: e.g. `same-tokenizer/sample/top-k=3`.
        mode: one of `MODES` or `baseline`.
        do_sample: sampling (True) or greedy.
        processing: temperature, top-k, top-p, repetition penalty.
        drafter: generation-config settings of the drafter (`num_assistant_tokens`,
            `num_assistant_tokens_schedule`, `assistant_confidence_threshold`).
        generate_kwargs: extra `generate` keyword arguments (`prompt_lookup_num_tokens`, ...).
        lossy: lossy by design (a positive control).
        new_tokens: tokens whose joint law is tested, if not the audit's `max_new_tokens`
            (dynamic lookahead needs several rounds inside one call to act).
        regime: which drafter drives it (`specproof.audit.regimes.REGIMES`): `own` (the audit's drafter),
            `draft=target` (a copy of the target: acceptance near 1, so the bonus path and deep
            positions are exercised), `far-draft` (a copy of the target with negated output
            weights: rejections and the residual are exercised).
    """

    name: str
    mode: str
    do_sample: bool
    processing: Processing = field(default_factory=Processing)
    drafter: dict[str, Any] = field(default_factory=dict)
    generate_kwargs: dict[str, Any] = field(default_factory=dict)
    lossy: bool = False
    new_tokens: int | None = None
    regime: str = "own"


CONSTANT = {
    "num_assistant_tokens": 3,
    "num_assistant_tokens_schedule": "constant",
    "assistant_confidence_threshold": 0.0,
}

#: The drafter settings of the regime configurations: one draft per round.
ONE_DRAFT = {**CONSTANT, "num_assistant_tokens": 1}


def configurations(
    modes: Sequence[str] | None = None,
    do_sample: bool | None = None,
    processing: Processing | None = None,
    include_lossy: bool = False,
) -> list[HFConfiguration]:
    """The configurations to audit.

    Args:
        modes: subset of `MODES` (default all, plus the baseline).
        do_sample: only sampling (True) or only greedy (False) configurations; default both.
        processing: if given, every sampling configuration uses it (one configuration per
            drafter setting) instead of the default sweep of processors.
        include_lossy: add the `assistant_ensemble_weight=0.5` positive control.

    Raises:
        ValueError: on an unknown mode.
    """
    for mode in modes or ():
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    chosen = set(modes or MODES)
    sweep = (
        [processing]
        if processing is not None
        else [
            Processing(),
            Processing(temperature=0.7),
            Processing(top_k=3),
            Processing(top_p=0.8),
            Processing(repetition_penalty=1.5),
        ]
    )
    out: list[HFConfiguration] = []
    if modes is None:
        out += [
            HFConfiguration(f"baseline/sample/{p.label()}", "baseline", True, p) for p in sweep[:1]
        ]
    if "same-tokenizer" in chosen:
        out += [
            HFConfiguration(
                f"same-tokenizer/sample/{p.label()}", "same-tokenizer", True, p, CONSTANT
            )
            for p in sweep
        ]
        base = sweep[0]
        out.append(
            HFConfiguration(
                f"same-tokenizer/sample/{base.label()}/heuristic-schedule",
                "same-tokenizer",
                True,
                base,
                {
                    **CONSTANT,
                    "num_assistant_tokens": 1,
                    "num_assistant_tokens_schedule": "heuristic",
                },
                new_tokens=4,
            )
        )
        out.append(
            HFConfiguration(
                f"same-tokenizer/sample/{base.label()}/confidence-threshold=0.5",
                "same-tokenizer",
                True,
                base,
                {**CONSTANT, "num_assistant_tokens": 5, "assistant_confidence_threshold": 0.5},
                new_tokens=4,
            )
        )
        # Extra regimes: a draft equal to the target and a far draft, one draft per round (two
        # full rounds in 4 tokens: the joint law of 4 tokens is still tested at V = 8), on the
        # plain law and on the last processor of the sweep (a bonus row that skips processing
        # shows only after full acceptance).
        for p in dict.fromkeys([sweep[0], sweep[-1] if processing is None else sweep[0]]):
            out.append(
                HFConfiguration(
                    f"same-tokenizer/sample/{p.label()}/draft=target",
                    "same-tokenizer",
                    True,
                    p,
                    ONE_DRAFT,
                    new_tokens=2 * (ONE_DRAFT["num_assistant_tokens"] + 1),
                    regime="draft=target",
                )
            )
            out.append(
                HFConfiguration(
                    f"same-tokenizer/sample/{p.label()}/far-draft",
                    "same-tokenizer",
                    True,
                    p,
                    ONE_DRAFT,
                    new_tokens=2 * (ONE_DRAFT["num_assistant_tokens"] + 1),
                    regime="far-draft",
                )
            )
        out.append(
            HFConfiguration("same-tokenizer/greedy", "same-tokenizer", False, drafter=CONSTANT)
        )
        if include_lossy:
            out.append(
                HFConfiguration(
                    f"same-tokenizer/sample/{base.label()}/ensemble-weight=0.5 (lossy by design)",
                    "same-tokenizer",
                    True,
                    base,
                    CONSTANT,
                    {"assistant_ensemble_weight": 0.5},
                    lossy=True,
                )
            )
    if "different-tokenizers" in chosen:
        out.append(
            HFConfiguration(
                f"different-tokenizers/sample/{sweep[0].label()}",
                "different-tokenizers",
                True,
                sweep[0],
                CONSTANT,
            )
        )
        out.append(
            HFConfiguration(
                "different-tokenizers/greedy", "different-tokenizers", False, drafter=CONSTANT
            )
        )
    if "prompt-lookup" in chosen:
        out.append(
            HFConfiguration(
                f"prompt-lookup/sample/{sweep[0].label()}",
                "prompt-lookup",
                True,
                sweep[0],
                generate_kwargs={"prompt_lookup_num_tokens": 2},
            )
        )
        out.append(
            HFConfiguration(
                "prompt-lookup/greedy",
                "prompt-lookup",
                False,
                generate_kwargs={"prompt_lookup_num_tokens": 2},
            )
        )
    if do_sample is not None:
        out = [c for c in out if c.do_sample == do_sample]
    return out


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
    alpha: float = DEFAULT_ALPHA,
    tv: float = DEFAULT_TV,
    power: float = DEFAULT_POWER,
    test: str = "chi2",
    seed: int = 0,
    models: Models | None = None,
    include_lossy: bool = False,
    on_progress: Callable[[str, int], None] | None = None,
    on_configuration: Callable[[Configuration], None] | None = None,
    select: Callable[[HFConfiguration], bool] | None = None,
) -> Audit:
    """Audit the installed transformers' SD paths (see the module docstring).

    Args:
        modes: which modes (default all, plus the baseline).
        do_sample: only sampling or only greedy configurations (default both).
        processing: one processing for every sampling configuration instead of the sweep.
        n_samples: samples per sampling configuration.
        max_new_tokens: m, the number of new tokens whose joint law is tested.
        alpha: family-wise significance.
        tv: smallest TV to detect (defines `inconclusive`).
        power: power at that TV.
        test: `"chi2"` or `"g"`.
        seed: seeds of sample s are `seed + s`.
        models: preloaded models (default: the tiny trio).
        include_lossy: add the lossy-by-design positive control.
        on_progress: called with (configuration name, samples done).
        on_configuration: called with each finished configuration (before the Holm step).
        select: keep only the configurations for which this returns True.
    """
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    models = models or load_models()
    tokenizer = models.target.tokenizer
    prompt = tokenizer.encode(DEFAULT_PROMPT_TEXT, add_special_tokens=False)
    alphabet = getattr(tokenizer, "alphabet", None) or "abcdefg"
    prompts_greedy = [
        tokenizer.encode(t, add_special_tokens=False) for t in greedy_prompts(alphabet, seed=seed)
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
            fn = make_generate(models, config)
        except Exception as exc:  # noqa: BLE001 - a setup failure is the configuration's verdict
            result = Configuration(config.name, error=f"{type(exc).__name__}: {exc}")
        else:
            if config.do_sample:
                done = [0]

                def tick(name: str = config.name, done: list[int] = done) -> None:
                    done[0] += 1
                    if on_progress is not None:
                        on_progress(name, done[0])

                m = max(config.new_tokens or 0, max_new_tokens)
                result = sampling_configuration(
                    config.name, fn, law, prompt, m, n_samples, test, alpha, seed, tick
                )
                never_drafted(result, config, fn)
            else:
                result = greedy_configuration(
                    config.name, fn, law, prompts_greedy, max_new_tokens + 2
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
    return decide(results, alpha, tv, power)


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
