r"""Claims about the auditor's token-law criterion (`specproof.reference.token_law`).

The sampler-level audit issues `not-lossless` only when (a) an emitted token other than the last
differs from the draft, or (b) the emitted tokens completed with fresh target draws do not follow
$p_0 \otimes \dots \otimes p_K$. These claims check, in exact arithmetic, that the criterion
accepts the lossless rules whose round laws are not standard SD's, rejects every built-in broken
control, and implies a lossless generation for the lossless rules on context-dependent toy LMs.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from specproof.reference import Dist, ToyLM, autoregressive_law
from specproof.reference import round_rules as rr
from specproof.reference import token_law as tl
from specproof.reference.strategies import dists, ks, lm_pairs, vocabularies

from .checking import Examples, check_by_hypothesis, dist_json, law_difference, lm_json, loop_json
from .claims import LOSSLESS_METHOD, hypothesis_claim
from .registry import REGISTRY, CheckOptions, Outcome

Rows = tuple[list[Dist], list[Dist]]


@st.composite
def round_rows(draw: st.DrawFn, max_vocab: int = 3, max_k: int = 3) -> Rows:
    """`(target_rows [K+1], draft_rows [K])` over one vocabulary, some draft rows equal to target rows."""
    vocab = draw(vocabularies(1, max_vocab))
    k = draw(ks(max_k, min_k=1))
    target_rows = [draw(dists(vocab)) for _ in range(k + 1)]
    draft_rows = [target_rows[i] if draw(st.booleans()) else draw(dists(vocab)) for i in range(k)]
    return target_rows, draft_rows


def _rows_json(rows: Rows) -> dict[str, Any]:
    return {
        "target_rows": [dist_json(r) for r in rows[0]],
        "draft_rows": [dist_json(r) for r in rows[1]],
    }


def _failure(name: str, rows: Rows, check: tl.TokenLawCheck) -> dict[str, Any]:
    return {
        "rule": name,
        **_rows_json(rows),
        "mismatch_probability": str(check.mismatch_probability),
        "token_law_difference": law_difference(check.target_law, check.token_law),
        "positions_hold": check.positions_hold,
    }


def lossless_rules_hold(rows: Rows) -> dict[str, Any] | None:
    """(a), (b) and the per-position form, for every lossless rule of the reference."""
    for name, rule in rr.LOSSLESS_RULES.items():
        check = tl.check_token_law(rule, *rows)
        if not (check.holds and check.positions_hold):
            return _failure(name, rows, check)
    return None


check_lossless_rules = hypothesis_claim(
    "audit_token_law_lossless_rules",
    r"The token-law criterion holds for standard SD, sample-and-match, the sequential-sibling rule "
    r"and a draft-only stopping rule: for generated rows ($V \le 3$, $1 \le K \le 3$, zeros, "
    r"point masses, draft rows equal to target rows), (a) no emitted token but the last differs "
    r"from its draft, (b) the emitted tokens completed with fresh target draws follow "
    r"$p_0 \otimes \dots \otimes p_K$ exactly, and, equivalently, the token emitted at every "
    r"position $j$, given that the round reached $j$ and its emitted prefix, follows $p_j$.",
    round_rows(),
    lossless_rules_hold,
    Examples(40, 400, "target/draft rows, V<=3, 1<=K<=3"),
    method=LOSSLESS_METHOD,
    scope="generated rows, V <= 3, K = 1..3 (see certificate)",
)
"""(a), (b) and the per-position form, for every lossless rule of the reference."""


def broken_instances(seed: int, count: int) -> list[Rows]:
    """`count` seeded row sets (V in 2..3, K in 1..3, small integer weights, some zeros)."""
    rng = random.Random(seed)

    def row(v: int) -> Dist:
        weights = [rng.randint(0, 4) for _ in range(v)]
        if sum(weights) == 0:
            weights[rng.randrange(v)] = 1
        return Dist.over(list(range(v)), [Fraction(w, sum(weights)) for w in weights])

    instances = []
    for _ in range(count):
        v, k = rng.randint(2, 3), rng.randint(1, 3)
        instances.append(([row(v) for _ in range(k + 1)], [row(v) for _ in range(k)]))
    return instances


@REGISTRY.claim(
    "audit_token_law_broken_controls_fail",
    r"Every built-in broken control of the auditor (wrong q reported, processor on one side, "
    r"residual not renormalised, argmax fallback, bonus off by one, permuted vocabulary, "
    r"accept-always) and a stopping rule that reads the draft it drops violates the token-law "
    r"criterion: for each, the exact check finds seeded rows ($V \le 3$, $K \le 3$) where (a) or "
    r"(b) fails, and on every row set (b) and its per-position form agree.",
    "exhaustive search + exact enumeration",
    scope="seeded rows, V = 2..3, K = 1..3, one witness per control",
)
def check_broken_rules_fail(options: CheckOptions) -> Outcome:
    """A witness per broken rule; the certificate holds it."""
    instances = broken_instances(options.seed, 60 if options.thorough else 25)
    witnesses: dict[str, Any] = {}
    for name, rule in rr.BROKEN_RULES.items():
        for index, rows in enumerate(instances):
            check = tl.check_token_law(rule, *rows)
            if check.mismatch_probability == 0 and (
                (check.token_law == check.target_law) != check.positions_hold
            ):
                return Outcome(
                    "refuted",
                    {"counterexample": {"equivalence_fails": _failure(name, rows, check)}},
                )
            if not check.holds:
                witnesses[name] = {"instance": index, **_failure(name, rows, check)}
                break
        else:
            return Outcome(
                "refuted",
                {
                    "counterexample": {
                        "rule": name,
                        "reason": "the criterion held on every instance",
                        "instances": len(instances),
                    }
                },
            )
    return Outcome(
        "checked", {"instances": len(instances), "seed": options.seed, "witnesses": witnesses}
    )


@st.composite
def generation_cases(draw: st.DrawFn) -> tuple[ToyLM, ToyLM, tuple[Any, ...], int, int]:
    r"""Toy target/draft LMs ($V \le 3$, order $\le 1$), a prefix, $n \le 3$, $K \le 2$."""
    target, draft = draw(lm_pairs(max_vocab=3, max_order=1))
    prefix = tuple(draw(st.lists(st.sampled_from(target.vocab), max_size=1)))
    return target, draft, prefix, draw(st.integers(1, 3)), draw(st.integers(1, 2))


@REGISTRY.claim(
    "audit_token_law_implies_lossless_generation",
    r"For the rules that satisfy the token-law criterion and are causal (they read target row "
    r"$i+1$ only after emitting position $i$, and verify a draft position depending only on the "
    r"drafts before it: standard SD, sample-and-match, the sequential-sibling rule, the "
    r"draft-only stopping rule), the speculative loop with context-dependent rows is lossless: "
    r"for generated toy target/draft LMs ($V \le 3$, Markov order $\le 1$), prefixes, "
    r"$n \le 3$ and $K \le 2$, the exact law of the first $n$ tokens equals the target's "
    r"autoregressive law; a stopping rule that reads the draft it drops is not.",
    "hypothesis + exact enumeration",
    scope="generated toy LMs, V <= 3, order <= 1, n <= 3, K <= 2",
)
def check_implies_lossless_generation(options: CheckOptions) -> Outcome:
    """Generation laws of the lossless rules equal the autoregressive law; a negative control."""

    def prop(case: tuple[ToyLM, ToyLM, tuple[Any, ...], int, int]) -> dict[str, Any] | None:
        target, draft, prefix, n, k = case
        for name, rule in rr.LOSSLESS_RULES.items():
            if not tl.is_lossless_generation(rule, target, draft, prefix, n, k):
                return {"rule": name, **loop_json(target, draft, prefix, n, k=k)}
        return None

    outcome = check_by_hypothesis(
        generation_cases(),
        prop,
        options,
        Examples(12, 150, "toy LM pairs, V<=3, order<=1, n<=3, K<=2"),
    )
    if outcome.status != "checked":
        return outcome
    control = _lossy_stopping_witness()
    if control is None:
        return Outcome(
            "unknown",
            {**outcome.certificate, "reason": "the negative control was not detected"},
        )
    return Outcome("checked", {**outcome.certificate, "negative_control": control})


def _lossy_stopping_witness() -> dict[str, Any] | None:
    """A fixed toy pair on which the stopping rule that reads its dropped draft is lossy."""
    quarter = Fraction(1, 4)
    vocab: Sequence[int] = (0, 1)
    target = ToyLM(vocab, 0, {(): {0: quarter, 1: 1 - quarter}})
    draft = ToyLM(vocab, 0, {(): {0: 1 - quarter / 2, 1: quarter / 2}})
    rule = rr.BROKEN_RULES["stop-on-unconfident-draft"]
    if tl.is_lossless_generation(rule, target, draft, (), 2, 2):
        return None
    return {
        "rule": "stop-on-unconfident-draft",
        "target": lm_json(target),
        "draft": lm_json(draft),
        "n": 2,
        "k": 2,
        "law_difference": law_difference(
            dict(autoregressive_law(target, (), 2).items()),
            tl.generation_law(rule, target, draft, (), 2, 2),
        ),
    }
