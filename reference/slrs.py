r"""SLRS, string-level rejection sampling (Timor et al., ICML 2025, arXiv 2502.05202, Alg. 3).

**Two functions named psi.** For a target token $t$ with string $s$:

- $\psi(t)$ ([`psi`][specproof.reference.slrs.psi]), the paper's: the drafter's probability of
  producing exactly $s$ as a sequence of its tokens, summed over every segmentation of $s$
  into drafter tokens: $\psi(\text{hey}) = q(\text{hey}) + q(\text{he})q(\text{y} \mid \text{he}) +
  q(\text{h})q(\text{ey} \mid \text{h}) + q(\text{h})q(\text{e} \mid \text{h})q(\text{y} \mid
  \text{he})$. It counts only drafts with a drafter-token boundary right after $s$, and
  $\sum_t \psi(t)$ need not be 1 (`"a"` and `"ab"` share the drafts that start with `"a"`):
  $\psi$ is not the law of anything the round proposes.
- $\tilde\psi(t)$ ([`first_token_law`][specproof.reference.string_level.first_token_law]): the
  probability that the re-tokenised draft's first target token is $t$ — the law of the
  proposal's first token, and more generally $\tilde\psi_i(\cdot \mid t_{<i})$, the law of
  $t_i$ given the proposal's first $i - 1$ tokens
  ([`conditional_proposal`][specproof.reference.slrs.conditional_proposal]).

**The round** ([`SlrsRound`][specproof.reference.slrs.SlrsRound]) proposes exactly as SLEM
(drafter draws, look-behind re-tokenisation) and verifies position $i$ with standard SD's rule
against $\tilde\psi_i$: accept $t_i$ iff $u_i\,\tilde\psi_i(t_i) < p(t_i)$, else output the
recovered token from $(p - \tilde\psi_i)_+$; a proposal used up ends with the bonus token.
Lossless because $\tilde\psi_i$ is exactly the law $t_i$ was drawn from given the accepted prefix
(claim `slrs_lossless`). Verifying against the paper's $\psi$ instead is **not** lossless in
general ([`psi_verified_round_law`][specproof.reference.slrs.psi_verified_round_law], claim
`slrs_psi_verification_not_lossless`). On the first position SLRS accepts with probability
$\sum_t \min((1 - e)\,p(t), \tilde\psi(t)) \ge \sum_t p(t)\,\tilde\psi(t)$, SLEM's ($e$ the
probability of an empty proposal; claim `slrs_acceptance_ge_slem`).

**Cost.** Computing $\psi(t)$ sums over the segmentations of $s$: a string of length $L$ has at
most $2^{L-1}$ of them (a segmentation is a set of cut points among $L - 1$), exactly $2^{L-1}$
when every substring is a drafter token ([`segmentation_count`][specproof.reference.slrs.segmentation_count],
claim `slrs_segmentation_count`). [`psi`][specproof.reference.slrs.psi] refuses a string with
more than `max_segmentations` segmentations (default
[`MAX_SEGMENTATIONS`][specproof.reference.slrs.MAX_SEGMENTATIONS]) with a `ValueError`, counted
first by dynamic programming in $O(L \cdot \ell_{max})$.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from collections.abc import Set as AbstractSet
from fractions import Fraction

from .dist import Dist, Token
from .heterogeneous import CrossVocabularyAlgorithm, read_as_drafter
from .lm import LanguageModel
from .rounds import Outcome
from .sd import STANDARD_SD
from .string_level import LookbehindSlemRound, first_token_law
from .verifier import ACCEPT, check_uniform, inverse_cdf

#: The most segmentations `psi` enumerates before refusing.
MAX_SEGMENTATIONS = 1 << 12


def segmentation_count(text: str, vocab: Collection[str]) -> int:
    """How many ways `text` splits into tokens of `vocab` (dynamic programming, exact).

    `vocab` is the token strings; a set (or a mapping's `keys()`) is used as it is, anything
    else is copied into one.

    Examples:
        >>> segmentation_count("hey", ["h", "e", "y", "he", "ey", "hey"])  # all substrings: 2^2
        4
        >>> segmentation_count("abab", ["a", "b", "ab"])
        4
    """
    tokens = vocab if isinstance(vocab, AbstractSet) else set(vocab)
    longest = max((len(t) for t in tokens), default=0)
    count = [1] + [0] * len(text)
    for end in range(1, len(text) + 1):
        for start in range(max(0, end - longest), end):
            if text[start:end] in tokens:
                count[end] += count[start]
    return count[len(text)]


def segmentations(text: str, vocab: Sequence[str]) -> list[tuple[str, ...]]:
    """Every split of `text` into tokens of `vocab`, in lexicographic order of cut points."""
    tokens = set(vocab)
    if not text:
        return [()]
    out: list[tuple[str, ...]] = []
    for end in range(1, len(text) + 1):
        head = text[:end]
        if head in tokens:
            out.extend((head, *rest) for rest in segmentations(text[end:], vocab))
    return out


def psi(
    drafter: LanguageModel,
    drafter_context: Sequence[Token],
    text: str,
    *,
    max_segmentations: int = MAX_SEGMENTATIONS,
) -> Fraction:
    r"""$\psi$: the drafter's probability of producing exactly `text`, over all segmentations.

    Args:
        drafter: the drafter model (tokens are strings).
        drafter_context: the drafter tokens before.
        text: the string $s$.
        max_segmentations: refuse strings with more segmentations than this.

    Raises:
        ValueError: if `text` has more than `max_segmentations` segmentations.

    Examples:
        >>> from fractions import Fraction as F
        >>> from specproof.reference import ToyLM
        >>> q = ToyLM(["a", "b", "ab"], 0, {(): {"a": F(1, 2), "b": F(1, 4), "ab": F(1, 4)}})
        >>> psi(q, (), "ab")  # q(ab) + q(a) q(b)
        Fraction(3, 8)
    """
    count = segmentation_count(text, [str(t) for t in drafter.vocab])
    if count > max_segmentations:
        raise ValueError(
            f"text {text!r} has {count} segmentations into drafter tokens, more than "
            f"max_segmentations={max_segmentations}: SLRS needs drafters with short tokens"
        )
    context = tuple(drafter_context)
    total = Fraction(0)
    for segmentation in segmentations(text, [str(t) for t in drafter.vocab]):
        prob = Fraction(1)
        for i, token in enumerate(segmentation):
            prob *= drafter.next_dist(context + segmentation[:i])[token]
            if not prob:
                break
        total += prob
    return total


def conditional_proposal(
    proposal_law: dict[tuple[Token, ...], Fraction], prefix: Sequence[Token], vocab: Sequence[Token]
) -> tuple[Fraction, Dist | None]:
    r"""Given the proposal's first tokens `prefix`: (probability it ends there, law of the next).

    Returns:
        `(stop, row)`: `stop` is $P(m = i \mid t_{<i} = \text{prefix})$; `row` the law
        $\tilde\psi_i$ of $t_i$ over `vocab` given that it exists (`None` if it never does).

    Raises:
        ValueError: if no proposal starts with `prefix`.
    """
    prefix = tuple(prefix)
    i = len(prefix)
    matching = {p: w for p, w in proposal_law.items() if p[:i] == prefix and w}
    mass = sum(matching.values(), Fraction(0))
    if not mass:
        raise ValueError(f"no proposal starts with {prefix!r}")
    stop = sum((w for p, w in matching.items() if len(p) == i), Fraction(0))
    if stop == mass:
        return Fraction(1), None
    nxt: dict[Token, Fraction] = {t: Fraction(0) for t in vocab}
    for p, w in matching.items():
        if len(p) > i:
            nxt[p[i]] += w / (mass - stop)
    return stop / mass, Dist(nxt)


class SlrsRound(LookbehindSlemRound):
    r"""The round kernel of SLRS: SLEM's proposal, verified position by position against $\tilde\psi_i$.

    Same arguments as [`LookbehindSlemRound`][specproof.reference.string_level.LookbehindSlemRound]
    (`mode` must be `"sample"`).

    Examples:
        >>> from fractions import Fraction as F
        >>> from specproof.reference import ToyLM, autoregressive_law
        >>> from specproof.reference.tokenizers import ToyTokenizer
        >>> big, small = ToyTokenizer(["a", "b", "ab"]), ToyTokenizer(["a", "b"])
        >>> target = ToyLM(big.tokens, 0, {(): {"a": F(1, 2), "b": F(1, 6), "ab": F(1, 3)}})
        >>> drafter = ToyLM(small.tokens, 0, {(): {"a": F(2, 3), "b": F(1, 3)}})
        >>> SLRS.law(target, drafter, big, small, (), 3, 2) == autoregressive_law(target, (), 3)
        True
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.mode != "sample":
            raise ValueError(f"mode must be 'sample' for SLRS, got {self.mode!r}")

    def round_law(self, context: Outcome) -> dict[Outcome, Fraction]:
        """Exact law of the target tokens one round outputs after `context`."""
        context = tuple(context)
        proposals = self.proposal_law(context)
        law: dict[Outcome, Fraction] = {}

        def emit(output: Outcome, weight: Fraction) -> None:
            if weight:
                law[output] = law.get(output, Fraction(0)) + weight

        def walk(prefix: Outcome, weight: Fraction) -> None:
            target_row = self.target.next_dist(context + prefix)
            stop, row = conditional_proposal(proposals, prefix, self.vocab)
            for token, prob in STANDARD_SD.bonus_law(target_row).items():
                emit((*prefix, token), weight * stop * prob)
            if row is None:
                return
            for token, draft_prob in row.items():
                if not draft_prob:
                    continue
                mass = weight * (1 - stop) * draft_prob
                for outcome, prob in STANDARD_SD.position_law(target_row, row, token).items():
                    if outcome is ACCEPT:
                        walk((*prefix, token), mass * prob)
                    else:
                        emit((*prefix, outcome), mass * prob)

        walk((), Fraction(1))
        return law

    def run_slrs_round(
        self,
        context: Outcome,
        drafter_u: Sequence[Fraction],
        accept_u: Sequence[Fraction],
        final_u: Fraction,
    ) -> Outcome:
        """Run one SLRS round with explicit uniforms; `round_law` is the law of its output.

        Args:
            context: the target-side sequence before the round.
            drafter_u: $K$ uniforms for the drafter's tokens (inverse CDF).
            accept_u: one uniform per proposed token (at least the proposal's length).
            final_u: the uniform of the recovered or bonus token.

        Raises:
            ValueError: on a bad uniform, `drafter_u` not of length $K$, or too few `accept_u`.
        """
        context = tuple(context)
        if len(drafter_u) != self.k:
            raise ValueError(f"drafter_u must have length K={self.k}, got {len(drafter_u)}")
        final_u = check_uniform(final_u, "final_u")
        start = read_as_drafter(context, self.drafter_tokenizer)
        drafts: tuple[Token, ...] = ()
        for i, u in enumerate(drafter_u):
            row = self.drafter.next_dist(start + drafts)
            drafts += (inverse_cdf(row.probs, row.tokens, check_uniform(u, f"drafter_u[{i}]")),)
        proposal = self.propose(context, drafts)
        if len(accept_u) < len(proposal):
            raise ValueError(
                f"accept_u must hold a uniform per proposed token ({len(proposal)}), "
                f"got {len(accept_u)}"
            )
        proposals = self.proposal_law(context)
        output: Outcome = ()
        for i, token in enumerate(proposal):
            target_row = self.target.next_dist(context + output)
            _, proposal_row = conditional_proposal(proposals, output, self.vocab)
            assert proposal_row is not None
            verdict = STANDARD_SD.decide(
                target_row,
                proposal_row,
                token,
                check_uniform(accept_u[i], f"accept_u[{i}]"),
                final_u,
            )
            if verdict is not ACCEPT:
                return (*output, verdict)
            output += (token,)
        return (*output, STANDARD_SD.bonus(self.target.next_dist(context + output), final_u))


SLRS = CrossVocabularyAlgorithm("slrs", SlrsRound)
"""SLRS's reference object (its entry in the algorithm registry)."""


class PsiVerifiedRound(LookbehindSlemRound):
    r"""The negative control of SLRS: one position verified against $\psi$ (`psi_verified_round_law`)."""

    def round_law(self, context: Outcome) -> dict[Outcome, Fraction]:
        """Exact law of one round (`psi_verified_round_law`)."""
        return psi_verified_round_law(self, tuple(context))


def psi_verified_round_law(
    kernel: LookbehindSlemRound, context: Outcome
) -> dict[Outcome, Fraction]:
    r"""The law of a one-position round verified against the paper's $\psi$ instead of $\tilde\psi$.

    The proposal's first token $t_1$ is accepted iff $u\,\psi(t_1) < p(t_1)$ (probability
    $\min(1, p/\psi)$), the recovered token drawn from $(p - \psi)_+$ normalised, and an
    accepted $t_1$ is followed by a bonus token. The negative control of SLRS: where
    $\psi \ne \tilde\psi$ this is not the target's law.

    Where the residual is zero ($\psi \ge p$ everywhere) a rejection draws from $p$ instead.
    """
    context = tuple(context)
    drafter_context = read_as_drafter(context, kernel.drafter_tokenizer)
    target_row = kernel.target.next_dist(context)
    weights = {t: psi(kernel.drafter, drafter_context, str(t)) for t in kernel.vocab}
    residual = {t: max(target_row[t] - weights[t], Fraction(0)) for t in kernel.vocab}
    residual_mass = sum(residual.values(), Fraction(0))
    law: dict[Outcome, Fraction] = {}

    def emit(output: Outcome, weight: Fraction) -> None:
        if weight:
            law[output] = law.get(output, Fraction(0)) + weight

    for first, weight in first_token_law(kernel, context).items():
        if first is None:
            for token, prob in target_row.items():
                emit((token,), weight * prob)
            continue
        ratio = target_row[first] / weights[first] if weights[first] else Fraction(1)
        accept = min(Fraction(1), ratio)
        after = kernel.target.next_dist((*context, first))
        for token, prob in after.items():
            emit((first, token), weight * accept * prob)
        if accept < 1:
            recover = residual if residual_mass else dict(target_row.items())
            recover_mass = residual_mass or Fraction(1)
            for token, mass in recover.items():
                emit((token,), weight * (1 - accept) * mass / recover_mass)
    return law


__all__ = [
    "MAX_SEGMENTATIONS",
    "PsiVerifiedRound",
    "SLRS",
    "SlrsRound",
    "conditional_proposal",
    "psi",
    "psi_verified_round_law",
    "segmentation_count",
    "segmentations",
]
