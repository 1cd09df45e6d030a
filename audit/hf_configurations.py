"""The configurations of the transformers audit: mode, processors, lookahead schedule, regime.

One [`HFConfiguration`][specproof.audit.hf_configurations.HFConfiguration] per call pattern of
`generate`; [`configurations`][specproof.audit.hf_configurations.configurations] lists them for
[`audit_transformers`][specproof.audit.hf_adapter.audit_transformers] (the modes are described
in [`hf_adapter`][specproof.audit.hf_adapter]).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .generation import Processing

MODES = ("same-tokenizer", "different-tokenizers", "prompt-lookup")
#: The different-tokenizer drafter's alphabet (after `<eos>`): other size, other id order.
OTHER_ALPHABET = "gfedcbaxy"
#: Prompt of the sampling configurations (repeats bigrams, so prompt lookup finds candidates).
DEFAULT_PROMPT_TEXT = "abcabca"
#: Number of prompts of the greedy configurations (random strings over the target alphabet).
GREEDY_PROMPTS = 100


def greedy_prompts(
    alphabet: str = "abcdefg", count: int = GREEDY_PROMPTS, seed: int = 0
) -> list[str]:
    """`count` distinct prompts of 1 to 6 characters of `alphabet`, drawn with a fixed seed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    prompts: list[str] = []
    while len(prompts) < count:
        text = "".join(rng.choice(list(alphabet), size=int(rng.integers(1, 7))))
        if text not in prompts:
            prompts.append(text)
    return prompts


@dataclass(frozen=True)
class HFConfiguration:
    """One transformers decoding setup.

    Attributes:
        name: e.g. `same-tokenizer/sample/top-k=3`.
        mode: one of `MODES` or `baseline`.
        do_sample: sampling (True) or greedy.
        processing: temperature, top-k, top-p, repetition penalty.
        drafter: generation-config settings of the drafter (`num_assistant_tokens`,
            `num_assistant_tokens_schedule`, `assistant_confidence_threshold`).
        generate_kwargs: extra `generate` keyword arguments (`prompt_lookup_num_tokens`, ...).
        lossy: lossy by design (a positive control).
        new_tokens: tokens whose joint law is tested, if not the audit's `max_new_tokens`
            (dynamic lookahead needs several rounds inside one call to act).
        regime: which drafter drives it (`specproof.audit.regimes.REGIMES`): `own` (the audit's drafter),
            `draft=target` (a copy of the target: acceptance near 1, so the bonus path and deep
            positions are exercised), `far-draft` (a copy of the target with negated output
            weights: rejections and the residual are exercised).
    """

    name: str
    mode: str
    do_sample: bool
    processing: Processing = field(default_factory=Processing)
    drafter: dict[str, Any] = field(default_factory=dict)
    generate_kwargs: dict[str, Any] = field(default_factory=dict)
    lossy: bool = False
    new_tokens: int | None = None
    regime: str = "own"


CONSTANT = {
    "num_assistant_tokens": 3,
    "num_assistant_tokens_schedule": "constant",
    "assistant_confidence_threshold": 0.0,
}

#: The drafter settings of the regime configurations: one draft per round.
ONE_DRAFT = {**CONSTANT, "num_assistant_tokens": 1}


def configurations(
    modes: Sequence[str] | None = None,
    do_sample: bool | None = None,
    processing: Processing | None = None,
    include_lossy: bool = False,
) -> list[HFConfiguration]:
    """The configurations to audit.

    Args:
        modes: subset of `MODES` (default all, plus the baseline).
        do_sample: only sampling (True) or only greedy (False) configurations; default both.
        processing: if given, every sampling configuration uses it (one configuration per
            drafter setting) instead of the default sweep of processors.
        include_lossy: add the `assistant_ensemble_weight=0.5` positive control.

    Raises:
        ValueError: on an unknown mode.
    """
    for mode in modes or ():
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    chosen = set(modes or MODES)
    sweep = (
        [processing]
        if processing is not None
        else [
            Processing(),
            Processing(temperature=0.7),
            Processing(top_k=3),
            Processing(top_p=0.8),
            Processing(repetition_penalty=1.5),
        ]
    )
    out: list[HFConfiguration] = []
    if modes is None:
        out += [
            HFConfiguration(f"baseline/sample/{p.label()}", "baseline", True, p) for p in sweep[:1]
        ]
    if "same-tokenizer" in chosen:
        out += [
            HFConfiguration(
                f"same-tokenizer/sample/{p.label()}", "same-tokenizer", True, p, CONSTANT
            )
            for p in sweep
        ]
        base = sweep[0]
        out.append(
            HFConfiguration(
                f"same-tokenizer/sample/{base.label()}/heuristic-schedule",
                "same-tokenizer",
                True,
                base,
                {
                    **CONSTANT,
                    "num_assistant_tokens": 1,
                    "num_assistant_tokens_schedule": "heuristic",
                },
                new_tokens=4,
            )
        )
        out.append(
            HFConfiguration(
                f"same-tokenizer/sample/{base.label()}/confidence-threshold=0.5",
                "same-tokenizer",
                True,
                base,
                {**CONSTANT, "num_assistant_tokens": 5, "assistant_confidence_threshold": 0.5},
                new_tokens=4,
            )
        )
        # Extra regimes: a draft equal to the target and a far draft, one draft per round (two
        # full rounds in 4 tokens: the joint law of 4 tokens is still tested at V = 8), on the
        # plain law and on the last processor of the sweep (a bonus row that skips processing
        # shows only after full acceptance).
        for p in dict.fromkeys([sweep[0], sweep[-1] if processing is None else sweep[0]]):
            out.extend(
                HFConfiguration(
                    f"same-tokenizer/sample/{p.label()}/{regime}",
                    "same-tokenizer",
                    True,
                    p,
                    ONE_DRAFT,
                    new_tokens=2 * (ONE_DRAFT["num_assistant_tokens"] + 1),
                    regime=regime,
                )
                for regime in ("draft=target", "far-draft")
            )
        out.append(
            HFConfiguration("same-tokenizer/greedy", "same-tokenizer", False, drafter=CONSTANT)
        )
        if include_lossy:
            out.append(
                HFConfiguration(
                    f"same-tokenizer/sample/{base.label()}/ensemble-weight=0.5 (lossy by design)",
                    "same-tokenizer",
                    True,
                    base,
                    CONSTANT,
                    {"assistant_ensemble_weight": 0.5},
                    lossy=True,
                )
            )
    if "different-tokenizers" in chosen:
        out.append(
            HFConfiguration(
                f"different-tokenizers/sample/{sweep[0].label()}",
                "different-tokenizers",
                True,
                sweep[0],
                CONSTANT,
            )
        )
        out.append(
            HFConfiguration(
                "different-tokenizers/greedy", "different-tokenizers", False, drafter=CONSTANT
            )
        )
    if "prompt-lookup" in chosen:
        out.append(
            HFConfiguration(
                f"prompt-lookup/sample/{sweep[0].label()}",
                "prompt-lookup",
                True,
                sweep[0],
                generate_kwargs={"prompt_lookup_num_tokens": 2},
            )
        )
        out.append(
            HFConfiguration(
                "prompt-lookup/greedy",
                "prompt-lookup",
                False,
                generate_kwargs={"prompt_lookup_num_tokens": 2},
            )
        )
    if do_sample is not None:
        out = [c for c in out if c.do_sample == do_sample]
    return out
