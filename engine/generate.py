r"""The speculative generation loop on real models: AR, standard SD, exact-match and greedy.

One loop serves every algorithm and every drafter. A *round*, for each active row $b$ with
committed sequence $s$:

1. **lookahead**: the [lookahead policy][specproof.engine.lookahead.LookaheadPolicy] chooses
   $K_b$ (default [`StaticK(k)`][specproof.engine.lookahead.StaticK]); rows may differ; a
   [stepwise policy][specproof.engine.lookahead.StepwisePolicy] is also asked after each
   drafted token whether the row drafts once more ($K_b$ is then its maximum);
2. **draft**: the [drafter][specproof.engine.drafters.Drafter] proposes up to $K_b$ tokens and
   the distributions $q$ they were drawn from, in the target's vocabulary (a draft *model* is
   wrapped in a [`ModelDrafter`][specproof.engine.drafters.ModelDrafter]: $K_b$ draws, each from
   $q$, the [`logits_to_probs`][specproof.engine.probs.logits_to_probs] of the draft logits, by
   the pinned inverse-CDF rule at a uniform; `"greedy"` drafts the argmax instead, lowest index
   on ties, as the reference does);
3. **score**: one target forward over the uncached tail of $s$ and the row's drafts gives its
   $k_b + 1$ target rows $p$ ($k_b$ = drafts proposed; same temperature, top-k and top-p as the
   draft);
4. **verify**: [`verify_batch`][specproof.engine.verify.verify_batch] once per distinct $k_b$
   among the active rows (in increasing $k_b$; one call when all rows drafted alike), with
   uniforms from the loop's source;
5. **commit and roll back**: the accepted drafts and the recovered or bonus token are appended
   to $s$; the target's KV cache is cropped to $s$ + accepted drafts and the drafter is told the
   committed length (a model drafter crops its own cache). The next round feeds each model the
   committed tokens its cache lacks.

`"ar"` is the target alone: rounds with $K = 0$, so each round outputs the bonus token, drawn
from $p$ by the same inverse-CDF rule (plain sampling). A greedy baseline is
`algorithm="greedy", k=0`.

**Stopping.** A row stops after `max_new_tokens` tokens (a round's output is truncated to fit)
or after emitting `eos_token_id` (kept as the row's last token). The drafter proposes what the
policy asks for; truncation does not change the law of the tokens kept. With a fixed `k` (no
`lookahead` policy) and a draft model or [`NgramDrafter`][specproof.engine.ngram.NgramDrafter],
a row with $r$ tokens still to output drafts $\min(k, r - 1)$ tokens: a draft past its last
token could never be output, and each position's law is the target's whatever K is
(transformers' assisted generation caps its drafts the same way). A lookahead policy is asked
as it is (it sees `remaining` in its `RowState`), and so is any other drafter.

**Batches.** Rows advance in lock-step rounds and are verified in batched calls. By default each
row has its *own* KV caches and its own model forwards (batch size 1 per forward, no padding; see
[`RowStreams`][specproof.engine.streams.RowStreams]): rows accept different numbers of drafts,
and per-row caches make the rollback exact without attention masks or position-id bookkeeping.
With `batch_forwards=True` each model runs one padded forward per step over all active rows
([`BatchedStreams`][specproof.engine.streams.BatchedStreams]: a shared cache, a per-row column
mask and per-row position ids; rollback masks a row's rejected columns; a batch of one row
keeps `RowStreams`). The statistics count row forwards either way (`target_calls`,
`draft_calls`).

**Traces.** `on_round` receives a [`RoundTrace`][specproof.engine.trace.RoundTrace] after each
round (K asked, drafts, drafter features, $q(x)$ and $p(x)$, accepted counts, timings).

**Randomness** comes from a [`UniformSource`][specproof.engine.generate.UniformSource]:
[`GeneratorUniforms`][specproof.engine.generate.GeneratorUniforms] wraps a seeded
`torch.Generator` (same seed, same models, same settings: same tokens). Per round it draws, for
each draft position $i$, one uniform per row that drafts an $i$-th token by sampling
(`torch.rand([n])`), then the verify uniforms of each group of rows
(`draw_uniforms(generator, G, k)`). Tests substitute sources that choose the uniforms, which
is how the exact law of this very loop is computed (`tests/engine/test_engine_law.py`).

**Dtypes.** Probabilities are computed in `prob_dtype` (float32 by default; float64 for
exactness tests, with float64 models).

This module is longer than most (~600 lines) because the round is kept in one function,
readable at once against the numbered steps above, with its statistics next to it; its argument
checks live in `generate_checks`, and the pieces a round calls in `drafters`, `lookahead`,
`streams`, `trace` and `verify`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch

from specproof.reference.arguments import check_int, check_seed

from .drafters import (
    DraftContext,
    Drafter,
    DraftRequest,
    ModelDrafter,
    NgramDrafter,
    Proposal,
)
from .generate_checks import check_args, check_models, check_proposal, prompt_lists, vocab_size
from .lookahead import (
    DraftStepState,
    LookaheadPolicy,
    RowState,
    StaticK,
    StepwisePolicy,
    checked_keep_drafting,
    checked_lookahead,
    step_features,
)
from .probs import logits_to_probs
from .pruned_drafter import PrunedDrafter
from .streams import model_streams
from .trace import RoundTrace, round_trace
from .verify import draw_uniforms, inverse_cdf_rows, verify_batch

__all__ = [
    "GenerationResult",
    "GenerationStats",
    "GeneratorUniforms",
    "Sampling",
    "UniformSource",
    "generate",
    "generate_algorithms",
]


def generate_algorithms() -> tuple[str, ...]:
    """The algorithms `generate` runs: `"ar"` and every registered algorithm offered to it."""
    from specproof.reference.algorithms import ALGORITHMS

    return ("ar", *ALGORITHMS.names(generate=True))


class UniformSource(Protocol):
    """Where the loop's uniforms come from; both methods see the rows the uniforms will meet."""

    def draft_uniforms(self, draft_probs: torch.Tensor) -> torch.Tensor:
        """`[B]` uniforms in [0, 1) for sampling one draft token per row of `draft_probs` `[B, V]`."""
        ...

    def verify_uniforms(
        self,
        algorithm: str,
        target_probs: torch.Tensor,
        draft_probs: torch.Tensor,
        draft_tokens: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """`(accept_u [B, K], final_u [B])` for verifying the given batch of rounds."""
        ...


class GeneratorUniforms:
    """Uniforms from a seeded `torch.Generator` (the default source).

    Args:
        generator: the generator; its device must be where the probabilities are.
    """

    def __init__(self, generator: torch.Generator) -> None:
        self.generator = generator

    def draft_uniforms(self, draft_probs: torch.Tensor) -> torch.Tensor:
        """One `torch.rand` of `[B]` in the probabilities' dtype."""
        return torch.rand(
            draft_probs.shape[0],
            generator=self.generator,
            dtype=draft_probs.dtype,
            device=draft_probs.device,
        )

    def verify_uniforms(
        self,
        algorithm: str,
        target_probs: torch.Tensor,
        draft_probs: torch.Tensor,
        draft_tokens: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """[`draw_uniforms`][specproof.engine.kernels.draw_uniforms] for `[B, K]`."""
        batch, rows, _ = target_probs.shape
        return draw_uniforms(
            self.generator, batch, rows - 1, target_probs.dtype, target_probs.device
        )


@dataclass(frozen=True)
class Sampling:
    """How logits become probabilities, the same for target and draft.

    Attributes:
        temperature: > 0 (greedy decoding is the `"greedy"` algorithm, not temperature 0).
        top_k: keep the k most likely tokens (ties kept), or None.
        top_p: nucleus mass in (0, 1], or None.
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def probs(self, logits: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """[`logits_to_probs`][specproof.engine.probs.logits_to_probs] in `dtype`."""
        return logits_to_probs(
            logits.to(dtype), temperature=self.temperature, top_k=self.top_k, top_p=self.top_p
        )


@dataclass
class GenerationStats:
    """Statistics of one run.

    Attributes:
        algorithm: the algorithm.
        k: drafts per round (with a lookahead policy: the largest K it chose).
        batch: number of rows.
        new_tokens: tokens output, all rows together (after truncation).
        rounds: rounds run, all rows together (each round is one target forward of one row).
        target_calls: target forward passes (= rounds).
        draft_calls: draft forward passes.
        drafted: draft tokens proposed (and verified).
        accepted: draft tokens accepted.
        accepted_histogram: `accepted_histogram[j]` = rounds that accepted exactly j drafts.
        acceptance_rate: accepted / drafted (None with no drafts).
        tokens_per_target_call: new tokens (those kept) / target calls.
        wall_s: wall time of the whole loop, in seconds.
        tokens_per_s: new tokens / wall time.
    """

    algorithm: str
    k: int
    batch: int
    new_tokens: int = 0
    rounds: int = 0
    target_calls: int = 0
    draft_calls: int = 0
    drafted: int = 0
    accepted: int = 0
    accepted_histogram: list[int] = field(default_factory=list)
    acceptance_rate: float | None = None
    tokens_per_target_call: float | None = None
    wall_s: float = 0.0
    tokens_per_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass
class GenerationResult:
    """Output of [`generate`][specproof.engine.generate.generate].

    Attributes:
        tokens: per row, the new tokens (the prompt excluded).
        stats: the run's statistics.
    """

    tokens: list[list[int]]
    stats: GenerationStats


@dataclass
class _Row:
    index: int
    sequence: list[int]
    prompt_length: int
    done: bool = False
    rounds: int = 0
    last_drafted: int | None = None
    last_accepted: int | None = None
    drafted: int = 0
    accepted: int = 0

    @property
    def new(self) -> list[int]:
        return self.sequence[self.prompt_length :]

    @property
    def past_acceptance(self) -> float | None:
        return self.accepted / self.drafted if self.drafted else None


def _stacked(tensors: list[torch.Tensor]) -> torch.Tensor:
    """`torch.stack(tensors)`, without copying a single tensor (a view of it, unsqueezed)."""
    return tensors[0].unsqueeze(0) if len(tensors) == 1 else torch.stack(tensors)


def _stop_after_the_fact(
    policy: StepwisePolicy,
    rows: Sequence[_Row],
    proposals: Sequence[Proposal],
    deterministic: bool,
) -> list[Proposal]:
    """Ask a stepwise policy about a drafter's finished proposals and truncate them.

    The same questions, in the same order, as a drafter that stops early asks (after position
    j, for the rows with a draft at j + 1).
    """
    features = [
        step_features(p.draft_probs, p.tokens, deterministic) if len(p.tokens) > 1 else []
        for p in proposals
    ]
    lengths = [len(p.tokens) for p in proposals]
    for position in range(max(lengths, default=0) - 1):
        ask = [i for i, n in enumerate(lengths) if n > position + 1]
        steps = [
            DraftStepState(
                rows[i].index,
                position,
                *features[i][position],
                rows[i].rounds,
                rows[i].past_acceptance,
            )
            for i in ask
        ]
        for i, go in zip(ask, checked_keep_drafting(policy, steps), strict=True):
            if not go:
                lengths[i] = position + 1
    return [
        p if n == len(p.tokens) else Proposal(p.tokens[:n], p.draft_probs[:n], p.features)
        for p, n in zip(proposals, lengths, strict=True)
    ]


def generate(
    target: Any,
    draft: Any | None,
    prompts: Sequence[Sequence[int]] | torch.Tensor,
    *,
    algorithm: str = "sd",
    k: int = 4,
    lookahead: LookaheadPolicy | None = None,
    max_new_tokens: int = 32,
    sampling: Sampling | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    uniforms: UniformSource | None = None,
    eos_token_id: int | None = None,
    prob_dtype: torch.dtype = torch.float32,
    use_cache: bool = True,
    on_tokens: Callable[[int, list[int]], None] | None = None,
    on_round: Callable[[RoundTrace], None] | None = None,
    batch_forwards: bool = False,
) -> GenerationResult:
    """Generate with `algorithm` from each prompt; see the module docstring for the loop.

    Args:
        target: the target causal LM (a transformers model).
        draft: a [`Drafter`][specproof.engine.drafters.Drafter], or a draft causal LM over the
            target's vocabulary (wrapped in a [`ModelDrafter`][specproof.engine.drafters.ModelDrafter]);
            unused for `"ar"` or `k=0` without a lookahead policy.
        prompts: token ids, one list per row (or a `[B, T]` tensor).
        algorithm: `"ar"` or a registered algorithm (see `generate_algorithms`).
        k: drafts per round (K >= 0; ignored by `"ar"` and when `lookahead` is given; with a
            draft model or n-gram drafter a row drafts at most its remaining tokens minus one,
            see the module docstring).
        lookahead: a [`LookaheadPolicy`][specproof.engine.lookahead.LookaheadPolicy] choosing
            each row's K per round (default `StaticK(k)`).
        max_new_tokens: most tokens to output per row.
        sampling: temperature, top-k, top-p for both models.
        generator: the source of randomness (on the models' device); default a generator on
            the target's device seeded with `seed` (default 0).
        seed: seed for the default generator.
        uniforms: a [`UniformSource`][specproof.engine.generate.UniformSource] instead of the
            generator (tests use this to control every draw).
        eos_token_id: stop a row after this token (None: never).
        prob_dtype: dtype of the probabilities (float32 or float64).
        use_cache: keep KV caches (default); False recomputes every forward from scratch (slow;
            for testing the cache rollback).
        on_tokens: called as `on_tokens(row, tokens)` after each round with the row's new
            tokens (for streaming).
        on_round: called with a [`RoundTrace`][specproof.engine.trace.RoundTrace] after each
            round.
        batch_forwards: one padded forward per model per step for all active rows
            ([`BatchedStreams`][specproof.engine.streams.BatchedStreams]) instead of one forward
            per row (needs `use_cache`).

    Returns:
        The tokens and statistics.

    Raises:
        ValueError: on an unknown algorithm, K < 0, bad `max_new_tokens`, empty prompts,
            a missing draft, a draft model whose vocabulary size differs from the target's (use
            a `ModelDrafter` with a `vocab_map`), a policy or drafter answering out of
            contract, or NaN/inf logits (raised by `logits_to_probs`).
    """
    prompts = prompt_lists(prompts)
    check_models(target, draft)
    check_args(algorithm, k, max_new_tokens, prompts, draft, lookahead, generate_algorithms())
    if seed is not None:
        check_seed(seed)
    if prob_dtype not in (torch.float32, torch.float64):
        raise ValueError(f"prob_dtype must be torch.float32 or torch.float64, got {prob_dtype}")
    if algorithm == "ar":
        k, lookahead = 0, None
    policy = lookahead if lookahead is not None else StaticK(k)
    use_draft = lookahead is not None or k > 0
    vocab = vocab_size(target)
    for b, prompt in enumerate(prompts):
        if min(prompt) < 0 or max(prompt) >= vocab:
            raise ValueError(f"prompts[{b}] holds a token id outside [0, {vocab})")
    if eos_token_id is not None:
        check_int(eos_token_id, "eos_token_id", 0, vocab - 1)
    sampling = sampling or Sampling()
    device = next(target.parameters()).device
    if uniforms is None:
        if generator is None:
            generator = torch.Generator(device=device).manual_seed(0 if seed is None else seed)
        uniforms = GeneratorUniforms(generator)
    source = uniforms
    verify_algorithm = "sd" if algorithm == "ar" else algorithm
    drafter: Drafter | None = None
    # The target's rows come from logits_to_probs (which refuses NaN and +inf logits) and so do
    # this module's drafters' q rows (or they are one-hot): verify_batch's full scan of every
    # value is then redundant. A user's drafter gets the scan.
    trusted = (
        draft is None
        or type(draft) in (ModelDrafter, NgramDrafter, PrunedDrafter)
        or not isinstance(draft, Drafter)
    )
    if use_draft:
        drafter = draft if isinstance(draft, Drafter) else ModelDrafter(draft)
        drafter.start(
            prompts,
            DraftContext(
                vocab,
                prob_dtype,
                device,
                lambda x: sampling.probs(x, prob_dtype),
                use_cache,
                batch_forwards,
            ),
        )

    def sample(q: torch.Tensor) -> torch.Tensor:
        if algorithm == "greedy":
            return q.argmax(-1)
        return inverse_cdf_rows(q, source.draft_uniforms(q))

    # Only this module's own target-vocabulary drafters: the cross-tokenizer drafters' K counts
    # drafter tokens, and their standalone loop (engine/hetero_loop.py) drafts K every round.
    cap_k = lookahead is None and type(drafter) in (ModelDrafter, NgramDrafter)
    stepwise: StepwisePolicy | None = (
        policy if drafter is not None and isinstance(policy, StepwisePolicy) else None
    )
    deterministic = bool(getattr(drafter, "deterministic", False))

    stats = GenerationStats(algorithm, k, len(prompts), accepted_histogram=[0] * (k + 1))
    rows = [_Row(b, list(p), len(p)) for b, p in enumerate(prompts)]
    target_streams = model_streams(target, len(rows), use_cache, batch_forwards)
    largest_k = 0
    round_index = 0
    start = time.perf_counter()
    with torch.inference_mode():
        for row in rows:
            row.done = max_new_tokens == 0
        while True:
            active = [row for row in rows if not row.done]
            if not active:
                break
            clock = time.perf_counter()
            states = [
                RowState(
                    r.index,
                    len(r.new),
                    max_new_tokens - len(r.new),
                    r.rounds,
                    r.last_drafted,
                    r.last_accepted,
                )
                for r in active
            ]
            ks = checked_lookahead(policy, states) if drafter is not None else [0] * len(active)
            if cap_k:
                # A fixed K drafts no token past a row's last: it could never be output.
                ks = [min(kb, state.remaining - 1) for kb, state in zip(ks, states, strict=True)]
            largest_k = max(largest_k, *ks)
            lookahead_s = time.perf_counter() - clock

            clock = time.perf_counter()
            requests = [
                DraftRequest(r.index, r.sequence, kb) for r, kb in zip(active, ks, strict=True)
            ]
            asked = [i for i, request in enumerate(requests) if request.k > 0]
            empty = torch.empty((0, vocab), dtype=prob_dtype, device=device)
            proposals = [Proposal((), empty) for _ in active]
            if drafter is not None and asked:
                if stepwise is not None and getattr(drafter, "stops_early", False):

                    def hook(
                        indices: list[int],
                        position: int,
                        tokens: list[int],
                        q: torch.Tensor,
                        asked: list[int] = asked,
                        active: list[_Row] = active,
                        policy: StepwisePolicy = stepwise,
                    ) -> list[bool]:
                        steps = [
                            DraftStepState(r.index, position, *f, r.rounds, r.past_acceptance)
                            for r, f in zip(
                                (active[asked[i]] for i in indices),
                                step_features(q, tokens, deterministic),
                                strict=True,
                            )
                        ]
                        return checked_keep_drafting(policy, steps)

                    answered = drafter.propose(
                        [requests[i] for i in asked], sample, keep_drafting=hook
                    )
                else:
                    answered = drafter.propose([requests[i] for i in asked], sample)
                    if stepwise is not None:
                        answered = _stop_after_the_fact(
                            stepwise, [active[i] for i in asked], answered, deterministic
                        )
                if len(answered) != len(asked):
                    raise ValueError(
                        f"drafter: {len(answered)} proposals for {len(asked)} requests"
                    )
                for i, proposal in zip(asked, answered, strict=True):
                    check_proposal(proposal, ks[i], active[i].index, vocab, prob_dtype)
                    proposals[i] = proposal
            draft_s = time.perf_counter() - clock

            clock = time.perf_counter()
            drafts = [list(proposal.tokens) for proposal in proposals]
            target_logits = target_streams.logits(
                [r.index for r in active],
                [r.sequence + d for r, d in zip(active, drafts, strict=True)],
                [len(d) + 1 for d in drafts],
            )
            # One row (the common case): no copy into a concatenated tensor.
            p_flat = sampling.probs(
                target_logits[0] if len(target_logits) == 1 else torch.cat(target_logits),
                prob_dtype,
            )
            p_rows = list(p_flat.split([len(d) + 1 for d in drafts]))
            target_s = time.perf_counter() - clock

            clock = time.perf_counter()
            outputs: list[list[int]] = [[] for _ in active]
            n_accepted = [0] * len(active)
            for kb in sorted({len(d) for d in drafts}):
                group = [i for i, d in enumerate(drafts) if len(d) == kb]
                p = _stacked([p_rows[i] for i in group])
                q = _stacked([proposals[i].draft_probs for i in group])
                draft_tokens = torch.tensor(
                    [drafts[i] for i in group], dtype=torch.long, device=p.device
                ).reshape(len(group), kb)
                accept_u, final_u = source.verify_uniforms(verify_algorithm, p, q, draft_tokens)
                verdict = verify_batch(
                    verify_algorithm,
                    p,
                    q,
                    draft_tokens,
                    accept_u,
                    final_u,
                    check_values=not trusted,
                )
                for j, i in enumerate(group):
                    n_accepted[i] = int(verdict.n_accepted[j])
                    outputs[i] = verdict.row(j)
            verify_s = time.perf_counter() - clock

            clock = time.perf_counter()
            before = [(r.rounds, r.past_acceptance) for r in active] if on_round else []
            stats.rounds += len(active)
            stats.target_calls += len(active)
            committed: list[list[int]] = []
            for i, row in enumerate(active):
                accepted = n_accepted[i]
                if accepted >= len(stats.accepted_histogram):
                    stats.accepted_histogram.extend(
                        [0] * (accepted + 1 - len(stats.accepted_histogram))
                    )
                stats.accepted_histogram[accepted] += 1
                stats.drafted += len(drafts[i])
                stats.accepted += accepted
                base = len(row.sequence)
                output = outputs[i][: max_new_tokens - len(row.new)]
                if eos_token_id is not None and eos_token_id in output:
                    output = output[: output.index(eos_token_id) + 1]
                    row.done = True
                row.sequence.extend(output)
                row.rounds += 1
                row.last_drafted, row.last_accepted = len(drafts[i]), accepted
                row.drafted += len(drafts[i])
                row.accepted += accepted
                if len(row.new) >= max_new_tokens:
                    row.done = True
                # Valid cache entries: the old sequence and the accepted drafts.
                target_streams.keep(row.index, base + accepted)
                if drafter is not None:
                    drafter.keep(row.index, base + accepted)
                committed.append(output)
                if on_tokens is not None and output:
                    on_tokens(row.index, output)
            commit_s = time.perf_counter() - clock
            if on_round is not None:
                on_round(
                    round_trace(
                        round_index,
                        [r.index for r in active],
                        ks,
                        proposals,
                        p_rows,
                        n_accepted,
                        committed,
                        (lookahead_s, draft_s, target_s, verify_s, commit_s),
                        before,
                        deterministic,
                    )
                )
            round_index += 1
    stats.wall_s = time.perf_counter() - start
    stats.new_tokens = sum(len(row.new) for row in rows)
    if lookahead is not None:
        stats.k = largest_k
    if drafter is not None:
        stats.draft_calls = drafter.forward_calls
    if stats.drafted:
        stats.acceptance_rate = stats.accepted / stats.drafted
    if stats.target_calls:
        stats.tokens_per_target_call = stats.new_tokens / stats.target_calls
    if stats.wall_s > 0:
        stats.tokens_per_s = stats.new_tokens / stats.wall_s
    return GenerationResult([row.new for row in rows], stats)
