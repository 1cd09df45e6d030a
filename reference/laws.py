r"""Exact output laws, by enumerating every random branch (never by sampling).

A *law* is a `dict` mapping each possible output tuple of tokens to its exact probability
(`Fraction`); outcomes of probability zero are left out, so two laws are equal iff the dicts
are equal.

The speculative loop: from the current sequence, the draft model proposes $K$ tokens one by one
(each from its distribution given the sequence and the drafts before it); the target gives its
$K + 1$ rows; the verifier accepts a prefix of the drafts and adds a recovered or bonus token;
repeat until $n$ tokens exist, and keep the first $n$. Per position the verifier's exact
conditional law ([`Verifier.position_law`][specproof.reference.verifier.Verifier.position_law])
is integrated over its explicit uniforms, so the law below is that of the very rule that runs
draw by draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from .dist import Dist, Token, same_vocabulary
from .exact_match import EXACT_MATCH
from .greedy import GREEDY
from .sd import STANDARD_SD
from .toylm import ToyLM
from .verifier import ACCEPT, Verifier, _Accept, argmax

Law = dict[tuple[Token, ...], Fraction]

VERIFIERS: dict[str, Verifier] = {
    "sd": STANDARD_SD,
    "exact_match": EXACT_MATCH,
    "greedy": GREEDY,
}


def get_verifier(algorithm: str | Verifier) -> Verifier:
    """The verifier named `algorithm` (`"sd"`, `"exact_match"`, `"greedy"`), or `algorithm` itself.

    Raises:
        ValueError: for an unknown name.
    """
    if isinstance(algorithm, Verifier):
        return algorithm
    try:
        return VERIFIERS[algorithm]
    except (KeyError, TypeError):
        raise ValueError(
            f"algorithm must be one of {sorted(VERIFIERS)} or a Verifier, got {algorithm!r}"
        ) from None


def _check_count(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be an int >= 0, got {value!r}")
    return value


def _extend(law: Law, head: tuple[Token, ...], weight: Fraction, tail_law: Law) -> None:
    """Add `weight * tail_law`, each outcome prefixed by `head`, into `law`."""
    for tail, prob in tail_law.items():
        key = head + tail
        law[key] = law.get(key, Fraction(0)) + weight * prob


def autoregressive_law(lm: ToyLM, prefix: Sequence[Token], n: int, *, greedy: bool = False) -> Law:
    """Exact law of the next `n` tokens sampled from `lm` after `prefix` (argmax if `greedy`).

    Raises:
        ValueError: if `n` is not an int >= 0 or `prefix` leaves the vocabulary.

    Examples:
        >>> from fractions import Fraction as F
        >>> lm = ToyLM(["a", "b"], 0, {(): {"a": F(1, 4), "b": F(3, 4)}})
        >>> autoregressive_law(lm, (), 2)[("a", "b")]
        Fraction(3, 16)
    """
    n = _check_count(n, "n")
    seq = lm.check_prefix(prefix)
    memo: dict[tuple[tuple[Token, ...], int], Law] = {}

    def rest(sequence: tuple[Token, ...], remaining: int) -> Law:
        if remaining == 0:
            return {(): Fraction(1)}
        key = (lm.context(sequence), remaining)
        if key not in memo:
            row = lm.next_dist(sequence)
            law: Law = {}
            steps = {argmax(row): Fraction(1)} if greedy else _positive(row)
            for token, prob in steps.items():
                _extend(law, (token,), prob, rest((*sequence, token), remaining - 1))
            memo[key] = law
        return memo[key]

    return dict(rest(seq, n))


def _positive(row: Dist) -> dict[Token, Fraction]:
    return {t: p for t, p in zip(row.tokens, row.probs, strict=True) if p > 0}


def speculative_law(
    target: ToyLM,
    draft: ToyLM,
    prefix: Sequence[Token],
    n: int,
    k: int,
    algorithm: str | Verifier = "sd",
) -> Law:
    r"""Exact law of the first `n` output tokens of the full speculative loop.

    Args:
        target: the target model.
        draft: the draft model, over the same vocabulary.
        prefix: the tokens before generation starts.
        n: how many output tokens.
        k: drafts per round ($K \ge 0$; $K = 0$ is plain sampling through the bonus rule).
        algorithm: `"sd"`, `"exact_match"`, `"greedy"`, or any
            [`Verifier`][specproof.reference.verifier.Verifier] (e.g. a deliberately broken one).

    Returns:
        The law `{output tuple of length n: probability}`.

    Raises:
        ValueError: on mismatched vocabularies, bad `n`, `k` or `prefix`, or an unknown algorithm.

    Examples:
        >>> from fractions import Fraction as F
        >>> p = ToyLM(["a", "b"], 0, {(): {"a": F(1, 4), "b": F(3, 4)}})
        >>> q = ToyLM(["a", "b"], 0, {(): {"a": F(1, 2), "b": F(1, 2)}})
        >>> speculative_law(p, q, (), 2, 1) == autoregressive_law(p, (), 2)
        True
    """
    verifier = get_verifier(algorithm)
    n = _check_count(n, "n")
    k = _check_count(k, "k")
    if set(target.vocab) != set(draft.vocab):
        same_vocabulary(
            Dist.uniform(target.vocab), Dist.uniform(draft.vocab), "target and draft models"
        )
    seq = target.check_prefix(prefix)
    depth = max(target.order, draft.order)
    position_memo: dict[tuple[Dist, Dist, Token], dict[Token | _Accept, Fraction]] = {}
    bonus_memo: dict[Dist, dict[Token, Fraction]] = {}
    memo: dict[tuple[tuple[Token, ...], int], Law] = {}

    def position_law(
        target_row: Dist, draft_row: Dist, token: Token
    ) -> dict[Token | _Accept, Fraction]:
        key = (target_row, draft_row, token)
        if key not in position_memo:
            position_memo[key] = verifier.position_law(target_row, draft_row, token)
        return position_memo[key]

    def bonus_law(target_row: Dist) -> dict[Token, Fraction]:
        if target_row not in bonus_memo:
            bonus_memo[target_row] = verifier.bonus_law(target_row)
        return bonus_memo[target_row]

    def round_law(sequence: tuple[Token, ...], remaining: int) -> Law:
        # Outputs of one round, truncated to `remaining` tokens. Drafts past position
        # `remaining` cannot change the first `remaining` outputs, so they are not enumerated
        # (their probabilities sum to one).
        out: Law = {}

        def walk(accepted: tuple[Token, ...], weight: Fraction) -> None:
            if len(accepted) == remaining:
                out[accepted] = out.get(accepted, Fraction(0)) + weight
                return
            context = sequence + accepted
            target_row = target.next_dist(context)
            if len(accepted) == k:
                for token, prob in bonus_law(target_row).items():
                    _add(out, (*accepted, token), weight * prob)
                return
            draft_row = draft.next_dist(context)
            for token, draft_prob in verifier.draft_law(draft_row).items():
                for outcome, prob in position_law(target_row, draft_row, token).items():
                    if outcome is ACCEPT:
                        walk((*accepted, token), weight * draft_prob * prob)
                    else:
                        _add(out, (*accepted, outcome), weight * draft_prob * prob)

        walk((), Fraction(1))
        return out

    def rest(sequence: tuple[Token, ...], remaining: int) -> Law:
        if remaining == 0:
            return {(): Fraction(1)}
        key = (sequence[-depth:] if depth else (), remaining)
        if key not in memo:
            law: Law = {}
            for head, weight in round_law(sequence, remaining).items():
                _extend(law, head, weight, rest(sequence + head, remaining - len(head)))
            memo[key] = law
        return memo[key]

    return dict(rest(seq, n))


def _add(law: Law, key: tuple[Token, ...], prob: Fraction) -> None:
    law[key] = law.get(key, Fraction(0)) + prob


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
