r"""SMT proofs with z3: prove a claim by refuting its negation, and return the answer as data.

The recipe (z3's own examples do it this way): assert the hypotheses and the *negated* claim,
then ask z3 whether that is satisfiable.

- `unsat`: no instance satisfies the hypotheses and violates the claim, so the claim is
  **proved** for every instance the variables range over. The certificate holds the unsat core
  (which tracked hypotheses the refutation needed), the negated formula's size, the solver's
  statistics and the time.
- `sat`: z3's model is a **counterexample**. Its values are converted to `Fraction`s and
  replayed in the exact reference (the claim re-evaluated with
  [`FRACTION_ARITH`][specproof.reference.formulas.FRACTION_ARITH], plus the reference's
  executed quantities), and the outcome is **refuted**.
- `unknown` (timeout, or the solver gave up): the outcome is **unknown** with z3's reason. It
  never counts as proved.

Claims about distributions ([`DistributionClaim`][specproof.proofs.smt.DistributionClaim]) are
built from the formulas in `specproof.reference.formulas`, executed with
[`Z3_ARITH`][specproof.proofs.arith.Z3_ARITH]: the target $p$ and the draft $q$ are vectors of
z3 `Real`s with the hypotheses $p(x) \ge 0$, $q(x) \ge 0$, $\sum_x p(x) = \sum_x q(x) = 1$.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import z3

from specproof.reference import Dist, laws
from specproof.reference import formulas as f
from specproof.reference.arguments import check_int

from .arith import Z3_ARITH
from .registry import Outcome, Status

#: How many characters of the negated formula (SMT-LIB text) a certificate keeps.
FORMULA_PREVIEW_CHARS = 600

Conjuncts = Callable[[Sequence[Any], Sequence[Any], f.Arith], list[Any]]
Replay = Callable[[Mapping[str, Fraction]], dict[str, Any]]


def status_of(result: z3.CheckSatResult) -> Status:
    """The status that z3's answer to a *negated* claim means: unsat → proved, sat → refuted.

    Anything else (`unknown`: timeout, resource limit, incompleteness) is `unknown`.
    """
    if result == z3.unsat:
        return "proved"
    if result == z3.sat:
        return "refuted"
    return "unknown"


def formula_size(expr: z3.ExprRef) -> int:
    """The number of distinct nodes of `expr` as a DAG (shared subterms counted once)."""
    ctx = expr.ctx_ref()
    seen: set[int] = set()
    stack = [expr.as_ast()]
    while stack:
        node = stack.pop()
        key = z3.Z3_get_ast_id(ctx, node)
        if key in seen:
            continue
        seen.add(key)
        if z3.Z3_get_ast_kind(ctx, node) == z3.Z3_APP_AST:
            app = z3.Z3_to_app(ctx, node)
            stack.extend(
                z3.Z3_get_app_arg(ctx, app, i) for i in range(z3.Z3_get_app_num_args(ctx, app))
            )
    return len(seen)


def to_fraction(value: z3.ExprRef) -> tuple[Fraction, bool]:
    """A model value as `(Fraction, exact)`; an irrational algebraic value is rounded (not exact)."""
    if z3.is_rational_value(value):
        return Fraction(value.numerator_as_long(), value.denominator_as_long()), True
    if z3.is_algebraic_value(value):
        approx = value.approx(40)
        return Fraction(approx.numerator_as_long(), approx.denominator_as_long()), False
    raise ValueError(f"value must be a z3 real numeral, got {value!r}")


def _statistics(solver: z3.Solver) -> dict[str, Any]:
    stats = solver.statistics()
    return {key: stats.get_key_value(key) for key in stats.keys()}


def prove_by_refutation(
    hypotheses: Mapping[str, Any],
    claim: Any,
    variables: Sequence[Any],
    timeout_s: float,
    replay: Replay | None = None,
    *,
    track: bool = True,
) -> Outcome:
    r"""Prove `claim` under `hypotheses` by asking z3 for a model of the negation.

    With `track`, every hypothesis and the negated claim are tracked assertions
    (`assert_and_track`), so an `unsat` answer comes with the core of assertions the refutation
    used. Tracking turns assertions into assumption literals, which blocks much of z3's
    preprocessing: on the nonlinear SD instances it turns a one-second proof into a timeout, so
    those claims pass `track=False` and their certificate says the core was not tracked.

    Args:
        hypotheses: `{name: z3 Bool}`; the names appear in the certificate and the unsat core.
        claim: a z3 Bool over `variables`.
        variables: the z3 `Real` constants a counterexample assigns.
        timeout_s: the solver's time limit in seconds (z3's `timeout` parameter).
        replay: called with a counterexample `{variable name: Fraction}` (only when every value
            is rational); returns what the reference computes there (JSON data).
        track: track assertions to get an unsat core (see above).

    Returns:
        `proved` (certificate: `backend`, `result`, `unsat_core`, `negated_claim_size`,
        `negated_claim` (a prefix of its SMT-LIB text), `hypotheses`, `statistics`,
        `seconds`), `refuted` (the same plus `counterexample`) or `unknown` (plus `reason`).

    Raises:
        ValueError: if `timeout_s` is not positive.
    """
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
    solver = z3.Solver()
    solver.set("timeout", max(1, round(timeout_s * 1000)))
    negated = z3.Not(claim)
    for name, assertion in [*hypotheses.items(), ("negated_claim", negated)]:
        if track:
            solver.assert_and_track(assertion, z3.Bool(name))
        else:
            solver.add(assertion)
    start = time.perf_counter()
    result = solver.check()
    seconds = time.perf_counter() - start
    status = status_of(result)
    text = negated.sexpr()
    certificate: dict[str, Any] = {
        "backend": "z3",
        "z3_version": z3.get_version_string(),
        "result": str(result),
        "seconds": seconds,
        "timeout_s": timeout_s,
        "negated_claim_size": formula_size(negated),
        "negated_claim": text[:FORMULA_PREVIEW_CHARS]
        + ("…" if len(text) > FORMULA_PREVIEW_CHARS else ""),
        "hypotheses": list(hypotheses),
        "statistics": _statistics(solver),
    }
    if status == "proved":
        certificate["unsat_core"] = (
            sorted(str(c) for c in solver.unsat_core()) if track else "not tracked"
        )
    elif status == "refuted":
        certificate["counterexample"] = _counterexample(solver.model(), variables, replay)
    else:
        certificate["reason"] = solver.reason_unknown()
    return Outcome(status, certificate)


def _counterexample(
    model: z3.ModelRef, variables: Sequence[Any], replay: Replay | None
) -> dict[str, Any]:
    values: dict[str, Fraction] = {}
    exact = True
    for var in variables:
        value, is_exact = to_fraction(model.eval(var, model_completion=True))
        values[str(var)] = value
        exact = exact and is_exact
    counterexample: dict[str, Any] = {
        "values": {name: str(value) for name, value in values.items()},
        "exact": exact,
    }
    if replay is not None and exact:
        counterexample["replay"] = replay(values)
    return counterexample


@dataclass(frozen=True)
class DistributionClaim:
    r"""A claim about every pair of distributions $(p, q)$ over a vocabulary of size $V$.

    Attributes:
        name: a short name for the certificate.
        conjuncts: `conjuncts(target, draft, arith)` returns the list of comparisons whose
            conjunction is the claim, written with the formulas of
            `specproof.reference.formulas`. It runs with `Z3_ARITH` (comparisons are z3 Bools)
            for the proof and with `FRACTION_ARITH` (plain `bool`s) for the replay of a
            counterexample, so both check the same formula.
        reference: optional `reference(target_dist, draft_dist)`: what the reference executes at
            a counterexample (e.g. its acceptance rates and laws), as JSON data.
    """

    name: str
    conjuncts: Conjuncts
    reference: Callable[[Dist, Dist], dict[str, Any]] | None = None

    def holds_exactly(self, target: Sequence[Fraction], draft: Sequence[Fraction]) -> bool:
        """The claim evaluated on exact distributions with `FRACTION_ARITH`."""
        return all(self.conjuncts(target, draft, f.FRACTION_ARITH))


def distribution_variables(
    vocab_size: int, draft_size: int | None = None
) -> tuple[list[Any], list[Any], dict[str, Any]]:
    """Target and draft vectors of z3 Reals, and their hypotheses (nonnegative, summing to 1).

    Args:
        vocab_size: the target's number of tokens (and the draft's, unless `draft_size`).
        draft_size: the draft's number of tokens when its vocabulary is another one.

    Raises:
        ValueError: if `vocab_size` or `draft_size` is not an int >= 1.
    """
    sizes = {
        "vocab_size": vocab_size,
        "draft_size": vocab_size if draft_size is None else draft_size,
    }
    for name, size in sizes.items():
        check_int(size, name)
    target = [z3.Real(f"p_{i}") for i in range(sizes["vocab_size"])]
    draft = [z3.Real(f"q_{i}") for i in range(sizes["draft_size"])]
    hypotheses: dict[str, Any] = {}
    for role, vector in (("p", target), ("q", draft)):
        for i, var in enumerate(vector):
            hypotheses[f"{role}_{i}_nonnegative"] = var >= 0
        hypotheses[f"{role}_sums_to_one"] = z3.Sum(vector) == 1
    return target, draft, hypotheses


def replay_distributions(
    claim: DistributionClaim, vocab_size: int
) -> Callable[[Mapping[str, Fraction]], dict[str, Any]]:
    """The replay of a counterexample to `claim`: re-evaluate it exactly, run the reference."""

    def replay(values: Mapping[str, Fraction]) -> dict[str, Any]:
        target = [values[f"p_{i}"] for i in range(vocab_size)]
        draft = [values[f"q_{i}"] for i in range(vocab_size)]
        record: dict[str, Any] = {
            "target": [str(v) for v in target],
            "draft": [str(v) for v in draft],
            "claim_holds_exactly": claim.holds_exactly(target, draft),
        }
        if claim.reference is not None:
            record["reference"] = claim.reference(
                Dist(dict(enumerate(target))), Dist(dict(enumerate(draft)))
            )
        return record

    return replay


def prove_for_distributions(
    claim: DistributionClaim,
    vocab_size: int,
    timeout_s: float,
    *,
    track: bool = True,
    lemmas: Callable[[Sequence[Any], Sequence[Any]], Mapping[str, Any]] | None = None,
) -> Outcome:
    """Prove `claim` for every pair of distributions over `vocab_size` tokens (z3).

    Args:
        claim: the claim.
        vocab_size: $V$.
        timeout_s: z3's time limit.
        track: ask for an unsat core (see
            [`prove_by_refutation`][specproof.proofs.smt.prove_by_refutation]).
        lemmas: `lemmas(target, draft)` returns extra named hypotheses. They must be instances
            of lemmas already proved for all arguments (the caller proves them), so adding them
            cannot make a false claim provable.
    """
    target, draft, hypotheses = distribution_variables(vocab_size)
    if lemmas is not None:
        hypotheses.update(lemmas(target, draft))
    outcome = prove_by_refutation(
        hypotheses,
        z3.And(claim.conjuncts(target, draft, Z3_ARITH)),
        target + draft,
        timeout_s,
        replay_distributions(claim, vocab_size),
        track=track,
    )
    return Outcome(
        outcome.status, {"claim": claim.name, "vocab_size": vocab_size, **outcome.certificate}
    )


def prove_for_sizes(prove_one: Callable[[int], Outcome], sizes: Sequence[int]) -> Outcome:
    """Run `prove_one(V)` for each size in order and combine the answers.

    The combined status is `refuted` if some size is refuted (its counterexample is lifted to the
    top), else `unknown` if some size is not proved, else `proved`. Sizes after the first one that
    is not proved are skipped (larger sizes are harder) and listed as `skipped`.
    """
    per_size: list[dict[str, Any]] = []
    status: Status = "proved"
    counterexample: Any = None
    skipped: list[int] = []
    for size in sizes:
        if status != "proved":
            skipped.append(size)
            continue
        outcome = prove_one(size)
        per_size.append({"vocab_size": size, "status": outcome.status, **outcome.certificate})
        if outcome.status == "refuted":
            status, counterexample = "refuted", outcome.certificate["counterexample"]
        elif outcome.status != "proved":
            status = "unknown"
    certificate: dict[str, Any] = {
        "backend": "z3",
        "vocab_sizes": list(sizes),
        "proved_sizes": [r["vocab_size"] for r in per_size if r["status"] == "proved"],
        "skipped": skipped,
        "per_size": per_size,
    }
    if counterexample is not None:
        certificate["counterexample"] = counterexample
    return Outcome(status, certificate)


def prove_lemma_sum(
    lemma: Outcome,
    totals: tuple[Any, Any],
    atoms: Sequence[tuple[Any, Any]],
    instances: Sequence[Any],
    original_variables: Sequence[Any],
    timeout_s: float,
) -> Outcome:
    r"""Combine a proved per-coordinate lemma linearly into a claim about sums, and check it.

    The claim is `totals[0] >= totals[1]` where both sides are sums over coordinates. Each
    nonlinear or piecewise per-coordinate term is replaced by a fresh real (`atoms` pairs a term
    with its fresh constant); the lemma, instantiated at each coordinate, becomes a linear
    inequality between fresh constants (`instances`). z3 then refutes
    `not (totals[0] >= totals[1])` together with the instances in linear real arithmetic.

    Why this is valid: any counterexample to the original claim assigns values to the
    coordinates; evaluating each abstracted term there gives values to the fresh constants that
    satisfy every lemma instance (the lemma holds for all arguments in its hypotheses, which each
    coordinate meets) and violate the abstracted sum inequality. So `unsat` of the abstraction
    implies that no counterexample exists. When every instance is `lhs >= rhs`, the linear
    refutation is explicit and checked here without the solver: the claim's slack
    `totals[0] - totals[1]` (abstracted) minus the sum of the instances' slacks `lhs - rhs`
    simplifies to 0, i.e. the claim is the sum of the instances with coefficient 1 each (a Farkas
    certificate), and z3 confirms the refutation independently.

    Args:
        lemma: the per-coordinate lemma's outcome; must be `proved`, else this returns it.
        totals: the claim's two sides, as terms over the original variables.
        atoms: `(term, fresh constant)` pairs for the abstraction.
        instances: the lemma's instances over the fresh constants.
        original_variables: the variables the abstraction must eliminate.
        timeout_s: the solver's time limit.

    Returns:
        `proved` with the lemma's certificate, the abstraction check and the linear refutation's
        certificate; otherwise `unknown` (or the lemma's own refutation).
    """
    if lemma.status != "proved":
        return lemma
    pairs = list(atoms)
    left = z3.substitute(totals[0], *pairs)
    right = z3.substitute(totals[1], *pairs)
    # The abstraction is complete iff zeroing every original variable changes nothing.
    zeroed = [(v, z3.RealVal(0)) for v in original_variables]
    if not (
        z3.eq(z3.substitute(left, *zeroed), left) and z3.eq(z3.substitute(right, *zeroed), right)
    ):
        return Outcome(
            "unknown", {"backend": "z3", "reason": "the abstraction left original variables"}
        )
    farkas_checked = False
    if all(z3.is_ge(inst) for inst in instances):
        slack = left - right - z3.Sum([inst.arg(0) - inst.arg(1) for inst in instances])
        farkas_checked = z3.eq(z3.simplify(slack), z3.RealVal(0))
    hypotheses = {f"lemma_instance_{i}": inst for i, inst in enumerate(instances)}
    # Untracked: assumption literals for thousands of instances slow z3's simplex down a lot.
    combination = prove_by_refutation(hypotheses, left >= right, [], timeout_s, track=False)
    certificate = {
        k: v for k, v in combination.certificate.items() if k not in ("hypotheses", "unsat_core")
    }
    certificate["lemma_instances"] = len(hypotheses)
    if combination.status != "proved":
        return Outcome(
            "unknown",
            {"backend": "z3", "reason": "linear step not proved", "combination": certificate},
        )
    return Outcome(
        "proved",
        {
            "backend": "z3",
            "lemma": lemma.certificate,
            "coordinates": len(instances),
            "abstraction": "every per-coordinate term replaced by a fresh real; no original variable left",
            "farkas_coefficients": "1 for every lemma instance and for the negated claim",
            "farkas_checked": farkas_checked,
            "combination": certificate,
        },
    )


def reference_rates(target: Dist, draft: Dist) -> dict[str, str]:
    """The reference's executed acceptance rates and TV at a counterexample (as strings)."""
    draft_probs = [draft[t] for t in target]
    return {
        "sd_acceptance_executed": str(laws.acceptance_rate(target, draft, "sd")),
        "exact_match_acceptance_executed": str(laws.acceptance_rate(target, draft, "exact_match")),
        "total_variation": str(f.total_variation(target.probs, draft_probs, f.FRACTION_ARITH)),
    }


__all__ = [
    "DistributionClaim",
    "distribution_variables",
    "formula_size",
    "prove_by_refutation",
    "prove_for_distributions",
    "prove_for_sizes",
    "prove_lemma_sum",
    "reference_rates",
    "replay_distributions",
    "status_of",
    "to_fraction",
]
