"""Greedy generation audits: token-for-token comparison with the float64 argmax path.

Greedy implementations are compared with the float64 argmax path on several prompts (a
deterministic reference: any mismatch is a certain violation); prompts whose float64 path has a
top-2 logit gap below [`GREEDY_MARGIN`][specproof.audit.greedy.GREEDY_MARGIN] anywhere are
skipped (float32 may legitimately break such near-ties the other way) and counted in the
details.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from .boundary import ImplementationCrashed
from .collect import GenerateFn, check_generated
from .core import Configuration
from .stats import DEFAULT_ALPHA, FitResult
from .target_law import TargetLaw

#: Greedy reference paths with a top-2 logit gap below this are skipped.
GREEDY_MARGIN = 1e-4


def greedy_configuration(
    name: str,
    fn: GenerateFn,
    target: TargetLaw,
    prompts: Sequence[Sequence[int]],
    m: int,
) -> Configuration:
    """Compare a greedy implementation with the float64 argmax path on every prompt."""
    config = Configuration(name=name, deterministic=True)
    checked = mismatches = skipped = 0
    examples = []
    start = time.perf_counter()
    for i, prompt in enumerate(prompts):
        reference, margin = target.greedy_path(prompt, m)
        if margin < GREEDY_MARGIN:
            skipped += 1
            continue
        try:
            out = check_generated(fn(list(prompt), m, i), m, target.vocab_size, target.eos_token_id)
        except ImplementationCrashed as exc:
            config.error = f"prompt {i}: {exc}"
            break
        except Exception as exc:  # noqa: BLE001 - the implementation's errors are the verdict
            config.error = f"prompt {i}: {type(exc).__name__}: {exc}"
            break
        checked += 1
        if out != reference:
            mismatches += 1
            if len(examples) < 3:
                examples.append({"prompt": list(prompt), "expected": reference, "got": out})
    config.n_samples = checked
    config.details = {
        "prompts": len(prompts),
        "skipped_near_ties": skipped,
        "mismatches": mismatches,
        "examples": examples,
        "seconds": time.perf_counter() - start,
    }
    if config.error is None and checked:
        config.tests["greedy"] = FitResult(
            statistic=float(mismatches),
            dof=0,
            p_value=0.0 if mismatches else 1.0,
            n=checked,
            cells=1,
            tv_hat=mismatches / checked,
            tv_upper=1.0 if mismatches else 1 - DEFAULT_ALPHA ** (1 / checked),
            impossible=mismatches,
        )
    return config
