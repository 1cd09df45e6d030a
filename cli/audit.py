"""`specproof audit`: calibrated losslessness verdicts for SD implementations.

Subcommands:

- `sampler MODULE:FUNCTION`: a verify function `fn(target_probs, draft_probs, draft_tokens, rng)`
  against standard SD's exact law on generated cases;
- `generate MODULE:FUNCTION`: a generate function `fn(prompt_ids, max_new_tokens, seed)` or
  `fn(request)` (model, tokenizer, settings, `--batch-size` rows) against the exact law of a
  target model (`--target`: a name or a local folder), under drafting regimes (`--draft`), or
  against a plain sampler (`--baseline`, planned per arm);
- `transformers`: the installed transformers' assisted generation, universal assisted decoding
  and prompt lookup, one verdict per configuration;
- `controls`: the built-in negative controls (each must be flagged), the correct sampler and
  three lossless rules whose round laws are not standard SD's (each must be `consistent`).

Every level runs the audited code in a child process (the process boundary of
`specproof.audit.boundary`): its exits, signals, prints, hangs (`--call-timeout`) and memory
(`--memory-limit`) end as a `crashed` verdict with the reason; `--python` runs it under another
interpreter (e.g. a virtual environment pinned to another transformers release).
`transformers` and `controls` take `--in-process` to run it in the auditor's own process.

Exit codes: 0 consistent, 1 not-lossless, 2 crashed, 3 inconclusive; failures of the command
itself use the codes of docs/reference/exit-codes.md (64 bad usage, ...), never a verdict's.
"""

from __future__ import annotations

import argparse
from typing import Any

from .audit_common import (
    EXIT_CODES,
    MAX_NEW_TOKENS,
    MAX_SAMPLES,
    function_spec,
    positive_int,
)
from .audit_generate import DEFAULT_SAMPLES as GENERATE_SAMPLES
from .audit_generate import add_generate_arguments, run_generate
from .audit_runs import run_controls, run_sampler, run_transformers
from .checks import interpreter
from .flags import (
    add_integer,
    add_json,
    add_number,
    add_seed,
    add_temperature,
    add_top_k_top_p,
)

__all__ = [
    "EXIT_CODES",
    "GENERATE_SAMPLES",
    "MAX_NEW_TOKENS",
    "MAX_SAMPLES",
    "add_parser",
    "function_spec",
    "positive_int",
    "run_controls",
    "run_generate",
    "run_sampler",
    "run_transformers",
]


#: The short names of `specproof.audit.controls.RUNS` (its names up to " ("), for `--only`:
#: listed here so that building the parser imports no numpy (a test keeps the two equal).
CONTROL_NAMES = (
    "standard-sd",
    "sample-and-match",
    "sequential-sibling",
    "draft-only-stopping",
    "wrong-q-reported",
    "processor-one-side",
    "residual-not-renormalised",
    "argmax-fallback",
    "bonus-off-by-one",
    "permuted-vocabulary",
    "accept-always",
)
#: Default `--tv` of the sampler level (its sample size is planned for it) and `controls`.
SAMPLER_TV = 0.05
#: Default `--tv` and `--samples` of `audit generate` and `audit transformers`, chosen so that a
#: default run reaches a verdict: on tiny-llama, 3,000 samples cover the TV-0.1 plan for 2 to
#: 4 output tokens (1,994 to 2,837 needed); the transformers configurations need up to 3,393
#: (bench/results/audit_transformers.json). At TV 0.05 they would need about four times as many.
GENERATION_TV = 0.1
TRANSFORMERS_SAMPLES = 4000


def _common(parser: argparse.ArgumentParser, tv: float = SAMPLER_TV) -> None:
    add_number(
        parser,
        "--alpha",
        1e-15,
        0.5,
        "family-wise significance in [1e-15, 0.5) (default 1e-6)",
        high_open=True,
        default=1e-6,
    )
    add_number(
        parser,
        "--tv",
        1e-3,
        1,
        f"smallest TV the audit must detect, in [0.001, 1) (default {tv:g})",
        high_open=True,
        default=tv,
    )
    add_number(
        parser,
        "--power",
        0.5,
        0.999999,
        "power at that TV, in [0.5, 0.999999] (default 0.99)",
        default=0.99,
    )
    parser.add_argument(
        "--test", choices=["chi2", "g"], default="chi2", help="chi-square or G-test"
    )
    add_seed(parser, "seed of drafts and samplers")
    add_json(parser, "print the audit as JSON")
    parser.add_argument("--report", metavar="DIR", help="write DIR/report.md and plots of failures")


def _add_processors(p: Any, temperature: float | None) -> None:
    """The logits-processor flags shared by `generate` and `transformers`."""
    add_temperature(p, temperature)
    add_top_k_top_p(p)
    add_number(p, "--repetition-penalty", 0.01, 100, "in [0.01, 100]")


def _add_in_process(p: Any, what: str) -> None:
    """`--in-process`: run the audited code in the auditor's process (no boundary)."""
    p.add_argument(
        "--in-process",
        action="store_true",
        help=f"run {what} in this process instead of a child process (a crash or exit of "
        "the audited code then ends the audit instead of giving a `crashed` verdict)",
    )


def _add_boundary(p: Any) -> None:
    """The process-boundary flags of `sampler`, `generate`, `transformers` and `controls`."""
    from specproof.audit.boundary import (
        DEFAULT_CALL_TIMEOUT,
        DEFAULT_MEMORY_BYTES,
        DEFAULT_START_TIMEOUT,
    )

    for flag, default, limited in (
        ("--call-timeout", DEFAULT_CALL_TIMEOUT, "of one call of the function"),
        ("--import-timeout", DEFAULT_START_TIMEOUT, "for importing the module"),
    ):
        add_number(
            p,
            flag,
            0,
            86400,
            f"time limit {limited} (default {default:g} s)",
            low_open=True,
            default=default,
            metavar="SECONDS",
        )
    add_integer(
        p,
        "--memory-limit",
        0,
        1 << 24,
        f"data-size limit of the audited process (default {DEFAULT_MEMORY_BYTES >> 20}; 0: none)",
        default=DEFAULT_MEMORY_BYTES >> 20,
        metavar="MIB",
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
    add_generate_arguments(p)
    _add_processors(p, temperature=1.0)
    _add_boundary(p)
    _common(p, tv=GENERATION_TV)
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
        "--samples",
        type=positive_int,
        default=TRANSFORMERS_SAMPLES,
        help=f"samples per sampling configuration (default {TRANSFORMERS_SAMPLES})",
    )
    add_integer(
        p,
        "--max-new-tokens",
        1,
        MAX_NEW_TOKENS,
        f"m: tokens whose joint law is tested, 1..{MAX_NEW_TOKENS}",
        default=2,
    )
    p.add_argument("--target", help="target model name (default: tiny random Llama models)")
    p.add_argument("--draft", help="same-tokenizer drafter name (default: TARGET:layers=2)")
    p.add_argument("--other-draft", help="different-tokenizer drafter name")
    p.add_argument(
        "--include-lossy",
        action="store_true",
        help="add assistant_ensemble_weight=0.5 (lossy by design: a positive control)",
    )
    _add_in_process(p, "transformers' generate")
    _add_boundary(p)
    _common(p, tv=GENERATION_TV)
    p.set_defaults(handler=run_transformers)

    p = sub.add_parser(
        "controls",
        help="run the controls: broken samplers must be flagged, lossless ones consistent",
    )
    p.add_argument(
        "--samples", type=positive_int, default=4000, help="samples per case (default 4000)"
    )
    p.add_argument(
        "--only",
        action="append",
        metavar="CONTROL",
        choices=CONTROL_NAMES,
        help="run only this control (repeatable; default: all of them): "
        + ", ".join(CONTROL_NAMES),
    )
    _add_in_process(p, "the controls")
    _add_boundary(p)
    _common(p)
    p.set_defaults(handler=run_controls)
