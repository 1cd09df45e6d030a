"""Drafting regimes: audit a generate function that takes a draft model under several drafts.

A bug confined to one path (the bonus token after a fully accepted draft, a deep position, the
residual after a rejection) is invisible when the audit's draft rarely takes that path. An
implementation that takes a draft model is therefore audited under several drafts, each its own
configuration named after its regime:

- `own`: the user's draft;
- `draft=target`: a copy of the target, so nearly every draft is accepted: the bonus path and
  the deep positions are exercised;
- `far-draft`: a copy of the target with negated output weights (its likeliest tokens are the
  target's least likely): rejections and the residual are exercised.

Each configuration tests every output position given its prefix
([`positions`][specproof.audit.positions]) over `max_new_tokens` tokens, by default two full
rounds (`2 * tokens_per_round`), so that a round that starts after a full acceptance is seen.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Unpack

from .collect import progress_ticker
from .core import Audit, decide
from .generation import GenerateFn, TargetLaw, sampling_configuration
from .request import GenerationRequest
from .settings import Statistics, with_defaults

REGIMES = ("own", "draft=target", "far-draft")


def regime_draft(target_model: Any, regime: str) -> Any:
    """The draft of `regime` (`draft=target` or `far-draft`): a modified copy of a torch target.

    Raises:
        ValueError: on another regime.
    """
    import torch

    if regime not in REGIMES[1:]:
        raise ValueError(f"regime must be one of {REGIMES[1:]}, got {regime!r}")
    model = copy.deepcopy(target_model)
    if regime == "far-draft":
        with torch.no_grad():
            head = model.get_output_embeddings()
            head.weight.copy_(-head.weight)
    return model


def regime_drafts(target_model: Any, own_draft: Any) -> dict[str, Any]:
    """`{regime: draft model}` for a torch causal LM target (copies; the originals are untouched)."""
    return {"own": own_draft, **{r: regime_draft(target_model, r) for r in REGIMES[1:]}}


def audit_regimes(
    factory: Callable[[Any], GenerateFn],
    target: TargetLaw,
    prompt: Sequence[int],
    drafts: Mapping[str, Any],
    tokens_per_round: int,
    max_new_tokens: int | None = None,
    n_samples: int = 2000,
    on_progress: Callable[[str, int], None] | None = None,
    request: GenerationRequest | None = None,
    **statistics: Unpack[Statistics],
) -> Audit:
    """One configuration per regime: `factory(draft)` is the generate function under that draft.

    `alpha` is the family-wise significance over all regimes.

    Args:
        factory: builds `generate(prompt_ids, max_new_tokens, seed)` around a draft model.
        target: the target's exact law.
        prompt: the prompt ids.
        drafts: `{regime: draft}` (e.g. [`regime_drafts`][specproof.audit.regimes.regime_drafts]).
        tokens_per_round: at most how many tokens one round emits (K + 1).
        max_new_tokens: tokens tested (default `2 * tokens_per_round`: two full rounds).
        n_samples: samples per regime.
        on_progress: called with (configuration name, samples done).
        request: the request convention's template; each regime's requests also carry its
            draft (`request.draft_model`) and `request.regime`.
        **statistics: `alpha`, `tv`, `power`, `test` and `seed`
            ([`Statistics`][specproof.audit.settings.Statistics]).

    Raises:
        ValueError: on an unknown regime, or sizes below 1.
        TypeError: on an unknown keyword.
    """
    plan = with_defaults("audit_regimes", statistics)
    unknown = set(drafts) - set(REGIMES)
    if unknown:
        raise ValueError(f"drafts: unknown regimes {sorted(unknown)}; known: {REGIMES}")
    if tokens_per_round < 1 or n_samples < 1:
        raise ValueError("tokens_per_round and n_samples must be >= 1")
    m = max_new_tokens or 2 * tokens_per_round
    configurations = []
    for regime, draft in drafts.items():
        config = sampling_configuration(
            f"regime {regime}",
            factory(draft),
            target,
            prompt,
            m,
            n_samples,
            plan["test"],
            plan["alpha"],
            plan["seed"],
            progress_ticker(on_progress, regime),
            (request or GenerationRequest()).replace(
                regime=regime,
                objects={**(request.objects if request else {}), "draft_model": draft},
            ),
        )
        config.details["regime"] = regime
        configurations.append(config)
    return decide(configurations, plan["alpha"], plan["tv"], plan["power"])
