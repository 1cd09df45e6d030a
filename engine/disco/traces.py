r"""Training traces for DISCO: every round's drafted steps with their accept/reject labels.

[`TraceRecorder`][specproof.engine.disco.traces.TraceRecorder] is an `on_round` callback of
[`generate`][specproof.engine.generate.generate]: it needs no change to the loop. For each
row's round it rebuilds the [`DraftStepState`][specproof.engine.disco.features.DraftStepState]s
of the drafts from the distributions the trace carries, and stores them with the accepted count
as a [`TracedRound`][specproof.engine.disco.traces.TracedRound]; the label of step $j$ is
$j < \text{accepted}$. Recording runs the loop at the policy's largest K, so every round holds
the drafts any stopping rule could have kept: the drafts of a round do not depend on where
drafting stops (they are drawn before verification), so a stopping rule's drafted count $n$ and
accepted count $\min(a, n)$ on a recorded round are what it would have got on that round.

[`round_costs`][specproof.engine.disco.traces.round_costs] uses that to score a stopping rule
offline under the latency model (target forward = 1, draft token = $c$): modelled cost per
output token $= \sum_r (n_r c + 1) / \sum_r (\min(a_r, n_r) + 1)$. It is a per-round estimate
(the rounds that follow a round would start elsewhere under another rule); the benchmark
measures the rules in the real loop.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from specproof.reference.arguments import check_int

from .features import DraftStepState, step_states


@dataclass(frozen=True)
class TracedRound:
    """One row's recorded round.

    Attributes:
        steps: the state after each drafted token (in order).
        accepted: drafts accepted (<= len(steps)).
    """

    steps: tuple[DraftStepState, ...]
    accepted: int

    def __post_init__(self) -> None:
        if not 0 <= self.accepted <= len(self.steps):
            raise ValueError(
                f"TracedRound.accepted must lie in [0, {len(self.steps)}], got {self.accepted}"
            )

    def labels(self) -> list[int]:
        """1 for each accepted step, then 0."""
        return [1 if j < self.accepted else 0 for j in range(len(self.steps))]


@dataclass
class TraceRecorder:
    """An `on_round` callback collecting [`TracedRound`][specproof.engine.disco.traces.TracedRound]s.

    Args:
        deterministic: the drafter's tokens are a function of the text (prompt lookup): states
            carry no draft probabilities.

    Attributes:
        rounds: the rounds recorded so far, in the loop's order.
        draft_seconds: seconds the loop spent drafting, summed over rounds.
        target_seconds: seconds in target forwards, summed over rounds.
        drafted: draft tokens recorded.
        target_calls: target forwards (row rounds) recorded.
    """

    deterministic: bool = False
    rounds: list[TracedRound] = field(default_factory=list)
    draft_seconds: float = 0.0
    target_seconds: float = 0.0
    drafted: int = 0
    target_calls: int = 0
    _history: dict[int, tuple[int, int, int]] = field(default_factory=dict)

    def start_run(self) -> None:
        """Forget the rows' history (call before each new `generate` run that reuses row ids)."""
        self._history.clear()

    def __call__(self, trace: Any) -> None:
        """Record one [`RoundTrace`][specproof.engine.trace.RoundTrace]."""
        self.draft_seconds += trace.draft_s
        self.target_seconds += trace.target_s
        for row in trace.rows:
            rounds, accepted, drafted = self._history.get(row.row, (0, 0, 0))
            past = accepted / drafted if drafted else None
            probs = None if self.deterministic else row.draft_probs
            steps = step_states(row.row, row.drafts, probs, rounds, past)
            if not self.deterministic and steps != row.draft_steps:
                raise RuntimeError(
                    f"row {row.row}: the recorder's step states differ from the loop's"
                )
            self.rounds.append(TracedRound(steps, row.accepted))
            self.drafted += len(row.drafts)
            self.target_calls += 1
            self._history[row.row] = (
                rounds + 1,
                accepted + row.accepted,
                drafted + len(row.drafts),
            )

    def draft_cost(self) -> float | None:
        """$c$ measured on the recorded run: seconds per draft token over seconds per target forward."""
        if not self.drafted or not self.target_calls or self.target_seconds <= 0:
            return None
        return (self.draft_seconds / self.drafted) / (self.target_seconds / self.target_calls)


def round_costs(rounds: Sequence[TracedRound], kept: Sequence[int], c: float) -> dict[str, float]:
    """Modelled totals of a stopping rule over recorded rounds (see the module docstring).

    Args:
        rounds: the recorded rounds.
        kept: drafts the rule keeps in each round (0 <= kept[r] <= len(rounds[r].steps)).
        c: the cost of a draft token, in target forwards (>= 0).

    Returns:
        `{"tokens", "cost", "drafted", "target_calls", "cost_per_token",
        "tokens_per_target_call"}`.

    Raises:
        ValueError: on mismatched lengths, a kept count out of range, or a negative `c`.
    """
    if len(kept) != len(rounds):
        raise ValueError(f"kept holds {len(kept)} counts for {len(rounds)} rounds")
    if not c >= 0:
        raise ValueError(f"c must be >= 0, got {c}")
    if not rounds:
        raise ValueError("rounds must not be empty")
    tokens = drafted = 0
    for r, (traced, n) in enumerate(zip(rounds, kept, strict=True)):
        if not 0 <= n <= len(traced.steps):
            raise ValueError(f"kept[{r}] = {n} outside [0, {len(traced.steps)}]")
        tokens += min(traced.accepted, n) + 1
        drafted += n
    cost = drafted * c + len(rounds)
    return {
        "tokens": float(tokens),
        "cost": cost,
        "drafted": float(drafted),
        "target_calls": float(len(rounds)),
        "cost_per_token": cost / tokens,
        "tokens_per_target_call": tokens / len(rounds),
    }


def static_kept(rounds: Sequence[TracedRound], k: int) -> list[int]:
    """What static K keeps in each recorded round: `min(k, drafts recorded)`."""
    return [min(k, len(traced.steps)) for traced in rounds]


def record_traces(
    target: Any,
    draft: Any,
    prompts: Sequence[Sequence[int]],
    *,
    max_k: int,
    algorithm: str = "greedy",
    max_new_tokens: int = 32,
    sampling: Any = None,
    seed: int = 0,
    eos_token_id: int | None = None,
    on_prompt: Callable[[int], None] | None = None,
) -> TraceRecorder:
    """Run the loop at static K = `max_k` over each prompt and record its rounds.

    Args:
        target: the target causal LM.
        draft: a draft causal LM or a [`Drafter`][specproof.engine.drafters.Drafter].
        prompts: token ids, one list per prompt (each run alone, one after the other).
        max_k: drafts per round while recording (the policy's largest K).
        algorithm: the verification algorithm (`"greedy"` or `"sd"`, ...).
        max_new_tokens: tokens generated per prompt.
        sampling: a [`Sampling`][specproof.engine.generate.Sampling] (default temperature 1).
        seed: the loop's seed (prompt i uses `seed + i`).
        eos_token_id: stop a prompt's run at this token.
        on_prompt: called with the prompt's index after each prompt (progress).

    Raises:
        ValueError: if `max_k` < 1 or the loop refuses its arguments.
    """
    from ..generate import generate
    from ..lookahead import StaticK
    from ..ngram import NgramDrafter

    check_int(max_k, "max_k")
    recorder = TraceRecorder(deterministic=isinstance(draft, NgramDrafter))
    for i, prompt in enumerate(prompts):
        recorder.start_run()
        generate(
            target,
            draft,
            [list(prompt)],
            algorithm=algorithm,
            lookahead=StaticK(max_k),
            max_new_tokens=max_new_tokens,
            sampling=sampling,
            seed=seed + i,
            eos_token_id=eos_token_id,
            on_round=recorder,
        )
        if on_prompt is not None:
            on_prompt(i)
    return recorder
