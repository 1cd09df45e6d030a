"""Claims about standard speculative decoding, checked against the exact reference."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

import sympy
import z3
from hypothesis import strategies as st

from specproof.reference import (
    Dist,
    ToyLM,
    Verifier,
    acceptance_rate,
    autoregressive_law,
    expected_tokens_per_round,
    get_verifier,
    speculative_law,
)
from specproof.reference import formulas as f
from specproof.reference.strategies import dist_pairs, ks, lm_pairs, prefixes

from .arith import SYMPY_ARITH, Z3_ARITH
from .checking import check_by_hypothesis, dist_json, law_difference, lm_json
from .registry import REGISTRY, CheckOptions, Outcome
from .smt import (
    DistributionClaim,
    distribution_variables,
    prove_by_refutation,
    prove_for_distributions,
    prove_for_sizes,
    prove_lemma_sum,
    reference_rates,
)
from .symbolic import Case, prove_zero_by_cases, sign_cases, sign_pattern_cases

Instance = tuple[ToyLM, ToyLM, tuple[Any, ...], int, int]


@st.composite
def speculative_instances(
    draw: st.DrawFn, max_vocab: int = 4, max_order: int = 2, max_n: int = 4, max_k: int = 4
) -> Instance:
    """`(target, draft, prefix, n, k)`: toy-LM pairs of orders 0..max_order and a loop setting."""
    target, draft = draw(lm_pairs(max_vocab=max_vocab, max_order=max_order))
    prefix = draw(prefixes(target.vocab, max_length=2))
    n = draw(st.integers(0, max_n))
    k = draw(ks(max_k))
    return target, draft, prefix, n, k


def law_equality(algorithm: str | Verifier, instance: Instance) -> dict[str, Any] | None:
    """`None` if the speculative law equals the target's own law, else the difference.

    The target's own law is plain sampling for sampling verifiers and greedy decoding for
    greedy verifiers (those that draft greedily).
    """
    target, draft, prefix, n, k = instance
    verifier = get_verifier(algorithm)
    expected = autoregressive_law(target, prefix, n, greedy=verifier.drafting == "greedy")
    actual = speculative_law(target, draft, prefix, n, k, verifier)
    if actual == expected:
        return None
    return {
        "target": lm_json(target),
        "draft": lm_json(draft),
        "prefix": [repr(t) for t in prefix],
        "n": n,
        "k": k,
        "law_difference": law_difference(expected, actual),
    }


def check_lossless(algorithm: str | Verifier, options: CheckOptions) -> Outcome:
    """Check law equality on generated toy-LM pairs (V <= 4, orders 0-2, n <= 4, K <= 4)."""
    return check_by_hypothesis(
        speculative_instances(),
        lambda instance: law_equality(algorithm, instance),
        options,
        examples=400,
        thorough_examples=2000,
        generator="toy-LM pairs: V<=4, orders 0-2, prefix<=2, n<=4, K<=4",
    )


@REGISTRY.claim(
    "sd_lossless",
    "Standard SD is lossless: for every generated target/draft toy-LM pair, prefix, $n$ and $K$, "
    "the exact law of the first $n$ output tokens of the speculative loop equals the target's "
    "autoregressive law.",
    "hypothesis + exact enumeration",
)
def check_sd_lossless(options: CheckOptions) -> Outcome:
    """Law equality for standard SD."""
    return check_lossless("sd", options)


@REGISTRY.claim(
    "sd_acceptance_is_one_minus_tv",
    r"The probability that standard SD accepts a drafted token, obtained by integrating the rule "
    r"$u\,q(x) < p(x)$, equals $\sum_x \min(p(x), q(x)) = 1 - \mathrm{TV}(p, q)$.",
    "hypothesis + exact arithmetic",
)
def check_sd_acceptance(options: CheckOptions) -> Outcome:
    """Executed acceptance rate == sum of minima == 1 - TV, exactly."""

    def prop(pair: Any) -> dict[str, Any] | None:
        target, draft = pair
        executed = acceptance_rate(target, draft, "sd")
        sum_min = f.acceptance_rate(target.probs, [draft[t] for t in target], f.FRACTION_ARITH)
        one_minus_tv = 1 - f.total_variation(
            target.probs, [draft[t] for t in target], f.FRACTION_ARITH
        )
        if executed == sum_min == one_minus_tv:
            return None
        return {
            "target": dist_json(target),
            "draft": dist_json(draft),
            "executed": str(executed),
            "sum_min": str(sum_min),
            "one_minus_tv": str(one_minus_tv),
        }

    return check_by_hypothesis(
        dist_pairs(max_size=6),
        prop,
        options,
        examples=300,
        thorough_examples=5000,
        generator="distribution pairs, V<=6, with zeros, point masses, identical and disjoint",
    )


@REGISTRY.claim(
    "sd_expected_tokens_per_round",
    r"With $K$ drafts and i.i.d. acceptance $\alpha$ (the same rows $p, q$ at every position), the "
    r"expected output tokens per target call, enumerated exactly, equal "
    r"$(1 - \alpha^{K+1})/(1 - \alpha)$ (and $K + 1$ when $\alpha = 1$).",
    "hypothesis + exact enumeration",
)
def check_sd_expected_tokens(options: CheckOptions) -> Outcome:
    """Enumerated E[N+1] == closed form."""

    def prop(case: Any) -> dict[str, Any] | None:
        (target, draft), k = case
        enumerated = expected_tokens_per_round(target, draft, k, "sd")
        alpha = acceptance_rate(target, draft, "sd")
        closed = Fraction(k + 1) if alpha == 1 else (1 - alpha ** (k + 1)) / (1 - alpha)
        if enumerated == closed:
            return None
        return {
            "target": dist_json(target),
            "draft": dist_json(draft),
            "k": k,
            "enumerated": str(enumerated),
            "closed_form": str(closed),
        }

    return check_by_hypothesis(
        st.tuples(dist_pairs(max_size=5), ks(8)),
        prop,
        options,
        examples=300,
        thorough_examples=5000,
        generator="distribution pairs V<=5, K<=8",
    )


# --- Proofs: sympy (symbolic, by case analysis) and z3 (SMT, by refuting the negation) ---------
#
# Every builder below runs the formulas of `specproof.reference.formulas` with the sympy or z3
# arithmetic, so the proofs are about the formulas the reference executes. Each `prove_*`
# function takes the formula it checks as an argument (defaulting to the reference's), so that
# the tests can hand it a deliberately wrong formula and see it refuted.

ResidualFormula = Callable[[Sequence[Any], Sequence[Any], f.Arith], list[Any]]
OutputFormula = Callable[[Sequence[Any], Sequence[Any], int, f.Arith], Any]
ClosedForm = Callable[[Any, Any], Any]


def prove_residual_identity(residual: ResidualFormula = f.residual) -> Outcome:
    r"""Prove the per-token residual identities and their sum, for every vocabulary size (sympy).

    Theorem. For all reals $a, b$ (a token's target and draft probabilities):
    $$\min(a, b) + (a - b)_+ = a, \qquad b - \min(a, b) = (b - a)_+ ,$$
    and hence, for distributions $p, q$ over any finite vocabulary,
    $$\sum_x (p(x) - q(x))_+ = 1 - \sum_x \min(p(x), q(x)).$$

    Hypotheses: $a, b$ real; for the sum, $\sum_x p(x) = 1$.

    Backend: sympy. The per-token identities are built from `accepted_mass`, `rejected_mass` and
    `residual` and proved by the three cases $a > b$, $a < b$, $a = b$ (which cover all reals).
    The sum step is linearity of finite sums over an indexed family of symbolic length $n$:
    $\sum r + \sum m - \sum p = \sum (m + r - p) = \sum 0 = 0$ termwise by the first identity.

    Certificate: for each identity, the expression and its per-case simplification chain; for the
    sum, the chain of expressions before and after each step.

    Args:
        residual: the residual formula to check (the reference's by default).
    """
    a, b = sympy.Symbol("a", real=True), sympy.Symbol("b", real=True)

    def first(values: Mapping[str, Any], arith: f.Arith) -> Any:
        p, q = values["a"], values["b"]
        return f.accepted_mass(p, q, arith) + residual([p], [q], arith)[0] - p

    def second(values: Mapping[str, Any], arith: f.Arith) -> Any:
        p, q = values["a"], values["b"]
        return f.rejected_mass(p, q, arith) - residual([q], [p], arith)[0]

    identities = {}
    for name, difference, text in (
        ("accepted_plus_residual", first, "min(a, b) + (a - b)_+ = a"),
        ("rejected_is_reverse_residual", second, "b - min(a, b) = (b - a)_+"),
    ):
        outcome = prove_zero_by_cases(text, [a, b], difference, sign_cases("a", "b"))
        if outcome.status != "proved":
            return outcome
        identities[name] = outcome.certificate
    x, n = sympy.symbols("x n", integer=True, positive=True)
    target, minimum, res = (sympy.IndexedBase(s) for s in ("p", "m", "r"))
    before = sympy.Sum(res[x], (x, 1, n)) - (1 - sympy.Sum(minimum[x], (x, 1, n)))
    normalised = sympy.Sum(res[x], (x, 1, n)) - (
        sympy.Sum(target[x], (x, 1, n)) - sympy.Sum(minimum[x], (x, 1, n))
    )
    combined = sympy.simplify(normalised)
    if not isinstance(combined, sympy.Sum):
        return Outcome("unknown", {"backend": "sympy", "reason": f"sum step gave {combined}"})
    termwise = sympy.Sum(
        combined.function.subs(res[x], target[x] - minimum[x]), *combined.limits
    ).doit()
    sum_chain = [
        {"step": "claim: sum r - (1 - sum m)", "expression": str(before)},
        {"step": "1 = sum p (normalisation)", "expression": str(normalised)},
        {"step": "linearity of finite sums", "expression": str(combined)},
        {"step": "r = p - m termwise (first identity)", "expression": str(termwise)},
    ]
    if termwise != 0:
        return Outcome(
            "unknown", {"backend": "sympy", "reason": "sum step not 0", "chain": sum_chain}
        )
    return Outcome(
        "proved",
        {"backend": "sympy", "identities": identities, "sum_identity": sum_chain},
    )


@REGISTRY.claim(
    "sd_residual_identity",
    r"For all reals $a, b$: $\min(a, b) + (a - b)_+ = a$ and $b - \min(a, b) = (b - a)_+$; hence "
    r"for distributions $p, q$ over any finite vocabulary "
    r"$\sum_x (p(x) - q(x))_+ = 1 - \sum_x \min(p(x), q(x))$.",
    "sympy",
)
def check_sd_residual_identity(options: CheckOptions) -> Outcome:
    """The reference's residual formulas satisfy the identities.

    Proved by [`prove_residual_identity`][specproof.proofs.sd.prove_residual_identity].
    """
    return prove_residual_identity()


def prove_output_is_target(
    vocab_sizes: Sequence[int], output: OutputFormula = f.sd_output_probability
) -> Outcome:
    r"""Prove that one SD step outputs token $y$ with probability exactly $p(y)$ (sympy).

    Theorem. For distributions $p, q$ over a vocabulary of size $V$ and every token $y$,
    $$\min(p(y), q(y)) + \Big(\sum_x q(x) - \min(p(x), q(x))\Big)\,
      \frac{(p(y) - q(y))_+}{\sum_z (p(z) - q(z))_+} = p(y)$$
    (the fraction read as $0$ when its denominator is $0$), which is
    `sd_output_probability`.

    Hypotheses: $p, q \ge 0$, $\sum p = \sum q = 1$.

    Backend: sympy, two ways.

    - *Every $V$*: by `sd_residual_identity`, the rejected mass
      $\sum_x q(x) - \min(p(x), q(x)) = \sum_x (q(x) - p(x))_+ = \sum_x (p(x) - q(x))_+$ (the two
      positive parts differ by $\sum (p - q) = 0$), which is $r(y) + s$ with
      $s = \sum_{x \ne y} (p(x) - q(x))_+ \ge 0$. So the output probability is
      $\min(a, b) + (r + s)\,[r / (r + s)]$ with $a = p(y)$, $b = q(y)$, $r = (a - b)_+$, built
      from the reference's `accepted_mass`, `residual` and `div_or_zero`; the cases
      $a > b$, $a < b$, $a = b$ (with a symbol $s \ge 0$) reduce it to $a$.
    - *Fixed $V$* (each of `vocab_sizes`): `output` itself on $2V$ symbols, split into every
      feasible sign pattern of $p - q$ (see
      [`sign_pattern_cases`][specproof.proofs.symbolic.sign_pattern_cases]), each simplified to 0.

    Certificate: the general-$V$ chain (expression, per-case substitution and simplification) and,
    per fixed $V$ and token, the number of cases and (for $V \le 3$) their chains.

    Args:
        vocab_sizes: the sizes proved directly from `output`.
        output: the output-probability formula to check (the reference's by default).
    """
    a, b = sympy.Symbol("a", real=True), sympy.Symbol("b", real=True)
    s = sympy.Symbol("s", nonnegative=True)

    def aggregated(values: Mapping[str, Any], arith: f.Arith) -> Any:
        p, q, rest = values["a"], values["b"], values["s"]
        r = f.residual([p], [q], arith)[0]
        return f.accepted_mass(p, q, arith) + (r + rest) * arith.div_or_zero(r, r + rest) - p

    cases = [
        Case(c.name, c.substitution, witnesses=[{**w, "s": Fraction(1, 4)} for w in c.witnesses])
        for c in sign_cases("a", "b")
    ]
    general = prove_zero_by_cases(
        "min(a,b) + (r + s) * [r / (r + s)] = a, r = (a - b)_+, s >= 0",
        [a, b, s],
        aggregated,
        cases,
    )
    if general.status != "proved":
        return general
    fixed: list[dict[str, Any]] = []
    for vocab_size in vocab_sizes:
        symbols = [sympy.Symbol(f"{r}_{i}", real=True) for r in "pq" for i in range(vocab_size)]
        patterns = list(sign_pattern_cases(vocab_size))
        for y in range(vocab_size):

            def difference(
                values: Mapping[str, Any], arith: f.Arith, y: int = y, size: int = vocab_size
            ) -> Any:
                target = [values[f"p_{i}"] for i in range(size)]
                draft = [values[f"q_{i}"] for i in range(size)]
                return output(target, draft, y, arith) - target[y]

            outcome = prove_zero_by_cases(
                f"output({y}) = p_{y}, V = {vocab_size}",
                symbols,
                difference,
                patterns,
                chain=vocab_size <= 3,
            )
            if outcome.status != "proved":
                return Outcome(
                    outcome.status, {"vocab_size": vocab_size, "token": y, **outcome.certificate}
                )
            fixed.append({"vocab_size": vocab_size, "token": y, **outcome.certificate})
    return Outcome(
        "proved",
        {
            "backend": "sympy",
            "uses": ["sd_residual_identity"],
            "every_vocab_size": general.certificate,
            "fixed_vocab_sizes": fixed,
        },
    )


@REGISTRY.claim(
    "sd_output_is_target_symbolic",
    r"One standard-SD step outputs every token $y$ with probability exactly $p(y)$: "
    r"$\min(p(y), q(y)) + \big(\sum_x q(x) - \min(p(x), q(x))\big)\,"
    r"\frac{(p(y) - q(y))_+}{\sum_z (p(z) - q(z))_+} = p(y)$ for all distributions $p, q$ "
    r"(any vocabulary size; also directly from the formula for $V \le 4$, $V \le 5$ thorough).",
    "sympy",
)
def check_sd_output_is_target(options: CheckOptions) -> Outcome:
    """`sd_output_probability` equals the target.

    Proved by [`prove_output_is_target`][specproof.proofs.sd.prove_output_is_target].
    """
    return prove_output_is_target(range(2, 6 if options.thorough else 4))


def geometric_closed_form(alpha: Any, k: Any) -> Any:
    r"""$(1 - \alpha^{K+1}) / (1 - \alpha)$."""
    return (1 - alpha ** (k + 1)) / (1 - alpha)


def prove_expected_tokens_closed_form(
    max_k: int, closed_form: ClosedForm = geometric_closed_form
) -> Outcome:
    r"""Prove $\sum_{j=0}^{K} \alpha^j = (1 - \alpha^{K+1}) / (1 - \alpha)$ for every $K \ge 0$.

    Theorem. For every integer $K \ge 0$ and real $\alpha \ne 1$, the expected tokens per round
    `expected_tokens_per_round(alpha, K)` $= \sum_{j=0}^{K} \alpha^j$ equals
    $(1 - \alpha^{K+1})/(1 - \alpha)$ (and $K + 1$ at $\alpha = 1$).

    Hypotheses: $\alpha \ne 1$ for the closed form.

    Backend: sympy. (1) For $K = 0, \dots,$ `max_k`: the reference's formula run on a symbol
    $\alpha$, times $(1 - \alpha)$, minus $1 - \alpha^{K+1}$ expands to 0; at $\alpha = 1$ it is
    $K + 1$. (2) For every $K$, by induction on a symbolic integer $K$: base
    $C(0) = 1 = \sum_{j \le 0} \alpha^j$, step $C(K + 1) - C(K) = \alpha^{K+1}$ (simplified to 0),
    which is the sum's own recursion $S(K+1) = S(K) + \alpha^{K+1}$.

    Certificate: per $K$, the expression before and after expansion; the induction's base and
    step expressions before and after simplification.

    Args:
        max_k: the largest $K$ checked directly from the formula.
        closed_form: `closed_form(alpha, K)` to check (the geometric closed form by default).
    """
    alpha = sympy.Symbol("alpha", real=True)
    per_k: list[dict[str, Any]] = []
    for k in range(max_k + 1):
        formula = f.expected_tokens_per_round(alpha, k, SYMPY_ARITH)
        difference = sympy.cancel(formula - closed_form(alpha, sympy.Integer(k)))
        at_one = formula.subs(alpha, 1)
        step = {
            "k": k,
            "before": f"({formula}) - ({closed_form(alpha, k)})",
            "after": str(difference),
            "at_alpha_1": str(at_one),
        }
        per_k.append(step)
        if difference != 0 or at_one != k + 1:
            witness = Fraction(1, 2)
            formula_value = f.expected_tokens_per_round(witness, k, f.FRACTION_ARITH)
            closed_value = closed_form(witness, k)
            return Outcome(
                "refuted",
                {
                    "backend": "sympy",
                    "counterexample": {
                        "k": k,
                        "alpha": str(witness),
                        "formula_exactly": str(formula_value),
                        "closed_form_exactly": str(closed_value),
                        "reference_expected_tokens": str(
                            expected_tokens_per_round(
                                Dist({0: Fraction(1), 1: Fraction(0)}),
                                Dist({0: witness, 1: 1 - witness}),
                                k,
                            )
                        ),
                        "reference_rows": "p = (1, 0), q = (1/2, 1/2): acceptance 1/2",
                    },
                    "chain": per_k,
                },
            )
    k_sym = sympy.Symbol("K", integer=True, nonnegative=True)
    base = sympy.simplify(closed_form(alpha, sympy.Integer(0)) - 1)
    step = sympy.simplify(
        closed_form(alpha, k_sym + 1) - closed_form(alpha, k_sym) - alpha ** (k_sym + 1)
    )
    induction = {
        "base": {"before": "C(0) - 1", "after": str(base)},
        "step": {"before": "C(K+1) - C(K) - alpha**(K+1)", "after": str(step)},
    }
    if base != 0 or step != 0:
        return Outcome(
            "unknown",
            {
                "backend": "sympy",
                "reason": "induction did not simplify to 0",
                "induction": induction,
                "chain": per_k,
            },
        )
    return Outcome(
        "proved",
        {
            "backend": "sympy",
            "sympy_version": sympy.__version__,
            "checked_k": max_k,
            "chain": per_k,
            "induction": induction,
        },
    )


@REGISTRY.claim(
    "sd_expected_tokens_closed_form",
    r"For every $K \ge 0$: $\sum_{j=0}^{K} \alpha^j = (1 - \alpha^{K+1})/(1 - \alpha)$ for "
    r"$\alpha \ne 1$ and $= K + 1$ at $\alpha = 1$ (the formula `expected_tokens_per_round` run "
    r"symbolically for $K \le 16$, and by induction on a symbolic $K$).",
    "sympy",
)
def check_sd_expected_tokens_closed_form(options: CheckOptions) -> Outcome:
    """The expected-tokens formula has the closed form.

    Proved by [`prove_expected_tokens_closed_form`][specproof.proofs.sd.prove_expected_tokens_closed_form].
    """
    return prove_expected_tokens_closed_form(64 if options.thorough else 16)


def _one_step_law(target: Dist, draft: Dist) -> dict[str, Any]:
    """The reference's exact law of one SD step (order-0 models, one output token, K = 1)."""
    vocab = list(target.tokens)
    law = speculative_law(
        ToyLM(vocab, 0, {(): dict(target)}), ToyLM(vocab, 0, {(): dict(draft)}), (), 1, 1
    )
    return {
        "sd_one_step_law": {repr(k[0]): str(v) for k, v in law.items()},
        **reference_rates(target, draft),
    }


def sd_lossless_claim(output: OutputFormula = f.sd_output_probability) -> DistributionClaim:
    """`output(p, q, y) == p(y)` for every token $y$, as a distribution claim."""
    return DistributionClaim(
        "sd_output_probability(p, q, y) == p(y) for every y",
        lambda p, q, arith: [output(p, q, y, arith) == p[y] for y in range(len(p))],
        _one_step_law,
    )


def prove_residual_lemmas_smt(timeout_s: float) -> Outcome:
    r"""Prove the per-token residual identities once, for all reals $a, b$ (z3).

    Lemmas: $\min(a, b) + (a - b)_+ = a$ (`accepted_mass` + `residual`) and
    $b - \min(a, b) = (b - a)_+$ (`rejected_mass`), the same identities that
    [`prove_residual_identity`][specproof.proofs.sd.prove_residual_identity] proves with sympy.
    Certificate: z3's certificate for their conjunction (no hypotheses: they hold for all reals).
    """
    a, b = z3.Reals("a b")
    return prove_by_refutation(
        {},
        z3.And(_residual_lemma_pair(a, b)),
        [a, b],
        timeout_s,
        replay=lambda v: {
            "claim_holds_exactly": all(_residual_lemma_pair(v["a"], v["b"], f.FRACTION_ARITH))
        },
    )


def _residual_lemma_pair(a: Any, b: Any, arith: f.Arith = Z3_ARITH) -> list[Any]:
    return [
        f.accepted_mass(a, b, arith) + f.residual([a], [b], arith)[0] == a,
        f.rejected_mass(a, b, arith) == arith.pos(b - a),
    ]


def residual_lemma_instances(target: Sequence[Any], draft: Sequence[Any]) -> dict[str, Any]:
    """The residual lemmas instantiated at every token, as named z3 hypotheses."""
    instances: dict[str, Any] = {}
    for i, (p, q) in enumerate(zip(target, draft, strict=True)):
        plus, rejected = _residual_lemma_pair(p, q)
        instances[f"lemma_accepted_plus_residual_{i}"] = plus
        instances[f"lemma_rejected_is_reverse_residual_{i}"] = rejected
    return instances


def prove_sd_lossless_smt(
    vocab_sizes: Sequence[int],
    timeout_s: float,
    *,
    lemmas: bool = True,
    output: OutputFormula = f.sd_output_probability,
) -> Outcome:
    r"""Prove one SD step lossless for every pair of distributions of each size (z3).

    Theorem: $\forall p, q \in \Delta_V\ \forall y:\ \mathrm{out}_{p,q}(y) = p(y)$, with
    $\mathrm{out}$ = `sd_output_probability` (`output`).

    Hypotheses: $p, q \ge 0$, $\sum p = \sum q = 1$; with `lemmas`, also the per-token residual
    identities instantiated at every token. Those are instances of lemmas z3 proves first for all
    reals ([`prove_residual_lemmas_smt`][specproof.proofs.sd.prove_residual_lemmas_smt]), so
    adding them changes nothing that holds, only what z3 must rediscover: without them direct
    solving (nonlinear: the recovered mass divides by the residual's sum) takes tens of seconds
    at $V = 7$ and times out at $V = 8$; with them $V = 8$ takes milliseconds, and it stops
    scaling near $V = 16$.

    Certificate: the lemmas' certificate, then per $V$: z3's result, the negated formula's size,
    the hypotheses (lemma instances by name), statistics and time (no unsat core: tracking
    assertions blocks z3's preprocessing here).

    Args:
        vocab_sizes: the sizes to prove.
        timeout_s: z3's time limit per call.
        lemmas: add the residual lemma instances.
        output: the output-probability formula to check (the reference's by default).
    """
    claim = sd_lossless_claim(output)
    extra = residual_lemma_instances if lemmas else None
    lemma_outcome = prove_residual_lemmas_smt(timeout_s) if lemmas else None
    if lemma_outcome is not None and lemma_outcome.status != "proved":
        return Outcome(
            lemma_outcome.status, {"step": "residual lemmas", **lemma_outcome.certificate}
        )
    sizes = prove_for_sizes(
        lambda v: prove_for_distributions(claim, v, timeout_s, track=False, lemmas=extra),
        vocab_sizes,
    )
    certificate = dict(sizes.certificate)
    if lemma_outcome is not None:
        certificate["lemmas"] = lemma_outcome.certificate
    return Outcome(sizes.status, certificate)


@REGISTRY.claim(
    "sd_lossless_smt",
    r"For all distributions $p, q$ over $V$ tokens and every token $y$, the output probability of "
    r"one standard-SD step (`sd_output_probability`, accepted plus recovered mass) equals $p(y)$; "
    r"proved by z3 for each $V = 2, \dots, 8$ ($V \le 12$ thorough), given the per-token "
    r"residual identities $\min(a, b) + (a - b)_+ = a$, $b - \min(a, b) = (b - a)_+$ (proved "
    r"first by z3 for all reals) instantiated at every token.",
    "z3",
)
def check_sd_lossless_smt(options: CheckOptions) -> Outcome:
    """SD is lossless for each $V$.

    Proved by [`prove_sd_lossless_smt`][specproof.proofs.sd.prove_sd_lossless_smt].
    """
    sizes = range(2, 13 if options.thorough else 9)
    return prove_sd_lossless_smt(sizes, options.timeout_s)


def acceptance_tv_claim(scale: int = 1) -> DistributionClaim:
    r"""$\sum_x \min(p, q) = 1 - \mathrm{scale} \cdot \mathrm{TV}(p, q)$ (true for `scale` 1)."""
    return DistributionClaim(
        f"acceptance_rate(p, q) == 1 - {scale} * total_variation(p, q)",
        lambda p, q, arith: [
            f.acceptance_rate(p, q, arith) == 1 - scale * f.total_variation(p, q, arith)
        ],
        reference_rates,
    )


@REGISTRY.claim(
    "sd_acceptance_is_one_minus_tv_smt",
    r"For all distributions $p, q$ over $V$ tokens, "
    r"$\sum_x \min(p(x), q(x)) = 1 - \mathrm{TV}(p, q)$, "
    r"$\mathrm{TV}(p, q) = \frac12 \sum_x |p(x) - q(x)|$; proved by z3 for each $V = 2, \dots, 8$ "
    r"($V \le 16$ thorough).",
    "z3",
)
def check_sd_acceptance_tv_smt(options: CheckOptions) -> Outcome:
    r"""Prove acceptance $= 1 - \mathrm{TV}$ for each $V$ (z3, linear arithmetic with `If`).

    Hypotheses: $p, q \ge 0$, $\sum p = \sum q = 1$ (the unsat core shows both sums are needed).
    Certificate: per $V$, z3's result, unsat core, formula size, statistics.
    """
    sizes = range(2, 17 if options.thorough else 9)
    claim = acceptance_tv_claim()
    return prove_for_sizes(lambda v: prove_for_distributions(claim, v, options.timeout_s), sizes)


def prove_acceptance_is_maximal(
    vocab_sizes: Sequence[int],
    timeout_s: float,
    bound: Callable[[Any, Any, f.Arith], Any] = f.accepted_mass,
    combination_size: int = 1000,
) -> Outcome:
    r"""Prove that no lossless single-draft verifier of proposal $q$ accepts more than SD.

    Theorem. Let $p, q$ be distributions over $V$ tokens. A *single-draft verifier* drafts
    $x \sim q$, accepts it with probability $a(x) \in [0, 1]$, and on rejection outputs $y$ with
    probability $\rho_x(y)$ (any distribution $\rho_x$, which may depend on the rejected draft).
    If it is lossless, i.e. for every $y$
    $$q(y)\,a(y) + \sum_x q(x)\,(1 - a(x))\,\rho_x(y) = p(y),$$
    then its acceptance rate $\sum_x q(x)\,a(x) \le \sum_x \min(p(x), q(x))$, SD's rate.
    (SD attains it, so SD's acceptance is the maximum over this class.)

    Backend: z3.

    - *Per-coordinate lemma, every $V$*: for reals $p, q, a, R$ with $q \ge 0$, $0 \le a \le 1$,
      $R \ge 0$ and $q a + R = p$: $q a \le \min(p, q)$ (`bound`, the reference's
      `accepted_mass`). For the verifier, $R = \sum_x q(x)(1 - a(x))\rho_x(y)$ is a sum of terms
      that z3 proves nonnegative ($q \ge 0$, $a \le 1$, $\rho \ge 0$), so the lemma applies
      at every $y$; summing the $V$ instances (all with coefficient 1; a sum of valid
      inequalities is valid) gives the theorem for every $V$. That combination step is run
      mechanically at `combination_size` by
      [`prove_lemma_sum`][specproof.proofs.smt.prove_lemma_sum] (abstraction to fresh reals,
      exact unit Farkas check, z3 linear refutation).
    - *Directly for each of `vocab_sizes`*: the whole statement with $2V + V + V^2$ real
      variables ($p, q, a, \rho$), refuting its negation.

    Certificate: the lemma's z3 certificate (unsat core shows which hypotheses it uses), the
    nonnegativity lemma's, the combination's, and the per-size direct certificates.

    Args:
        vocab_sizes: the sizes proved directly.
        timeout_s: z3's time limit per call.
        bound: the per-token bound on accepted mass to check (the reference's by default).
        combination_size: the $V$ at which the lemma combination is run.
    """
    p, q, a, rest = z3.Reals("p q a R")
    lemma = prove_by_refutation(
        {
            "q_nonnegative": q >= 0,
            "a_at_least_0": a >= 0,
            "a_at_most_1": a <= 1,
            "R_nonnegative": rest >= 0,
            "lossless_at_y": q * a + rest == p,
        },
        q * a <= bound(p, q, Z3_ARITH),
        [p, q, a, rest],
        timeout_s,
        replay=lambda v: {
            "claim_holds_exactly": v["q"] * v["a"] <= bound(v["p"], v["q"], f.FRACTION_ARITH),
            "accepted_mass_q_times_a": str(v["q"] * v["a"]),
            "bound_exactly": str(bound(v["p"], v["q"], f.FRACTION_ARITH)),
        },
    )
    if lemma.status != "proved":
        return Outcome(lemma.status, {"step": "per-token lemma", **lemma.certificate})
    rho = z3.Real("rho")
    nonnegative = prove_by_refutation(
        {"q_nonnegative": q >= 0, "a_at_most_1": a <= 1, "rho_nonnegative": rho >= 0},
        q * (1 - a) * rho >= 0,
        [q, a, rho],
        timeout_s,
    )
    if nonnegative.status != "proved":
        return Outcome("unknown", {"step": "rejected mass nonnegative", **nonnegative.certificate})
    target = [z3.Real(f"p_{i}") for i in range(combination_size)]
    draft = [z3.Real(f"q_{i}") for i in range(combination_size)]
    accept = [z3.Real(f"a_{i}") for i in range(combination_size)]
    bounds = [bound(pp, qq, Z3_ARITH) for pp, qq in zip(target, draft, strict=True)]
    accepted = [qq * aa for qq, aa in zip(draft, accept, strict=True)]
    fresh_bounds = [z3.Real(f"m_{i}") for i in range(combination_size)]
    fresh_accepted = [z3.Real(f"c_{i}") for i in range(combination_size)]
    combination = prove_lemma_sum(
        lemma,
        (f.total(bounds, Z3_ARITH), z3.Sum(accepted)),
        list(zip(bounds, fresh_bounds, strict=True))
        + list(zip(accepted, fresh_accepted, strict=True)),
        [m >= c for m, c in zip(fresh_bounds, fresh_accepted, strict=True)],
        target + draft + accept,
        timeout_s,
    )
    if combination.status != "proved":
        return Outcome("unknown", {"step": "lemma combination", **combination.certificate})

    def direct(vocab_size: int) -> Outcome:
        target, draft, hypotheses = distribution_variables(vocab_size)
        accept = [z3.Real(f"a_{i}") for i in range(vocab_size)]
        redistribute = [
            [z3.Real(f"rho_{x}_{y}") for y in range(vocab_size)] for x in range(vocab_size)
        ]
        for x in range(vocab_size):
            hypotheses[f"a_{x}_in_0_1"] = z3.And(accept[x] >= 0, accept[x] <= 1)
            hypotheses[f"rho_{x}_is_a_distribution"] = z3.And(
                *[r >= 0 for r in redistribute[x]], z3.Sum(redistribute[x]) == 1
            )
        for y in range(vocab_size):
            hypotheses[f"lossless_at_{y}"] = (
                draft[y] * accept[y]
                + z3.Sum(
                    [draft[x] * (1 - accept[x]) * redistribute[x][y] for x in range(vocab_size)]
                )
                == target[y]
            )
        claim = z3.Sum([draft[x] * accept[x] for x in range(vocab_size)]) <= f.total(
            [bound(pp, qq, Z3_ARITH) for pp, qq in zip(target, draft, strict=True)], Z3_ARITH
        )
        variables = target + draft + accept + [r for row in redistribute for r in row]
        return Outcome(
            *_with_size(
                vocab_size,
                prove_by_refutation(hypotheses, claim, variables, timeout_s, track=False),
            )
        )

    sizes = prove_for_sizes(direct, vocab_sizes)
    return Outcome(
        sizes.status,
        {
            "backend": "z3",
            "lemma": lemma.certificate,
            "rejected_mass_nonnegative": nonnegative.certificate,
            "combination": {k: v for k, v in combination.certificate.items() if k != "lemma"},
            "direct": sizes.certificate,
            **(
                {"counterexample": sizes.certificate["counterexample"]}
                if "counterexample" in sizes.certificate
                else {}
            ),
        },
    )


def _with_size(vocab_size: int, outcome: Outcome) -> tuple[Any, dict[str, Any]]:
    return outcome.status, {"vocab_size": vocab_size, **outcome.certificate}


@REGISTRY.claim(
    "sd_acceptance_is_maximal",
    r"Among single-draft verifiers of proposal $q$ (accept draft $x$ with probability "
    r"$a(x) \in [0, 1]$, else output $y \sim \rho_x$) that are lossless "
    r"($q(y)a(y) + \sum_x q(x)(1 - a(x))\rho_x(y) = p(y)$ for all $y$), the acceptance rate "
    r"$\sum_x q(x)a(x) \le \sum_x \min(p(x), q(x))$, standard SD's: for every $V$ by a z3-proved "
    r"per-token lemma ($q a \le \min(p, q)$) summed over tokens (the sum step run by z3 at "
    r"$V = 1000$), and directly by z3 for $V = 2, 3$ (direct solving times out from $V = 4$).",
    "z3",
)
def check_sd_acceptance_is_maximal(options: CheckOptions) -> Outcome:
    """SD's acceptance is maximal among lossless single-draft verifiers.

    Proved by [`prove_acceptance_is_maximal`][specproof.proofs.sd.prove_acceptance_is_maximal].
    """
    return prove_acceptance_is_maximal(range(2, 4), options.timeout_s)
