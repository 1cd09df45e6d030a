r"""A toy string-level round: SLEM (string-level exact match) across two tokenizers.

Timor et al. (ICML 2025, arXiv 2502.05202). The drafter and the target have different
vocabularies ([`ToyTokenizer`][specproof.reference.tokenizers.ToyTokenizer]s over one alphabet,
the drafter's possibly larger). One round:

1. the drafter sees the context as text (the target tokens decoded, then encoded with the
   drafter's tokenizer) and drafts $K$ tokens of its own; their concatenation is the draft
   string $s$;
2. $s$ is cut at its first character the target's tokenizer cannot express and normalised
   (the target's $\mathrm{decode}(\mathrm{encode}(\cdot))$): the draft text $t$;
3. the target verifies $t$ by sample-and-match: at each step it samples its own token
   $y \sim p(\cdot \mid \text{context}, y_1, \dots)$ and outputs it; the round goes on while
   $y$ matches the draft, and ends at the first mismatch or once the draft is used up.

"Matches" is pinned by `match`:

- `"tokens"`: $t$ is re-tokenised with the target's tokenizer, alone (so the tokens of the
  committed context never change: the look-behind problem of real SLEM does not arise), and
  $y$ must equal the next proposed token;
- `"string"`: $y$'s string must be a prefix of the rest of $t$; a target token sequence that
  is not the canonical tokenisation of $t$ is accepted too.

One round outputs between 1 and $|t| + 1$ target tokens, however many drafter tokens $K$ was:
the law of a round is not per position. Every output token is the target's own sample and
whether the round goes on depends only on tokens already output and on the draft, so the law
is the target's ([`round_kernel_law`][specproof.reference.rounds.round_kernel_law] of this
kernel equals [`autoregressive_law`][specproof.reference.laws.autoregressive_law]).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal

from .dist import Token
from .heterogeneous import check_drafter_reads_target, check_tokenizer
from .laws import _check_count
from .lm import LanguageModel, check_language_model
from .rounds import Outcome, round_kernel_law
from .string_level import draft_sequences_law, exact_match_law
from .tokenizers import ToyTokenizer
from .verifier import check_uniform, inverse_cdf

Match = Literal["tokens", "string"]
MATCHES: Final[tuple[Match, ...]] = ("tokens", "string")


@dataclass(frozen=True, init=False)
class SlemRound:
    """The round kernel of toy SLEM: a drafter over another tokenizer, verified by exact match.

    Args:
        target: the target model, over `target_tokenizer`'s tokens.
        drafter: the drafter model, over `drafter_tokenizer`'s tokens.
        target_tokenizer: the target's tokenizer.
        drafter_tokenizer: the drafter's tokenizer; it must express every target token.
        k: drafter tokens per round.
        match: `"tokens"` (re-tokenise the draft and match tokens) or `"string"` (match strings).

    Raises:
        ValueError: on a model without the `LanguageModel` members, a model and tokenizer with
            different vocabularies, a target token the drafter cannot express, a bad `k` or
            an unknown `match`.

    Examples:
        >>> from fractions import Fraction as F
        >>> from specproof.reference import ToyLM, autoregressive_law
        >>> from specproof.reference.rounds import round_kernel_law
        >>> big, small = ToyTokenizer(["a", "b", "ab"]), ToyTokenizer(["a", "b", "ba"])
        >>> target = ToyLM(big.tokens, 0, {(): {"a": F(1, 2), "b": F(1, 6), "ab": F(1, 3)}})
        >>> drafter = ToyLM(small.tokens, 0, {(): {"a": F(1, 3), "b": F(1, 3), "ba": F(1, 3)}})
        >>> kernel = SlemRound(target, drafter, big, small, 2)
        >>> max(len(outcome) for outcome in kernel.round_law(()))  # 2 drafts, up to 4 tokens
        4
        >>> round_kernel_law(kernel, (), 3) == autoregressive_law(target, (), 3)
        True
    """

    target: LanguageModel
    drafter: LanguageModel
    target_tokenizer: ToyTokenizer
    drafter_tokenizer: ToyTokenizer
    k: int
    match: Match

    def __init__(
        self,
        target: LanguageModel,
        drafter: LanguageModel,
        target_tokenizer: ToyTokenizer,
        drafter_tokenizer: ToyTokenizer,
        k: int,
        match: Match = "tokens",
    ) -> None:
        object.__setattr__(self, "target", check_language_model(target, "target"))
        object.__setattr__(self, "drafter", check_language_model(drafter, "drafter"))
        target_tokenizer = check_tokenizer(target, target_tokenizer, "target")
        drafter_tokenizer = check_tokenizer(drafter, drafter_tokenizer, "drafter")
        check_drafter_reads_target(target_tokenizer, drafter_tokenizer)
        object.__setattr__(self, "target_tokenizer", target_tokenizer)
        object.__setattr__(self, "drafter_tokenizer", drafter_tokenizer)
        object.__setattr__(self, "k", _check_count(k, "k"))
        if match not in MATCHES:
            raise ValueError(f"match must be one of {list(MATCHES)}, got {match!r}")
        object.__setattr__(self, "match", match)

    @property
    def vocab(self) -> tuple[Token, ...]:
        """The target's tokens."""
        return tuple(self.target.vocab)

    def draft_text_law(self, context: Outcome) -> dict[str, Fraction]:
        """Exact law of the draft text $t$ (step 2) after the target-side `context`."""
        text = self.target_tokenizer.decode(map(str, context), "context")
        drafter_context = self.drafter_tokenizer.encode(text, "context text")
        law: dict[str, Fraction] = {}
        for drafts, weight in draft_sequences_law(
            self.drafter, drafter_context, self.k, lambda row: dict(row.items())
        ).items():
            draft_text = self.target_tokenizer.expressible_prefix("".join(map(str, drafts)))
            law[draft_text] = law.get(draft_text, Fraction(0)) + weight
        return law

    def continues(self, draft_text: str, output: Outcome) -> bool:
        """Whether the round goes on after outputting `output`: every token of it matched.

        Once the draft is used up, the next token (the bonus) cannot match and ends the round.

        Args:
            draft_text: the draft text $t$.
            output: the target tokens output so far in this round.
        """
        if self.match == "tokens":
            proposal = self.target_tokenizer.encode(draft_text)
            return len(output) <= len(proposal) and output == proposal[: len(output)]
        consumed = "".join(map(str, output))
        return draft_text.startswith(consumed)

    def verify_law(self, context: Outcome, draft_text: str) -> dict[Outcome, Fraction]:
        """Exact law of the tokens the target outputs when it verifies `draft_text` (step 3)."""
        return exact_match_law(
            self.target,
            tuple(context),
            lambda output: self.continues(draft_text, output),
            lambda row: dict(row.items()),
        )

    def run_round(
        self, context: Outcome, drafter_u: Sequence[Fraction], target_u: Sequence[Fraction]
    ) -> Outcome:
        """Run one round with explicit uniforms; `round_law` is the law of its output.

        Args:
            context: the target-side sequence before the round.
            drafter_u: $K$ uniforms; drafter token $i$ is the inverse CDF of its row there.
            target_u: one uniform per target sample, in order; a round needs at most one more
                than the draft text has characters (unused ones are ignored).

        Raises:
            ValueError: on a bad uniform, `drafter_u` not of length $K$, or too few `target_u`.
        """
        context = tuple(context)
        if len(drafter_u) != self.k:
            raise ValueError(f"drafter_u must have length K={self.k}, got {len(drafter_u)}")
        text = self.target_tokenizer.decode(map(str, context), "context")
        drafter_context = self.drafter_tokenizer.encode(text, "context text")
        drafts: tuple[Token, ...] = ()
        for i, u in enumerate(drafter_u):
            row = self.drafter.next_dist(drafter_context + drafts)
            drafts += (inverse_cdf(row.probs, row.tokens, check_uniform(u, f"drafter_u[{i}]")),)
        draft_text = self.target_tokenizer.expressible_prefix("".join(map(str, drafts)))
        output: Outcome = ()
        for i, u in enumerate(target_u):
            row = self.target.next_dist(context + output)
            output += (inverse_cdf(row.probs, row.tokens, check_uniform(u, f"target_u[{i}]")),)
            if not self.continues(draft_text, output):
                return output
        raise ValueError(
            f"target_u must hold a uniform per output token: {len(target_u)} ran out "
            f"(draft text {draft_text!r})"
        )

    def round_law(self, context: Outcome) -> dict[Outcome, Fraction]:
        """Exact law of the target tokens one round outputs after `context`."""
        context = tuple(context)
        law: dict[Outcome, Fraction] = {}
        for draft_text, weight in self.draft_text_law(context).items():
            for output, prob in self.verify_law(context, draft_text).items():
                law[output] = law.get(output, Fraction(0)) + weight * prob
        return law


def slem_law(
    target: LanguageModel,
    drafter: LanguageModel,
    target_tokenizer: ToyTokenizer,
    drafter_tokenizer: ToyTokenizer,
    prefix: Sequence[Token],
    n: int,
    k: int,
    match: Match = "tokens",
) -> dict[Outcome, Fraction]:
    """Exact law of the first `n` target tokens output by toy SLEM from `prefix`.

    Args:
        target: the target model.
        drafter: the drafter model.
        target_tokenizer: the target's tokenizer.
        drafter_tokenizer: the drafter's tokenizer.
        prefix: the target tokens before generation starts.
        n: how many output tokens.
        k: drafter tokens per round.
        match: `"tokens"` or `"string"` (see the module).

    Raises:
        ValueError: on bad arguments (see `SlemRound` and `round_kernel_law`).
    """
    kernel = SlemRound(target, drafter, target_tokenizer, drafter_tokenizer, k, match)
    return round_kernel_law(kernel, prefix, n)


__all__ = ["MATCHES", "Match", "SlemRound", "slem_law"]
