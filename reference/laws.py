r"""Exact output laws, by enumerating every random branch (never by sampling).

A *law* maps each possible output tuple of tokens to its exact probability (`Fraction`);
outcomes of probability zero are left out, so two laws are equal iff they hold the same
outcomes with the same probabilities. Laws are [`Law`][specproof.reference.laws.Law] mappings,
computed in exact integer arithmetic over a common denominator.

The speculative loop: from the current sequence, the draft model proposes $K$ tokens one by one
(each from its distribution given the sequence and the drafts before it); the target gives its
$K + 1$ rows; the verifier accepts a prefix of the drafts and adds a recovered or bonus token;
repeat until $n$ tokens exist, and keep the first $n$. Per position the verifier's exact
conditional law ([`Verifier.position_law`][specproof.reference.verifier.Verifier.position_law])
is integrated over its explicit uniforms, so the law below is that of the very rule that runs
draw by draw.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from fractions import Fraction

from .arguments import check_int
from .dist import Dist, Token, same_vocabulary
from .lm import LanguageModel, check_language_model
from .verifier import ACCEPT, Verifier, argmax


def _registered_verifiers() -> dict[str, Verifier]:
    # Imported here, not at the top: the registry imports the algorithms' reference objects,
    # some of which (round kernels) import this module.
    from .algorithms import ALGORITHMS

    return ALGORITHMS.verifiers()


class _VerifierView(Mapping[str, Verifier]):
    """`{name: Verifier}` of the registered per-position algorithms, read live from the registry."""

    def __getitem__(self, name: str) -> Verifier:
        verifier = _registered_verifiers().get(name)
        if verifier is None:
            raise KeyError(name)
        return verifier

    def __iter__(self) -> Iterator[str]:
        return iter(_registered_verifiers())

    def __len__(self) -> int:
        return len(_registered_verifiers())

    def __repr__(self) -> str:
        return f"VERIFIERS({dict(self)!r})"


VERIFIERS: Mapping[str, Verifier] = _VerifierView()
"""The per-position verifiers of [`ALGORITHMS`][specproof.reference.algorithms.ALGORITHMS], by name."""

#: The largest number of outcomes (V ** n) an exact law is computed over.
MAX_OUTCOMES = 1 << 24


def get_verifier(algorithm: str | Verifier) -> Verifier:
    """The verifier of the registered algorithm `algorithm` (e.g. `"sd"`), or `algorithm` itself.

    Raises:
        ValueError: for an unknown name, or an algorithm whose reference is not a per-position
            verifier.
    """
    if isinstance(algorithm, Verifier):
        return algorithm
    verifier = VERIFIERS.get(algorithm) if isinstance(algorithm, str) else None
    if verifier is None:
        raise ValueError(
            f"algorithm must be one of {sorted(VERIFIERS)} or a Verifier, got {algorithm!r}"
        )
    return verifier


def _check_count(value: object, what: str) -> int:
    return check_int(value, what, 0)


def _check_prefix(model: LanguageModel, prefix: object) -> tuple[Token, ...]:
    """`model.check_prefix(prefix)`, after refusing a prefix that is no sequence, naming it."""
    if not isinstance(prefix, Sequence):
        raise ValueError(f"prefix must be a sequence of tokens, got {type(prefix).__name__}")
    return tuple(model.check_prefix(prefix))


def _check_dist(value: object, what: str) -> Dist:
    if not isinstance(value, Dist):
        raise ValueError(f"{what} must be a Dist, got {type(value).__name__}")
    return value


class Law(Mapping[tuple[Token, ...], Fraction]):
    """The exact law of `n` output tokens: `{outcome tuple: Fraction}`, outcomes of mass 0 left out.

    Stored densely: one integer numerator per outcome over a common denominator, the outcome
    `(x_1, ..., x_n)` at the base-V index of its tokens' positions in `vocab`. Behaves as a
    read-only mapping to `Fraction`s; equality with another `Law` over the same vocabulary is
    decided by exact cross-multiplication, with any other mapping entry by entry.
    """

    def __init__(
        self, vocab: Sequence[Token], n: int, numerators: list[int], denominator: int
    ) -> None:
        if len(numerators) != len(vocab) ** n:
            raise ValueError("numerators must hold one entry per outcome (V ** n)")
        self.vocab = tuple(vocab)
        self.n = n
        self._numerators = numerators
        self._denominator = denominator
        self._index = {t: i for i, t in enumerate(self.vocab)}

    def _encode(self, outcome: tuple[Token, ...]) -> int:
        index = 0
        for token in outcome:
            index = index * len(self.vocab) + self._index[token]
        return index

    def _decode(self, index: int) -> tuple[Token, ...]:
        tokens = []
        for _ in range(self.n):
            index, digit = divmod(index, len(self.vocab))
            tokens.append(self.vocab[digit])
        return tuple(reversed(tokens))

    def __getitem__(self, outcome: tuple[Token, ...]) -> Fraction:
        try:
            if not isinstance(outcome, tuple) or len(outcome) != self.n:
                raise KeyError(outcome)
            numerator = self._numerators[self._encode(outcome)]
        except (KeyError, TypeError):
            raise KeyError(outcome) from None
        if numerator == 0:
            raise KeyError(outcome)
        return Fraction(numerator, self._denominator)

    def __iter__(self) -> Iterator[tuple[Token, ...]]:
        return (self._decode(i) for i, num in enumerate(self._numerators) if num)

    def __len__(self) -> int:
        return sum(1 for num in self._numerators if num)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Law) and other.vocab == self.vocab and other.n == self.n:
            d1, d2 = self._denominator, other._denominator
            return all(
                a * d2 == b * d1 for a, b in zip(self._numerators, other._numerators, strict=True)
            )
        if isinstance(other, Mapping):
            return dict(self.items()) == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Law({dict(self.items())!r})"


# Per context: the mass of each way one output token can be produced, as Fractions.
# accept[x]: x drafted and accepted (the round goes on); stop[y]: a draft rejected and y output
# instead (summed over the rejected draft); bonus[y]: y drawn after all K drafts.
_Factors = tuple[dict[Token, Fraction], dict[Token, Fraction], dict[Token, Fraction]]


def _reachable_contexts(
    vocab: Sequence[Token], prefix: tuple[Token, ...], depth: int, steps: int
) -> set[tuple[Token, ...]]:
    """Every context (last `depth` tokens) reachable from `prefix` within `steps` tokens."""
    start = prefix[-depth:] if depth else ()
    seen = {start}
    frontier = {start}
    for _ in range(min(steps, depth + 1)):
        frontier = {(c + (t,))[-depth:] if depth else () for c in frontier for t in vocab} - seen
        seen |= frontier
    return seen


def _dense_law(
    vocab: tuple[Token, ...],
    prefix: tuple[Token, ...],
    n: int,
    depth: int,
    factors: Callable[[tuple[Token, ...]], _Factors],
    k: int,
) -> Law:
    """The law of `n` tokens of a round-based process whose per-token masses are `factors`.

    Every output token contributes exactly one factor (accept, stop or bonus), so with all
    factors written over one denominator `scale`, every outcome of `r` tokens is an integer
    over `scale ** r` and the whole computation is integer arithmetic.
    """
    size = len(vocab)
    if size**n > MAX_OUTCOMES:
        raise ValueError(
            f"the exact law has V**n = {size}**{n} outcomes, beyond the reference's limit "
            f"of {MAX_OUTCOMES}; use a smaller vocabulary or n"
        )
    index = {t: i for i, t in enumerate(vocab)}
    contexts = _reachable_contexts(vocab, prefix, depth, n + k)
    fractions = {c: factors(c) for c in contexts}
    scale = 1
    for table in fractions.values():
        for part in table:
            for value in part.values():
                scale = math.lcm(scale, value.denominator)
    integer: dict[
        tuple[Token, ...],
        tuple[list[tuple[Token, int, int]], list[tuple[int, int]], list[tuple[int, int]]],
    ] = {}
    for context, (accept, stop, bonus) in fractions.items():
        integer[context] = (
            [(t, index[t], int(v * scale)) for t, v in accept.items() if v],
            [(index[t], int(v * scale)) for t, v in stop.items() if v],
            [(index[t], int(v * scale)) for t, v in bonus.items() if v],
        )

    def advance(context: tuple[Token, ...], token: Token) -> tuple[Token, ...]:
        return (context + (token,))[-depth:] if depth else ()

    memo: dict[tuple[tuple[Token, ...], int], list[int]] = {}

    def rest(context: tuple[Token, ...], remaining: int) -> list[int]:
        """Numerators over scale**remaining, indexed by the base-V code of the outcome."""
        if remaining == 0:
            return [1]
        key = (context, remaining)
        if key in memo:
            return memo[key]
        out = [0] * size**remaining

        def add(head_code: int, length: int, weight: int, after: tuple[Token, ...]) -> None:
            tail = rest(after, remaining - length)
            offset = head_code * len(tail)
            block = out[offset : offset + len(tail)]
            out[offset : offset + len(tail)] = [
                o + weight * t for o, t in zip(block, tail, strict=True)
            ]

        def walk(ctx: tuple[Token, ...], code: int, length: int, weight: int) -> None:
            # `length` drafts accepted so far in this round, encoded as `code`.
            if length == remaining:
                add(code, length, weight, ctx)
                return
            accept, stop, bonus = integer[ctx]
            if length == k:
                for y, mass in bonus:
                    add(code * size + y, length + 1, weight * mass, advance(ctx, vocab[y]))
                return
            for y, mass in stop:
                add(code * size + y, length + 1, weight * mass, advance(ctx, vocab[y]))
            for x, i, mass in accept:
                walk(advance(ctx, x), code * size + i, length + 1, weight * mass)

        walk(context, 0, 0, 1)
        memo[key] = out
        return out

    numerators = rest(prefix[-depth:] if depth else (), n)
    return Law(vocab, n, numerators, scale**n)


def autoregressive_law(
    lm: LanguageModel, prefix: Sequence[Token], n: int, *, greedy: bool = False
) -> Law:
    """Exact law of the next `n` tokens sampled from `lm` after `prefix` (argmax if `greedy`).

    Raises:
        ValueError: if `n` is not an int >= 0 or `prefix` leaves the vocabulary.

    Examples:
        >>> from fractions import Fraction as F
        >>> from specproof.reference import ToyLM
        >>> lm = ToyLM(["a", "b"], 0, {(): {"a": F(1, 4), "b": F(3, 4)}})
        >>> autoregressive_law(lm, (), 2)[("a", "b")]
        Fraction(3, 16)
    """
    lm = check_language_model(lm, "lm")
    n = _check_count(n, "n")
    seq = _check_prefix(lm, prefix)

    def factors(context: tuple[Token, ...]) -> _Factors:
        row = lm.next_dist(context)
        law = {argmax(row): Fraction(1)} if greedy else dict(row.items())
        return {}, {}, law

    return _dense_law(lm.vocab, seq, n, lm.order, factors, 0)


def speculative_law(
    target: LanguageModel,
    draft: LanguageModel,
    prefix: Sequence[Token],
    n: int,
    k: int,
    algorithm: str | Verifier = "sd",
) -> Law:
    r"""Exact law of the first `n` output tokens of the full speculative loop.

    Args:
        target: the target model (any [`LanguageModel`][specproof.reference.lm.LanguageModel]).
        draft: the draft model, over the same vocabulary.
        prefix: the tokens before generation starts.
        n: how many output tokens.
        k: drafts per round ($K \ge 0$; $K = 0$ is plain sampling through the bonus rule).
        algorithm: the name of a registered per-position algorithm
            ([`ALGORITHMS`][specproof.reference.algorithms.ALGORITHMS], e.g. `"sd"`), or any
            [`Verifier`][specproof.reference.verifier.Verifier] (e.g. a deliberately broken one).

    Returns:
        The law `{output tuple of length n: probability}` (a [`Law`][specproof.reference.laws.Law]).

    Raises:
        ValueError: on mismatched vocabularies, bad `n`, `k` or `prefix`, an unknown algorithm,
            or more than `MAX_OUTCOMES` outcomes.

    Examples:
        >>> from fractions import Fraction as F
        >>> from specproof.reference import ToyLM
        >>> p = ToyLM(["a", "b"], 0, {(): {"a": F(1, 4), "b": F(3, 4)}})
        >>> q = ToyLM(["a", "b"], 0, {(): {"a": F(1, 2), "b": F(1, 2)}})
        >>> speculative_law(p, q, (), 2, 1) == autoregressive_law(p, (), 2)
        True
    """
    verifier = get_verifier(algorithm)
    target = check_language_model(target, "target")
    draft = check_language_model(draft, "draft")
    n = _check_count(n, "n")
    k = _check_count(k, "k")
    if set(target.vocab) != set(draft.vocab):
        same_vocabulary(
            Dist.uniform(target.vocab), Dist.uniform(draft.vocab), "target and draft models"
        )
    seq = _check_prefix(target, prefix)

    def factors(context: tuple[Token, ...]) -> _Factors:
        target_row, draft_row = target.next_dist(context), draft.next_dist(context)
        accept: dict[Token, Fraction] = {}
        stop: dict[Token, Fraction] = {}
        for token, draft_prob in verifier.draft_law(draft_row).items():
            for outcome, prob in verifier.position_law(target_row, draft_row, token).items():
                if outcome is ACCEPT:
                    accept[token] = accept.get(token, Fraction(0)) + draft_prob * prob
                else:
                    stop[outcome] = stop.get(outcome, Fraction(0)) + draft_prob * prob
        return accept, stop, verifier.bonus_law(target_row)

    return _dense_law(target.vocab, seq, n, max(target.order, draft.order), factors, k)


def acceptance_rate(
    target_dist: Dist, draft_dist: Dist, algorithm: str | Verifier = "sd"
) -> Fraction:
    r"""Exact probability that one drafted token is accepted, $\sum_x q(x)\,P(\text{accept} \mid x)$.

    Computed by integrating the verifier's decision rule (not from a closed form; the closed
    forms $\sum_x \min(p, q)$ and $\sum_x p\,q$ are theorems checked against this).

    Raises:
        ValueError: if the two distributions have different vocabularies.

    Examples:
        >>> from fractions import Fraction as F
        >>> p = Dist({"a": F(1, 4), "b": F(3, 4)})
        >>> q = Dist({"a": F(1, 2), "b": F(1, 2)})
        >>> acceptance_rate(p, q), acceptance_rate(p, q, "exact_match")
        (Fraction(3, 4), Fraction(1, 2))
    """
    verifier = get_verifier(algorithm)
    _check_dist(target_dist, "target_dist")
    _check_dist(draft_dist, "draft_dist")
    same_vocabulary(target_dist, draft_dist, "target_dist and draft_dist")
    rate = Fraction(0)
    for token, prob in verifier.draft_law(draft_dist).items():
        rate += prob * verifier.position_law(target_dist, draft_dist, token).get(
            ACCEPT, Fraction(0)
        )
    return rate


def expected_tokens_per_round(
    target_dist: Dist, draft_dist: Dist, k: int, algorithm: str | Verifier = "sd"
) -> Fraction:
    r"""Exact expected output tokens per target call when every position has rows $p$, $q$.

    With the same rows at every position, acceptances are i.i.d. with rate $\alpha$ =
    [`acceptance_rate`][specproof.reference.laws.acceptance_rate]; this enumerates the round
    ($N$ accepted with $P(N = j) = \alpha^j (1 - \alpha)$ for $j < K$, $P(N = K) = \alpha^K$)
    and returns $E[N + 1]$.

    Raises:
        ValueError: on a bad `k` or mismatched vocabularies.
    """
    k = _check_count(k, "k")
    alpha = acceptance_rate(target_dist, draft_dist, algorithm)
    expected = Fraction(0)
    for accepted in range(k + 1):
        prob = alpha**accepted * ((1 - alpha) if accepted < k else 1)
        expected += (accepted + 1) * prob
    return expected


__all__ = [
    "Law",
    "VERIFIERS",
    "acceptance_rate",
    "autoregressive_law",
    "expected_tokens_per_round",
    "get_verifier",
    "speculative_law",
]
