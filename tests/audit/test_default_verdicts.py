"""The generation-level commands' defaults (`--samples`, `--tv`) are large enough for a verdict.

`specproof audit generate MODULE:FUNCTION` (tiny-llama, prompt `abca`) must end `consistent`
on a correct implementation and `not-lossless` on a broken one at its defaults, not
`inconclusive`. The implementation here samples the target's exact law directly (fast, and
correct by construction), so the test checks the sample size, not a sampler: at the default
samples and TV, the plan (`needed`) must be covered for 2 and for 4 output tokens (two full
rounds at one draft per round). False-failure rate: alpha = 1e-6 per audit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from specproof.audit.generation import Processing, TargetLaw, audit_generate
from specproof.cli import audit as cli_audit
from specproof.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def law():
    from specproof.engine.models import load_model

    target = load_model("tiny-llama")
    return target, TargetLaw(target.model, Processing(), target.eos_token_id)


def _sampler(law, broken: bool):
    cache: dict[tuple[int, ...], np.ndarray] = {}

    def probs(sequence):
        key = tuple(sequence)
        if key not in cache:
            row = law.next_probs(list(sequence))
            cache[key] = row / row.sum()
        return cache[key]

    def generate(prompt_ids, max_new_tokens, seed):
        rng = np.random.default_rng(seed + 1)
        sequence, out = list(prompt_ids), []
        for t in range(max_new_tokens):
            # The broken one draws every token after the first from the prompt's law: it
            # ignores the tokens it generated (a lost prefix, as after a bad cache rollback).
            row = probs(prompt_ids if broken and t > 0 else sequence)
            token = int(rng.choice(row.size, p=row))
            out.append(token)
            sequence.append(token)
            if token == law.eos_token_id:
                break
        return out

    return generate


def _defaults(*argv: str):
    return build_parser().parse_args(["audit", *argv])


@pytest.mark.parametrize("max_new_tokens", [2, 4])
def test_audit_generate_defaults_reach_a_verdict(law, max_new_tokens):
    target, target_law = law
    args = _defaults("generate", "m:f")
    # --samples is unset in the parser (its default depends on the mode): the plain-sampling
    # default is GENERATE_SAMPLES.
    assert (args.samples, args.tv) == (None, cli_audit.GENERATION_TV)
    prompt = target.tokenizer.encode(args.prompt, add_special_tokens=False)
    run = {
        "n_samples": cli_audit.GENERATE_SAMPLES,
        "tv": args.tv,
        "alpha": args.alpha,
        "power": args.power,
    }
    good = audit_generate(_sampler(target_law, False), target_law, prompt, max_new_tokens, **run)
    assert good.verdict == "consistent", good.configurations[0].uncovered
    bad = audit_generate(_sampler(target_law, True), target_law, prompt, max_new_tokens, **run)
    assert bad.verdict == "not-lossless"


def test_too_few_samples_stay_inconclusive_on_the_same_run(law):
    """Negative control: the check above can fail (the old default, 2,000 at TV 0.05, could)."""
    target, target_law = law
    prompt = target.tokenizer.encode("abca", add_special_tokens=False)
    audit = audit_generate(_sampler(target_law, False), target_law, prompt, 2, 2000, tv=0.05)
    assert audit.verdict == "inconclusive"


def test_audit_transformers_defaults_cover_the_committed_plan():
    """The committed audit's `needed` (at TV 0.1) fits in the default samples per configuration."""
    args = _defaults("transformers")
    assert (args.samples, args.tv) == (cli_audit.TRANSFORMERS_SAMPLES, cli_audit.GENERATION_TV)
    data = json.loads((ROOT / "bench" / "results" / "audit_transformers.json").read_text())
    assert f"power 0.99 at TV = {args.tv:g}" in data["description"]
    (tab,) = data["tables"]
    rows = [dict(zip(tab["columns"], row, strict=True)) for row in tab["rows"]]
    sampled = [r for r in rows if "/sample/" in r["configuration"]]
    assert sampled and max(r["needed"] for r in sampled) <= args.samples


def test_the_sampler_level_keeps_its_planned_default():
    assert _defaults("sampler", "m:f").tv == cli_audit.SAMPLER_TV == 0.05


def test_an_inconclusive_audit_says_what_to_rerun_and_that_rerun_reaches_a_verdict(law):
    """Too few samples: `inconclusive` with a suggested `--samples`; rerunning the same correct
    sampler at that count is `consistent` (false failure <= alpha = 1e-6)."""
    from specproof.cli.audit_common import rerun_hint

    target, target_law = law
    prompt = target.tokenizer.encode("abca", add_special_tokens=False)
    few = audit_generate(_sampler(target_law, False), target_law, prompt, 2, 500, tv=0.1)
    assert few.verdict == "inconclusive"
    (config,) = few.configurations
    suggested = config.suggested_samples
    assert suggested is not None and suggested >= config.n_required > 500
    assert f"--samples {suggested}" in rerun_hint(few)
    again = audit_generate(_sampler(target_law, False), target_law, prompt, 2, suggested, tv=0.1)
    assert again.verdict == "consistent", again.configurations[0].uncovered
    assert again.configurations[0].suggested_samples is None


def test_no_sample_count_is_suggested_when_samples_cannot_help(law):
    """Negative control: a configuration that must not be `consistent` whatever its samples
    (e.g. it never drafted) gets no suggestion, and the hint says so."""
    from specproof.audit.core import decide
    from specproof.cli.audit_common import rerun_hint

    target, target_law = law
    prompt = target.tokenizer.encode("abca", add_special_tokens=False)
    audit = audit_generate(_sampler(target_law, False), target_law, prompt, 2, 500, tv=0.1)
    (config,) = audit.configurations
    config.not_consistent_because = "the generation never drafted a token"
    again = decide([config], audit.alpha, audit.tv, audit.power)
    assert again.configurations[0].suggested_samples is None
    assert "more samples alone will not" in rerun_hint(again)
