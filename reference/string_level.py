r"""SLEM with look-behind re-tokenisation, greedy or sampled; the proposal law $\tilde\psi$.

Timor et al. (ICML 2025, arXiv 2502.05202, Alg. 2). One round, after the target-side context
$c$ (target tokens):

1. the drafter reads $c$ token by token
   ([`read_as_drafter`][specproof.reference.heterogeneous.read_as_drafter]) and drafts $K$
   tokens of its own (sampled, or argmax for `mode="greedy"`); their concatenation, cut at the
   first character the target cannot express and normalised, is the draft text $s$;
2. $s$ is re-tokenised with the target's tokenizer **with a look-behind window**
   ([`retokenize_with_lookbehind`][specproof.reference.string_level.retokenize_with_lookbehind]):
   the last `lookbehind` committed tokens $w$ are decoded and encoded together with $s$; if the
   result starts with $w$ itself, the proposal is the rest; otherwise (a token straddles the
   boundary) the proposal is $s$ encoded alone. Either way **the committed tokens never
   change**: only the proposal $(t_1, \dots, t_m)$ depends on the window;
3. the target verifies by exact match: at each step it takes its own token $y$ (a sample of
   $p(\cdot \mid c, y_{<i})$, or its argmax for `"greedy"`) and outputs it; the round goes on
   while $y = t_i$ and ends at the first mismatch, or with the token after $t_m$ (the bonus).
   With `match="string"` it goes on while the string of the tokens output so far is a prefix
   of the proposal's string $t_1 \cdots t_m$, so a target token sequence that is not the
   canonical tokenisation of the draft text is accepted too (the toy SLEM of
   [`specproof.reference.slem`][specproof.reference.slem]).

**Lossless, for every pair of tokenizers (injective or not).** Every output token is the
target's own choice given the tokens already output, and whether the round goes on depends only
on those tokens and on the drafter's draws, never on the target's coins: the output law is the
target's, and under `"greedy"` the output is the target's greedy decoding. The tokenizers'
non-injectivity only changes the proposals, hence the acceptance (claim
`slem_lookbehind_lossless`).

**What breaks it.** A variant that carries the context as *text* and re-tokenises it every
round ([`text_level_slem_law`][specproof.reference.string_level.text_level_slem_law], which
lets committed tokens change) is lossless only when every token sequence the target generates
with positive probability is the canonical tokenisation of its text
($\mathrm{encode}(\mathrm{decode}(y)) = y$); a target that may emit `("a", "b")` where the
tokenizer writes `("ab",)` is a counterexample (claim `slem_text_level_needs_canonical_outputs`).

**The proposal law** of the round, [`proposal_law`][specproof.reference.string_level.LookbehindSlemRound.proposal_law],
is the law of $(t_1, \dots, t_m)$; its first-token marginal is $\tilde\psi$
([`first_token_law`][specproof.reference.string_level.first_token_law]), which is *not* the
string-level $\psi$ of SLRS ([`specproof.reference.slrs`][specproof.reference.slrs]). Under
sampling, the first position is accepted with probability $\sum_t p(t)\,\tilde\psi(t)$
([`slem_first_acceptance`][specproof.reference.string_level.slem_first_acceptance]).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal

from .dist import Dist, Token
from .heterogeneous import (
    CrossVocabularyAlgorithm,
    check_model_pair,
    read_as_drafter,
)
from .laws import _check_count
from .lm import LanguageModel
from .rounds import Outcome
from .tokenizers import ToyTokenizer
from .verifier import argmax, check_uniform, inverse_cdf

Mode = Literal["sample", "greedy"]
MODES: Final[tuple[Mode, ...]] = ("sample", "greedy")
Match = Literal["tokens", "string"]
MATCHES: Final[tuple[Match, ...]] = ("tokens", "string")

#: Committed target tokens re-tokenised with each draft (Hugging Face's default is 10).
DEFAULT_LOOKBEHIND = 4


def retokenize_with_lookbehind(
    target_tokenizer: ToyTokenizer, committed: Sequence[Token], text: str, lookbehind: int
) -> tuple[Token, ...]:
    """The target tokens proposed for `text` after `committed`, with a look-behind window.

    The last `lookbehind` committed tokens $w$ are decoded and encoded with `text`: if the
    result starts with $w$, the rest is returned; else `text` is encoded alone. Committed tokens
    are never returned or changed.

    For greedy longest-match tokenizers such as `ToyTokenizer` both branches give
    `encode(text)` (an aligned window leaves greedy matching of `text` from its start
    unchanged); the window matters for tokenizers whose splits depend on what precedes (real
    BPE pre-tokenisers, SentencePiece's leading space), which the engine meets.

    Examples:
        >>> tok = ToyTokenizer(["a", "b", "ab"])
        >>> retokenize_with_lookbehind(tok, ("a",), "bab", 2)  # 'a'+'b' would merge: no window
        ('b', 'ab')
    """
    window = tuple(committed[len(committed) - lookbehind :]) if lookbehind else ()
    joined = target_tokenizer.encode(target_tokenizer.decode(map(str, window)) + text)
    if joined[: len(window)] == window:
        return joined[len(window) :]
    return target_tokenizer.encode(text)


def draft_sequences_law(
    drafter: LanguageModel,
    start: Sequence[Token],
    k: int,
    row_law: Callable[[Dist], dict[Token, Fraction]],
) -> dict[tuple[Token, ...], Fraction]:
    """Exact law of `k` drafter tokens after the drafter tokens `start`.

    Args:
        drafter: the drafter.
        start: the drafter's context.
        k: how many tokens.
        row_law: each row's law of the next token (the row itself, or its argmax for greedy).
    """
    start = tuple(start)
    law: dict[tuple[Token, ...], Fraction] = {}

    def walk(drafts: tuple[Token, ...], weight: Fraction) -> None:
        if len(drafts) == k:
            law[drafts] = law.get(drafts, Fraction(0)) + weight
            return
        for token, prob in row_law(drafter.next_dist(start + drafts)).items():
            if prob:
                walk((*drafts, token), weight * prob)

    walk((), Fraction(1))
    return law


def exact_match_law(
    target: LanguageModel,
    context: Outcome,
    continues: Callable[[Outcome], bool],
    row_law: Callable[[Dist], dict[Token, Fraction]],
) -> dict[Outcome, Fraction]:
    """Exact law of the tokens the target outputs by exact match until `continues` says stop.

    At each step the target takes its own token (`row_law` of its row: the row, or its argmax)
    and outputs it; the round goes on while `continues(output so far)`.
    """
    law: dict[Outcome, Fraction] = {}

    def walk(output: Outcome, weight: Fraction) -> None:
        for token, prob in row_law(target.next_dist(context + output)).items():
            if not prob:
                continue
            longer = (*output, token)
            if continues(longer):
                walk(longer, weight * prob)
            else:
                law[longer] = law.get(longer, Fraction(0)) + weight * prob

    walk((), Fraction(1))
    return law


def _full_row(row: Dist) -> dict[Token, Fraction]:
    return {t: p for t, p in row.items() if p}


def _argmax_row(row: Dist) -> dict[Token, Fraction]:
    return {argmax(row): Fraction(1)}


@dataclass(frozen=True)
class LookbehindSlemRound:
    """The round kernel of SLEM (see the module): look-behind re-tokenisation, exact match.

    Args:
        target: the target model, over `target_tokenizer`'s tokens.
        drafter: the drafter model, over `drafter_tokenizer`'s tokens.
        target_tokenizer: the target's tokenizer.
        drafter_tokenizer: the drafter's tokenizer; it must express every target token.
        k: drafter tokens per round.
        mode: `"sample"` (sample-and-match) or `"greedy"` (argmax on both sides).
        lookbehind: committed target tokens re-tokenised with each draft.
        match: `"tokens"` (each output token equals the proposed one) or `"string"` (the output
            so far spells a prefix of the proposal's string; see the module).

    Raises:
        ValueError: on a target token the drafter cannot express, a model and tokenizer with
            different vocabularies, a bad `k`, `lookbehind`, `mode` or `match`.

    Examples:
        >>> from fractions import Fraction as F
        >>> from specproof.reference import ToyLM, autoregressive_law
        >>> big, small = ToyTokenizer(["a", "b", "ab"]), ToyTokenizer(["a", "b", "ba"])
        >>> target = ToyLM(big.tokens, 0, {(): {"a": F(1, 2), "b": F(1, 6), "ab": F(1, 3)}})
        >>> drafter = ToyLM(small.tokens, 0, {(): {"a": F(1, 3), "b": F(1, 3), "ba": F(1, 3)}})
        >>> SLEM.law(target, drafter, big, small, (), 3, 2) == autoregressive_law(target, (), 3)
        True
    """

    target: LanguageModel
    drafter: LanguageModel
    target_tokenizer: ToyTokenizer
    drafter_tokenizer: ToyTokenizer
    k: int
    mode: Mode = "sample"
    lookbehind: int = DEFAULT_LOOKBEHIND
    match: Match = "tokens"

    def __post_init__(self) -> None:
        target, drafter, target_tokenizer, drafter_tokenizer = check_model_pair(
            self.target, self.drafter, self.target_tokenizer, self.drafter_tokenizer
        )
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {list(MODES)}, got {self.mode!r}")
        if self.match not in MATCHES:
            raise ValueError(f"match must be one of {list(MATCHES)}, got {self.match!r}")
        for name, value in (
            ("target", target),
            ("drafter", drafter),
            ("target_tokenizer", target_tokenizer),
            ("drafter_tokenizer", drafter_tokenizer),
            ("k", _check_count(self.k, "k")),
            ("lookbehind", _check_count(self.lookbehind, "lookbehind")),
        ):
            object.__setattr__(self, name, value)

    @property
    def vocab(self) -> tuple[Token, ...]:
        """The target's tokens."""
        return tuple(self.target.vocab)

    def _row_law(self, row: Dist) -> dict[Token, Fraction]:
        return _argmax_row(row) if self.mode == "greedy" else _full_row(row)

    def draft_law(self, context: Outcome) -> dict[tuple[Token, ...], Fraction]:
        """Exact law of the $K$ drafter tokens after the target-side `context`."""
        start = read_as_drafter(context, self.drafter_tokenizer)
        return draft_sequences_law(self.drafter, start, self.k, self._row_law)

    def propose(self, context: Outcome, drafts: Sequence[Token]) -> tuple[Token, ...]:
        """The target tokens proposed for `drafts` after `context` (steps 1-2 of the module)."""
        text = self.target_tokenizer.expressible_prefix("".join(map(str, drafts)))
        return retokenize_with_lookbehind(self.target_tokenizer, context, text, self.lookbehind)

    def proposal_law(self, context: Outcome) -> dict[tuple[Token, ...], Fraction]:
        r"""Exact law of the proposal $(t_1, \dots, t_m)$ after `context`."""
        law: dict[tuple[Token, ...], Fraction] = {}
        for drafts, weight in self.draft_law(tuple(context)).items():
            proposal = self.propose(tuple(context), drafts)
            law[proposal] = law.get(proposal, Fraction(0)) + weight
        return law

    def continues(self, proposal: Sequence[Token], output: Outcome) -> bool:
        r"""Whether the round goes on after outputting `output`: every token of it matched.

        Once the proposal is used up, the next token (the bonus) cannot match and ends the
        round.

        Args:
            proposal: the proposed target tokens $(t_1, \dots, t_m)$.
            output: the target tokens output so far in this round.
        """
        if self.match == "string":
            return "".join(map(str, proposal)).startswith("".join(map(str, output)))
        return len(output) <= len(proposal) and tuple(output) == tuple(proposal[: len(output)])

    def verify_law(self, context: Outcome, proposal: Sequence[Token]) -> dict[Outcome, Fraction]:
        """Exact law of the tokens the target outputs when it verifies `proposal` by exact match."""
        proposal = tuple(proposal)
        return exact_match_law(
            self.target,
            tuple(context),
            lambda output: self.continues(proposal, output),
            self._row_law,
        )

    def round_law(self, context: Outcome) -> dict[Outcome, Fraction]:
        """Exact law of the target tokens one round outputs after `context`."""
        context = tuple(context)
        law: dict[Outcome, Fraction] = {}
        for proposal, weight in self.proposal_law(context).items():
            for output, prob in self.verify_law(context, proposal).items():
                law[output] = law.get(output, Fraction(0)) + weight * prob
        return law

    def run_round(
        self, context: Outcome, drafter_u: Sequence[Fraction], target_u: Sequence[Fraction]
    ) -> Outcome:
        """Run one round with explicit uniforms; `round_law` is the law of its output.

        Args:
            context: the target-side sequence before the round.
            drafter_u: $K$ uniforms, drafter token $i$ = inverse CDF of its row there (ignored
                under `"greedy"`, which takes the argmax).
            target_u: one uniform per target token, in order (ignored under `"greedy"`); a
                round uses at most one more than its proposal has tokens.

        Raises:
            ValueError: on a bad uniform, `drafter_u` not of length $K$, or too few `target_u`.
        """
        context = tuple(context)
        if len(drafter_u) != self.k:
            raise ValueError(f"drafter_u must have length K={self.k}, got {len(drafter_u)}")
        start = read_as_drafter(context, self.drafter_tokenizer)
        drafts: tuple[Token, ...] = ()
        for i, u in enumerate(drafter_u):
            row = self.drafter.next_dist(start + drafts)
            u = check_uniform(u, f"drafter_u[{i}]")
            token = argmax(row) if self.mode == "greedy" else inverse_cdf(row.probs, row.tokens, u)
            drafts += (token,)
        proposal = self.propose(context, drafts)
        output: Outcome = ()
        for i, u in enumerate(target_u):
            row = self.target.next_dist(context + output)
            u = check_uniform(u, f"target_u[{i}]")
            token = argmax(row) if self.mode == "greedy" else inverse_cdf(row.probs, row.tokens, u)
            output += (token,)
            if not self.continues(proposal, output):
                return output
        raise ValueError(
            f"target_u must hold a uniform per output token: {len(target_u)} ran out "
            f"(proposal {proposal!r})"
        )


SLEM = CrossVocabularyAlgorithm("slem", LookbehindSlemRound)
"""SLEM's reference object (its entry in the algorithm registry)."""


def first_token_law(kernel: LookbehindSlemRound, context: Outcome) -> dict[Token | None, Fraction]:
    r"""$\tilde\psi$: the law of the proposal's first token $t_1$ after `context`.

    `None` stands for an empty proposal (the draft text is empty: nothing the target can
    express), whose round outputs only the bonus token.
    """
    law: dict[Token | None, Fraction] = {}
    for proposal, weight in kernel.proposal_law(context).items():
        first = proposal[0] if proposal else None
        law[first] = law.get(first, Fraction(0)) + weight
    return law


def slem_first_acceptance(kernel: LookbehindSlemRound, context: Outcome) -> Fraction:
    r"""Exact probability that SLEM accepts the first proposed token, $\sum_t p(t)\,\tilde\psi(t)$.

    Computed from the round law (the first output equals $t_1$ and the round goes on), not from
    the formula; the formula is a claim checked against it.
    """
    context = tuple(context)
    accepted = Fraction(0)
    for proposal, weight in kernel.proposal_law(context).items():
        if not proposal:
            continue
        for output, prob in kernel.verify_law(context, proposal).items():
            if output[0] == proposal[0] and len(output) > 1:
                accepted += weight * prob
    return accepted


def is_canonical(tokenizer: ToyTokenizer, tokens: Sequence[Token]) -> bool:
    """Whether `tokens` is what the tokenizer writes for its own text: encode(decode(y)) == y."""
    tokens = tuple(tokens)
    return tokenizer.encode(tokenizer.decode(map(str, tokens))) == tokens


def text_level_slem_law(
    kernel: LookbehindSlemRound, prefix: Sequence[Token], n: int
) -> dict[Outcome, Fraction]:
    r"""Exact law of the naive *text-level* SLEM loop: the context is re-tokenised every round.

    After each round the committed text is encoded again with the target's tokenizer, so
    committed tokens may change (`("a", "b")` becomes `("ab",)`, the prefix included). The loop
    runs until the re-encoded sequence holds `len(prefix) + n` tokens; the outcome is its first
    `len(prefix) + n` tokens (the prefix part included, since it may have changed), to be
    compared with `prefix + y` for the target's `y`. The negative control of the look-behind
    rule: see the module for when it is lossless.

    Raises:
        ValueError: on a bad `n`.
    """
    n = _check_count(n, "n")
    prefix = tuple(prefix)
    tokenizer = kernel.target_tokenizer
    memo: dict[Outcome, dict[Outcome, Fraction]] = {}

    def rest(sequence: Outcome) -> dict[Outcome, Fraction]:
        if len(sequence) >= len(prefix) + n:
            return {sequence[: len(prefix) + n]: Fraction(1)}
        if sequence in memo:
            return memo[sequence]
        out: dict[Outcome, Fraction] = {}
        for head, weight in kernel.round_law(sequence).items():
            text = tokenizer.decode(map(str, sequence + head))
            for tail, prob in rest(tokenizer.encode(text)).items():
                out[tail] = out.get(tail, Fraction(0)) + weight * prob
        memo[sequence] = out
        return out

    return rest(prefix)


__all__ = [
    "draft_sequences_law",
    "exact_match_law",
    "DEFAULT_LOOKBEHIND",
    "MATCHES",
    "MODES",
    "SLEM",
    "Match",
    "LookbehindSlemRound",
    "Mode",
    "first_token_law",
    "is_canonical",
    "retokenize_with_lookbehind",
    "slem_first_acceptance",
    "text_level_slem_law",
]
