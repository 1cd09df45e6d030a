"""`specproof audit generate`: a generate function against a target's exact law or a baseline."""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from typing import Any

from . import exit_codes
from .audit_common import crashed, finish, isolated_function, progress_bar
from .checks import load_model_arg, writable_dir
from .exit_codes import CommandError

#: Samples of a sampling audit against the exact law when `--samples` is not given.
DEFAULT_SAMPLES = 2000


def run_generate(args: argparse.Namespace) -> int:
    """`specproof audit generate`."""
    import torch

    from specproof.audit.boundary import ImplementationCrashed
    from specproof.audit.generation import Processing

    writable_dir("--report", args.report)
    try:
        processing = Processing(args.temperature, args.top_k, args.top_p, args.repetition_penalty)
    except ValueError as exc:
        raise CommandError(str(exc), exit_codes.USAGE) from None
    target = load_model_arg("--target", args.target)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with contextlib.ExitStack() as stack:
        env = {"SPECPROOF_TARGET": args.target}
        if args.python:
            # Another interpreter gets the target as files: safetensors, config, tokenizer.
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="specproof-target-"))
            target.model.save_pretrained(folder, safe_serialization=True)
            target.tokenizer.save_pretrained(folder)
            env["SPECPROOF_TARGET_DIR"] = folder
        fn = stack.enter_context(isolated_function(args, args.function, env))
        baseline = (
            stack.enter_context(isolated_function(args, args.baseline, env))
            if args.baseline
            else None
        )
        for spec, isolated in ((args.function, fn), (args.baseline, baseline)):
            try:
                if isolated is not None:
                    isolated.start()
            except ImplementationCrashed as exc:
                return finish(crashed(spec, exc, args), args, f"Audit of {spec}")
        return _audit_generate(args, target, processing, fn, baseline)


def _audit_generate(
    args: argparse.Namespace, target: Any, processing: Any, fn: Any, baseline: Any
) -> int:
    from specproof.audit.core import decide
    from specproof.audit.generation import (
        TargetLaw,
        greedy_configuration,
        sampling_configuration,
    )
    from specproof.audit.two_sample import audit_two_sample

    prompt = target.tokenizer.encode(args.prompt, add_special_tokens=False)
    samples = args.samples or DEFAULT_SAMPLES
    with progress_bar(args, "audit generate", samples * (2 if baseline else 1)) as bar:

        def tick() -> None:
            bar.update(1)

        if baseline is not None:
            audit = audit_two_sample(
                fn,
                baseline,
                prompt,
                target.vocab_size,
                target.eos_token_id,
                args.max_new_tokens,
                args.samples,
                args.alpha,
                args.tv,
                args.power,
                args.seed,
                args.max_samples,
                args.function,
                tick,
            )
            return finish(
                audit, args, f"Two-sample audit of `{args.function}` against `{args.baseline}`"
            )
        else:
            law = TargetLaw(target.model, processing, target.eos_token_id)
            if args.greedy:
                from specproof.audit.core import deterministic_required
                from specproof.audit.greedy import greedy_prompts

                given = [prompt] + [
                    target.tokenizer.encode(args.prompt[: i + 1], add_special_tokens=False)
                    for i in range(len(args.prompt) - 1)
                ]
                prompts = greedy_prompts(given, target.vocab_size, args.seed, target.eos_token_id)
                wanted = args.samples or deterministic_required(args.tv, args.power)
                config = greedy_configuration(
                    args.function, fn, law, prompts, args.max_new_tokens, wanted
                )
            else:
                config = sampling_configuration(
                    args.function,
                    fn,
                    law,
                    prompt,
                    args.max_new_tokens,
                    samples,
                    args.test,
                    args.alpha,
                    args.seed,
                    tick,
                )
    audit = decide([config], args.alpha, args.tv, args.power)
    return finish(audit, args, f"Generation-level audit of `{args.function}` on `{args.target}`")
