"""Claims about dynamic lookahead (DISCO): drafter-side policies keep the target's law; cost bounds.

The law claims run the loop as a Markov chain on (sequence, past rounds)
([`lookahead_run_law`][specproof.reference.lookahead.lookahead_run_law]), so policies that read
the loop's history are covered; the cost claims use
[`loop_costs`][specproof.reference.lookahead_cost.loop_costs].
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from hypothesis import strategies as st

from specproof.reference import STANDARD_SD, Dist, ToyLM, Verifier, autoregressive_law
from specproof.reference.lookahead import (
    FixedLookahead,
    LookaheadPolicy,
    LookaheadRound,
    PeekingLookaheadRound,
    lookahead_run_law,
)
from specproof.reference.lookahead_cost import loop_costs
from specproof.reference.rounds import Outcome as Tokens
from specproof.reference.strategies import lm_pairs, lookahead_policies

from .checking import (
    Examples,
    kernel_law_check,
    law_difference,
    lm_json,
    loop_json,
)
from .claims import LOSSLESS_METHOD, hypothesis_claim
from .harness import speculative_instances
from .registry import REGISTRY, CheckOptions, Outcome

LookaheadInstance = tuple[ToyLM, ToyLM, tuple[Any, ...], int, LookaheadPolicy, int]


@st.composite
def lookahead_instances(
    draw: st.DrawFn, max_vocab: int = 3, max_order: int = 1, max_n: int = 3, max_k: int = 3
) -> LookaheadInstance:
    """`(target, draft, prefix, n, policy, max_k)`: a loop's setting and a generated policy."""
    target, draft, prefix, n, k = draw(speculative_instances(max_vocab, max_order, max_n, max_k))
    policy = draw(lookahead_policies(target.vocab, k))
    return target, draft, prefix, n, policy, k


def instance_json(instance: LookaheadInstance, **details: Any) -> dict[str, Any]:
    """A lookahead instance and `details`, as JSON data (a counterexample)."""
    target, draft, prefix, n, policy, max_k = instance
    return loop_json(target, draft, prefix, n, policy=repr(policy), max_k=max_k, **details)


def lookahead_equality(
    instance: LookaheadInstance,
    verifier: Verifier = STANDARD_SD,
    kernel: type[LookaheadRound] = LookaheadRound,
) -> dict[str, Any] | None:
    """`None` if the law under the instance's policy is the target's own, else the difference.

    The target's own law is greedy decoding for verifiers that draft greedily.

    Args:
        instance: `(target, draft, prefix, n, policy, max_k)`.
        verifier: the per-position verifier.
        kernel: the round kernel class (`PeekingLookaheadRound` for the negative control).
    """
    target, draft, prefix, n, policy, max_k = instance
    expected = autoregressive_law(target, prefix, n, greedy=verifier.drafting == "greedy")
    actual = _marginal(kernel(target, draft, policy, max_k, verifier), n, prefix)
    if expected == actual:
        return None
    return instance_json(instance, law_difference=law_difference(expected, actual))


LOOKAHEAD_EXAMPLES = Examples(
    150,
    1000,
    "toy-LM pairs: V<=3, orders 0-1, prefix<=2, n<=3, max K<=3; lookahead policies "
    "(fixed, confidence, entropy, tables, heuristic schedule, acceptance-adaptive, "
    "history tables)",
)
"""The instances of `disco_lookahead_lossless` (and of its negative control)."""


check_lookahead_lossless = kernel_law_check(
    lookahead_instances(), lookahead_equality, LOOKAHEAD_EXAMPLES, LookaheadRound
)
"""`check_lookahead_lossless(options, kernel=LookaheadRound)`: law equality under generated
policies through `kernel` (`PeekingLookaheadRound` must be refuted)."""


check_disco_lookahead_lossless = hypothesis_claim(
    "disco_lookahead_lossless",
    "Standard SD whose number of drafts per round is decided after each draft by a policy that "
    "reads only drafter-side state (drafts so far, their draft rows and hence probabilities and "
    "entropies, the next draft row, the position, and past rounds' drafts and acceptances), "
    "deterministic or randomised, with at most $K$ drafts, is lossless: for every generated "
    "toy-LM pair, policy, prefix and $n$ the exact law of the first $n$ output tokens equals the "
    "target's autoregressive law.",
    lookahead_instances(),
    lookahead_equality,
    LOOKAHEAD_EXAMPLES,
    method=LOSSLESS_METHOD,
)
"""Law equality under generated policies: `check_lookahead_lossless` with the loop's own kernel."""


def peeking_witness() -> tuple[ToyLM, Fraction, Fraction]:
    r"""A witness that peeking changes the law: `(target, P_target(x), P_peeking(x))`, one token.

    Target $p = (1/2, 1/2)$, draft $q = (1, 0)$, $K = 1$, $n = 1$. The peeking round drafts $a$
    and keeps it iff it will be accepted (probability $1/2$), else takes a bonus from $p$: it
    outputs $a$ with probability $1/2 + 1/2 \cdot 1/2 = 3/4$ instead of $1/2$.
    """
    vocab = ("a", "b")
    target = ToyLM(vocab, 0, {(): Dist.over(vocab, [Fraction(1, 2), Fraction(1, 2)])})
    draft = ToyLM(vocab, 0, {(): Dist.point(vocab, "a")})
    peeking = _marginal(PeekingLookaheadRound(target, draft, FixedLookahead(1), 1), 1)
    honest = _marginal(LookaheadRound(target, draft, FixedLookahead(1), 1), 1)
    assert honest == dict(autoregressive_law(target, (), 1))
    return target, honest[("a",)], peeking[("a",)]


@REGISTRY.claim(
    "disco_peeking_lookahead_not_lossless",
    "A lookahead that reads the verifier's coin (drafts once more only if that draft will be "
    "accepted, else takes a bonus token) is NOT lossless. Witness: $p = (1/2, 1/2)$, "
    "$q = (1, 0)$, $K = 1$: it outputs the first token with probability $3/4$, not $1/2$.",
    "exact witness",
    scope="one exact witness",
)
def check_disco_peeking_lookahead_not_lossless(options: CheckOptions) -> Outcome:
    """Compute the witness's laws exactly."""
    _, honest, peeking = peeking_witness()
    if honest == peeking:
        return Outcome(
            "refuted",
            {"counterexample": {"honest": str(honest), "peeking": str(peeking)}},
        )
    return Outcome(
        "checked",
        {
            "witness": {"target": "(1/2, 1/2)", "draft": "(1, 0)", "K": 1, "n": 1},
            "target_probability": str(honest),
            "peeking_probability": str(peeking),
        },
    )


def _marginal(
    kernel: LookaheadRound, n: int, prefix: tuple[Any, ...] = ()
) -> dict[Tokens, Fraction]:
    """The law of the first `n` output tokens (the run law summed over the past rounds)."""
    law: dict[Tokens, Fraction] = {}
    for (output, _), prob in lookahead_run_law(kernel, prefix, n).items():
        law[output] = law.get(output, Fraction(0)) + prob
    return law


#: Draft costs (in target passes) every cost claim checks.
COSTS = (Fraction(0), Fraction(1, 10), Fraction(1, 2), Fraction(1), Fraction(3, 2))


@st.composite
def cost_instances(draw: st.DrawFn) -> LookaheadInstance:
    """`lookahead_instances` with n >= 1 (a run with at least one round)."""
    target, draft, prefix, n, policy, k = draw(lookahead_instances(max_n=2))
    return target, draft, prefix, max(n, 1), policy, k


def oracle_bound(instance: LookaheadInstance) -> dict[str, Any] | None:
    """`None` if the policy's cost per token is at least the hindsight oracle's at every `c`."""
    target, draft, prefix, n, policy, max_k = instance
    costs = loop_costs(LookaheadRound(target, draft, policy, max_k), prefix, n)
    beaten = [c for c in COSTS if costs.cost_per_token(c) < costs.oracle_cost_per_token(c)]
    if not beaten:
        return None
    return instance_json(
        instance,
        c=[str(c) for c in beaten],
        policy_cost=[str(costs.cost_per_token(c)) for c in beaten],
        oracle_cost=[str(costs.oracle_cost_per_token(c)) for c in beaten],
    )


check_disco_oracle_lookahead_bound = hypothesis_claim(
    "disco_oracle_lookahead_bound",
    "Under the latency model (a target pass costs 1, a drafted token $c$), no lookahead policy "
    "that reads only drafter-side state beats the hindsight oracle (in each round, the best $K$ "
    "knowing which drafts will be accepted: $K = A$, the accepted run of a max-$K$ round, for "
    "$c \\le 1$; $K = 0$ for $c > 1$): over the rounds the policy runs until $n$ tokens exist, "
    "its exact expected cost per token $E[\\text{cost}] / E[\\text{tokens}]$ is at least the "
    "oracle's on the same rounds, for $c \\in \\{0, 1/10, 1/2, 1, 3/2\\}$.",
    cost_instances(),
    oracle_bound,
    Examples(
        100,
        600,
        "toy-LM pairs: V<=3, orders 0-1, prefix<=2, 1<=n<=2, max K<=3; lookahead policies "
        "as in disco_lookahead_lossless; c in {0, 1/10, 1/2, 1, 3/2}",
    ),
    method=LOSSLESS_METHOD,
)
"""The exact cost per token of generated policies against the oracle's."""


def peeking_attains_oracle(instance: LookaheadInstance) -> dict[str, Any] | None:
    """`None` if the peeking control's cost per token equals the oracle's for every `c <= 1`."""
    target, draft, prefix, n, _, max_k = instance
    kernel = PeekingLookaheadRound(target, draft, FixedLookahead(max_k), max_k)
    costs = loop_costs(kernel, prefix, n)
    differ = [
        c for c in COSTS if c <= 1 and costs.cost_per_token(c) != costs.oracle_cost_per_token(c)
    ]
    if not differ:
        return None
    return loop_json(target, draft, prefix, n, max_k=max_k, c=[str(c) for c in differ])


check_disco_oracle_attained_by_peeking = hypothesis_claim(
    "disco_oracle_attained_by_peeking",
    "The hindsight oracle's cost is attained exactly by the peeking control (draft while the "
    "next draft will be accepted, at most $K$): for $c \\le 1$ its exact expected cost per "
    "token equals the oracle's on its own rounds. The bound of disco_oracle_lookahead_bound is "
    "tight, and reaching it needs the verifier's coins (the peeking control is not lossless).",
    cost_instances(),
    peeking_attains_oracle,
    Examples(60, 400, "toy-LM pairs: V<=3, orders 0-1, prefix<=2, 1<=n<=2, max K<=3"),
    method=LOSSLESS_METHOD,
)
"""The peeking control's exact cost per token against the oracle's."""


def static_cost_closed_form(pair: tuple[ToyLM, ToyLM, int]) -> dict[str, Any] | None:
    """`None` if one static-$K$ round of context-free models has the closed-form expectations."""
    target, draft, k = pair
    row_p, row_q = target.next_dist(()), draft.next_dist(())
    alpha = sum((min(row_p[t], row_q[t]) for t in target.vocab), Fraction(0))
    costs = loop_costs(LookaheadRound(target, draft, FixedLookahead(k), k), (), 1)
    expected = {
        "rounds": Fraction(1),
        "drafted": Fraction(k),
        "tokens": sum((alpha**j for j in range(k + 1)), Fraction(0)),
        "oracle_accepted": sum((alpha**j for j in range(1, k + 1)), Fraction(0)),
    }
    got = {name: getattr(costs, name) for name in expected}
    if got == expected:
        return None
    return {
        "target": lm_json(target),
        "draft": lm_json(draft),
        "k": k,
        "expected": {key: str(v) for key, v in expected.items()},
        "got": {key: str(v) for key, v in got.items()},
    }


@st.composite
def context_free_pairs(draw: st.DrawFn) -> tuple[ToyLM, ToyLM, int]:
    """Order-0 toy-LM pairs and a $K$ in 0..3."""
    target, draft = draw(lm_pairs(max_vocab=3, max_order=0))
    return target, draft, draw(st.integers(0, 3))


check_disco_static_cost_closed_form = hypothesis_claim(
    "disco_static_cost_closed_form",
    "The exact cost model agrees with the closed form: one round of static-$K$ standard SD on "
    "context-free models costs $1 + cK$ and outputs $\\sum_{j=0}^{K} \\alpha^j$ tokens in "
    "expectation, $\\alpha = \\sum_x \\min(p(x), q(x))$, and the oracle's expected accepted run "
    "is $\\sum_{j=1}^{K} \\alpha^j$.",
    context_free_pairs(),
    static_cost_closed_form,
    Examples(100, 500, "toy-LM pairs: V<=3, order 0; K in 0..3"),
    method=LOSSLESS_METHOD,
)
"""`loop_costs` against the closed form on generated context-free pairs."""
