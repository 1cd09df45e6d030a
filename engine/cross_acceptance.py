r"""Teacher-forced acceptance of the cross-vocabulary algorithms over a fixed text.

One forward pass of each model over the text (the target over its own tokens, the drafter over
its reading of them, token by token as in generation), then, at every position $i$ of the
target's tokens, the probability that the algorithm accepts its **first** proposed token,
computed exactly from the target's row $p$ and the drafter's row $q$ there (both after the
same `Sampling`, e.g. top-k):

- `union`: $\sum_{x \in I} \min(p(x), q(x))$;
- `tli`: $\sum_{x \in I} \min(p(x), q(x) / q(I))$;
- `slem`: $\sum_t p(t)\,\tilde\psi(t)$, with $\tilde\psi$ the law of the first target token of
  one drafter token re-tokenised with the look-behind window (enumerated over the drafter's
  support, so use a top-k `Sampling` on large vocabularies);
- `slrs`: $\sum_t \min((1 - e)\,p(t), \tilde\psi(t))$ ($e$: the probability of an empty
  proposal);
- `slem_greedy`: 1 if the first token of the drafter's argmax, re-tokenised, is the target's
  argmax, else 0.

This separates each algorithm's acceptance from decoding noise: no sampling at all, one pass
per model. The claims `tli_acceptance_closed_form` and `slrs_acceptance_ge_slem` say
`tli >= union` and `slrs >= slem` at every position.
"""

from __future__ import annotations

from typing import Any

import torch

from .cross_drafters import DrafterReader, vocab_map_for
from .models import LoadedModel
from .slem import LookbehindRetokenizer
from .vocab_map import VocabMap

ALGORITHMS = ("union", "tli", "slem", "slrs", "slem_greedy")
#: The most drafter tokens with positive probability `teacher_forced` enumerates per position.
MAX_SUPPORT = 256


def _rows(model: Any, ids: list[int], probs: Any) -> torch.Tensor:
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
    return probs(logits.to(torch.float64))


def teacher_forced(
    target: LoadedModel,
    drafter: LoadedModel,
    target_ids: list[int],
    probs: Any,
    *,
    vocab_map: VocabMap | None = None,
    lookbehind: int = 4,
    start: int | None = None,
    max_support: int = MAX_SUPPORT,
) -> dict[str, list[float]]:
    """Per-position first-token acceptance of every algorithm (see the module).

    Args:
        target: the target.
        drafter: the drafter (another tokenizer).
        target_ids: the text as target ids (at least `start + 1`).
        probs: logits -> probabilities for both models (e.g. `Sampling(...).probs` at float64).
        vocab_map: the map (built when not given).
        lookbehind: SLEM's look-behind window.
        start: the first position scored (the row after `target_ids[:start]`); default the
            first at which the drafter has read something (Gemma's `<bos>` reads as nothing
            for SmolLM2).
        max_support: refuse a drafter row with more positive entries (SLEM/SLRS enumerate it).

    Returns:
        `{algorithm: [acceptance at positions start .. len(target_ids) - 1]}`.

    Raises:
        ValueError: on a text too short, a position the drafter cannot read, or a drafter row
            past `max_support`.
    """
    vocab_map = vocab_map if vocab_map is not None else vocab_map_for(target, drafter)
    reader = DrafterReader(target, drafter, vocab_map)
    retokenizer = LookbehindRetokenizer(target.tokenizer, lookbehind)
    drafter_ids = [] if reader.bos is None else [reader.bos]
    ends = []  # drafter ids read after each target prefix
    for token in target_ids:
        drafter_ids.extend(reader.token(token))
        ends.append(len(drafter_ids))
    if start is None:
        start = next((i + 1 for i, end in enumerate(ends) if end), len(target_ids))
    if len(target_ids) <= start or start < 1:
        raise ValueError(f"target_ids must hold more than start={start} ids (start >= 1)")
    p_rows = _rows(target.model, target_ids, lambda x: probs(x).to(torch.float64))
    q_rows = _rows(drafter.model, drafter_ids, lambda x: probs(x).to(torch.float64))
    shared_t, shared_d = vocab_map.target_ids, vocab_map.draft_ids
    out: dict[str, list[float]] = {name: [] for name in ALGORITHMS}
    for i in range(start, len(target_ids)):
        if ends[i - 1] == 0:
            raise ValueError(f"position {i}: the drafter has read nothing yet")
        p, q = p_rows[i - 1], q_rows[ends[i - 1] - 1]
        p_shared, q_shared = p[shared_t], q[shared_d]
        out["union"].append(float(torch.minimum(p_shared, q_shared).sum()))
        mass = q_shared.sum()
        out["tli"].append(
            float(torch.minimum(p_shared, q_shared / mass).sum()) if mass > 0 else 0.0
        )
        support = q.nonzero().flatten().tolist()
        if len(support) > max_support:
            raise ValueError(
                f"position {i}: the drafter row has {len(support)} tokens of positive "
                f"probability, more than max_support={max_support}: use top-k"
            )
        committed = target_ids[:i]
        psi: dict[int, float] = {}
        empty = 0.0
        total = float(q.sum())
        for d in support:
            text = drafter.tokenizer.decode([d], clean_up_tokenization_spaces=False)
            proposal = retokenizer.propose(committed, text)
            weight = float(q[d]) / total
            if proposal:
                psi[proposal[0]] = psi.get(proposal[0], 0.0) + weight
            else:
                empty += weight
        out["slem"].append(sum(float(p[t]) * w for t, w in psi.items()))
        out["slrs"].append(sum(min((1 - empty) * float(p[t]), w) for t, w in psi.items()))
        text = drafter.tokenizer.decode([int(q.argmax())], clean_up_tokenization_spaces=False)
        greedy = retokenizer.propose(committed, text)
        out["slem_greedy"].append(float(bool(greedy) and greedy[0] == int(p.argmax())))
    return out


__all__ = ["ALGORITHMS", "MAX_SUPPORT", "teacher_forced"]
