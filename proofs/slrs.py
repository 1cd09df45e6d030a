r"""Claims about SLRS (`specproof.reference.slrs`): lossless, at least SLEM's acceptance, its cost."""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

import sympy
import z3
from hypothesis import strategies as st

from specproof.reference import ToyLM, autoregressive_law
from specproof.reference import formulas as f
from specproof.reference.rounds import round_kernel_law
from specproof.reference.slrs import (
    SLRS,
    PsiVerifiedRound,
    psi,
    segmentation_count,
    segmentations,
)
from specproof.reference.string_level import LookbehindSlemRound, first_token_law
from specproof.reference.tokenizers import ToyTokenizer

from .arith import Z3_ARITH
from .checking import Examples, check_by_hypothesis, law_json
from .claims import LOSSLESS_METHOD, hypothesis_claim, proof_claim
from .heterogeneous import (
    Instance,
    cross_lossless_claim,
    cross_vocabulary_instances,
    instance_json,
)
from .registry import REGISTRY, CheckOptions, Outcome
from .smt import prove_by_refutation, prove_lemma_sum

check_slrs_lossless = cross_lossless_claim(
    SLRS,
    r"SLRS is lossless: SLEM's proposal (drafter draws, look-behind re-tokenisation) verified "
    r"at each position $i$ by standard SD's rule against $\tilde\psi_i$, the exact law of the "
    r"proposal's $i$-th token given its first $i - 1$ (a used-up proposal ends with the bonus "
    r"token). For every generated pair of toy tokenizers (equal, subset, superset, overlapping "
    r"or sharing only single characters; injective or not), toy LMs, prefix, $n$ and $K$, the "
    r"exact law of the first $n$ target tokens equals the target's autoregressive law.",
    examples=120,
)
"""Law equality through the SLRS round kernel."""


def first_acceptances(instance: Instance) -> dict[str, Fraction]:
    """Executed first-position acceptance of SLRS and SLEM, and the two formulas."""
    target, drafter, target_tokenizer, drafter_tokenizer, prefix, _, k = instance
    slrs = SLRS.round(target, drafter, target_tokenizer, drafter_tokenizer, k)
    slem = LookbehindSlemRound(target, drafter, target_tokenizer, drafter_tokenizer, k)
    # A round outputs two or more tokens exactly when its first proposed token was accepted.
    executed = {
        name: sum((w for out, w in kernel.round_law(prefix).items() if len(out) > 1), Fraction(0))
        for name, kernel in (("slrs", slrs), ("slem", slem))
    }
    first = first_token_law(slem, prefix)
    empty = first.get(None, Fraction(0))
    row = target.next_dist(prefix)
    shared = [(row[t], w) for t, w in first.items() if t is not None]
    return {
        "slrs_executed": executed["slrs"],
        "slem_executed": executed["slem"],
        "slrs_formula": sum((min((1 - empty) * p, w) for p, w in shared), Fraction(0)),
        "slem_formula": sum((p * w for p, w in shared), Fraction(0)),
    }


def first_acceptances_ordered(instance: Instance) -> dict[str, Any] | None:
    """Executed rates == formulas, SLRS >= SLEM; then the z3 lemma summed over tokens."""
    rates = first_acceptances(instance)
    if (
        rates["slrs_executed"] == rates["slrs_formula"]
        and rates["slem_executed"] == rates["slem_formula"]
        and rates["slrs_executed"] >= rates["slem_executed"]
    ):
        return None
    return {**instance_json(instance), **{k: str(v) for k, v in rates.items()}}


check_slrs_acceptance_ge_slem = hypothesis_claim(
    "slrs_acceptance_ge_slem",
    r"What is compared: the probability that the first proposed target token $t_1$ of a round "
    r"is accepted, for the same drafter, $K$, re-tokenisation and context. SLRS accepts it "
    r"with probability $\sum_t \min((1 - e)\,p(t), \tilde\psi(t))$ and SLEM (sample-and-match) "
    r"with $\sum_t p(t)\,\tilde\psi(t)$, where $\tilde\psi$ is the law of $t_1$ and $e$ the "
    r"probability of an empty proposal; SLRS's is at least SLEM's. Executed rates (from the "
    r"round laws) equal the formulas and are ordered on generated instances. The same holds at "
    r"every later position, conditionally on the accepted prefix, with $\tilde\psi_i$ and its "
    r"own $e_i$ (the ordering for any vocabulary: `slrs_acceptance_ge_slem_any_vocabulary`).",
    cross_vocabulary_instances(max_n=1, max_k=3),
    first_acceptances_ordered,
    Examples(120, 700, "cross-vocabulary instances, K<=3"),
    method=LOSSLESS_METHOD,
)
"""Executed rates == formulas, SLRS >= SLEM; then the z3 lemma summed over tokens."""


def prove_slrs_ge_slem_any_vocabulary(size: int, timeout_s: float) -> Outcome:
    r"""$\sum_t \min(c\,p(t), w(t)) \ge \sum_t p(t)\,w(t)$ for $p(t) \in [0,1]$, $0 \le w(t) \le c$.

    Lemma (z3): $a \in [0, 1]$, $0 \le b \le c \le 1 \Rightarrow \min(c a, b) \ge a b$; summed
    over tokens by [`prove_lemma_sum`][specproof.proofs.smt.prove_lemma_sum] (run at `size`).
    Hypotheses met: $p(t) \in [0, 1]$; $w = \tilde\psi$ and $c = 1 - e$ with
    $\tilde\psi(t) \le \sum_{t'} \tilde\psi(t') = 1 - e$.

    Args:
        size: the number of tokens at which the linear step is run.
        timeout_s: z3's time limit per call.
    """
    a, b, c = z3.Reals("a b c")
    lemma = prove_by_refutation(
        {"a_in_0_1": z3.And(a >= 0, a <= 1), "b_in_0_c": z3.And(b >= 0, b <= c), "c_le_1": c <= 1},
        f.accepted_mass(c * a, b, Z3_ARITH) >= a * b,
        [a, b, c],
        timeout_s,
    )
    if lemma.status != "proved":
        return lemma
    keep = z3.Real("c")
    target = [z3.Real(f"p_{i}") for i in range(size)]
    weights = [z3.Real(f"w_{i}") for i in range(size)]
    slrs_terms = [
        f.accepted_mass(keep * p, w, Z3_ARITH) for p, w in zip(target, weights, strict=True)
    ]
    slem_terms = [p * w for p, w in zip(target, weights, strict=True)]
    fresh_slrs = [z3.Real(f"r_{i}") for i in range(size)]
    fresh_slem = [z3.Real(f"m_{i}") for i in range(size)]
    totals = (f.total(slrs_terms, Z3_ARITH), f.total(slem_terms, Z3_ARITH))
    atoms = list(zip(slrs_terms, fresh_slrs, strict=True)) + list(
        zip(slem_terms, fresh_slem, strict=True)
    )
    instances = [r >= m for r, m in zip(fresh_slrs, fresh_slem, strict=True)]
    return prove_lemma_sum(lemma, totals, atoms, instances, [keep, *target, *weights], timeout_s)


check_slrs_acceptance_ge_slem_any_vocabulary = proof_claim(
    "slrs_acceptance_ge_slem_any_vocabulary",
    r"For any number of target tokens, $p(t) \in [0, 1]$ and $0 \le \tilde\psi(t) \le c \le 1$: "
    r"$\sum_t \min(c\,p(t), \tilde\psi(t)) \ge \sum_t p(t)\,\tilde\psi(t)$ (with "
    r"$c = 1 - e \ge \tilde\psi(t)$: SLRS's first-position acceptance at least SLEM's): a z3-proved "
    r"per-token lemma ($\min(c a, b) \ge a b$ for $a \in [0, 1]$, $0 \le b \le c \le 1$) summed "
    r"over tokens; the linear step is run at 300 tokens.",
    "z3",
    prove_slrs_ge_slem_any_vocabulary,
    default=(300,),
    timeout=True,
    scope="all V (lemma; sum step at 300 tokens)",
)
"""Proved by [`prove_slrs_ge_slem_any_vocabulary`][specproof.proofs.slrs.prove_slrs_ge_slem_any_vocabulary]."""


@st.composite
def strings_and_vocabularies(draw: st.DrawFn) -> tuple[str, tuple[str, ...]]:
    """A string over 'ab' (length 1-9) and a vocabulary of its alphabet plus random substrings."""
    text = draw(st.text(alphabet="ab", min_size=1, max_size=9))
    substrings = sorted({text[i:j] for i in range(len(text)) for j in range(i + 2, len(text) + 1)})
    extra = draw(st.lists(st.sampled_from(substrings), unique=True)) if substrings else []
    return text, ("a", "b", *extra)


@REGISTRY.claim(
    "slrs_segmentation_count",
    r"Computing $\psi$ sums over segmentations: a string of length $L$ has at most $2^{L-1}$ "
    r"segmentations into tokens of any vocabulary (a segmentation is a set of cut points among "
    r"$L - 1$), exactly $2^{L-1}$ when every substring is a token. Checked: the dynamic-programming "
    r"count equals the number of enumerated segmentations and is at most $2^{L-1}$ on generated "
    r"strings and vocabularies; with every substring a token the count is $2^{L-1}$ for "
    r"$L = 1..12$ (for every $L$: `slrs_segmentation_count_worst_case`).",
    "hypothesis + exhaustive",
    scope="generated instances; worst case L = 1..12",
)
def check_slrs_segmentation_count(options: CheckOptions) -> Outcome:
    """DP == enumeration <= 2^(L-1); all substrings gives 2^(L-1); the recurrence symbolically."""

    def prop(case: tuple[str, tuple[str, ...]]) -> dict[str, Any] | None:
        text, vocab = case
        counted = segmentation_count(text, vocab)
        listed = segmentations(text, vocab)
        if counted == len(listed) == len(set(listed)) and counted <= 2 ** (len(text) - 1):
            if all("".join(s) == text for s in listed):
                return None
        return {"text": text, "vocab": list(vocab), "dp": counted, "enumerated": len(listed)}

    checked = check_by_hypothesis(
        strings_and_vocabularies(),
        prop,
        options,
        Examples(
            200, 1000, "strings over 'ab' of length 1-9, vocabularies of 'a', 'b' and substrings"
        ),
    )
    if checked.status != "checked":
        return checked
    worst = {}
    for length in range(1, 13):
        text = "".join(itertools.islice(itertools.cycle("abc"), length))
        vocab = sorted({text[i:j] for i in range(length) for j in range(i + 1, length + 1)})
        worst[length] = segmentation_count(text, vocab)
        if length <= 10 and len(segmentations(text, vocab)) != worst[length]:
            return Outcome(
                "refuted", {"counterexample": {"text": text, "enumeration_differs": True}}
            )
        if worst[length] != 2 ** (length - 1):
            return Outcome("refuted", {"counterexample": {"text": text, "count": worst[length]}})
    return Outcome("checked", {"generated": checked.certificate, "all_substrings_counts": worst})


@REGISTRY.claim(
    "slrs_segmentation_count_worst_case",
    r"When every substring of a string of length $L$ is a drafter token, its segmentations "
    r"number exactly $2^{L-1}$, for every $L \ge 1$: the count satisfies "
    r"$c(L) = \sum_{m=0}^{L-1} c(m)$, $c(0) = 1$ (the last piece may have any length $1..L$), "
    r"and sympy proves that $2^{L-1}$ solves it ($1 + \sum_{m=1}^{L-1} 2^{m-1} = 2^{L-1}$ for a "
    r"symbolic $L$); by induction $c(L) = 2^{L-1}$.",
    "sympy",
    scope="all L >= 1 (induction)",
)
def check_slrs_segmentation_count_worst_case(options: CheckOptions) -> Outcome:
    """The closed form of the all-substrings recurrence, symbolically."""
    return prove_worst_case_closed_form(lambda length: 2 ** (length - 1))


def prove_worst_case_closed_form(closed_form: Any) -> Outcome:
    r"""Prove that `closed_form(L)` solves $c(L) = 1 + \sum_{m=1}^{L-1} c(m)$ for symbolic $L$.

    Args:
        closed_form: `L -> expression` (sympy); $2^{L-1}$ by default in the claim, a wrong one
            is a negative control (reported `unknown`, or `refuted` with a small $L$ that fails).
    """
    big_l, m = sympy.symbols("L m", integer=True, positive=True)
    closed = closed_form(big_l)
    recurrence = 1 + sympy.summation(closed_form(m), (m, 1, big_l - 1))
    difference = sympy.simplify(recurrence - closed)
    if difference != 0:
        for length in range(1, 8):
            value = 1 + sum(closed_form(j) for j in range(1, length))
            if value != closed_form(length):
                return Outcome(
                    "refuted",
                    {
                        "counterexample": {
                            "L": length,
                            "recurrence": value,
                            "closed": closed_form(length),
                        }
                    },
                )
        return Outcome("unknown", {"reason": f"sympy left {difference}"})
    return Outcome(
        "proved",
        {
            "backend": "sympy",
            "recurrence": "1 + sum_{m=1}^{L-1} 2^(m-1) - 2^(L-1) simplifies to 0",
            "sympy_version": sympy.__version__,
        },
    )


def psi_witness() -> dict[str, Any]:
    r"""A drafter with multi-character tokens where $\psi \ne \tilde\psi$ and $\psi$-verification is lossy."""
    target_tokenizer = ToyTokenizer(["a", "b", "ab"])
    drafter_tokenizer = ToyTokenizer(["a", "b", "ab"])
    half = Fraction(1, 2)
    target = ToyLM(target_tokenizer.tokens, 0, {(): {"a": half, "b": half, "ab": Fraction(0)}})
    drafter = ToyLM(
        drafter_tokenizer.tokens,
        0,
        {(): {"a": Fraction(1, 2), "b": Fraction(1, 4), "ab": Fraction(1, 4)}},
    )
    kernel = LookbehindSlemRound(target, drafter, target_tokenizer, drafter_tokenizer, 2)
    psi_values = {t: psi(drafter, (), t) for t in target_tokenizer.tokens}
    psi_tilde = first_token_law(kernel, ())
    broken = PsiVerifiedRound(target, drafter, target_tokenizer, drafter_tokenizer, 2)
    expected = autoregressive_law(target, (), 2)
    actual = round_kernel_law(broken, (), 2)
    slrs = SLRS.law(target, drafter, target_tokenizer, drafter_tokenizer, (), 2, 2)
    return {
        "target": "p(a) = p(b) = 1/2, p(ab) = 0, every position",
        "drafter": "q(a) = 1/2, q(b) = 1/4, q(ab) = 1/4, every position; K = 2",
        "psi": {t: str(v) for t, v in psi_values.items()},
        "psi_sum": str(sum(psi_values.values())),
        "psi_tilde": {repr(t): str(v) for t, v in psi_tilde.items()},
        "target_law": law_json(expected),
        "psi_verified_law": law_json(actual),
        "psi_verified_equal": actual == expected,
        "slrs_equal": slrs == expected,
    }


@REGISTRY.claim(
    "slrs_psi_verification_not_lossless",
    r"The paper's $\psi(t)$ (the drafter's probability of producing exactly the string of $t$, "
    r"summed over segmentations) is not the law of the proposed token: $\sum_t \psi(t)$ may "
    r"differ from 1 and $\psi \ne \tilde\psi$. Verifying $t_1$ with $\min(1, p/\psi)$ and "
    r"recovering from $(p - \psi)_+$ is then NOT lossless. Witness: target and drafter "
    r"vocabularies $\{a, b, ab\}$, $p = (1/2, 1/2, 0)$, $q = (1/2, 1/4, 1/4)$, $K = 2$: "
    r"$\psi = (1/2, 1/4, 3/8)$ sums to $9/8$, $\tilde\psi = (3/8, 1/4, 3/8)$, and the "
    r"$\psi$-verified law of two tokens differs from the target's (e.g. $P(b, b) = 23/64$), "
    r"while SLRS (verifying "
    r"against $\tilde\psi$) matches it.",
    "exact witness",
    scope="one exact witness",
)
def check_slrs_psi_verification_not_lossless(options: CheckOptions) -> Outcome:
    """Evaluate the witness exactly."""
    witness = psi_witness()
    if witness["psi_verified_equal"] or not witness["slrs_equal"]:
        return Outcome("refuted", {"counterexample": witness})
    return Outcome("checked", {"witness": witness})
