r"""A correct sampler-level verify function and deliberately broken ones (negative controls).

[`standard_sd`][specproof.audit.controls.standard_sd] is a plain numpy implementation of
standard SD with the signature the sampler-level audit expects; the audit must find it
`consistent` (it is the null control of the calibration tests), and so must every rule in
[`LOSSLESS`][specproof.audit.controls.LOSSLESS]: lossless verification rules whose round law
(the law of the output tuple) is not standard SD's, so that an audit which compared round laws
would wrongly call them `not-lossless` (exact forms: `specproof.reference.round_rules`). Every
function in
[`BROKEN`][specproof.audit.controls.BROKEN] reproduces one known bug pattern of SD
implementations (shared/research/anchors-sd.md, section 3); `specproof audit controls` runs them
all and each must be flagged `not-lossless`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

Sampler = Callable[[np.ndarray, np.ndarray, np.ndarray, np.random.Generator], Sequence[int]]


def inverse_cdf(weights: np.ndarray, u: float) -> int:
    """The first index whose cumulative weight exceeds `u * sum(weights)`."""
    cdf = np.cumsum(weights)
    return int(min(np.searchsorted(cdf, u * cdf[-1], side="right"), weights.size - 1))


def _sd(
    target_probs: np.ndarray,
    draft_probs: np.ndarray,
    draft_tokens: np.ndarray,
    rng: np.random.Generator,
    ratio_target: Callable[[np.ndarray, int], np.ndarray] = lambda p, i: p[i],
    ratio_draft: Callable[[np.ndarray, int], np.ndarray] = lambda q, i: q[i],
    recover: Callable[[np.ndarray, np.ndarray, float], int] | None = None,
    bonus_row: Callable[[np.ndarray, int], np.ndarray] = lambda p, k: p[k],
) -> list[int]:
    """Standard SD with hooks that the broken variants replace."""
    out: list[int] = []
    k = len(draft_tokens)
    for i in range(k):
        x = int(draft_tokens[i])
        p, q = ratio_target(target_probs, i), ratio_draft(draft_probs, i)
        if rng.random() * q[x] < p[x]:
            out.append(x)
            continue
        residual = np.maximum(target_probs[i] - draft_probs[i], 0.0)
        u = rng.random()
        out.append(recover(residual, target_probs[i], u) if recover else inverse_cdf(residual, u))
        return out
    out.append(inverse_cdf(bonus_row(target_probs, k), rng.random()))
    return out


def standard_sd(
    target_probs: np.ndarray,
    draft_probs: np.ndarray,
    draft_tokens: np.ndarray,
    rng: np.random.Generator,
) -> list[int]:
    """Correct standard SD: accept iff `u * q(x) < p(x)`, recover from `(p - q)+`, bonus from `p[K]`."""
    return _sd(target_probs, draft_probs, draft_tokens, rng)


def wrong_q_reported(target_probs, draft_probs, draft_tokens, rng):  # type: ignore[no-untyped-def]
    """Bug: the ratio uses a q that is not the one the drafts were drawn from (raw vs processed: q**2)."""

    def squared(q: np.ndarray, i: int) -> np.ndarray:
        return q[i] ** 2 / (q[i] ** 2).sum()

    return _sd(target_probs, draft_probs, draft_tokens, rng, ratio_draft=squared)


def processor_one_side(target_probs, draft_probs, draft_tokens, rng):  # type: ignore[no-untyped-def]
    """Bug: temperature 0.5 applied to the target in the acceptance test only, not to the residual or bonus."""

    def tempered(p: np.ndarray, i: int) -> np.ndarray:
        return p[i] ** 2 / (p[i] ** 2).sum()

    return _sd(target_probs, draft_probs, draft_tokens, rng, ratio_target=tempered)


def residual_not_renormalised(target_probs, draft_probs, draft_tokens, rng):  # type: ignore[no-untyped-def]
    """Bug: recover with the first y such that `u < cumsum((p - q)+)[y]`, falling back to the last token."""

    def recover(residual: np.ndarray, p: np.ndarray, u: float) -> int:
        hit = np.flatnonzero(np.cumsum(residual) > u)
        return int(hit[0]) if hit.size else residual.size - 1

    return _sd(target_probs, draft_probs, draft_tokens, rng, recover=recover)


def argmax_fallback(target_probs, draft_probs, draft_tokens, rng):  # type: ignore[no-untyped-def]
    """Bug: after a rejection output the residual's argmax instead of sampling it."""

    def recover(residual: np.ndarray, p: np.ndarray, u: float) -> int:
        return int(np.argmax(residual))

    return _sd(target_probs, draft_probs, draft_tokens, rng, recover=recover)


def bonus_off_by_one(target_probs, draft_probs, draft_tokens, rng):  # type: ignore[no-untyped-def]
    """Bug: the bonus token is drawn from the target row of the last draft position (K-1), not K."""
    return _sd(
        target_probs, draft_probs, draft_tokens, rng, bonus_row=lambda p, k: p[max(k - 1, 0)]
    )


def permuted_vocabulary(target_probs, draft_probs, draft_tokens, rng):  # type: ignore[no-untyped-def]
    """Bug: the draft row is looked up through a vocabulary map that swaps ids 0 and 1."""

    def swapped(q: np.ndarray, i: int) -> np.ndarray:
        row = q[i].copy()
        row[[0, 1]] = row[[1, 0]]
        return row

    return _sd(target_probs, draft_probs, draft_tokens, rng, ratio_draft=swapped)


def accept_always(target_probs, draft_probs, draft_tokens, rng):  # type: ignore[no-untyped-def]
    """Bug: every draft is accepted (the verifier is a no-op), then a bonus token."""
    return [int(t) for t in draft_tokens] + [inverse_cdf(target_probs[-1], rng.random())]


def sample_and_match(target_probs, draft_probs, draft_tokens, rng):  # type: ignore[no-untyped-def]
    """Lossless, not standard SD: accept a draft iff it equals a fresh draw from the target; emit that draw."""
    out: list[int] = []
    for i, x in enumerate(draft_tokens):
        y = inverse_cdf(target_probs[i], rng.random())
        out.append(y)
        if y != int(x):
            return out
    out.append(inverse_cdf(target_probs[-1], rng.random()))
    return out


def sequential_sibling(target_probs, draft_probs, draft_tokens, rng):  # type: ignore[no-untyped-def]
    """Lossless, not standard SD: try the draft, then the draft row's top other token, each w.p. p'(c), zeroing rejected ones."""
    out: list[int] = []
    for i, x in enumerate(draft_tokens):
        x = int(x)
        others = draft_probs[i].copy()
        others[x] = -1.0
        remaining = target_probs[i].copy()
        chosen = None
        for candidate in (x, int(np.argmax(others))):
            if rng.random() * remaining.sum() < remaining[candidate]:
                chosen = candidate
                break
            remaining[candidate] = 0.0
        if chosen == x:
            out.append(x)
            continue
        out.append(chosen if chosen is not None else inverse_cdf(remaining, rng.random()))
        return out
    out.append(inverse_cdf(target_probs[-1], rng.random()))
    return out


def draft_only_stopping(target_probs, draft_probs, draft_tokens, rng):  # type: ignore[no-untyped-def]
    """Lossless, not standard SD: verify drafts only up to the first one with draft probability < 1/2."""
    kept = len(draft_tokens)
    for i, x in enumerate(draft_tokens):
        if draft_probs[i, int(x)] < 0.5:
            kept = i + 1
            break
    return _sd(target_probs[: kept + 1], draft_probs[:kept], draft_tokens[:kept], rng)


#: The cases the lossless controls run on: (family, V, K). Their acceptance is lower than standard
#: SD's (sample-and-match and the sibling rule accept a draft with probability sum_x p(x) q(x)),
#: so on high-entropy rows their deep positions are reached too rarely to be covered and the
#: honest verdict there is `inconclusive`; on these low-entropy rows every path is reached.
LOSSLESS_PLAN: tuple[tuple[str, int, int], ...] = (
    ("peaked", 2, 1),
    ("point", 4, 3),
    ("peaked", 4, 2),
    ("peaked", 8, 4),
    ("peaked", 6, 8),
    ("peaked", 64, 2),
    ("peaked", 1000, 3),
)

#: Lossless rules whose round law is not standard SD's: (name, function). Each must be `consistent`
#: (on [`LOSSLESS_PLAN`][specproof.audit.controls.LOSSLESS_PLAN]).
LOSSLESS: tuple[tuple[str, Sampler], ...] = (
    ("sample-and-match", sample_and_match),
    ("sequential-sibling", sequential_sibling),
    ("draft-only-stopping", draft_only_stopping),
)


#: The negative controls: (name, function). Each must be flagged `not-lossless`.
BROKEN: tuple[tuple[str, Sampler], ...] = (
    ("wrong-q-reported", wrong_q_reported),
    ("processor-one-side", processor_one_side),
    ("residual-not-renormalised", residual_not_renormalised),
    ("argmax-fallback", argmax_fallback),
    ("bonus-off-by-one", bonus_off_by_one),
    ("permuted-vocabulary", permuted_vocabulary),
    ("accept-always", accept_always),
)


def spec(fn: Sampler) -> str:
    """`MODULE:FUNCTION` of a control, to audit it behind the process boundary.

    [`IsolatedFunction`][specproof.audit.boundary.IsolatedFunction]`(spec(fn))` runs the control
    in a child process; the audit's outputs are the same as in process (the generator's stream
    crosses the boundary), so a caller may choose either (the command line's default is the
    boundary).
    """
    return f"{fn.__module__}:{fn.__qualname__}"


#: Every control with its expected verdict: (name, function, expected verdict).
RUNS: tuple[tuple[str, Sampler, str], ...] = (
    ("standard-sd (correct)", standard_sd, "consistent"),
    *((f"{name} (lossless, other round law)", fn, "consistent") for name, fn in LOSSLESS),
    *((name, fn, "not-lossless") for name, fn in BROKEN),
)
