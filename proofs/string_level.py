r"""Claims about SLEM with look-behind re-tokenisation (`specproof.reference.string_level`)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from specproof.reference import ToyLM, autoregressive_law
from specproof.reference.rounds import round_kernel_law
from specproof.reference.string_level import (
    MODES,
    LookbehindSlemRound,
    Mode,
    first_token_law,
    is_canonical,
    slem_first_acceptance,
    text_level_slem_law,
)
from specproof.reference.tokenizers import ToyTokenizer

from .checking import Examples, check_by_hypothesis, law_difference, law_json
from .claims import LOSSLESS_METHOD, hypothesis_claim
from .heterogeneous import Instance, cross_vocabulary_instances, instance_json
from .registry import REGISTRY, CheckOptions, Outcome

SlemInstance = tuple[Instance, Mode, int]


@st.composite
def slem_instances(draw: st.DrawFn, max_n: int = 3, max_k: int = 2) -> SlemInstance:
    """A cross-vocabulary instance, a mode (`"sample"`/`"greedy"`) and a look-behind (0-3)."""
    instance = draw(cross_vocabulary_instances(max_n=max_n, max_k=max_k))
    return instance, draw(st.sampled_from(MODES)), draw(st.integers(0, 3))


def slem_equality(
    case: SlemInstance, kernel: type[LookbehindSlemRound] = LookbehindSlemRound
) -> dict[str, Any] | None:
    """`None` if SLEM's law is the target's (greedy: its greedy decoding), else the difference."""
    instance, mode, lookbehind = case
    target, drafter, target_tokenizer, drafter_tokenizer, prefix, n, k = instance
    expected = autoregressive_law(target, prefix, n, greedy=mode == "greedy")
    round_kernel = kernel(
        target, drafter, target_tokenizer, drafter_tokenizer, k, mode=mode, lookbehind=lookbehind
    )
    actual = round_kernel_law(round_kernel, prefix, n)
    if expected == actual:
        return None
    return {
        **instance_json(instance),
        "mode": mode,
        "lookbehind": lookbehind,
        "law_difference": law_difference(expected, actual),
    }


check_slem_lookbehind_lossless = hypothesis_claim(
    "slem_lookbehind_lossless",
    "SLEM is lossless for every pair of tokenizers, injective or not: the drafter drafts $K$ "
    "tokens, their text is re-tokenised for the target together with a look-behind window of "
    "committed tokens (which never change), and the target verifies by exact match. For every "
    "generated pair of toy tokenizers (equal, subset, superset, overlapping or sharing only "
    "single characters; with or without a lossy normaliser), toy LMs, prefix, $n$, $K$ and "
    "look-behind 0-3: under sampling the exact law of the first $n$ target tokens equals the "
    "target's autoregressive law, and under greedy decoding it is the point mass on the "
    "target's greedy decoding.",
    slem_instances(),
    slem_equality,
    Examples(
        120, 700, "cross-vocabulary instances (n<=3, K<=2), mode sample/greedy, look-behind 0-3"
    ),
    method=LOSSLESS_METHOD,
)
"""Law equality through the look-behind SLEM round kernel."""


def _lm(vocab: tuple[str, ...], rows: dict[tuple[str, ...], list[int]]) -> ToyLM:
    return ToyLM(
        vocab,
        1,
        {
            c: {t: Fraction(w, sum(ws)) for t, w in zip(vocab, ws, strict=True)}
            for c, ws in rows.items()
        },
    )


def text_level_witness() -> dict[str, Any]:
    """The counterexample: a target that may emit `("a", "b")`, which its tokenizer writes `("ab",)`."""
    target_tokenizer = ToyTokenizer(["a", "b", "ab"])
    drafter_tokenizer = ToyTokenizer(["a", "b"])
    vocab = target_tokenizer.tokens
    target = _lm(vocab, {(): [1, 0, 0], ("a",): [0, 1, 0], ("b",): [1, 1, 1], ("ab",): [1, 1, 0]})
    drafter = _lm(drafter_tokenizer.tokens, {(): [1, 1], ("a",): [1, 1], ("b",): [1, 1]})
    kernel = LookbehindSlemRound(target, drafter, target_tokenizer, drafter_tokenizer, 1)
    expected = autoregressive_law(target, (), 2)
    text_level = text_level_slem_law(kernel, (), 2)
    token_level = round_kernel_law(kernel, (), 2)
    return {
        "target_tokens": list(vocab),
        "target_rows": "p(a | start) = 1; p(b | a) = 1; so the target emits ('a', 'b'), whose "
        "text 'ab' the tokenizer writes ('ab',)",
        "target_law": law_json(expected),
        "lookbehind_slem_law": law_json(token_level),
        "text_level_slem_law": law_json(text_level),
        "lookbehind_equal": token_level == expected,
        "text_level_equal": text_level == expected,
    }


TextCase = tuple[Instance, str]


@st.composite
def text_level_instances(draw: st.DrawFn) -> TextCase:
    """Small instances (n <= 2, K <= 1) with a canonical prefix (the encoding of a text)."""
    instance = draw(cross_vocabulary_instances(max_n=2, max_k=1))
    target, drafter, target_tokenizer, drafter_tokenizer, _, n, k = instance
    text = draw(st.text(alphabet="ab", max_size=3))
    prefix = target_tokenizer.encode(text)
    return (target, drafter, target_tokenizer, drafter_tokenizer, prefix, n, k), text


def text_level_property(case: TextCase) -> dict[str, Any] | None:
    """Both directions of the canonical-outputs condition on one instance."""
    instance, _ = case
    target, drafter, target_tokenizer, drafter_tokenizer, prefix, n, k = instance
    kernel = LookbehindSlemRound(target, drafter, target_tokenizer, drafter_tokenizer, k)
    expected = {prefix + y: w for y, w in autoregressive_law(target, prefix, n).items()}
    actual = text_level_slem_law(kernel, prefix, n)
    equal = actual == expected
    short_ok = all(is_canonical(target_tokenizer, y) for y in expected)
    longest = max(len(str(t)) for t in drafter_tokenizer.tokens)
    horizon = n + k * longest
    long_ok = all(
        is_canonical(target_tokenizer, prefix + y)
        for y in autoregressive_law(target, prefix, horizon)
    )
    if (long_ok and not equal) or (not short_ok and equal):
        return {
            **instance_json(instance),
            "equal": equal,
            "canonical_up_to_n": short_ok,
            "canonical_up_to_horizon": long_ok,
            "horizon": horizon,
        }
    return None


@REGISTRY.claim(
    "slem_text_level_needs_canonical_outputs",
    r"A SLEM loop that re-tokenises the committed *text* every round (so committed tokens may "
    r"change) is lossless only when the target's outputs are canonical tokenisations. Precisely, "
    r"with a canonical prefix $c$ and $H = n + K \ell_{max}$ ($\ell_{max}$ the drafter's longest "
    r"token): if $\mathrm{encode}(\mathrm{decode}(c\,y)) = c\,y$ for every $y$ of length $H$ with "
    r"positive target probability, its law of the first $|c| + n$ tokens equals $c$ followed by "
    r"the target's law; if some $y$ of length $n$ with positive probability has $c\,y$ "
    r"non-canonical, the laws differ. Witness: target tokens $\{a, b, ab\}$, $p(a) = 1$ then "
    r"$p(b \mid a) = 1$: the target emits $(a, b)$, the text-level loop $(ab, \cdot)$; the "
    r"look-behind SLEM (committed tokens never change) matches the target. Both directions are "
    r"checked on generated instances.",
    "exact witness + hypothesis + exact enumeration",
    scope="one exact witness + generated instances",
)
def check_slem_text_level_needs_canonical_outputs(options: CheckOptions) -> Outcome:
    """The witness exactly, then both directions on generated instances."""
    witness = text_level_witness()
    if not witness["lookbehind_equal"] or witness["text_level_equal"]:
        return Outcome("refuted", {"counterexample": witness})
    outcome = check_by_hypothesis(
        text_level_instances(),
        text_level_property,
        options,
        Examples(80, 400, "cross-vocabulary instances with n<=2, K<=1 and a canonical prefix"),
    )
    return Outcome(outcome.status, {"witness": witness, **outcome.certificate})


def first_acceptance_matches_formula(instance: Instance) -> dict[str, Any] | None:
    """Executed first-position acceptance == sum p psi~."""
    target, drafter, target_tokenizer, drafter_tokenizer, prefix, _, k = instance
    kernel = LookbehindSlemRound(target, drafter, target_tokenizer, drafter_tokenizer, k)
    row = target.next_dist(prefix)
    formula = sum(
        (row[t] * w for t, w in first_token_law(kernel, prefix).items() if t is not None),
        Fraction(0),
    )
    executed = slem_first_acceptance(kernel, prefix)
    if executed == formula:
        return None
    return {**instance_json(instance), "executed": str(executed), "formula": str(formula)}


check_slem_first_acceptance_formula = hypothesis_claim(
    "slem_first_acceptance_formula",
    r"Under sampling, SLEM accepts the first proposed target token with probability "
    r"$\sum_t p(t)\,\tilde\psi(t)$, where $\tilde\psi$ is the law of the first token of the "
    r"re-tokenised draft (not the string-level $\psi$ of SLRS): the rate obtained by executing "
    r"the round equals the formula on generated instances.",
    cross_vocabulary_instances(max_n=1, max_k=3),
    first_acceptance_matches_formula,
    Examples(150, 800, "cross-vocabulary instances, K<=3"),
    method=LOSSLESS_METHOD,
)
"""Executed first-position acceptance == sum p psi~."""
