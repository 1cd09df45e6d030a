"""`specproof audit generate`: a generate function against a target's exact law or a baseline.

The function is called in a child process (the process boundary) under either calling
convention of `specproof.audit.collect`: `fn(prompt_ids, max_new_tokens, seed)` or
`fn(request)`, where the request carries the target (`--target`: a specproof model name or a
local model folder), the draft of the drafting regime, the sampling settings and `--batch-size`.
With `--draft` (or `--regimes`) the function is audited under several drafts, one configuration
and one child process per regime (`SPECPROOF_DRAFT_DIR` and `SPECPROOF_REGIME` in its
environment, `request.draft_model` and `request.regime` in its requests).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from pathlib import Path
from typing import Any

from . import exit_codes
from .audit_common import (
    MAX_NEW_TOKENS,
    crashed,
    finish,
    function_spec,
    isolated_function,
    positive_int,
    progress_bar,
)
from .checks import load_model_arg, non_empty, writable_dir
from .exit_codes import CommandError
from .flags import add_integer

#: Samples of a sampling audit against the exact law when `--samples` is not given: on
#: tiny-llama, 3,000 cover the plan at the default TV (0.1) for 2 to 4 output tokens (1,994 to
#: 2,837 needed), so a default run reaches a verdict (tests/audit/test_default_verdicts.py).
DEFAULT_SAMPLES = 3000
#: Tokens per round assumed under `--draft`/`--regimes` when `--tokens-per-round` is not given.
DEFAULT_TOKENS_PER_ROUND = 2
#: Largest `--batch-size`.
MAX_BATCH = 4096


def regimes_arg(text: str) -> list[str]:
    """An argparse type: a comma-separated list of drafting regimes."""
    from specproof.audit.regimes import REGIMES

    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in REGIMES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"--regimes must list regimes among {', '.join(REGIMES)}, got {text!r}"
        )
    return list(dict.fromkeys(names))


def add_generate_arguments(p: Any) -> None:
    """The arguments of `audit generate` other than the shared ones."""
    p.add_argument("function", metavar="MODULE:FUNCTION", type=function_spec)
    p.add_argument(
        "--target",
        default="tiny-llama",
        help="target model: a specproof model name or a local model folder (safetensors)",
    )
    p.add_argument(
        "--prompt",
        type=non_empty("--prompt"),
        default="abca",
        help="prompt text (encoded with the target's tokenizer)",
    )
    add_integer(
        p,
        "--max-new-tokens",
        1,
        MAX_NEW_TOKENS,
        f"m: tokens whose law is tested, 1..{MAX_NEW_TOKENS} (default 2; with "
        "--tokens-per-round or drafting regimes: two full rounds, 2 x tokens per round)",
    )
    p.add_argument(
        "--samples",
        type=positive_int,
        help=(
            f"samples (default {DEFAULT_SAMPLES}; with --baseline: planned per arm for --power at --tv; "
            "with --greedy: prompts, planned for --power at --tv, 44 at the defaults)"
        ),
    )
    p.add_argument(
        "--max-samples",
        type=positive_int,
        default=200_000,
        help="cap on planned samples (default 200000)",
    )
    p.add_argument("--greedy", action="store_true", help="the function decodes greedily")
    p.add_argument(
        "--baseline",
        metavar="MODULE:FUNCTION",
        type=function_spec,
        help="two-sample mode: compare with this plain sampler instead of the exact law",
    )
    add_integer(
        p,
        "--batch-size",
        1,
        MAX_BATCH,
        "rows per call, each audited as a sample (needs a function taking a request)",
        default=1,
    )
    p.add_argument(
        "--draft",
        help="your draft model (name or folder): audit under the drafting regimes own, "
        "draft=target and far-draft",
    )
    p.add_argument(
        "--regimes",
        type=regimes_arg,
        metavar="LIST",
        help="drafting regimes to run, comma-separated (default with --draft: all three)",
    )
    add_integer(
        p,
        "--tokens-per-round",
        1,
        MAX_NEW_TOKENS // 2,
        "at most how many tokens one round emits (K + 1); sets the default "
        "--max-new-tokens to two full rounds",
    )


def _settings(args: argparse.Namespace) -> tuple[list[str], int]:
    """The regimes to run ([] for none) and m, or a usage error."""
    regimes = list(
        args.regimes or ([] if args.draft is None else ["own", "draft=target", "far-draft"])
    )
    if "own" in regimes and args.draft is None:
        raise CommandError("--regimes: the regime 'own' needs --draft", exit_codes.USAGE)
    if regimes and (args.baseline or args.greedy):
        raise CommandError(
            "--draft/--regimes: drafting regimes are audited against the exact law "
            "(not with --baseline or --greedy)",
            exit_codes.USAGE,
        )
    per_round = args.tokens_per_round or (DEFAULT_TOKENS_PER_ROUND if regimes else None)
    m = args.max_new_tokens or (2 * per_round if per_round else 2)
    return regimes, m


def _is_folder(name: str) -> bool:
    return Path(name).expanduser().is_dir()


def _save(stack: contextlib.ExitStack, model: Any, tokenizer: Any, prefix: str) -> str:
    """Save a model and tokenizer as files in a temporary folder (removed at the end)."""
    folder = stack.enter_context(tempfile.TemporaryDirectory(prefix=prefix))
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


def run_generate(args: argparse.Namespace) -> int:
    """`specproof audit generate`."""
    import torch

    from specproof.audit.boundary import ImplementationCrashed
    from specproof.audit.generation import Processing
    from specproof.audit.request import GenerationRequest

    writable_dir("--report", args.report)
    try:
        processing = Processing(args.temperature, args.top_k, args.top_p, args.repetition_penalty)
    except ValueError as exc:
        raise CommandError(str(exc), exit_codes.USAGE) from None
    regimes, m = _settings(args)
    target = load_model_arg("--target", args.target)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    with contextlib.ExitStack() as stack:
        env = {"SPECPROOF_TARGET": args.target}
        template = GenerationRequest([], m, 0, batch_size=args.batch_size, target=args.target)
        if _is_folder(args.target):
            template = template.replace(target_dir=str(Path(args.target).expanduser().resolve()))
        elif args.python:
            # Another interpreter gets the target as files: safetensors, config, tokenizer.
            folder = _save(stack, target.model, target.tokenizer, "specproof-target-")
            template = template.replace(target_dir=folder)
        if template.target_dir is not None:
            env["SPECPROOF_TARGET_DIR"] = template.target_dir
        runs = _regime_runs(args, stack, target, regimes, template, env)
        functions = []
        for regime, request, run_env in runs:
            fn = stack.enter_context(isolated_function(args, args.function, run_env))
            functions.append((regime, request, fn))
        baseline = (
            stack.enter_context(isolated_function(args, args.baseline, env))
            if args.baseline
            else None
        )
        for spec, isolated in [(args.function, f) for _, _, f in functions] + [
            (args.baseline, baseline)
        ]:
            try:
                if isolated is not None:
                    isolated.start()
            except ImplementationCrashed as exc:
                return finish(crashed(spec, exc, args), args, f"Audit of {spec}")
        if args.batch_size > 1 and any(
            f.info.get("convention") != "request" for _, _, f in functions
        ):
            raise CommandError(
                "--batch-size: batched calls need a function that takes one GenerationRequest "
                "(fn(request)); this one takes (prompt_ids, max_new_tokens, seed)",
                exit_codes.USAGE,
            )
        return _audit_generate(args, target, processing, functions, baseline, m)


def _regime_runs(
    args: argparse.Namespace,
    stack: contextlib.ExitStack,
    target: Any,
    regimes: list[str],
    template: Any,
    env: dict[str, str],
) -> list[tuple[str | None, Any, dict[str, str]]]:
    """`(regime, request template, environment)` per audited run (one run without regimes)."""
    if not regimes:
        return [(None, template, env)]
    from specproof.audit.regimes import regime_draft

    runs: list[tuple[str | None, Any, dict[str, str]]] = []
    for regime in regimes:
        if regime == "own":
            if _is_folder(args.draft):
                folder = str(Path(args.draft).expanduser().resolve())
            else:
                own = load_model_arg("--draft", args.draft)
                folder = _save(stack, own.model, own.tokenizer, "specproof-draft-")
            name = args.draft
        else:
            folder = _save(
                stack, regime_draft(target.model, regime), target.tokenizer, "specproof-draft-"
            )
            name = None
        request = template.replace(draft=name, draft_dir=folder, regime=regime)
        runs.append(
            (regime, request, {**env, "SPECPROOF_DRAFT_DIR": folder, "SPECPROOF_REGIME": regime})
        )
    return runs


def _audit_generate(
    args: argparse.Namespace,
    target: Any,
    processing: Any,
    functions: list[tuple[str | None, Any, Any]],
    baseline: Any,
    m: int,
) -> int:
    from specproof.audit.core import decide
    from specproof.audit.generation import (
        TargetLaw,
        greedy_configuration,
        processed_request,
        sampling_configuration,
    )
    from specproof.audit.two_sample import audit_two_sample

    prompt = target.tokenizer.encode(args.prompt, add_special_tokens=False)
    samples = args.samples or DEFAULT_SAMPLES
    total = samples * (2 if baseline else len(functions))
    title = f"Generation-level audit of `{args.function}` on `{args.target}`"
    with progress_bar(args, "audit generate", total) as bar:

        def tick() -> None:
            bar.update(1)

        (regime, request, fn) = functions[0]
        if baseline is not None:
            audit = audit_two_sample(
                fn,
                baseline,
                prompt,
                target.vocab_size,
                target.eos_token_id,
                m,
                args.samples,
                args.alpha,
                args.tv,
                args.power,
                args.seed,
                args.max_samples,
                args.function,
                tick,
                processed_request(request, processing, target.eos_token_id),
            )
            return finish(
                audit, args, f"Two-sample audit of `{args.function}` against `{args.baseline}`"
            )
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
            configs = [greedy_configuration(args.function, fn, law, prompts, m, wanted, request)]
        else:
            configs = []
            for regime, request, fn in functions:
                name = args.function if regime is None else f"{args.function} regime {regime}"
                config = sampling_configuration(
                    name,
                    fn,
                    law,
                    prompt,
                    m,
                    samples,
                    args.test,
                    args.alpha,
                    args.seed,
                    tick,
                    request,
                )
                if regime is not None:
                    config.details["regime"] = regime
                configs.append(config)
    audit = decide(configs, args.alpha, args.tv, args.power)
    return finish(audit, args, title)
