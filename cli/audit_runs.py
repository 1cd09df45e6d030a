"""`specproof audit sampler`, `transformers` and `controls`: their handlers."""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from . import exit_codes
from .audit_common import crashed, finish, isolated_function, progress_bar, statistics
from .checks import writable_dir
from .exit_codes import CommandError
from .output import format_table, print_json


def run_sampler(args: argparse.Namespace) -> int:
    """`specproof audit sampler`."""
    from specproof.audit.boundary import ImplementationCrashed

    writable_dir("--report", args.report)
    with contextlib.ExitStack() as stack:
        fn = stack.enter_context(isolated_function(args, args.function))
        try:
            fn.start()
        except ImplementationCrashed as exc:
            return finish(crashed(args.function, exc, args), args, f"Audit of {args.function}")
        return _audit_sampler(fn, args)


def _audit_sampler(fn: Any, args: argparse.Namespace) -> int:
    from specproof.audit.sampler import audit_sampler

    with progress_bar(args, "audit sampler") as bar:

        def tick(name: str, done: int) -> None:
            bar.set_postfix_str(name)
            bar.update(1)

        audit = audit_sampler(
            fn,
            n_samples=args.samples,
            algorithm=args.algorithm,
            **statistics(args),
            max_samples=args.max_samples,
            on_progress=tick,
        )
    return finish(audit, args, f"Sampler-level audit of `{args.function}`")


def run_transformers(args: argparse.Namespace) -> int:
    """`specproof audit transformers`."""
    import torch
    import transformers

    from specproof.audit.generation import Processing
    from specproof.audit.hf_adapter import (
        audit_transformers,
        configurations,
        load_models,
        make_generate,
    )

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
    with progress_bar(args, "audit transformers", total) as bar:

        def tick(name: str, done: int) -> None:
            bar.set_postfix_str(name[-40:])
            bar.update(1)

        audit = audit_transformers(
            modes=args.mode,
            do_sample=args.do_sample,
            processing=processing,
            n_samples=args.samples,
            max_new_tokens=args.max_new_tokens,
            **statistics(args),
            models=models,
            include_lossy=args.include_lossy,
            on_progress=tick,
            select=select,
            make_fn=make_generate if args.in_process else _isolated_generate(args),
        )
    return finish(audit, args, f"Audit of transformers {transformers.__version__}")


def _isolated_generate(args: argparse.Namespace) -> Any:
    """The `make_fn` running each transformers configuration behind the process boundary."""
    from specproof.audit.hf_isolated import isolated

    return isolated(
        {"target": args.target, "draft": args.draft, "other_draft": args.other_draft},
        python=args.python,
        call_timeout=args.call_timeout,
        start_timeout=args.import_timeout,
        memory_bytes=args.memory_limit << 20,
    )


def run_controls(args: argparse.Namespace) -> int:
    """`specproof audit controls`: 0 iff every control run gets its expected verdict.

    `--only NAME` (repeatable) runs only those controls, in their usual order. Each control
    runs behind the process boundary (`controls.spec(fn)` in a child process), or in this
    process with `--in-process`; the audit is the same either way.
    """
    from specproof.audit.controls import LOSSLESS, LOSSLESS_PLAN, RUNS, spec
    from specproof.audit.sampler import audit_sampler, default_cases

    writable_dir("--report", args.report)
    runs = [r for r in RUNS if not args.only or r[0].split(" (")[0] in args.only]
    results = []
    with progress_bar(args, "audit controls", len(runs)) as bar:
        for name, fn, expected in runs:
            lossless_rule = any(fn is rule for _, rule in LOSSLESS)
            with contextlib.ExitStack() as stack:
                audited = (
                    fn
                    if args.in_process
                    else stack.enter_context(isolated_function(args, spec(fn)))
                )
                audit = audit_sampler(
                    audited,
                    default_cases(args.seed, LOSSLESS_PLAN) if lossless_rule else None,
                    n_samples=None if expected == "consistent" else args.samples,
                    **statistics(args),
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
