r"""Dynamic lookahead under the latency model: exact cost per token, the hindsight oracle, policies.

**Latency model.** A round costs one target pass (1) plus $c$ per drafted token, drafts after a
rejection included (the drafter made them). Over a run until $n$ tokens exist,
[`loop_costs`][specproof.reference.lookahead_cost.loop_costs] gives the exact expected number
of rounds $R$, drafts $D$ and tokens $T$ the rounds output (the last round's tokens past the
$n$-th included: they were made); the expected cost per token is $(R + cD) / T$, the
renewal-reward ratio (as $n$ grows, the long-run cost per token).

**Oracle.** The best $K$ of a round *in hindsight* (its drafts and the verifier's coins known):
with $A$ = the drafts of a `max_k`-draft round that would be accepted, $K$ drafts cost
$1 + cK$ and output $\min(K, A) + 1$ tokens, so for $c \le 1$ the best is $K = A$ (cost
$1 + cA$, $A + 1$ tokens) and for $c > 1$ it is $K = 0$ (cost 1, one token). Along the rounds
a policy runs, the oracle's ratio is $(R + c\,\Sigma A) / (R + \Sigma A)$ (or 1 for $c > 1$).
No policy that cannot see the coins does better: per round, its tokens are $\min(K, A) + 1$
with $K$ drafts, so its cost is at least $(1 - c) + c \cdot$ tokens, and its expected tokens are
at most the oracle's; the ratio of sums follows (registered as `disco_oracle_lookahead_bound`).
The oracle is a bound, not a policy: stopping right before the first rejection is what the
peeking control does, and that changes the law.

The policies here read the loop's history or the drafter's entropy, beside those of
[`specproof.reference.lookahead`][specproof.reference.lookahead]:
[`HeuristicLookahead`][specproof.reference.lookahead_cost.HeuristicLookahead] (transformers'
`heuristic` schedule), [`EntropyStop`][specproof.reference.lookahead_cost.EntropyStop],
[`AdaptiveLookahead`][specproof.reference.lookahead_cost.AdaptiveLookahead] and the randomised
[`HistoryTablePolicy`][specproof.reference.lookahead_cost.HistoryTablePolicy].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

from .dist import Dist, Token, as_fraction
from .laws import _check_count
from .lookahead import History, LookaheadRound, ProbabilityTable, _probability
from .rounds import DraftState, Outcome, RoundRecord
from .verifier import ACCEPT


def entropy(row: Dist) -> float:
    """The entropy of `row` in nats (a float: a policy may threshold it; 0 log 0 = 0)."""
    return -sum(float(p) * math.log(float(p)) for p in row.probs if p > 0)


@dataclass(frozen=True)
class HeuristicLookahead:
    r"""transformers' `heuristic` schedule: $K$ grows by 2 after a fully accepted round, else -1.

    The round's $K$ is a function of the history: $K_0$ = `k0`; after a round that accepted all
    $K$ drafts, $K + 2$, otherwise $\max(1, K - 1)$; capped at `max_k` (the round's own cap
    applies too). Deterministic.

    Attributes:
        k0: the first round's $K$ (>= 1).
        max_k: the cap (>= k0).
    """

    k0: int
    max_k: int

    def __post_init__(self) -> None:
        if _check_count(self.k0, "k0") < 1:
            raise ValueError(f"k0 must be an int >= 1, got {self.k0!r}")
        if _check_count(self.max_k, "max_k") < self.k0:
            raise ValueError(f"max_k must be >= k0 ({self.k0}), got {self.max_k!r}")

    def round_k(self, history: History) -> int:
        """The $K$ of the round after `history`."""
        k = self.k0
        for record in history:
            k = k + 2 if record.accepted >= k else max(1, k - 1)
            k = min(k, self.max_k)
        return k

    def continue_probability(self, state: DraftState) -> Fraction:
        """1 while fewer than the round's $K$ are drafted."""
        return Fraction(int(state.position < self.round_k(state.history)))


@dataclass(frozen=True)
class EntropyStop:
    """Keep drafting while the last draft's row has entropy at most `threshold` nats.

    The first draft is always made. Deterministic.

    Attributes:
        threshold: nats (a float >= 0).
    """

    threshold: float

    def __post_init__(self) -> None:
        value = self.threshold
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
            raise ValueError(f"threshold must be a number >= 0, got {value!r}")

    def continue_probability(self, state: DraftState) -> Fraction:
        """1 at position 0 or if the last draft row's entropy is <= `threshold`."""
        if state.position == 0:
            return Fraction(1)
        return Fraction(int(entropy(state.draft_rows[-1]) <= self.threshold))


@dataclass(frozen=True)
class AdaptiveLookahead:
    """$K$ = `k_high` while the past acceptance is at least `threshold` (or unknown), else `k_low`.

    Attributes:
        k_low: drafts per round when acceptance is low.
        k_high: drafts per round otherwise.
        threshold: an acceptance rate in [0, 1].
    """

    k_low: int
    k_high: int
    threshold: Fraction

    def __post_init__(self) -> None:
        _check_count(self.k_low, "k_low")
        _check_count(self.k_high, "k_high")
        object.__setattr__(self, "threshold", _probability(self.threshold, "threshold"))

    def continue_probability(self, state: DraftState) -> Fraction:
        """1 while fewer than the round's $K$ are drafted."""
        rate = state.past_acceptance
        k = self.k_high if rate is None or rate >= self.threshold else self.k_low
        return Fraction(int(state.position < k))


#: `(position, last draft or None, last round's accepted count or None)`.
HistoryKey = tuple[int, Token | None, int | None]


class HistoryTablePolicy(ProbabilityTable[HistoryKey]):
    """A randomised policy reading the round and the last round: a table of probabilities.

    Attributes:
        table: the probability of drafting again at `(position, last draft, last round's
            accepted count)`; `None` for no draft yet / no past round.
        default: the probability for keys not in `table`.
    """

    def key(self, state: DraftState) -> HistoryKey:
        """`(position, last draft or None, last round's accepted count or None)`."""
        last = state.drafts[-1] if state.drafts else None
        accepted = state.history[-1].accepted if state.history else None
        return state.position, last, accepted


def expected_accepted_run(kernel: LookaheadRound, context: Outcome) -> Fraction:
    r"""$E[A]$: the expected number of accepted drafts of a `max_k`-draft round after `context`.

    $E[A] = \sum_{j=1}^{K} P(\text{the first } j \text{ drafts are accepted})$.
    """
    context = tuple(context)
    verifier = kernel.verifier

    def walk(drafts: Outcome, weight: Fraction) -> Fraction:
        if len(drafts) == kernel.max_k or not weight:
            return Fraction(0)
        target_row = kernel.target.next_dist(context + drafts)
        draft_row = kernel.draft.next_dist(context + drafts)
        total = Fraction(0)
        for token, draft_prob in verifier.draft_law(draft_row).items():
            accept = verifier.position_law(target_row, draft_row, token).get(ACCEPT, Fraction(0))
            mass = weight * draft_prob * accept
            total += mass + walk((*drafts, token), mass)
        return total

    return walk((), Fraction(1))


@dataclass(frozen=True)
class LoopCosts:
    r"""Exact expectations over a run of the loop until $n$ tokens exist.

    Attributes:
        rounds: $E[R]$, rounds run (target passes).
        drafted: $E[D]$, drafts made.
        tokens: $E[T]$, tokens the rounds output (the last round's excess included).
        oracle_accepted: $E[\sum A]$ over the rounds run, $A$ = the drafts the round's
            `max_k`-draft verification would accept (the oracle's $K$ for $c \le 1$).
    """

    rounds: Fraction
    drafted: Fraction
    tokens: Fraction
    oracle_accepted: Fraction

    def cost_per_token(self, c: Fraction) -> Fraction:
        """$(R + cD) / T$ with a draft token costing `c` target passes."""
        c = _cost(c)
        return (self.rounds + c * self.drafted) / self.tokens

    def oracle_cost_per_token(self, c: Fraction) -> Fraction:
        r"""The hindsight oracle along the same rounds: $(R + c\Sigma A)/(R + \Sigma A)$ ($1$ if $c > 1$)."""
        c = _cost(c)
        if c > 1:
            return Fraction(1)
        return (self.rounds + c * self.oracle_accepted) / (self.rounds + self.oracle_accepted)


def _cost(c: object) -> Fraction:
    value = as_fraction(c, "c")
    if value < 0:
        raise ValueError(f"c must be >= 0, got {value}")
    return value


def loop_costs(kernel: LookaheadRound, prefix: Sequence[Token], n: int) -> LoopCosts:
    """Expected rounds, drafts, tokens and oracle accepts of the loop run until `n` tokens exist.

    Args:
        kernel: the round kernel (policy, `max_k`, models, verifier).
        prefix: the tokens before generation starts.
        n: how many output tokens (>= 1).

    Raises:
        ValueError: on `n` < 1 or a prefix outside the vocabulary.

    Examples:
        >>> from fractions import Fraction as F
        >>> from specproof.reference import ToyLM
        >>> from specproof.reference.lookahead import FixedLookahead, LookaheadRound
        >>> p = ToyLM(["a", "b"], 0, {(): {"a": F(1, 2), "b": F(1, 2)}})
        >>> q = ToyLM(["a", "b"], 0, {(): {"a": F(1), "b": F(0)}})
        >>> costs = loop_costs(LookaheadRound(p, q, FixedLookahead(1), 1), (), 1)
        >>> costs.cost_per_token(F(1, 2)), costs.oracle_cost_per_token(F(1, 2))
        (Fraction(1, 1), Fraction(5, 6))
    """
    if _check_count(n, "n") < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    start = tuple(prefix)
    outside = [t for t in start if t not in set(kernel.vocab)]
    if outside:
        raise ValueError(f"prefix holds tokens outside the vocabulary: {outside!r}")
    zero = (Fraction(0),) * 4
    memo: dict[tuple[Outcome, History, int], tuple[Fraction, ...]] = {}
    oracle: dict[Outcome, Fraction] = {}

    def rest(sequence: Outcome, history: History, remaining: int) -> tuple[Fraction, ...]:
        if remaining == 0:
            return zero
        key = (sequence, history, remaining)
        if key in memo:
            return memo[key]
        if sequence not in oracle:
            oracle[sequence] = expected_accepted_run(kernel, sequence)
        rounds, drafted, tokens, accepted = Fraction(1), Fraction(0), Fraction(0), oracle[sequence]
        for (output, made), weight in kernel.round_history_law(sequence, history).items():
            record = RoundRecord(made, len(output) - 1)
            head = output[:remaining]
            later = rest(sequence + head, (*history, record), remaining - len(head))
            rounds += weight * later[0]
            drafted += weight * (made + later[1])
            tokens += weight * (len(output) + later[2])
            accepted += weight * later[3]
        memo[key] = (rounds, drafted, tokens, accepted)
        return memo[key]

    return LoopCosts(*rest(start, (), n))


__all__ = [
    "AdaptiveLookahead",
    "EntropyStop",
    "HeuristicLookahead",
    "HistoryTablePolicy",
    "LoopCosts",
    "entropy",
    "expected_accepted_run",
    "loop_costs",
]
