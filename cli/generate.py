"""`specproof generate`: generate text with AR or any registered speculative algorithm."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from . import exit_codes, flags
from .checks import load_model_arg, non_empty, number
from .exit_codes import CommandError
from .output import format_cell, format_table, print_json


def algorithm_choices() -> tuple[str, ...]:
    """`ar` and every algorithm the registry offers to `generate` (read when the parser is built)."""
    from specproof.reference.algorithms import ALGORITHMS

    return ("ar", *ALGORITHMS.names(generate=True))


def algorithm_help() -> str:
    """The `--algorithm` help: each choice with its one-line summary."""
    from specproof.reference.algorithms import ALGORITHMS

    lines = ["ar: plain autoregressive sampling from the target"]
    lines += [
        f"{name}: {ALGORITHMS.get(name).summary.rstrip('.')}" for name in algorithm_choices()[1:]
    ]
    return "; ".join(lines) + " (default: sd)"


def add_parser(subparsers: Any) -> None:
    """Add the `generate` subcommand."""
    parser = subparsers.add_parser(
        "generate",
        help="generate text with speculative decoding on real or random models",
        description=(
            "Generate from a prompt with a target model and a draft model. MODEL is smollm2, "
            "gemma3, a local Hugging Face directory (safetensors), a random model "
            "(random-gpt2-tiny, random-starcoder-1b, random-llama-100m, ..., or "
            "random-llama:vocab=..,hidden=..,layers=..,heads=..) or a tiny test model "
            "(tiny-llama); append :layers=N to keep only the first N layers (a draft that shares "
            "the target's tokenizer, e.g. smollm2:layers=8). --draft ngram[:n=N,min_n=M] drafts by "
            "prompt lookup instead of a model: the tokens that followed the latest earlier "
            "occurrence of the text's last N (default 3) down to M (default 1) tokens. "
            "--lookahead chooses the drafts per round dynamically (DISCO; see the docs' DISCO "
            "page). The text streams to stdout as it is produced; the statistics follow."
        ),
    )
    parser.add_argument("--target", required=True, metavar="MODEL", help="the target model")
    parser.add_argument(
        "--draft",
        metavar="MODEL",
        help="the draft model, or ngram[:n=N,min_n=M] for prompt lookup (not needed for ar)",
    )
    parser.add_argument(
        "--algorithm", choices=algorithm_choices(), default="sd", help=algorithm_help()
    )
    flags.add_integer(parser, "--k", 0, 64, "drafts per round, 0..64 (default 4)", default=4)
    parser.add_argument(
        "--lookahead",
        metavar="SPEC",
        default=None,
        help=(
            "a dynamic lookahead policy instead of a fixed --k: static:K (K drafts per round), "
            "heuristic[:K0] (transformers' schedule from K0, default 5: +2 after a fully "
            "accepted round, -1 otherwise), confidence:T[:max_k=K] (stop drafting when the "
            "drafted token's probability is below T; at most K drafts, default 8), disco:PATH "
            "(a learned policy file written by `specproof disco train`)"
        ),
    )
    parser.add_argument(
        "--prompt", type=non_empty("--prompt"), required=True, help="the prompt text"
    )
    parser.add_argument(
        "--chat", action="store_true", help="wrap the prompt in the tokenizer's chat template"
    )
    flags.add_temperature(parser, 1.0)
    flags.add_top_k_top_p(parser)
    flags.add_integer(parser, "--max-new-tokens", 1, 100_000, "1..100000 (default 64)", default=64)
    flags.add_seed(parser, "seed of the torch.Generator")
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default="float32",
        help="model and probability dtype",
    )
    flags.add_threads(parser)
    flags.add_number(
        parser,
        "--prune",
        0,
        1,
        "draft with a pruned LM head: remove the least frequent share F in [0, 1) of the "
        "draft's head (the --draft model, default the target itself); token frequencies from "
        "HumanEval prompts 0-119 and Python stdlib sources (see --prune-model-texts). "
        "With --algorithm sd: vanilla SD; "
        "with --algorithm rdk: RDK (needs --prune)",
        high_open=True,
        metavar="F",
    )
    flags.add_integer(
        parser,
        "--prune-model-texts",
        0,
        164,
        "with --prune: also count the draft's own expected tokens (the sum of its "
        "next-token rows, its samples' counts in expectation) over the first N corpus texts "
        "(default 0: the corpus only)",
        default=0,
        metavar="N",
    )
    parser.add_argument(
        "--mix",
        type=_mix,
        default="bound",
        metavar="LAMBDA|bound",
        help="RDK's mixing weight: a number in [0, 1], or 'bound' (default): per position, a "
        "drafter-side lower bound on the target's mass off the kept tokens",
    )
    flags.add_json(parser, "print text, tokens and stats as JSON")
    parser.set_defaults(handler=run)


def _mix(text: str) -> float | str:
    """Parse `--mix`: `bound` or a number in [0, 1]."""
    if text == "bound":
        return text
    try:
        return number("--mix", 0, 1)(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"--mix must be 'bound' or a number in [0, 1], got {text!r}"
        ) from None


def _pruned(args: argparse.Namespace, target: Any, draft: Any) -> Any:
    """The `--prune` drafter over `draft` (or the target's own model), with progress on stderr."""
    import torch

    from specproof.engine.pruned import prune_counts
    from specproof.engine.pruned_drafter import pruned_drafter

    model = (draft or target).model
    vocab = int(model.get_output_embeddings().weight.shape[0])
    if not args.json:
        print("counting token frequencies for --prune ...", file=sys.stderr, flush=True)
    with torch.no_grad():
        counts = prune_counts(model, target.tokenizer, vocab, model_texts=args.prune_model_texts)
    return pruned_drafter(
        model,
        counts.to(torch.float64),
        args.prune,
        rdk=args.algorithm == "rdk",
        mix=args.mix,
        temperature=args.temperature,
    )


def run(args: argparse.Namespace) -> int:
    """Load the models, generate, print the text and statistics."""
    import torch

    from specproof.engine.generate import Sampling, generate
    from specproof.engine.ngram import parse_drafter
    from specproof.engine.trace import RoundTrace

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    dtype = torch.float64 if args.dtype == "float64" else torch.float32
    policy = _lookahead(args)
    try:
        drafting = args.k > 0 or policy is not None
        if args.algorithm == "rdk" and args.prune is None:
            raise ValueError("--algorithm rdk needs --prune F (RDK drafts with a pruned head)")
        if args.prune is not None and args.algorithm not in ("sd", "greedy", "rdk"):
            raise ValueError("--prune works with --algorithm sd or greedy (vanilla) or rdk")
        if args.prune_model_texts and args.prune is None:
            raise ValueError("--prune-model-texts applies with --prune only")
        if args.mix != "bound" and args.algorithm != "rdk":
            raise ValueError("--mix applies to --algorithm rdk only")
        if args.algorithm != "ar" and drafting and not args.draft and args.prune is None:
            flag = "--lookahead" if policy is not None else "--k > 0"
            raise ValueError(f"--draft is required for --algorithm {args.algorithm} with {flag}")
        target = load_model_arg("--target", args.target, dtype=dtype)
        wanted = bool(args.draft) and args.algorithm != "ar" and drafting
        ngram = parse_drafter(args.draft) if wanted else None
        if ngram is not None and args.prune is not None:
            raise ValueError("--prune needs a draft model, not ngram")
        draft = (
            load_model_arg("--draft", args.draft, dtype=dtype) if wanted and ngram is None else None
        )
        pruned = _pruned(args, target, draft) if args.prune is not None and drafting else None
        drafter = pruned or _cross_vocabulary_drafter(args.algorithm, target, draft, ngram)
        if args.chat:
            ids = target.tokenizer.apply_chat_template(
                [{"role": "user", "content": args.prompt}], add_generation_prompt=True
            )
            if isinstance(ids, dict) or hasattr(ids, "keys"):
                ids = ids["input_ids"]
        else:
            ids = target.tokenizer(args.prompt)["input_ids"]
        ids = [int(i) for i in ids]
        streamed: list[int] = []
        printed = ""

        def stream(_row: int, tokens: list[int]) -> None:
            nonlocal printed
            streamed.extend(tokens)
            text = target.tokenizer.decode(streamed, skip_special_tokens=True)
            if text.startswith(printed):
                sys.stdout.write(text[len(printed) :])
                sys.stdout.flush()
                printed = text

        rounds: list[dict[str, int]] = []

        def record(trace: RoundTrace) -> None:
            for row in trace.rows:
                rounds.append({"k": row.k, "drafted": len(row.drafts), "accepted": row.accepted})

        result = generate(
            getattr(drafter, "target_model", target.model),
            drafter,
            [ids],
            algorithm=args.algorithm,
            k=args.k,
            lookahead=policy,
            on_round=record,
            max_new_tokens=args.max_new_tokens,
            sampling=Sampling(args.temperature, args.top_k, args.top_p),
            seed=args.seed,
            eos_token_id=target.eos_token_id,
            prob_dtype=dtype,
            on_tokens=None if args.json else stream,
        )
    except ValueError as exc:
        raise CommandError(str(exc), exit_codes.USAGE) from None
    tokens = result.tokens[0]
    text = target.tokenizer.decode(tokens, skip_special_tokens=True)
    stats = result.stats.to_dict()
    if args.json:
        print_json(
            {
                "target": args.target,
                "draft": args.draft if draft is not None or ngram is not None else None,
                "prune": None if pruned is None else _prune_info(args, pruned),
                "prompt": args.prompt,
                "prompt_tokens": ids,
                "text": text,
                "tokens": tokens,
                "lookahead": args.lookahead,
                "rounds": rounds,
                "stats": stats,
            }
        )
        return 0
    if not text.startswith(printed):
        sys.stdout.write("\n" + text)
    sys.stdout.write("\n\n")
    rows = [(key, format_cell(value, missing="None")) for key, value in stats.items()]
    if args.lookahead is not None:
        rows.append(("lookahead", args.lookahead))
        rows.append(("drafts_per_round", " ".join(str(r["drafted"]) for r in rounds)))
    print(format_table(["statistic", "value"], rows))
    return 0


def _lookahead(args: argparse.Namespace) -> Any:
    """The `--lookahead` policy, or None; a bad spec exits 64, an unreadable policy file 65."""
    if args.lookahead is None:
        return None
    from specproof.engine.lookahead import parse_lookahead

    if args.algorithm == "ar":
        raise CommandError("--lookahead needs a speculative --algorithm, not ar", exit_codes.USAGE)
    try:
        return parse_lookahead(args.lookahead)
    except ValueError as exc:
        code = exit_codes.USAGE if str(exc).startswith("lookahead spec") else exit_codes.BAD_INPUT
        raise CommandError(f"--lookahead: {exc}", code) from None
    except OSError as exc:
        raise CommandError(
            f"--lookahead: cannot read the policy file of {args.lookahead!r}: {exc}",
            exit_codes.BAD_INPUT,
        ) from None


def _prune_info(args: argparse.Namespace, drafter: Any) -> dict[str, Any]:
    """The pruned drafter's settings, for `--json`."""
    return {
        "prune": args.prune,
        "kept_tokens": int(drafter.kept.numel()),
        "drafter": "self" if not args.draft else args.draft,
        "mix": args.mix if args.algorithm == "rdk" else None,
    }


def _cross_vocabulary_drafter(algorithm: str, target: Any, draft: Any, ngram: Any) -> Any:
    """What `generate` drafts with: a cross-vocabulary drafter, n-gram, the draft model or None."""
    from specproof.reference.algorithms import ALGORITHMS

    registered = ALGORITHMS.get(algorithm) if algorithm in ALGORITHMS else None
    if registered is not None and registered.drafter is not None:
        if ngram is not None:
            raise ValueError(f"--draft: --algorithm {algorithm} needs a draft model, not ngram")
        if draft is None:
            return None
        return registered.drafter_factory()(target, draft)
    if ngram is not None:
        return ngram
    return None if draft is None else draft.model
