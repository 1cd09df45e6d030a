"""Run one catalogue configuration through the auditor's public interface.

The auditor stays in the project's environment; the adapter (`bench/findings/adapters/<impl>.py`)
runs under the implementation's own interpreter, `.venv-findings/<impl>/bin/python`, behind
the auditor's process boundary ([`IsolatedFunction`][specproof.audit.boundary.IsolatedFunction],
the mechanism of `specproof audit ... --python`). The tiny target and drafter are saved as
files (`model.safetensors`, `config.json`, tokenizer) and named to the adapter by the
environment variables `SPECPROOF_TARGET_DIR` and `SPECPROOF_DRAFT_DIR`, exactly as
`specproof audit generate --python` does for the target.

Levels: `greedy` ([`greedy_configuration`][specproof.audit.generation.greedy_configuration] on
100 prompts against the float64 argmax path), `generation`
([`sampling_configuration`][specproof.audit.generation.sampling_configuration] against the
exact law of the first `m` tokens), `sampler`
([`audit_sampler`][specproof.audit.sampler.audit_sampler]).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ALPHA = 1e-6
ADAPTERS = Path(__file__).resolve().parent / "adapters"
#: The targets a plan can name: the hf_adapter's tiny target (vocabulary 8, hidden 16) and a
#: wider-vocabulary one (vocabulary 16, hidden 8) for libraries that need V >= hidden size.
TARGETS = ("tiny-llama:vocab=8,seed=0", "tiny-llama:vocab=16,hidden=8,seed=0")


@dataclass(frozen=True)
class Plan:
    """One configuration of one implementation.

    Attributes:
        name: short configuration name (unique per implementation; `--only NAME`).
        function: the adapter's `MODULE:FUNCTION` (imported from `bench/findings/adapters`).
        path: the library's module and function that the adapter drives.
        configuration: the settings, in words.
        level: `greedy`, `generation` or `sampler`.
        temperature: the sampling temperature the adapter uses (generation level).
        top_k: the top-k the adapter uses (generation level), or None.
        top_p: the top-p the adapter uses (generation level), or None.
        m: new tokens per call (generation and greedy levels).
        samples: samples (generation level) or the sampler level's `n_samples` (None: planned).
        tv: the smallest TV the verdict must detect (defines `inconclusive`).
        seed: the audit's seed.
        lossy_by_design: the library documents this mode as lossy.
        notes: what the reader should know about this configuration.
        diagnosis: attached when the verdict is `not-lossless` or `crashed`.
        reproducer: attached with the diagnosis (a path under `bench/findings/repro/`).
        call_timeout: seconds one call may take.
        target_weights: an adapter `MODULE:FUNCTION` returning `(parameter name, array)` pairs, the
            weights the library's own target pass computes with (e.g. a quantised verify
            pass); the auditor then recomputes the law of the target model with those weights
            loaded, in float64. None: the saved target is the library's target as it is.
        env: which of the implementation's environments runs the adapter (`default`, or the
            name of another pinned environment).
        target: which of `TARGETS` is the target.
    """

    name: str
    function: str
    path: str
    configuration: str
    level: str
    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    m: int = 4
    samples: int | None = 2000
    tv: float = 0.1
    seed: int = 0
    lossy_by_design: bool = False
    notes: str = ""
    diagnosis: str | None = None
    reproducer: str | None = None
    call_timeout: float = 120.0
    target_weights: str | None = None
    env: str = "default"
    target: str = TARGETS[0]


@dataclass(frozen=True)
class Finding:
    """A configuration that was not audited: no auditable path, or the library did not run.

    Attributes:
        name: short name.
        path: what was examined.
        configuration: in words.
        verdict: `no auditable path` or `not run`.
        notes: what was seen, or precisely what stopped the audit.
    """

    name: str
    path: str
    configuration: str
    verdict: str
    notes: str


@dataclass(frozen=True)
class Implementation:
    """One audited package.

    Attributes:
        package: its name on the package index.
        version: the version audited (pinned in `install`).
        summary: what it offers and what the audit found (Markdown, one paragraph).
        install: `pip install` argument strings for its own environment (empty: nothing to
            install, only findings that need no environment).
        items: the configurations ([`Plan`][]) and findings without an audit ([`Finding`][]).
        envs: further environments (`name -> install`), e.g. another transformers release.
        lend_base: the environment sees the project's `.venv` packages behind its own.
    """

    package: str
    version: str
    summary: str
    install: list[str]
    items: list[Plan | Finding]
    envs: dict[str, list[str]] = field(default_factory=dict)
    lend_base: bool = True


@dataclass
class Models:
    """The saved tiny models and their in-process copies.

    Attributes:
        folder: where they are saved (`<folder>/<index of the target>`, `<folder>/draft`).
        targets: the loaded targets, by name (`TARGETS`).
        draft: the same-tokenizer drafter of the first target.
    """

    folder: Path
    targets: dict[str, Any]
    draft: Any

    def env(self, target: str) -> dict[str, str]:
        """The adapter's environment variables when `target` is the target."""
        return {
            "SPECPROOF_TARGET_DIR": str(self.folder / str(TARGETS.index(target))),
            "SPECPROOF_DRAFT_DIR": str(self.folder / "draft"),
            "SPECPROOF_TARGET": target,
        }


def save_models(folder: Path) -> Models:
    """The tiny targets and the drafter, saved as files (safetensors, config, tokenizer).

    Their weights are rounded to float16 first (still float32 models): a library that keeps
    float16 copies of the weights (csaq-quant's verify pass) then computes the target exactly.
    """
    import torch

    from specproof.audit.hf_adapter import load_models
    from specproof.engine.models import tiny_model

    torch.set_num_threads(1)
    trio = load_models()
    wide = tiny_model("llama", vocab=16, hidden=8, heads=2, seed=0, init_std=0.6)
    saved = {"0": trio.target, "1": wide, "draft": trio.draft}
    with torch.no_grad():
        for loaded in saved.values():
            for param in loaded.model.parameters():
                param.copy_(param.to(torch.float16).to(param.dtype))
    for role, loaded in saved.items():
        loaded.model.generation_config.pad_token_id = 0
        loaded.model.save_pretrained(folder / role, safe_serialization=True)
        loaded.tokenizer.save_pretrained(folder / role)
    return Models(folder, {TARGETS[0]: trio.target, TARGETS[1]: wide}, trio.draft)


def run_plan(plan: Plan, python: str, models: Models) -> dict[str, Any]:
    """Audit one configuration; returns the measured part of its catalogue record."""
    from specproof.audit.boundary import ImplementationCrashed, IsolatedFunction
    from specproof.audit.core import decide
    from specproof.audit.generation import (
        Processing,
        TargetLaw,
        greedy_configuration,
        sampling_configuration,
    )
    from specproof.audit.hf_adapter import greedy_prompts
    from specproof.audit.sampler import audit_sampler

    start = time.perf_counter()
    fn = IsolatedFunction(
        plan.function,
        python=python,
        import_dir=str(ADAPTERS),
        call_timeout=plan.call_timeout,
        env=models.env(plan.target),
    )
    target = models.targets[plan.target]
    reference_model = target.model
    if plan.target_weights is not None:
        reference_model = _with_weights(
            target.model, plan.target_weights, python, models.env(plan.target)
        )
    with fn:
        try:
            fn.start()
        except ImplementationCrashed as exc:
            return {
                "verdict": "crashed",
                "tv_bound": None,
                "samples": 0,
                "seconds": time.perf_counter() - start,
                "error": f"import: {exc}",
            }
        if plan.level == "sampler":
            audit = audit_sampler(fn, n_samples=plan.samples, alpha=ALPHA, tv=plan.tv, seed=plan.seed)
        else:
            processing = (
                Processing()
                if plan.level == "greedy"
                else Processing(plan.temperature, plan.top_k, plan.top_p, None)
            )
            law = TargetLaw(reference_model, processing, target.eos_token_id)
            if plan.level == "greedy":
                prompts = [
                    target.tokenizer.encode(text, add_special_tokens=False)
                    for text in greedy_prompts()
                ]
                config = greedy_configuration(plan.name, fn, law, prompts, plan.m)
            else:
                prompt = target.tokenizer.encode("abcabca", add_special_tokens=False)
                config = sampling_configuration(
                    plan.name, fn, law, prompt, plan.m, plan.samples or 2000, seed=plan.seed
                )
            audit = decide([config], ALPHA, plan.tv)
    configs = audit.configurations
    bounds = [c.to_json()["tv_upper"] for c in configs]
    errors = [c.error for c in configs if c.error]
    return {
        "verdict": audit.verdict,
        "summary": " ".join(_summary(c) for c in configs),
        "tv_bound": None if any(b is None for b in bounds) else max(bounds),
        "samples": sum(c.n_samples for c in configs),
        "seconds": time.perf_counter() - start,
        "error": errors[0] if errors else None,
        "details": [c.to_json() for c in configs],
    }


def _summary(config: Any) -> str:
    """What a reader needs beyond the verdict: mismatches (greedy) or the observed TV."""
    details = config.details or {}
    if config.error:
        return ""
    if "mismatches" in details:
        text = (
            f"{details['mismatches']} of {config.n_samples} prompts differ from the target's "
            f"float64 greedy path ({details.get('skipped_near_ties', 0)} near-tie prompts "
            "skipped)."
        )
        for example in details.get("examples", [])[:1]:
            text += (
                f" E.g. prompt {list(example['prompt'])}: expected {list(example['expected'])}, "
                f"got {list(example['got'])}."
            )
        return text
    j = config.to_json()
    if j.get("tv_hat") is None:
        return ""
    text = f"Observed TV {j['tv_hat']:.3f}; p (Holm) {config.p_adjusted:.3g}."
    if config.uncovered:
        text += " Uncovered: " + "; ".join(config.uncovered)
    return text


def _with_weights(model: Any, spec: str, python: str, env: dict[str, str]) -> Any:
    """A copy of `model` with the weights the adapter function `spec` returns (names must match)."""
    import copy

    import torch

    from specproof.audit.boundary import IsolatedFunction

    with IsolatedFunction(spec, python=python, import_dir=str(ADAPTERS), env=env) as fn:
        weights = {str(name): value for name, value in fn()}
    out = copy.deepcopy(model)
    params = dict(out.named_parameters())
    unknown = sorted(set(weights) - set(params))
    if unknown:
        raise ValueError(f"{spec} returned weights the target does not have: {unknown}")
    with torch.no_grad():
        for name, value in weights.items():
            params[name].copy_(torch.from_numpy(value).to(params[name].dtype))
    return out
