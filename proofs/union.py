"""Claims about the union baseline (standard SD over the union of two vocabularies)."""

from __future__ import annotations

from typing import Any

from specproof.reference import formulas as f
from specproof.reference.union import UNION, union_acceptance_formula, union_acceptance_rate

from .heterogeneous import GENERATED_LOSSLESS, check_on_cross_rows, cross_lossless_claim
from .registry import REGISTRY, CheckOptions, Outcome

check_union_lossless = cross_lossless_claim(
    UNION,
    "The union baseline is lossless: standard SD over $T \\cup D$ (target zero on $D \\setminus T$, "
    "drafter zero on $T \\setminus D$), the drafter reading the target's tokens token by token; "
    + GENERATED_LOSSLESS,
)
"""Law equality through the union round kernel."""


@REGISTRY.claim(
    "union_acceptance_closed_form",
    r"The union baseline's per-position acceptance rate, obtained by integrating standard SD's "
    r"rule over $T \cup D$, equals $\sum_{x \in I} \min(p(x), q(x))$ with $I = T \cap D$.",
    "hypothesis + exact arithmetic",
    scope="generated instances (see certificate)",
)
def check_union_acceptance_closed_form(options: CheckOptions) -> Outcome:
    """Executed union acceptance == sum over I of min(p, q)."""

    def prop(target: Any, draft: Any, shared: tuple[Any, ...]) -> dict[str, Any] | None:
        executed = union_acceptance_rate(target, draft)
        formula = union_acceptance_formula(
            [target[t] for t in shared], [draft[t] for t in shared], f.FRACTION_ARITH
        )
        return None if executed == formula else {"executed": str(executed), "formula": str(formula)}

    return check_on_cross_rows(prop, options)
