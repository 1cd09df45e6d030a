"""`specproof audit`: calibrated losslessness verdicts for SD implementations.

Subcommands:

- `sampler MODULE:FUNCTION`: a verify function `fn(target_probs, draft_probs, draft_tokens, rng)`
  against standard SD's exact law on generated cases;
- `generate MODULE:FUNCTION`: a generate function `fn(prompt_ids, max_new_tokens, seed)` against
  the exact law of a target model (`--target`), or against a plain sampler (`--baseline`);
- `transformers`: the installed transformers' assisted generation, universal assisted decoding
  and prompt lookup, one verdict per configuration;
- `controls`: the built-in negative controls (each must be flagged), the correct sampler and
  three lossless rules whose round laws are not standard SD's (each must be `consistent`).

`sampler` and `generate` run the audited function in a child process (the process boundary of
`specproof.audit.boundary`): its exits, signals, prints, hangs (`--call-timeout`) and memory
(`--memory-limit`) end as a `crashed` verdict with the reason; `--python` runs it under another
interpreter (e.g. a virtual environment pinned to another transformers release).

Exit codes: 0 consistent, 1 not-lossless, 2 crashed, 3 inconclusive; failures of the command
itself use the codes of docs/reference/exit-codes.md (64 bad usage, ...), never a verdict's.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from typing import Any

from . import exit_codes
from .checks import (
    integer,
    interpreter,
    load_model_arg,
    non_empty,
    number,
    seed,
    writable_dir,
)
from .exit_codes import CommandError
from .output import format_table, print_json, progress

EXIT_CODES = {
    "consistent": exit_codes.OK,
    "not-lossless": exit_codes.FAILED,
    "crashed": exit_codes.CRASHED,
    "inconclusive": exit_codes.INCONCLUSIVE,
}
#: Largest sample count a flag accepts (beyond it an audit would run for days).
MAX_SAMPLES = 10_000_000
#: Largest --max-new-tokens (the exact law is enumerated prefix by prefix).
MAX_NEW_TOKENS = 64


def positive_int(text: str) -> int:
    """An argparse type: an int in [1, MAX_SAMPLES]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if not 1 <= value <= MAX_SAMPLES:
        raise argparse.ArgumentTypeError(f"expected an integer in [1, {MAX_SAMPLES}], got {value}")
    return value


def function_spec(text: str) -> str:
    """An argparse type: `MODULE:FUNCTION` (imported later, in the audited process)."""
    module_name, sep, attr = text.partition(":")
    names = [*module_name.split("."), *attr.split(".")]
    if not sep or not all(n.isidentifier() for n in names):
        raise argparse.ArgumentTypeError(f"expected MODULE:FUNCTION, got {text!r}")
    return text


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--alpha",
        type=number("--alpha", 1e-15, 0.5, high_open=True),
        default=1e-6,
        help="family-wise significance in [1e-15, 0.5) (default 1e-6)",
    )
    parser.add_argument(
        "--tv",
        type=number("--tv", 1e-3, 1, high_open=True),
        default=0.05,
        help="smallest TV the audit must detect, in [0.001, 1) (default 0.05)",
    )
    parser.add_argument(
        "--power",
        type=number("--power", 0.5, 0.999999),
        default=0.99,
        help="power at that TV, in [0.5, 0.999999] (default 0.99)",
    )
    parser.add_argument(
        "--test", choices=["chi2", "g"], default="chi2", help="chi-square or G-test"
    )
    parser.add_argument("--seed", type=seed(), default=0, help="seed of drafts and samplers")
    parser.add_argument("--json", action="store_true", help="print the audit as JSON")
    parser.add_argument("--report", metavar="DIR", help="write DIR/report.md and plots of failures")


def _add_processors(p: Any, temperature: float | None) -> None:
    """The logits-processor flags shared by `generate` and `transformers`."""
    p.add_argument(
        "--temperature",
        type=number("--temperature", 0.01, 100),
        default=temperature,
        help="in [0.01, 100]",
    )
    p.add_argument("--top-k", type=integer("--top-k", 1, 2**31 - 1), help=">= 1")
    p.add_argument("--top-p", type=number("--top-p", 0, 1, low_open=True), help="in (0, 1]")
    p.add_argument(
        "--repetition-penalty",
        type=number("--repetition-penalty", 0.01, 100),
        help="in [0.01, 100]",
    )


def _add_boundary(p: Any) -> None:
    """The process-boundary flags of `sampler` and `generate`."""
    from specproof.audit.boundary import (
        DEFAULT_CALL_TIMEOUT,
        DEFAULT_MEMORY_BYTES,
        DEFAULT_START_TIMEOUT,
    )

    p.add_argument(
        "--call-timeout",
        type=number("--call-timeout", 0, 86400, low_open=True),
        default=DEFAULT_CALL_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit of one call of the function (default {DEFAULT_CALL_TIMEOUT:g} s)",
    )
    p.add_argument(
        "--import-timeout",
        type=number("--import-timeout", 0, 86400, low_open=True),
        default=DEFAULT_START_TIMEOUT,
        metavar="SECONDS",
        help=f"time limit for importing the module (default {DEFAULT_START_TIMEOUT:g} s)",
    )
    p.add_argument(
        "--memory-limit",
        type=integer("--memory-limit", 0, 1 << 24),
        default=DEFAULT_MEMORY_BYTES >> 20,
        metavar="MIB",
        help=f"data-size limit of the audited process (default {DEFAULT_MEMORY_BYTES >> 20}; 0: none)",
    )
    p.add_argument(
        "--python",
        type=interpreter,
        metavar="PATH",
        help="run the function under this Python interpreter (default: this one)",
    )


def add_parser(subparsers: Any) -> None:
    """Add the `audit` subcommand and its own subcommands."""
    parser = subparsers.add_parser(
        "audit",
        help="audit an SD implementation for losslessness (calibrated statistical verdict)",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="audit_command", metavar="LEVEL", required=True)

    p = sub.add_parser("sampler", help="audit a verify function on generated (p, q) cases")
    p.add_argument("function", metavar="MODULE:FUNCTION", type=function_spec)
    p.add_argument("--algorithm", choices=["sd", "exact_match"], default="sd", help="reference law")
    p.add_argument(
        "--samples", type=positive_int, help="samples per case (default: planned for --power)"
    )
    p.add_argument(
        "--max-samples",
        type=positive_int,
        default=1_000_000,
        help="cap on planned samples per case",
    )
    _add_boundary(p)
    _common(p)
    p.set_defaults(handler=run_sampler)

    p = sub.add_parser("generate", help="audit a generate function against a target's exact law")
    p.add_argument("function", metavar="MODULE:FUNCTION", type=function_spec)
    p.add_argument(
        "--target", default="tiny-llama", help="target model name (specproof.engine.models)"
    )
    p.add_argument(
        "--draft",
        metavar="MODEL",
        help="a drafter the function may use, any tokenizer (passed as $SPECPROOF_DRAFT; the "
        "law tested is the target's either way)",
    )
    p.add_argument(
        "--prompt",
        type=non_empty("--prompt"),
        default="abca",
        help="prompt text (encoded with the target's tokenizer)",
    )
    p.add_argument(
        "--max-new-tokens",
        type=integer("--max-new-tokens", 1, MAX_NEW_TOKENS),
        default=2,
        help=f"m: tokens whose law is tested, 1..{MAX_NEW_TOKENS}",
    )
    p.add_argument("--samples", type=positive_int, default=2000, help="samples (default 2000)")
    p.add_argument("--greedy", action="store_true", help="the function decodes greedily")
    _add_processors(p, temperature=1.0)
    p.add_argument(
        "--baseline",
        metavar="MODULE:FUNCTION",
        type=function_spec,
        help="two-sample mode: compare with this plain sampler instead of the exact law",
    )
    _add_boundary(p)
    _common(p)
    p.set_defaults(handler=run_generate)

    p = sub.add_parser("transformers", help="audit the installed transformers' SD paths")
    p.add_argument(
        "--mode",
        choices=["same-tokenizer", "different-tokenizers", "prompt-lookup"],
        action="append",
        help="configurations of this mode only (repeatable; default: every configuration)",
    )
    group = p.add_mutually_exclusive_group()
    group.add_argument("--do-sample", dest="do_sample", action="store_true", default=None)
    group.add_argument("--greedy", dest="do_sample", action="store_false")
    _add_processors(p, temperature=None)
    p.add_argument(
        "--samples", type=positive_int, default=2000, help="samples per sampling configuration"
    )
    p.add_argument(
        "--max-new-tokens",
        type=integer("--max-new-tokens", 1, MAX_NEW_TOKENS),
        default=2,
        help=f"m: tokens whose joint law is tested, 1..{MAX_NEW_TOKENS}",
    )
    p.add_argument("--target", help="target model name (default: tiny random Llama models)")
    p.add_argument("--draft", help="same-tokenizer drafter name (default: TARGET:layers=2)")
    p.add_argument("--other-draft", help="different-tokenizer drafter name")
    p.add_argument(
        "--include-lossy",
        action="store_true",
        help="add assistant_ensemble_weight=0.5 (lossy by design: a positive control)",
    )
    _common(p)
    p.set_defaults(handler=run_transformers)

    p = sub.add_parser(
        "controls",
        help="run the controls: broken samplers must be flagged, lossless ones consistent",
    )
    p.add_argument(
        "--samples", type=positive_int, default=4000, help="samples per case (default 4000)"
    )
    _common(p)
    p.set_defaults(handler=run_controls)


def _crashed(name: str, exc: BaseException, args: argparse.Namespace) -> Any:
    from specproof.audit.boundary import ImplementationCrashed
    from specproof.audit.core import Configuration, decide

    reason = str(exc) if isinstance(exc, ImplementationCrashed) else f"{type(exc).__name__}: {exc}"
    config = Configuration(name=name, error=reason)
    return decide([config], args.alpha, args.tv, args.power)


def _finish(audit: Any, args: argparse.Namespace, title: str) -> int:
    from specproof.audit.report import HEADERS, has_matplotlib, table_rows, write_report

    if args.report:
        if not has_matplotlib():
            print(
                "note: plots need matplotlib (pip install 'specproof[engine]'); "
                "report written without them",
                file=sys.stderr,
            )
        path = write_report(audit, args.report, title)
        print(f"wrote {path}", file=sys.stderr)
    if args.json:
        print_json(audit.to_json())
    else:
        print(format_table(HEADERS, table_rows(audit)))
        print(f"\nverdict: {audit.verdict}")
    return EXIT_CODES[audit.verdict]


def _bar(args: argparse.Namespace, description: str, total: int | None = None) -> Any:
    return progress(total or 0, description)


def _isolated(args: argparse.Namespace, spec: str, env: dict[str, str] | None = None) -> Any:
    """The audited function behind the process boundary, with the CLI's limits."""
    from specproof.audit.boundary import IsolatedFunction

    return IsolatedFunction(
        spec,
        python=args.python,
        call_timeout=args.call_timeout,
        start_timeout=args.import_timeout,
        memory_bytes=args.memory_limit << 20,
        env=env,
    )


def run_sampler(args: argparse.Namespace) -> int:
    """`specproof audit sampler`."""
    from specproof.audit.boundary import ImplementationCrashed

    writable_dir("--report", args.report)
    with contextlib.ExitStack() as stack:
        fn = stack.enter_context(_isolated(args, args.function))
        try:
            fn.start()
        except ImplementationCrashed as exc:
            return _finish(_crashed(args.function, exc, args), args, f"Audit of {args.function}")
        return _audit_sampler(fn, args)


def _audit_sampler(fn: Any, args: argparse.Namespace) -> int:
    from specproof.audit.sampler import audit_sampler

    with _bar(args, "audit sampler") as bar:

        def tick(name: str, done: int) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        audit = audit_sampler(
            fn,
            n_samples=args.samples,
            algorithm=args.algorithm,
            alpha=args.alpha,
            tv=args.tv,
            power=args.power,
            test=args.test,
            seed=args.seed,
            max_samples=args.max_samples,
            on_progress=tick,
        )
    return _finish(audit, args, f"Sampler-level audit of `{args.function}`")


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
        if args.draft:
            load_model_arg("--draft", args.draft)  # a bad name fails here, naming the flag
            env["SPECPROOF_DRAFT"] = args.draft
        if args.python:
            # Another interpreter gets the target as files: safetensors, config, tokenizer.
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="specproof-target-"))
            target.model.save_pretrained(folder, safe_serialization=True)
            target.tokenizer.save_pretrained(folder)
            env["SPECPROOF_TARGET_DIR"] = folder
        fn = stack.enter_context(_isolated(args, args.function, env))
        baseline = (
            stack.enter_context(_isolated(args, args.baseline, env)) if args.baseline else None
        )
        for spec, isolated in ((args.function, fn), (args.baseline, baseline)):
            try:
                if isolated is not None:
                    isolated.start()
            except ImplementationCrashed as exc:
                return _finish(_crashed(spec, exc, args), args, f"Audit of {spec}")
        return _audit_generate(args, target, processing, fn, baseline)


def _audit_generate(
    args: argparse.Namespace, target: Any, processing: Any, fn: Any, baseline: Any
) -> int:
    from specproof.audit.core import decide
    from specproof.audit.generation import (
        TargetLaw,
        greedy_configuration,
        sampling_configuration,
        two_sample_configuration,
    )

    prompt = target.tokenizer.encode(args.prompt, add_special_tokens=False)
    with _bar(args, "audit generate", args.samples * (2 if baseline else 1)) as bar:

        def tick() -> None:
            bar.update(1)

        if baseline is not None:
            config = two_sample_configuration(
                args.function,
                fn,
                baseline,
                prompt,
                args.max_new_tokens,
                args.samples,
                target.vocab_size,
                target.eos_token_id,
                args.alpha,
                args.seed,
                tick,
            )
        else:
            law = TargetLaw(target.model, processing, target.eos_token_id)
            if args.greedy:
                prompts = [prompt] + [
                    target.tokenizer.encode(args.prompt[: i + 1], add_special_tokens=False)
                    for i in range(len(args.prompt) - 1)
                ]
                config = greedy_configuration(args.function, fn, law, prompts, args.max_new_tokens)
            else:
                config = sampling_configuration(
                    args.function,
                    fn,
                    law,
                    prompt,
                    args.max_new_tokens,
                    args.samples,
                    args.test,
                    args.alpha,
                    args.seed,
                    tick,
                )
    audit = decide([config], args.alpha, args.tv, args.power)
    return _finish(audit, args, f"Generation-level audit of `{args.function}` on `{args.target}`")


def run_transformers(args: argparse.Namespace) -> int:
    """`specproof audit transformers`."""
    import torch
    import transformers

    from specproof.audit.generation import Processing
    from specproof.audit.hf_adapter import audit_transformers, configurations, load_models

    torch.set_num_threads(max(1, torch.get_num_threads()))
    processing = None
    if any(
        v is not None for v in (args.temperature, args.top_k, args.top_p, args.repetition_penalty)
    ):
        try:
            processing = Processing(
                args.temperature if args.temperature is not None else 1.0,
                args.top_k,
                args.top_p,
                args.repetition_penalty,
            )
        except ValueError as exc:
            raise CommandError(str(exc), exit_codes.USAGE) from None
    writable_dir("--report", args.report)
    try:
        models = load_models(args.target, args.draft, args.other_draft)
    except (ValueError, OSError) as exc:
        raise CommandError(f"--target/--draft/--other-draft: {exc}", exit_codes.BAD_INPUT) from None

    def select(config: Any) -> bool:
        # Real targets have no default different-tokenizer drafter: skip those configurations
        # unless the mode was asked for (then the configuration says what is missing).
        return not (
            config.mode == "different-tokenizers" and models.other_draft is None and not args.mode
        )

    chosen = [
        c
        for c in configurations(args.mode, args.do_sample, processing, args.include_lossy)
        if select(c)
    ]
    total = sum(args.samples for c in chosen if c.do_sample)
    with _bar(args, "audit transformers", total) as bar:

        def tick(name: str, done: int) -> None:
            bar.set_postfix_str(name[-40:])
            bar.update(1)

        audit = audit_transformers(
            modes=args.mode,
            do_sample=args.do_sample,
            processing=processing,
            n_samples=args.samples,
            max_new_tokens=args.max_new_tokens,
            alpha=args.alpha,
            tv=args.tv,
            power=args.power,
            test=args.test,
            seed=args.seed,
            models=models,
            include_lossy=args.include_lossy,
            on_progress=tick,
            select=select,
        )
    return _finish(audit, args, f"Audit of transformers {transformers.__version__}")


def run_controls(args: argparse.Namespace) -> int:
    """`specproof audit controls`: 0 iff every control gets its expected verdict."""
    from specproof.audit.controls import BROKEN, LOSSLESS, LOSSLESS_PLAN, standard_sd
    from specproof.audit.sampler import audit_sampler, default_cases

    writable_dir("--report", args.report)
    runs = (
        [("standard-sd (correct)", standard_sd, "consistent")]
        + [(f"{name} (lossless, other round law)", fn, "consistent") for name, fn in LOSSLESS]
        + [(name, fn, "not-lossless") for name, fn in BROKEN]
    )
    results = []
    with _bar(args, "audit controls", len(runs)) as bar:
        for name, fn, expected in runs:
            lossless_rule = any(fn is rule for _, rule in LOSSLESS)
            audit = audit_sampler(
                fn,
                default_cases(args.seed, LOSSLESS_PLAN) if lossless_rule else None,
                n_samples=None if expected == "consistent" else args.samples,
                alpha=args.alpha,
                tv=args.tv,
                power=args.power,
                test=args.test,
                seed=args.seed,
            )
            flagged = [c.name for c in audit.configurations if c.verdict == "not-lossless"]
            results.append(
                {
                    "control": name,
                    "description": (fn.__doc__ or "").strip().splitlines()[0],
                    "expected": expected,
                    "verdict": audit.verdict,
                    "ok": audit.verdict == expected,
                    "flagged_cases": flagged,
                    "round_law": sorted(
                        {
                            c.details.get("round_law", {}).get("summary", "")
                            for c in audit.configurations
                        }
                        - {""}
                    ),
                    "audit": audit.to_json(),
                }
            )
            bar.update(1)
    ok = all(r["ok"] for r in results)
    if args.json:
        print_json({"ok": ok, "controls": results})
    else:
        rows = [
            (
                r["control"],
                r["expected"],
                r["verdict"],
                "yes" if r["ok"] else "NO",
                len(r["flagged_cases"]),
            )
            for r in results
        ]
        print(format_table(["control", "expected", "verdict", "ok", "cases flagged"], rows))
        print(f"\n{'all controls behave as expected' if ok else 'SOME CONTROLS FAILED'}")
    if args.report:
        from pathlib import Path

        out = Path(args.report)
        out.mkdir(parents=True, exist_ok=True)
        lines = [
            "# Negative controls",
            "",
            "| control | expected | verdict | ok |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['control']} | {r['expected']} | {r['verdict']} | {r['ok']} |" for r in results
        ]
        (out / "report.md").write_text("\n".join(lines) + "\n")
    return exit_codes.OK if ok else exit_codes.FAILED
