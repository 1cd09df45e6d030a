"""`specproof disco`: DISCO, a learned dynamic lookahead (arXiv 2405.04304).

Subcommands:

- `train`: record traces of the speculative loop at K = `--max-k` on the `--prompts`, fit the
  classifier that scores whether each drafted token will be accepted, tune its stopping threshold
  on held-out traces (`--tune-prompts`, or the last quarter of `--prompts`) for the least
  modelled cost per token, and write the policy file (JSON, data only) that
  `specproof generate --lookahead disco:PATH` reads. Prints the classifier's accuracy and F1 on
  the held-out traces.

Prompts files: UTF-8 text, one prompt per non-blank line; or, for a name ending in `.jsonl`, one
JSON string or `{"prompt": ...}` object per non-blank line (for prompts holding newlines).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from . import exit_codes, flags
from .checks import load_model_arg
from .exit_codes import CommandError
from .output import format_cell, format_table, print_json, progress


def add_parser(subparsers: Any) -> None:
    """Add the `disco` subcommand and its own subcommands."""
    sub = flags.add_action_command(
        subparsers,
        "disco",
        "DISCO: train a learned dynamic-lookahead policy from engine traces",
        __doc__,
    )
    train = sub.add_parser(
        "train",
        help="record traces, fit the classifier, tune its threshold, write the policy file",
        description=(
            "Record the loop's rounds at K = --max-k on the training prompts, fit DISCO's "
            "classifier (does the drafted token get accepted?) on drafter-side features, pick "
            "the stopping threshold with the least modelled cost per token (target forward = 1, "
            "draft token = c) on held-out prompts, and write the policy file. MODEL names as in "
            "`specproof generate` (smollm2, gemma3, smollm2:layers=8, random-..., tiny-llama); "
            "--draft ngram[:n=N,min_n=M] is prompt lookup."
        ),
    )
    train.add_argument("--target", required=True, metavar="MODEL", help="the target model")
    train.add_argument(
        "--draft", required=True, metavar="MODEL", help="the draft model, or ngram[:n=N,min_n=M]"
    )
    train.add_argument(
        "--prompts", required=True, type=Path, metavar="FILE", help="training prompts file"
    )
    train.add_argument(
        "--tune-prompts",
        type=Path,
        metavar="FILE",
        default=None,
        help="held-out prompts for the threshold and the metrics (default: the last quarter of "
        "--prompts, which must then hold at least 2)",
    )
    train.add_argument(
        "--out", required=True, type=Path, metavar="PATH", help="where to write the policy (JSON)"
    )
    flags.add_integer(
        train, "--max-k", 1, 64, "most drafts per round, 1..64 (default 8)", default=8
    )
    train.add_argument(
        "--algorithm",
        choices=("sd", "greedy"),
        default="sd",
        help="verification while recording: sd (sampling) or greedy (default sd)",
    )
    flags.add_temperature(train, 1.0)
    flags.add_integer(
        train,
        "--max-new-tokens",
        1,
        100_000,
        "tokens generated per prompt while recording, 1..100000 (default 32)",
        default=32,
    )
    flags.add_number(
        train,
        "--cost",
        0,
        100,
        "c, the cost of a draft token in target forwards, in [0, 100] (default: measured "
        "on the recorded runs)",
    )
    flags.add_integer(
        train,
        "--hidden",
        0,
        1024,
        "hidden width of the classifier, 0..1024; 0 is a logistic regression (default 16)",
        default=16,
    )
    flags.add_seed(train, "seed of the runs and the fit")
    flags.add_threads(train)
    flags.add_json(train, "print the training report as JSON")
    train.set_defaults(handler=run_train)


def read_prompts(path: Path, flag: str) -> list[str]:
    """The prompts of a prompts file (see the module docstring).

    Args:
        path: the file.
        flag: the flag that named it, for messages.

    Raises:
        CommandError: `BAD_INPUT` if the file cannot be read, a `.jsonl` line is not a string or
            `{"prompt": string}`, or the file holds no prompt.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(
            f"{flag} {str(path)!r} cannot be read: {exc}", exit_codes.BAD_INPUT
        ) from None
    prompts: list[str] = []
    for number_, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        if path.name.endswith(".jsonl"):
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CommandError(
                    f"{flag} {str(path)!r} line {number_}: not JSON ({exc.msg})",
                    exit_codes.BAD_INPUT,
                ) from None
            if isinstance(item, dict):
                item = item.get("prompt")
            if not isinstance(item, str) or not item:
                raise CommandError(
                    f"{flag} {str(path)!r} line {number_}: expected a non-empty JSON string or "
                    '{"prompt": string}',
                    exit_codes.BAD_INPUT,
                )
            prompts.append(item)
        else:
            prompts.append(line)
    if not prompts:
        raise CommandError(f"{flag} {str(path)!r} holds no prompt", exit_codes.BAD_INPUT)
    return prompts


def _check_out(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise CommandError(f"--out {str(path)!r} is a folder", exit_codes.CANNOT_WRITE)
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise CommandError(
            f"--out {str(path)!r}: folder {str(parent)!r} does not exist or is not writable",
            exit_codes.CANNOT_WRITE,
        )


def run_train(args: argparse.Namespace) -> int:
    """Record, train, tune, write the policy; print the report."""
    train_texts = read_prompts(args.prompts, "--prompts")
    if args.tune_prompts is not None:
        tune_texts = read_prompts(args.tune_prompts, "--tune-prompts")
    else:
        if len(train_texts) < 2:
            raise CommandError(
                "--prompts must hold at least 2 prompts when --tune-prompts is not given",
                exit_codes.USAGE,
            )
        cut = len(train_texts) - max(1, len(train_texts) // 4)
        train_texts, tune_texts = train_texts[:cut], train_texts[cut:]
    _check_out(args.out)

    import torch

    from specproof.engine.disco import record_traces, save_policy, train_policy
    from specproof.engine.generate import Sampling
    from specproof.engine.ngram import parse_drafter

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    try:
        ngram = parse_drafter(args.draft)
    except ValueError as exc:
        raise CommandError(f"--draft: {exc}", exit_codes.USAGE) from None
    target = load_model_arg("--target", args.target)
    draft = ngram if ngram is not None else load_model_arg("--draft", args.draft).model

    def encode(text: str) -> list[int]:
        ids = [int(i) for i in target.tokenizer(text)["input_ids"]]
        if not ids:
            raise CommandError(f"a prompt encodes to no token: {text[:40]!r}", exit_codes.BAD_INPUT)
        return ids

    train_ids = [encode(t) for t in train_texts]
    tune_ids = [encode(t) for t in tune_texts]
    options = {
        "max_k": args.max_k,
        "algorithm": args.algorithm,
        "max_new_tokens": args.max_new_tokens,
        "sampling": Sampling(args.temperature),
        "eos_token_id": target.eos_token_id,
    }
    try:
        with progress(len(train_ids) + len(tune_ids), "disco: recording traces") as bar:
            train_rec = record_traces(
                target.model,
                draft,
                train_ids,
                seed=args.seed,
                on_prompt=lambda _i: bar.update(1),
                **options,
            )
            tune_rec = record_traces(
                target.model,
                draft,
                tune_ids,
                seed=args.seed + len(train_ids),
                on_prompt=lambda _i: bar.update(1),
                **options,
            )
    except ValueError as exc:
        raise CommandError(str(exc), exit_codes.USAGE) from None
    measured = train_rec.draft_cost()
    c = args.cost if args.cost is not None else (measured if measured is not None else 0.0)
    try:
        policy, report = train_policy(
            train_rec.rounds,
            tune_rec.rounds,
            c=c,
            max_k=args.max_k,
            hidden=args.hidden,
            seed=args.seed,
        )
    except ValueError as exc:
        raise CommandError(str(exc), exit_codes.BAD_INPUT) from None
    report.update(
        {
            "target": args.target,
            "draft": args.draft,
            "algorithm": args.algorithm,
            "temperature": args.temperature,
            "max_new_tokens": args.max_new_tokens,
            "train_prompts": len(train_ids),
            "tune_prompts": len(tune_ids),
            "c_measured": measured,
            "c_source": "--cost" if args.cost is not None else "measured",
        }
    )
    policy.training.update(report)
    try:
        save_policy(policy, args.out)
    except OSError as exc:
        raise CommandError(
            f"--out {str(args.out)!r} cannot be written: {exc}", exit_codes.CANNOT_WRITE
        ) from None
    report["out"] = str(args.out)
    if args.json:
        print_json(report)
        return exit_codes.OK
    held = report["held_out"]
    costs = report["modelled_cost_per_token"]
    rows = [
        ("held-out steps", held["n"]),
        ("held-out acceptance", format_cell(held["base_rate"])),
        ("accuracy (tuned threshold)", format_cell(held["accuracy"])),
        ("majority-class accuracy", format_cell(held["majority_accuracy"])),
        ("F1 (tuned threshold)", format_cell(held["f1"])),
        (
            "accuracy / F1 at 0.5",
            f"{format_cell(report['held_out_at_half']['accuracy'])} / "
            f"{format_cell(report['held_out_at_half']['f1'])}",
        ),
        ("threshold", format_cell(report["threshold"])),
        ("policy max K (tuned, <= --max-k)", report["policy_max_k"]),
        ("c (draft token / target forward)", f"{format_cell(c)} ({report['c_source']})"),
        ("modelled cost per token, learned", format_cell(costs["learned"])),
        (
            f"modelled cost per token, best static K={costs['best_static_k']}",
            format_cell(costs["best_static"]),
        ),
    ]
    print(format_table(["disco train", "value"], rows))
    print(f"wrote {args.out}")
    return exit_codes.OK
