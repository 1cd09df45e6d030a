r"""Claims about TLI (token-level intersection): lossless, and never below the union baseline.

Notation: $T$ the target's vocabulary, $D$ the drafter's, $I = T \cap D$, $p$ over $T$, $q$ over
$D$, $s = q(I) = \sum_{x \in I} q(x) > 0$. TLI accepts
$\alpha_{TLI} = \sum_{x \in I} \min(p(x), q(x)/s)$ per position, the union baseline
$\alpha_{union} = \sum_{x \in I} \min(p(x), q(x))$.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import z3

from specproof.reference import Dist
from specproof.reference import formulas as f
from specproof.reference.dist import Token
from specproof.reference.tli import TLI, tli_acceptance_formula, tli_acceptance_rate
from specproof.reference.union import union_acceptance_formula, union_acceptance_rate

from .arith import Z3_ARITH
from .claims import proof_claim
from .heterogeneous import GENERATED_LOSSLESS, cross_lossless_claim, cross_rows_claim
from .registry import REGISTRY, CheckOptions, Outcome
from .smt import distribution_variables, prove_by_refutation, prove_for_sizes, prove_lemma_sum

#: `(|T|, |D|, |I|)` proved directly by z3 (default run; `--thorough` adds larger ones).
SHAPES: tuple[tuple[int, int, int], ...] = ((1, 2, 1), (2, 2, 1), (2, 3, 2), (3, 3, 2), (3, 3, 3))
THOROUGH_SHAPES: tuple[tuple[int, int, int], ...] = ((3, 4, 3), (4, 4, 3), (4, 4, 4))


check_tli_lossless = cross_lossless_claim(
    TLI,
    "TLI is lossless: the drafter's row restricted to the shared tokens and renormalised, "
    "drafted from and verified by standard SD against the target, the drafter reading the "
    "target's tokens token by token; " + GENERATED_LOSSLESS,
)
"""Law equality through the TLI round kernel."""


def tli_acceptance_matches_formula(
    target: Dist, draft: Dist, shared: tuple[Token, ...]
) -> dict[str, Any] | None:
    """`None` if executed TLI acceptance == formula >= executed union acceptance, equality as stated."""
    executed = tli_acceptance_rate(target, draft)
    union = union_acceptance_rate(target, draft)
    formula = tli_acceptance_formula(
        [target[t] for t in shared], [draft[t] for t in shared], f.FRACTION_ARITH
    )
    mass = sum(draft[t] for t in shared)
    condition = mass == 1 or all(draft[t] == 0 or target[t] <= draft[t] for t in shared)
    if executed == formula and executed >= union and (executed == union) == condition:
        return None
    return {
        "executed": str(executed),
        "formula": str(formula),
        "union_executed": str(union),
        "equality_condition": condition,
    }


check_tli_acceptance_closed_form = cross_rows_claim(
    "tli_acceptance_closed_form",
    r"TLI's per-position acceptance rate, obtained by integrating standard SD's rule against "
    r"$q_I = q / q(I)$ on $I$, equals $\sum_{x \in I} \min(p(x), q(x)/q(I))$, and is at least the "
    r"union baseline's executed rate; they are equal iff $q(I) = 1$ or $p(x) \le q(x)$ for every "
    r"$x \in I$ with $q(x) > 0$.",
    tli_acceptance_matches_formula,
)
"""Executed TLI acceptance == formula >= executed union acceptance, equality as stated."""


def equality_condition(target_shared: Sequence[Any], draft_shared: Sequence[Any], mass: Any) -> Any:
    r"""$q(I) = 1 \lor \forall x \in I:\ q(x) = 0 \lor p(x) \le q(x)$, as a z3 Bool."""
    return z3.Or(
        mass == 1,
        z3.And([z3.Or(q == 0, p <= q) for p, q in zip(target_shared, draft_shared, strict=True)]),
    )


def prove_tli_ge_union(
    target_size: int,
    drafter_size: int,
    shared_size: int,
    timeout_s: float,
    condition: Callable[[Sequence[Any], Sequence[Any], Any], Any] | None = None,
) -> Outcome:
    r"""Prove $\alpha_{TLI} \ge \alpha_{union}$, with equality iff the condition, for one shape (z3).

    Theorem. For $|T| =$ `target_size`, $|D| =$ `drafter_size`, $|I| =$ `shared_size` (the first
    `shared_size` tokens of each), all $p \ge 0$ over $T$ and $q \ge 0$ over $D$ summing to 1
    with $q(I) > 0$: `tli_acceptance_formula` $\ge$ `union_acceptance_formula`, and they are equal
    iff $q(I) = 1$ or every $x \in I$ has $q(x) = 0$ or $p(x) \le q(x)$.

    Certificate: z3's result on the negation, unsat core, formula size, statistics.

    Args:
        target_size: $|T|$.
        drafter_size: $|D|$.
        shared_size: $|I|$, at most both.
        timeout_s: z3's time limit.
        condition: `condition(p_shared, q_shared, q(I))`, the claimed equality condition
            (`equality_condition` by default; a wrong one is a negative control).
    """
    target, draft, hypotheses = distribution_variables(target_size, drafter_size)
    p_shared, q_shared = target[:shared_size], draft[:shared_size]
    mass = f.total(q_shared, Z3_ARITH)
    hypotheses["shared_mass_positive"] = mass > 0
    tli = tli_acceptance_formula(p_shared, q_shared, Z3_ARITH)
    union = union_acceptance_formula(p_shared, q_shared, Z3_ARITH)
    condition = condition or equality_condition
    claim = z3.And(tli >= union, (tli == union) == condition(p_shared, q_shared, mass))
    outcome = prove_by_refutation(hypotheses, claim, target + draft, timeout_s)
    return Outcome(
        outcome.status,
        {"shape": {"T": target_size, "D": drafter_size, "I": shared_size}, **outcome.certificate},
    )


@REGISTRY.claim(
    "tli_acceptance_ge_union_smt",
    r"For all distributions $p$ over $T$ and $q$ over $D$ with $q(I) > 0$: "
    r"$\sum_{x \in I} \min(p, q/q(I)) \ge \sum_{x \in I} \min(p, q)$ "
    r"($\alpha_{TLI} \ge \alpha_{union}$), with equality iff $q(I) = 1$ or $p(x) \le q(x)$ for "
    r"every $x \in I$ with $q(x) > 0$; proved directly by z3 for "
    r"$(|T|, |D|, |I|) \in \{(1,2,1), (2,2,1), (2,3,2), (3,3,2), (3,3,3)\}$ (more under "
    r"`--thorough`).",
    "z3",
    scope="5 size triples (|T|, |D|, |I|) (8 thorough)",
)
def check_tli_acceptance_ge_union_smt(options: CheckOptions) -> Outcome:
    """The ordering and its equality condition for fixed shapes."""
    shapes = SHAPES + (THOROUGH_SHAPES if options.thorough else ())
    outcome = prove_for_sizes(
        lambda index: prove_tli_ge_union(*shapes[index], options.timeout_s), range(len(shapes))
    )
    return Outcome(outcome.status, {"shapes": [list(s) for s in shapes], **outcome.certificate})


def prove_tli_ge_union_any_vocabulary(shared_size: int, timeout_s: float) -> Outcome:
    r"""Prove $\alpha_{TLI} \ge \alpha_{union}$ for every vocabulary by a per-token lemma (z3).

    Proof.

    1. *Lemma* (one token): for $a \ge 0$, $b \ge 0$, $0 < s \le 1$:
       $\min(a, b/s) \ge \min(a, b)$, and equality holds iff $s = 1 \lor b = 0 \lor a \le b$.
       z3 refutes the negation (nonlinear, three variables).
    2. *Hypotheses met*: $s = q(I) \le 1$ because $q \ge 0$ sums to 1 over $D \supseteq I$;
       $s > 0$ is TLI's own precondition (else [`tli_proposal`][specproof.reference.tli.tli_proposal]
       refuses).
    3. *Combination*: both rates are sums over $x \in I$ of the lemma's two sides at
       $a = p(x)$, $b = q(x)$ and the same $s$; summing the instances gives the ordering
       ([`prove_lemma_sum`][specproof.proofs.smt.prove_lemma_sum], run at $|I| =$
       `shared_size`; valid for any size, as explained there). *Equality*: a sum of
       nonnegative differences is zero iff each is, i.e. iff the per-token equality condition
       holds at every $x \in I$; at $s = 1$ it holds everywhere, otherwise it says
       $q(x) = 0 \lor p(x) \le q(x)$ for each $x$: the stated condition.

    Args:
        shared_size: $|I|$ at which the linear step is run.
        timeout_s: z3's time limit per call.
    """
    a, b, s = z3.Reals("a b s")
    hyp = {
        "a_nonnegative": a >= 0,
        "b_nonnegative": b >= 0,
        "s_in_0_1": z3.And(s > 0, s <= 1),
    }
    tli_term = f.accepted_mass(a, b / s, Z3_ARITH)
    union_term = f.accepted_mass(a, b, Z3_ARITH)
    lemma = prove_by_refutation(
        hyp,
        z3.And(
            tli_term >= union_term,
            (tli_term == union_term) == z3.Or(s == 1, b == 0, a <= b),
        ),
        [a, b, s],
        timeout_s,
    )
    if lemma.status != "proved":
        return lemma
    target = [z3.Real(f"p_{i}") for i in range(shared_size)]
    draft = [z3.Real(f"q_{i}") for i in range(shared_size)]
    mass = f.total(draft, Z3_ARITH)
    tli_terms = [f.accepted_mass(p, q / mass, Z3_ARITH) for p, q in zip(target, draft, strict=True)]
    union_terms = [f.accepted_mass(p, q, Z3_ARITH) for p, q in zip(target, draft, strict=True)]
    fresh_tli = [z3.Real(f"t_{i}") for i in range(shared_size)]
    fresh_union = [z3.Real(f"u_{i}") for i in range(shared_size)]
    totals = (
        tli_acceptance_formula(target, draft, Z3_ARITH),
        union_acceptance_formula(target, draft, Z3_ARITH),
    )
    atoms = list(zip(tli_terms, fresh_tli, strict=True)) + list(
        zip(union_terms, fresh_union, strict=True)
    )
    instances = [t >= u for t, u in zip(fresh_tli, fresh_union, strict=True)]
    outcome = prove_lemma_sum(lemma, totals, atoms, instances, target + draft, timeout_s)
    if outcome.status != "proved":
        return outcome
    return Outcome(
        "proved",
        {
            **outcome.certificate,
            "shared_size": shared_size,
            "equality": "per-token equality lemma proved with the ordering (step 1); the sum of "
            "nonnegative per-token differences is zero iff each is",
        },
    )


check_tli_acceptance_ge_union_any_vocabulary = proof_claim(
    "tli_acceptance_ge_union_any_vocabulary",
    r"For vocabularies of any size: $\alpha_{TLI} = \sum_{x \in I} \min(p, q/q(I)) \ge "
    r"\sum_{x \in I} \min(p, q) = \alpha_{union}$, with equality iff $q(I) = 1$ or $p(x) \le q(x)$ "
    r"for every $x \in I$ with $q(x) > 0$: a z3-proved per-token lemma "
    r"($\min(a, b/s) \ge \min(a, b)$ for $a, b \ge 0$, $0 < s \le 1$, equality iff "
    r"$s = 1 \lor b = 0 \lor a \le b$) summed over $I$; the linear step is run at $|I| = 500$ "
    r"($1000$ thorough).",
    "z3",
    prove_tli_ge_union_any_vocabulary,
    default=(500,),
    thorough=(1000,),
    timeout=True,
    scope="all sizes (lemma; sum step at |I| = 500)",
)
"""The ordering for every vocabulary size."""
