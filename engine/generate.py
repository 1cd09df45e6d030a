r"""The speculative generation loop on real models: AR, standard SD, exact-match and greedy.

One loop serves every algorithm. A *round* of row $b$, from its committed sequence $s$:

1. **draft**: the draft model proposes $K$ tokens one by one, each from
   $q = $ [`logits_to_probs`][specproof.engine.probs.logits_to_probs]$(\text{draft logits})$ by
   the pinned inverse-CDF rule at a uniform (`"greedy"` drafts the argmax instead, lowest index
   on ties, as the reference does);
2. **score**: one target forward over the uncached tail of $s$ and the $K$ drafts gives the
   $K + 1$ target rows $p$ (same temperature, top-k and top-p as the draft);
3. **verify**: [`verify_batch`][specproof.engine.verify.verify_batch] over all active rows at
   once, with uniforms drawn by [`draw_uniforms`][specproof.engine.kernels.draw_uniforms];
4. **commit and roll back**: the accepted drafts and the recovered or bonus token are appended
   to $s$; both KV caches are cropped to the tokens that are still valid (the target's cache
   keeps $s$ + accepted drafts; the draft's cache keeps what it had fed up to the accepted
   drafts). The next round feeds each model the committed tokens its cache lacks.

`"ar"` is the target alone: rounds with $K = 0$, so each round outputs the bonus token, drawn
from $p$ by the same inverse-CDF rule (plain sampling). A greedy baseline is
`algorithm="greedy", k=0`.

**Stopping.** A row stops after `max_new_tokens` tokens (a round's output is truncated to fit)
or after emitting `eos_token_id` (kept as the row's last token). The draft always proposes $K$
tokens; truncation does not change the law of the tokens kept.

**Batches.** Rows advance in lock-step rounds and are verified in one batched call, but each
row has its *own* KV caches and its own model forwards (batch size 1 per forward, no padding):
rows accept different numbers of drafts, and per-row caches make the rollback exact without
attention masks or position-id bookkeeping. The cost is that model forwards are not batched
across rows; batching them with left padding is not implemented.

**Randomness** comes from a [`UniformSource`][specproof.engine.generate.UniformSource]:
[`GeneratorUniforms`][specproof.engine.generate.GeneratorUniforms] wraps a seeded
`torch.Generator` (same seed, same models, same settings: same tokens). Per round it draws, for
each draft step, one uniform per active row (`torch.rand([B])`), then the verify uniforms
(`draw_uniforms(generator, B, K)`). Tests substitute sources that choose the uniforms, which
is how the exact law of this very loop is computed (`tests/engine/test_engine_law.py`).

**Dtypes.** Probabilities are computed in `prob_dtype` (float32 by default; float64 for
exactness tests, with float64 models).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import torch

from .probs import logits_to_probs
from .verify import draw_uniforms, inverse_cdf_rows, verify_batch


#: Algorithm names [`generate`][specproof.engine.generate.generate] accepts.
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
        k: drafts per round.
        batch: number of rows.
        new_tokens: tokens output, all rows together (after truncation).
        rounds: rounds run, all rows together (each round is one target forward of one row).
        target_calls: target forward passes (= rounds).
        draft_calls: draft forward passes.
        drafted: draft tokens proposed.
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


class _ModelStream:
    """One model's view of one row: its KV cache and how many tokens of the row it holds."""

    def __init__(self, model: Any, use_cache: bool) -> None:
        from transformers import DynamicCache

        self.model = model
        self.use_cache = use_cache
        self.cache = DynamicCache(config=model.config) if use_cache else None
        self.cached = 0
        self.device = next(model.parameters()).device
        # transformers 5 renamed `past_key_values` to `cache`; older versions know only the former.
        parameters = inspect.signature(model.forward).parameters
        self.cache_kwarg = "cache" if "cache" in parameters else "past_key_values"
        # Compute the output head only where logits are read (the prompt's prefill needs one row).
        self.keep_kwarg = "logits_to_keep" in parameters

    def logits(self, sequence: Sequence[int], last: int) -> torch.Tensor:
        """`[last, V]` logits at the last `last` positions of `sequence`, feeding what is uncached."""
        if self.use_cache:
            new = sequence[self.cached :]
            if len(new) < last:
                raise RuntimeError("internal: fewer uncached tokens than logits requested")
            ids = torch.tensor([list(new)], dtype=torch.long, device=self.device)
            kwargs: dict[str, Any] = {self.cache_kwarg: self.cache}
            if self.keep_kwarg:
                kwargs["logits_to_keep"] = last
            out = self.model(input_ids=ids, use_cache=True, **kwargs)
            self.cached = len(sequence)
        else:
            ids = torch.tensor([list(sequence)], dtype=torch.long, device=self.device)
            out = self.model(input_ids=ids, use_cache=False)
        return out.logits[0, -last:]

    def keep(self, length: int) -> None:
        """Roll the cache back to the first `length` tokens of the row."""
        if self.use_cache and self.cached > length:
            self.cache.crop(length - self.cached)  # a negative count: tokens to remove
            self.cached = length


@dataclass
class _Row:
    index: int
    sequence: list[int]
    prompt_length: int
    target: _ModelStream
    draft: _ModelStream | None
    done: bool = False

    @property
    def new(self) -> list[int]:
        return self.sequence[self.prompt_length :]


def _check_args(
    algorithm: str, k: int, max_new_tokens: int, prompts: Sequence[Sequence[int]], draft: Any
) -> None:
    if algorithm not in generate_algorithms():
        raise ValueError(f"algorithm must be one of {generate_algorithms()}, got {algorithm!r}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise ValueError(f"k must be an int >= 0, got {k!r}")
    if (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 0
    ):
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if algorithm != "ar" and k > 0 and draft is None:
        raise ValueError(f"draft: algorithm {algorithm!r} with k={k} needs a draft model")
    if not prompts:
        raise ValueError("prompts must hold at least one prompt")
    for b, prompt in enumerate(prompts):
        if len(prompt) == 0:
            raise ValueError(f"prompts[{b}] is empty: a prompt needs at least one token")


def _vocab_size(model: Any) -> int:
    return int(model.get_output_embeddings().weight.shape[0])


def generate(
    target: Any,
    draft: Any | None,
    prompts: Sequence[Sequence[int]] | torch.Tensor,
    *,
    algorithm: str = "sd",
    k: int = 4,
    max_new_tokens: int = 32,
    sampling: Sampling | None = None,
    generator: torch.Generator | None = None,
    seed: int | None = None,
    uniforms: UniformSource | None = None,
    eos_token_id: int | None = None,
    prob_dtype: torch.dtype = torch.float32,
    use_cache: bool = True,
    on_tokens: Callable[[int, list[int]], None] | None = None,
) -> GenerationResult:
    """Generate with `algorithm` from each prompt; see the module docstring for the loop.

    Args:
        target: the target causal LM (a transformers model).
        draft: the draft causal LM over the same vocabulary (unused for `"ar"` or `k=0`).
        prompts: token ids, one list per row (or a `[B, T]` tensor).
        algorithm: `"ar"` or a registered algorithm (see `generate_algorithms`).
        k: drafts per round (K >= 0; ignored by `"ar"`).
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

    Returns:
        The tokens and statistics.

    Raises:
        ValueError: on an unknown algorithm, K < 0, bad `max_new_tokens`, empty prompts,
            a missing draft, a draft whose vocabulary size differs from the target's, or NaN/inf
            logits (raised by `logits_to_probs`).
    """
    if isinstance(prompts, torch.Tensor):
        if prompts.dim() != 2:
            raise ValueError(f"prompts must be a [B, T] tensor, got shape {tuple(prompts.shape)}")
        prompts = prompts.tolist()
    prompts = [list(map(int, p)) for p in prompts]
    _check_args(algorithm, k, max_new_tokens, prompts, draft)
    if prob_dtype not in (torch.float32, torch.float64):
        raise ValueError(f"prob_dtype must be torch.float32 or torch.float64, got {prob_dtype}")
    if algorithm == "ar":
        k = 0
    use_draft = k > 0
    vocab = _vocab_size(target)
    if use_draft and _vocab_size(draft) != vocab:
        raise ValueError(
            f"draft: vocabulary size {_vocab_size(draft)} differs from the target's {vocab}"
        )
    for b, prompt in enumerate(prompts):
        if min(prompt) < 0 or max(prompt) >= vocab:
            raise ValueError(f"prompts[{b}] holds a token id outside [0, {vocab})")
    sampling = sampling or Sampling()
    if uniforms is None:
        if generator is None:
            device = next(target.parameters()).device
            generator = torch.Generator(device=device).manual_seed(0 if seed is None else seed)
        uniforms = GeneratorUniforms(generator)
    verify_algorithm = "sd" if algorithm == "ar" else algorithm

    stats = GenerationStats(algorithm, k, len(prompts), accepted_histogram=[0] * (k + 1))
    rows = [
        _Row(
            b,
            list(p),
            len(p),
            _ModelStream(target, use_cache),
            _ModelStream(draft, use_cache) if use_draft else None,
        )
        for b, p in enumerate(prompts)
    ]
    start = time.perf_counter()
    with torch.inference_mode():
        for row in rows:
            row.done = max_new_tokens == 0
        while True:
            active = [row for row in rows if not row.done]
            if not active:
                break
            drafts: list[list[int]] = [[] for _ in active]
            draft_rows: list[torch.Tensor] = []
            for _ in range(k):
                logits = torch.stack(
                    [
                        row.draft.logits(row.sequence + d, 1)[0]
                        for row, d in zip(active, drafts, strict=True)
                    ]
                )
                q = sampling.probs(logits, prob_dtype)
                if algorithm == "greedy":
                    chosen = q.argmax(-1)
                else:
                    chosen = inverse_cdf_rows(q, uniforms.draft_uniforms(q))
                draft_rows.append(q)
                for d, token in zip(drafts, chosen.tolist(), strict=True):
                    d.append(int(token))
            stats.draft_calls += k * len(active)
            target_logits = torch.stack(
                [
                    row.target.logits(row.sequence + d, k + 1)
                    for row, d in zip(active, drafts, strict=True)
                ]
            )
            p = sampling.probs(target_logits, prob_dtype)
            q_all = (
                torch.stack(draft_rows, 1)
                if k
                else torch.empty((len(active), 0, vocab), dtype=prob_dtype, device=p.device)
            )
            draft_tokens = torch.tensor(drafts, dtype=torch.long, device=p.device).reshape(
                len(active), k
            )
            accept_u, final_u = uniforms.verify_uniforms(verify_algorithm, p, q_all, draft_tokens)
            verdict = verify_batch(verify_algorithm, p, q_all, draft_tokens, accept_u, final_u)
            stats.rounds += len(active)
            stats.target_calls += len(active)
            for b, row in enumerate(active):
                n_accepted = int(verdict.n_accepted[b])
                stats.accepted_histogram[n_accepted] += 1
                stats.drafted += k
                stats.accepted += n_accepted
                base = len(row.sequence)
                output = verdict.row(b)
                room = max_new_tokens - len(row.new)
                output = output[:room]
                if eos_token_id is not None and eos_token_id in output:
                    output = output[: output.index(eos_token_id) + 1]
                    row.done = True
                row.sequence.extend(output)
                if len(row.new) >= max_new_tokens:
                    row.done = True
                # Valid cache entries: the old sequence and the accepted drafts.
                row.target.keep(base + n_accepted)
                if row.draft is not None:
                    row.draft.keep(base + n_accepted)
                if on_tokens is not None and output:
                    on_tokens(row.index, output)
    stats.wall_s = time.perf_counter() - start
    stats.new_tokens = sum(len(row.new) for row in rows)
    if stats.drafted:
        stats.acceptance_rate = stats.accepted / stats.drafted
    if stats.target_calls:
        stats.tokens_per_target_call = stats.new_tokens / stats.target_calls
    if stats.wall_s > 0:
        stats.tokens_per_s = stats.new_tokens / stats.wall_s
    return GenerationResult([row.new for row in rows], stats)
