"""The current audit of the installed transformers version (every configuration, tiny models).

Runs `specproof audit transformers --include-lossy` programmatically: tiny random Llama models
with in-memory character tokenizers (target vocabulary 8; a same-tokenizer drafter; a drafter
with another vocabulary size and id order), the joint law of the first 2 new tokens (4 for the
dynamic-lookahead configurations) after one prompt, N samples per sampling configuration,
family-wise alpha = 1e-6 with Holm across configurations. Writes
bench/results/audit_transformers.json (the docs site renders it) and a Markdown report with
plots of every failing configuration under bench/results/audit_transformers/.

Usage: `python bench/audit_transformers.py [--samples N] [--tv TV]`.
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

from common import RESULTS, records, table, write_results

ALPHA = 1e-6


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The run's headline and how it was measured, from the tables written (the page opens with it)."""
    rows = records(tables[0])
    lossless = [r for r in rows if r["lossy by design"] != "yes"]
    controls = [r for r in rows if r["lossy by design"] == "yes"]
    flagged = [r for r in lossless if r["verdict"] == "not-lossless"]
    sampled = [r for r in rows if "/sample/" in r["configuration"]]
    greedy = [r for r in rows if "/sample/" not in r["configuration"]]
    version = re.match(r"transformers (\S+):", tables[0]["title"]).group(1)
    if flagged:
        head = "Not lossless: " + ", ".join(
            f"`{r['configuration']}` (observed TV {r['TV^']:.2f})" for r in flagged
        )
    else:
        head = "No configuration that claims losslessness was flagged"
    others = {r["verdict"] for r in lossless if r not in flagged}
    caught = sum(r["verdict"] == "not-lossless" for r in controls)
    return (
        f"{head}; the other {len(lossless) - len(flagged)} configurations of transformers "
        f"{version} are {' or '.join(sorted(others))}, and {caught} of {len(controls)} "
        "lossy-by-design controls are flagged (not counted in the verdict). Measured on tiny "
        f"random Llama models by decoding: {max(r['n'] for r in sampled):,} sampled "
        "generations per sampling configuration, the joint law of the first new tokens after "
        f"one prompt against the exact law; {len(greedy)} greedy configurations on "
        f"{max(r['n'] for r in greedy)} prompts each."
    )


def _rounded(values: list[Any], p_adjusted: float) -> list[Any]:
    """A report row's numbers rounded for the results table (statistic, Holm p, TV bounds).

    Args:
        values: [`row_values`][specproof.audit.report.row_values] of a configuration.
        p_adjusted: its Holm-adjusted p-value (shown even for a configuration without tests).
    """
    name, verdict, n, needed, statistic, dof, _, tv_hat, tv_upper = values
    return [
        name,
        verdict,
        n,
        needed,
        None if statistic is None else round(statistic, 2),
        dof,
        float(f"{p_adjusted:.3g}"),
        None if tv_hat is None else round(tv_hat, 4),
        None if tv_upper is None else round(tv_upper, 4),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=3000)
    parser.add_argument("--tv", type=float, default=0.1)
    args = parser.parse_args()

    import torch
    import transformers

    from specproof.audit.hf_adapter import audit_transformers, load_models, usd_mapping_probe
    from specproof.audit.report import HEADERS, row_values, write_report

    torch.set_num_threads(1)
    models = load_models()
    start = time.perf_counter()

    def done(config) -> None:
        print(f"  {config.name}: {config.n_samples} samples", flush=True)

    audit = audit_transformers(
        n_samples=args.samples,
        alpha=ALPHA,
        tv=args.tv,
        models=models,
        include_lossy=True,
        on_configuration=done,
    )
    seconds = time.perf_counter() - start
    probe = usd_mapping_probe(models)
    version = transformers.__version__

    rows = [
        [
            *_rounded(row_values(c), c.p_adjusted),
            "yes" if c.details.get("lossy_by_design") else "",
            c.error or "",
        ]
        for c in audit.configurations
    ]
    lossless = [c for c in audit.configurations if not c.details.get("lossy_by_design")]
    flagged = [c.name for c in lossless if c.verdict == "not-lossless"]
    # The overall verdict of the configurations that claim losslessness (Audit.verdict's order):
    # a lossy-by-design control flagged as it must be never makes the library "not-lossless".
    verdicts = {c.verdict for c in lossless}
    overall = next(
        (v for v in ("not-lossless", "crashed", "inconclusive") if v in verdicts), "consistent"
    )
    findings = (
        "Flagged `not-lossless`: " + ", ".join(f"`{n}`" for n in flagged) + "."
        if flagged
        else "No configuration that claims losslessness was flagged."
    )
    usd_note = ""
    if not probe.get("consistent", True):
        usd_note = (
            " Diagnosis of universal speculative decoding (different tokenizers, sampling): "
            "`generate` prunes the drafter's LM head to the vocabulary intersection, with rows in "
            "the iteration order of `assistant_tokenizer.get_vocab()` (a hash map's order, which "
            "changes from call to call), but `AssistantToTargetTranslator.get_target_logits` "
            "writes those rows to target ids in increasing drafter-id order. The drafter's "
            "probabilities therefore land on the wrong target tokens, the reported q is not "
            "the distribution the drafts were drawn from, and rejection sampling is biased "
            "(the `permuted vocabulary map` pattern). Probe (pruned row -> target id written / "
            f"correct): {probe['target_ids_written']} / {probe['target_ids_correct']}."
        )
    description = (
        f"Audit of transformers {version} (torch {torch.__version__}) by "
        "`specproof audit transformers --include-lossy`: tiny random Llama models "
        f"({models.names['target']}; drafter {models.names['draft']}; other-tokenizer drafter "
        f"{models.names['other_draft']}), {args.samples} samples per sampling configuration, "
        "joint law of the first 2 new tokens (4 for heuristic schedule and confidence threshold) "
        "after the prompt `abcabca`, compared with the target's exact law under the same "
        f"processors computed in float64. Family-wise alpha = {ALPHA:g} (Bonferroni within a "
        "configuration, Holm across); `inconclusive` = not rejected with fewer samples than "
        f"needed for power 0.99 at TV = {args.tv:g}. Greedy configurations are compared token "
        "by token with the float64 argmax path on 100 prompts. The ensemble-weight configuration "
        "(DIVERSE verification) is lossy by design: a positive control that must be flagged. "
        f"{findings}{usd_note} Total time {seconds:.0f} s on this machine. Report with plots: "
        "bench/results/audit_transformers/report.md."
    )
    write_results(
        "audit_transformers",
        f"Audit of transformers {version}",
        description,
        [
            table(
                f"transformers {version}: one verdict per configuration (overall, lossy-by-design "
                f"controls excluded: {overall})",
                [*HEADERS[:-1], "lossy by design", HEADERS[-1]],
                rows,
            ),
        ],
        finding=finding,
    )
    out = Path(RESULTS) / "audit_transformers"
    for old in out.glob("*.png"):
        old.unlink()
    write_report(audit, out, f"Audit of transformers {version}", description)
    print(f"wrote {out / 'report.md'}")


if __name__ == "__main__":
    main()
