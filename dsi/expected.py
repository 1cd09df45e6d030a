r"""The exact expected costs of SI and DSI for $S$ tokens, in floating point and vectorised.

[`specproof.reference.dsi`][specproof.reference.dsi] defines both recursions exactly (any number
type, `Fraction`s included) with a Python loop per term: for DSI that is quadratic in $S$
(every segment outcome of every number of tokens left), about 25 million steps at the largest
$S$ `dsi simulate` computes them for. These are the same recursions over numpy arrays, for
the command line:

- SI: $E(n) = \min(K, n - 1)c + 1 + \sum_{j=0}^{K} P(N = j)\,E(n - j - 1)$.
- DSI: a segment that starts with $n$ tokens left ends at output position $t$ with
  probability $a^{t-1}(1 - a)$ for $t < n$ (its first rejection), costing
  $\min(D(t)c + 1, t)$ where $D(t) = \min(K\lceil t/K \rceil, n - 1)$ tokens were drafted by
  then, or runs to the last token with probability $a^{n-1}$, costing
  $\min((n - 1)c + 1, n)$; so
  $E(n) = \sum_{t=1}^{n-1} a^{t-1}(1-a)\,(\min(D(t)c + 1, t) + E(n - t)) + a^{n-1}\min((n-1)c + 1, n)$,
  which is the reference's loop with the blocks' probabilities multiplied out
  ($\prod$ of full blocks' $a^K$ times $a^j$ is $a^{t-1}$).

- DSI's limit per token ([`dsi_latency_per_token`][specproof.dsi.expected.dsi_latency_per_token]):
  its series has about $K/(1 - c)$ terms before the closed-form tail, 10 million at the
  largest legal $K$ and $c$; here it is summed a million terms at a time.

Only the order of the floating-point sums differs from the reference's (the tests compare them
with `Fraction`s on a grid of corners, to a relative 1e-12).
"""

from __future__ import annotations

import math

import numpy as np

from specproof.reference import dsi as ref


def si_expected_cost(c: float, a: float, k: int, tokens: int) -> float:
    """[`si_expected_cost`][specproof.reference.dsi.si_expected_cost] in floating point."""
    ref.check_parameters(c, a, k)
    ref._check_tokens(tokens)
    law = np.array([float(p) for p in ref.accepted_count_law(float(a), k)])
    expected = np.zeros(tokens + 1)
    for left in range(1, tokens + 1):
        m = min(k + 1, left - 1)  # outcomes j that leave E(left - j - 1) with left - j - 1 > 0
        tail = float(law[:m] @ expected[left - 1 : left - 1 - m : -1]) if m > 0 else 0.0
        expected[left] = min(k, left - 1) * c + 1 + tail
    return float(expected[tokens])


def dsi_expected_cost(c: float, a: float, k: int, tokens: int) -> float:
    """[`dsi_expected_cost`][specproof.reference.dsi.dsi_expected_cost] in floating point."""
    ref.check_parameters(c, a, k)
    ref._check_tokens(tokens)
    c, a = float(c), float(a)
    out = np.arange(tokens + 1, dtype=np.float64)  # out[t] = t
    stop = np.power(a, np.maximum(out - 1, 0)) * (1 - a)  # P(first rejection at t), t >= 1
    stop[0] = 0.0
    full = np.ceil(out / k) * k  # drafted by the end of t's block when that block is full
    weighted_full_cost = np.cumsum(stop * np.minimum(full * c + 1, out))
    expected = np.zeros(tokens + 1)
    for left in range(1, tokens + 1):
        last = left - 1  # the most tokens a segment drafts
        base = (last // k) * k  # outcomes t <= base lie in full blocks
        partial = slice(base + 1, left)  # the last, shorter block: D(t) = left - 1
        cost = weighted_full_cost[base] + float(
            stop[partial] @ np.minimum(last * c + 1, out[partial])
        )
        rest = float(stop[1:left] @ expected[left - 1 : 0 : -1]) if left > 1 else 0.0
        expected[left] = cost + rest + a**last * min(last * c + 1, left)
    return float(expected[tokens])


#: Terms of the latency series summed per numpy call (8 MB per array).
_CHUNK = 1 << 20


def dsi_latency_per_token(c: float, a: float, k: int) -> float:
    """[`dsi_latency_per_token`][specproof.reference.dsi.dsi_latency_per_token] in floating point."""
    ref.check_parameters(c, a, k)
    c, a = float(c), float(a)
    if a == 1:
        return c
    if c == 1:
        return 1.0
    bound = (1 + (k - 1) * c) / (1 - c)
    m = max(0, math.ceil((bound - 1) / k))
    series = 0.0
    for first in range(1, m * k + 1, _CHUNK):
        t = np.arange(first, min(m * k, first + _CHUNK - 1) + 1, dtype=np.float64)
        weights = np.power(a, t - 1) * (1 - a)
        series += float(weights @ np.minimum(np.ceil(t / k) * k * c + 1, t))
    pi = a**k
    if pi != 1:
        series += pi**m * ((m + 1) * k * c + 1 + k * c * pi / (1 - pi))
    return (1 - a) * series
