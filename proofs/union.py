"""Claims about the union baseline (standard SD over the union of two vocabularies)."""

from __future__ import annotations

from typing import Any

from specproof.reference import Dist
from specproof.reference import formulas as f
from specproof.reference.dist import Token
from specproof.reference.union import UNION, union_acceptance_formula, union_acceptance_rate

from .heterogeneous import GENERATED_LOSSLESS, cross_lossless_claim, cross_rows_claim

check_union_lossless = cross_lossless_claim(
    UNION,
    "The union baseline is lossless: standard SD over $T \\cup D$ (target zero on $D \\setminus T$, "
    "drafter zero on $T \\setminus D$), the drafter reading the target's tokens token by token; "
    + GENERATED_LOSSLESS,
)
"""Law equality through the union round kernel."""


def union_acceptance_matches_formula(
    target: Dist, draft: Dist, shared: tuple[Token, ...]
) -> dict[str, Any] | None:
    r"""`None` if the executed union acceptance equals the sum over $I$ of $\min(p, q)$."""
    executed = union_acceptance_rate(target, draft)
    formula = union_acceptance_formula(
        [target[t] for t in shared], [draft[t] for t in shared], f.FRACTION_ARITH
    )
    return None if executed == formula else {"executed": str(executed), "formula": str(formula)}


check_union_acceptance_closed_form = cross_rows_claim(
    "union_acceptance_closed_form",
    r"The union baseline's per-position acceptance rate, obtained by integrating standard SD's "
    r"rule over $T \cup D$, equals $\sum_{x \in I} \min(p(x), q(x))$ with $I = T \cap D$.",
    union_acceptance_matches_formula,
)
"""Executed union acceptance == sum over I of min(p, q)."""
