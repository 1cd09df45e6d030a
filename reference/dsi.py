r"""Exact expected latencies of non-SI, SI and DSI under the authors' cost model.

The cost model (Timor et al., *Distributed Speculative Inference*, ICLR 2025, arXiv 2405.14105;
as encoded in the authors' offline simulator):

- one target forward costs 1 time unit (it verifies any number of drafts at once); one drafter
  forward costs $c \in (0, 1]$ per token;
- the number of drafts accepted per verified block of $K$ is $N = \min(G - 1, K)$ with
  $G \sim \mathrm{Geom}(1 - a)$ on $\{1, 2, \dots\}$, i.e. $P(N \ge j) = a^j$ for $j \le K$,
  independently for each block ($a \in [0, 1]$ is the acceptance rate);
- $S$ output tokens; the last token of a run is always the target's own (a block never drafts
  past token $S - 1$: its lookahead is $\min(K, S - 1 - \text{tokens so far})$);
- enough target servers that no verification waits (see `min_target_servers`), no
  communication or preemption cost.

**Non-SI** (plain autoregressive decoding) costs exactly $S$.

**SI** (speculative inference, blocking): a round drafts $k' = \min(K, \text{left} - 1)$ tokens
($k' c$), then verifies (1) and outputs $N + 1$ tokens.

**DSI**: drafting never waits; a verification job per $K$ drafts runs on a free server, so within
a *segment* (the blocks up to and including the first one with a rejection) only drafting is on
the critical path, plus the one target forward that finds the rejection. A segment in which
$D$ tokens were drafted and $T$ tokens are output costs $\min(D c + 1, T)$: a target-only chain
runs alongside and finds the rejection first when that is cheaper. (The authors' simulator also
skips charging the drafting of a segment's first block when it is rejected outright; with the
minimum that rule never changes a cost, since such a segment outputs one token and costs
$\min(\cdot, 1) = 1$ either way.)

What is exact here:

- `si_expected_cost`, `dsi_expected_cost`: the expected total cost of $S$ tokens, by exact
  recursions over the number of tokens left (all end effects included); in `Fraction`
  arithmetic when $c$ and $a$ are `Fraction`s, else in floats (then exact up to rounding).
- `si_latency_per_token`, `dsi_latency_per_token`: the exact limits of expected cost per token
  as $S \to \infty$ (renewal-reward over rounds or segments), in closed form:
  SI $= (Kc + 1)(1 - a)/(1 - a^{K+1})$; DSI $= (1 - a)\,E[\min(\lceil T/K \rceil K c + 1, T)]$
  with $T \sim \mathrm{Geom}(1 - a)$ the position of the first rejection (a finite sum plus a
  geometric tail, no truncation).
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TypeVar

from .arguments import check_int

Number = TypeVar("Number", Fraction, float)


def check_parameters(c: Number, a: Number, k: int) -> None:
    r"""Validate the cost-model parameters.

    Raises:
        ValueError: if `c` is not in $(0, 1]$, `a` not in $[0, 1]$, or `k` not an int $\ge 1$.
    """
    if isinstance(c, bool) or not isinstance(c, Fraction | float | int) or not 0 < c <= 1:
        raise ValueError(f"c (drafter latency per token) must lie in (0, 1], got {c!r}")
    if isinstance(a, bool) or not isinstance(a, Fraction | float | int) or not 0 <= a <= 1:
        raise ValueError(f"a (acceptance rate) must lie in [0, 1], got {a!r}")
    check_int(k, "k (lookahead)")


def _check_tokens(tokens: int) -> int:
    return check_int(tokens, "tokens")


def accepted_count_law(a: Number, k: int) -> list[Number]:
    r"""$P(N = j)$ for $j = 0, \dots, K$: $a^j (1 - a)$ below $K$ and $a^K$ at $K$."""
    law = [a**j * (1 - a) for j in range(k)]
    law.append(a**k)
    return law


def si_latency_per_token(c: Number, a: Number, k: int) -> Number:
    """Exact limit of SI's expected cost per token: $(Kc + 1)(1 - a)/(1 - a^{K+1})$.

    A round costs $Kc + 1$ and outputs $N + 1$ tokens with $E[N + 1] = (1 - a^{K+1})/(1 - a)$
    ($= K + 1$ at $a = 1$).

    Examples:
        >>> si_latency_per_token(Fraction(1, 10), Fraction(9, 10), 5)
        Fraction(150000, 468559)
    """
    check_parameters(c, a, k)
    expected_tokens = sum((a**j for j in range(k + 1)), a * 0)
    return (k * c + 1) / expected_tokens


def dsi_latency_per_token(c: Number, a: Number, k: int) -> Number:
    r"""Exact limit of DSI's expected cost per token.

    A segment ends at the first rejected position $T \sim \mathrm{Geom}(1 - a)$, after
    $\lceil T/K \rceil$ blocks; it costs $g(T) = \min(\lceil T/K \rceil K c + 1, T)$ and outputs
    $T$ tokens, so the limit is $E[g(T)]/E[T] = (1 - a) E[g(T)]$. For $c < 1$ the minimum is the
    first term for every $T > mK$ with $mK + 1 \ge (1 + (K - 1)c)/(1 - c)$; the tail beyond $mK$
    sums in closed form to $\pi^m((m + 1)Kc + 1 + Kc\,\pi/(1 - \pi))$ with $\pi = a^K$. At $c = 1$
    the minimum is always $T$ (DSI = non-SI); at $a = 1$ nothing is rejected and the limit is $c$.

    Examples:
        >>> dsi_latency_per_token(Fraction(1, 2), Fraction(1, 2), 1)
        Fraction(7, 8)
    """
    check_parameters(c, a, k)
    if a == 1:
        return c
    if c == 1:
        return c * 0 + 1
    # Smallest m with m*k + 1 >= (1 + (k - 1) c) / (1 - c): beyond m*k the drafting path wins.
    bound = (1 + (k - 1) * c) / (1 - c)
    m = max(0, math.ceil((bound - 1) / k))
    expected = a * 0
    for t in range(1, m * k + 1):
        blocks = -(-t // k)
        expected += a ** (t - 1) * (1 - a) * min(blocks * k * c + 1, c * 0 + t)
    pi = a**k
    if pi != 1:
        expected += pi**m * ((m + 1) * k * c + 1 + k * c * pi / (1 - pi))
    return (1 - a) * expected


def si_expected_cost(c: Number, a: Number, k: int, tokens: int) -> Number:
    r"""Exact expected cost of SI for `tokens` output tokens (all end effects included).

    Recursion over the tokens left $n$: $E(n) = k'c + 1 + \sum_j P(N = j) E(n - j - 1)$ with
    $k' = \min(K, n - 1)$ and $E(n) = 0$ for $n \le 0$.
    """
    check_parameters(c, a, k)
    _check_tokens(tokens)
    law = accepted_count_law(a, k)
    zero = a * 0
    expected = [zero] * (tokens + 1)
    for left in range(1, tokens + 1):
        value = min(k, left - 1) * c + 1
        for j, prob in enumerate(law):
            rest = left - j - 1
            if rest > 0 and prob != 0:
                value += prob * expected[rest]
        expected[left] = value
    return expected[tokens]


def dsi_expected_cost(c: Number, a: Number, k: int, tokens: int) -> Number:
    r"""Exact expected cost of DSI for `tokens` output tokens (all end effects included).

    Recursion over the tokens left $n$: enumerate the segment that starts with $n$ tokens left
    (full blocks, then a block with a rejection or the final target forward), each outcome with
    its exact probability, cost $\min(Dc + 1, T)$ and $T$ tokens; $E(n) = \sum P\,(\text{cost} +
    E(n - T))$. Quadratic in `tokens`.
    """
    check_parameters(c, a, k)
    _check_tokens(tokens)
    zero = a * 0
    powers = [a**j for j in range(k + 1)]
    expected = [zero] * (tokens + 1)
    for left in range(1, tokens + 1):
        value = zero
        prob = zero + 1  # probability that every block so far was fully accepted
        new = 0  # tokens accepted in those blocks
        drafted = 0
        while True:
            lookahead = min(k, left - 1 - new)
            if lookahead == 0:  # the run's last token: one target forward
                value += prob * (min(drafted * c + 1, zero + new + 1) + expected[left - new - 1])
                break
            drafted += lookahead
            for j in range(lookahead):
                out = new + j + 1
                value += (
                    prob
                    * powers[j]
                    * (1 - a)
                    * (min(drafted * c + 1, zero + out) + expected[left - out])
                )
            prob *= powers[lookahead]
            new += lookahead
            if prob == 0:
                break
        expected[left] = value
    return expected[tokens]


def nonsi_expected_cost(tokens: int) -> int:
    """Non-SI (autoregressive decoding) costs exactly one target forward per token."""
    return _check_tokens(tokens)


def min_target_servers(c: Number, k: int) -> int:
    r"""The fewest target servers with which no verification of a full block ever waits.

    Jobs arrive every $Kc$ and each takes 1; job $b$ reuses the server of job $b - n$, which is
    free at $(b - n)Kc + 1 \le bKc$ iff $nKc \ge 1$: hence $n = \lceil 1/(Kc) \rceil$.
    (A final, shorter block of a run arrives sooner and may still wait unless
    $(n - 1)Kc \ge 1$; see `specproof.dsi.queueing`.)

    Examples:
        >>> min_target_servers(Fraction(1, 10), 5)
        2
    """
    check_parameters(c, c * 0, k)
    return math.ceil(1 / (k * Fraction(c)))


def si_slower_than_nonsi(c: Number, a: Number, k: int) -> bool:
    r"""Whether SI's per-token latency exceeds non-SI's (1): exactly when $Kc > \sum_{i=1}^K a^i$.

    $(Kc + 1)(1 - a) - (1 - a^{K+1}) = (1 - a)(Kc - \sum_{i=1}^K a^i)$, and at $a = 1$ SI costs
    $(Kc + 1)/(K + 1) \le 1$.
    """
    check_parameters(c, a, k)
    return bool(k * c > sum((a**i for i in range(1, k + 1)), a * 0))
