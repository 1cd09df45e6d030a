r"""Generation-level audit: does a generate function sample the target's law?

**The audited signature**: `fn(prompt_ids, max_new_tokens, seed) -> token ids`, where
`prompt_ids` is a list of ints, and the result holds the *new* tokens only (at most
`max_new_tokens`; fewer only if the last one is the end-of-sequence token). The function must
be a deterministic function of `seed` (seed torch, numpy, ... from it).

**The reference law.** The auditor runs the target model itself in float64 and applies the
same logits processing in numpy float64 ([`Processing`][specproof.audit.generation.Processing],
transformers' documented semantics: repetition penalty, then temperature, then top-k, then
top-p). The exact law of the first $m$ new tokens is then enumerated prefix by prefix
(end-of-sequence absorbing). The implementation under audit samples from float32 logits: its
per-token probabilities differ from the float64 ones by about $10^{-6}$ relative, a TV far
below $10^{-4}$; the chi-square noncentrality such a difference creates at $N$ samples is about
$N \cdot 10^{-12}$, so no feasible sample size can mistake rounding for a fault, and counts are
compared directly with the float64 expected probabilities.

**Tests.** For small vocabularies (`V ** m` at most `max_cells`): `joint`, the law of the whole
tuple of the first $m$ tokens, plus `first`, the first-token marginal. For large vocabularies:
`first`, and `next|t` (the second token's law given the first token `t`) for the first tokens
expected at least 100 times (at most 8 of them); conditional tests are valid given the number
of samples that start with `t`. At every vocabulary size, `position@t` for every $t < m$: the
token at $t$ given its prefix ([`positions`][specproof.audit.positions]); each output position
is a path of the configuration, and one reached too rarely makes it `inconclusive`.

**Greedy** implementations are compared token for token with the float64 argmax path on several
prompts (a deterministic reference: any mismatch is a certain violation); prompts whose float64
path has a top-2 logit gap below `1e-4` anywhere are skipped (float32 may legitimately
break such near-ties the other way) and counted in the details.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .boundary import ImplementationCrashed
from .core import DEFAULT_POWER, DEFAULT_TV, Audit, Configuration, decide
from .stats import DEFAULT_ALPHA, MIN_EXPECTED, FitResult, goodness_of_fit

GenerateFn = Callable[[list[int], int, int], Sequence[int]]
#: Greedy reference paths with a top-2 logit gap below this are skipped.
GREEDY_MARGIN = 1e-4


@dataclass(frozen=True)
class Processing:
    """Logits processing of the target's plain sampling (transformers' semantics, in float64).

    Order: repetition penalty (for every token present in the sequence so far, prompt included:
    a logit below zero is multiplied by the penalty, otherwise divided by it), temperature
    (logits / T), top-k (keep every token whose logit is at least the k-th largest: ties kept),
    top-p (sort ascending, drop the tokens whose ascending cumulative probability is at most
    1 - p, always keep the most probable one).

    Raises:
        ValueError: on a temperature that is not positive and finite, `top_k < 1`, `top_p`
            outside (0, 1], or a repetition penalty that is not positive.
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None

    def __post_init__(self) -> None:
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature must be finite and > 0, got {self.temperature!r}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"top_k must be >= 1 or None, got {self.top_k!r}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must lie in (0, 1], got {self.top_p!r}")
        if self.repetition_penalty is not None and not self.repetition_penalty > 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty!r}")

    def penalise(self, logits: np.ndarray, sequence: Sequence[int]) -> np.ndarray:
        """Apply the repetition penalty only (what greedy decoding uses)."""
        z = np.array(logits, dtype=np.float64)
        if self.repetition_penalty not in (None, 1.0) and len(sequence):
            seen = np.unique(np.asarray(sequence, dtype=np.int64))
            vals = z[seen]
            z[seen] = np.where(
                vals < 0, vals * self.repetition_penalty, vals / self.repetition_penalty
            )
        return z

    def probs(self, logits: np.ndarray, sequence: Sequence[int]) -> np.ndarray:
        """The sampling distribution after all processing, float64 `[V]`."""
        z = self.penalise(logits, sequence) / self.temperature
        v = z.size
        if self.top_k is not None and self.top_k < v:
            kth = np.sort(z)[v - self.top_k]
            z = np.where(z < kth, -np.inf, z)
        if self.top_p is not None and self.top_p < 1:
            order = np.argsort(z, kind="stable")
            sorted_z = z[order]
            e = np.exp(sorted_z - sorted_z[-1])
            cumulative = np.cumsum(e / e.sum())
            remove = cumulative <= 1 - self.top_p
            remove[-1] = False
            z = z.copy()
            z[order[remove]] = -np.inf
        e = np.exp(z - z.max())
        return e / e.sum()

    def label(self) -> str:
        """A short description, e.g. `T=0.7 top-k=3`."""
        parts = []
        if self.temperature != 1.0:
            parts.append(f"T={self.temperature:g}")
        if self.top_k is not None:
            parts.append(f"top-k={self.top_k}")
        if self.top_p is not None:
            parts.append(f"top-p={self.top_p:g}")
        if self.repetition_penalty is not None:
            parts.append(f"repetition-penalty={self.repetition_penalty:g}")
        return " ".join(parts) or "plain"


class TargetLaw:
    """Exact next-token laws of a causal LM under [`Processing`][specproof.audit.generation.Processing], in float64.

    Args:
        model: a transformers causal LM (copied and cast to float64; the original is untouched).
        processing: the logits processing of plain sampling.
        eos_token_id: the end-of-sequence id (absorbing), or None.
    """

    def __init__(self, model: Any, processing: Processing, eos_token_id: int | None) -> None:
        import copy

        import torch

        self._torch = torch
        self.model = copy.deepcopy(model).to(torch.float64).eval()
        self.processing = processing
        self.eos_token_id = eos_token_id
        self.vocab_size = int(self.model.get_output_embeddings().weight.shape[0])
        self._cache: dict[tuple[int, ...], np.ndarray] = {}

    def logits(self, sequences: Sequence[Sequence[int]]) -> np.ndarray:
        """Float64 next-token logits `[B, V]` after each sequence (all of one length)."""
        torch = self._torch
        missing = [tuple(s) for s in sequences if tuple(s) not in self._cache]
        for start in range(0, len(missing), 256):
            chunk = missing[start : start + 256]
            ids = torch.tensor(chunk, dtype=torch.long)
            with torch.no_grad():
                out = self.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[:, -1]
            for seq, row in zip(chunk, out.numpy(), strict=True):
                self._cache[seq] = row.astype(np.float64)
        return np.stack([self._cache[tuple(s)] for s in sequences])

    def next_probs(self, sequence: Sequence[int]) -> np.ndarray:
        """The processed next-token distribution after `sequence` (prompt included)."""
        return self.processing.probs(self.logits([sequence])[0], sequence)

    def joint_law(self, prompt: Sequence[int], m: int) -> dict[tuple[int, ...], float]:
        """Exact law of the first `m` new tokens (shorter tuples end with end-of-sequence)."""
        law: dict[tuple[int, ...], float] = {}
        frontier: list[tuple[tuple[int, ...], float]] = [((), 1.0)]
        for step in range(m):
            if not frontier:
                break
            rows = self.logits([(*prompt, *prefix) for prefix, _ in frontier])
            nxt = []
            for (prefix, mass), row in zip(frontier, rows, strict=True):
                probs = self.processing.probs(row, (*prompt, *prefix))
                for token in np.flatnonzero(probs > 0):
                    key = (*prefix, int(token))
                    weight = mass * float(probs[token])
                    if step == m - 1 or token == self.eos_token_id:
                        law[key] = law.get(key, 0.0) + weight
                    else:
                        nxt.append((key, weight))
            frontier = nxt
        return law

    def greedy_path(self, prompt: Sequence[int], m: int) -> tuple[tuple[int, ...], float]:
        """The float64 greedy continuation and its smallest top-2 logit gap."""
        seq = list(prompt)
        out: list[int] = []
        margin = np.inf
        for _ in range(m):
            z = self.processing.penalise(self.logits([seq])[0], seq)
            top = np.sort(z)[-2:]
            margin = min(margin, float(top[1] - top[0]))
            token = int(np.argmax(z))
            out.append(token)
            seq.append(token)
            if token == self.eos_token_id:
                break
        return tuple(out), margin


@dataclass
class GenerationSamples:
    """Outputs of a generate function, or the error that stopped it."""

    outputs: list[tuple[int, ...]] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0


def check_generated(out: Any, m: int, vocab_size: int, eos_token_id: int | None) -> tuple[int, ...]:
    """Validate one generate result; returns its first `m` tokens (through an end-of-sequence).

    Raises:
        ValueError: if it is not a 1-D sequence of integer ids in [0, V), is longer than `m`, or
            shorter than `m` without ending in the end-of-sequence token.
    """
    if hasattr(out, "detach"):
        out = out.detach().cpu().numpy()
    arr = np.asarray(out)
    if arr.ndim != 1:
        raise ValueError(f"output must be 1-D, got shape {arr.shape}")
    if arr.size and (arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"output ids must be integers, got dtype {arr.dtype}")
    if arr.size and (arr.min() < 0 or arr.max() >= vocab_size):
        raise ValueError(f"output ids must lie in [0, V) = [0, {vocab_size}), got {arr.tolist()}")
    tokens = [int(t) for t in arr]
    if eos_token_id is not None and eos_token_id in tokens:
        tokens = tokens[: tokens.index(eos_token_id) + 1]
    if len(tokens) > m:
        raise ValueError(f"output holds {len(tokens)} new tokens, more than max_new_tokens = {m}")
    if len(tokens) < m and (not tokens or tokens[-1] != eos_token_id):
        raise ValueError(
            f"output holds {len(tokens)} new tokens, fewer than max_new_tokens = {m}, and does "
            "not end with the end-of-sequence token"
        )
    return tuple(tokens)


def collect_generations(
    fn: GenerateFn,
    prompt: Sequence[int],
    m: int,
    n: int,
    vocab_size: int,
    eos_token_id: int | None,
    seed: int = 0,
    on_sample: Callable[[], None] | None = None,
) -> GenerationSamples:
    """Call `fn(prompt, m, seed + s)` for `s < n`; catch every failure."""
    samples = GenerationSamples()
    start = time.perf_counter()
    for s in range(n):
        try:
            out = fn(list(prompt), m, seed + s)
        except ImplementationCrashed as exc:
            samples.error = f"sample {s}: {exc}"
            break
        except Exception as exc:  # noqa: BLE001 - the implementation's errors are the verdict
            samples.error = f"sample {s}: {type(exc).__name__}: {exc}"
            break
        try:
            samples.outputs.append(check_generated(out, m, vocab_size, eos_token_id))
        except ValueError as exc:
            samples.error = f"sample {s}: malformed output: {exc}"
            break
        if on_sample is not None:
            on_sample()
    samples.seconds = time.perf_counter() - start
    return samples


def law_tests(
    target: TargetLaw,
    prompt: Sequence[int],
    m: int,
    outputs: Sequence[tuple[int, ...]],
    test: str = "chi2",
    delta: float = DEFAULT_ALPHA,
    max_cells: int = 5000,
) -> dict[str, FitResult]:
    """The tests of the module docstring on generated outputs."""
    v = target.vocab_size
    tests: dict[str, FitResult] = {}
    if v**m <= max_cells:
        law = target.joint_law(prompt, m)
        keys = list(law)
        index = {k: i for i, k in enumerate(keys)}
        counts = np.zeros(len(keys) + 1, dtype=np.int64)
        for out in outputs:
            counts[index.get(out, len(keys))] += 1
        probs = np.array([*law.values(), 0.0])
        labels = [" ".join(map(str, k)) for k in keys] + ["impossible"]
        tests["joint"] = goodness_of_fit(
            counts, probs / probs.sum(), test, MIN_EXPECTED, delta, labels
        )
    first = target.next_probs(prompt)
    counts = np.bincount([o[0] for o in outputs if o], minlength=v)
    tests["first"] = goodness_of_fit(counts, first, test, MIN_EXPECTED, delta)
    from .positions import position_tests

    tests.update(position_tests(target, prompt, m, outputs, test, delta))
    if v**m > max_cells and m >= 2:
        n = len(outputs)
        frequent = [int(t) for t in np.argsort(-first)[:8] if n * first[t] >= 100]
        for t in frequent:
            if t == target.eos_token_id:
                continue
            seconds = [o[1] for o in outputs if len(o) >= 2 and o[0] == t]
            if not seconds:
                continue
            cond = target.next_probs((*prompt, t))
            tests[f"next|{t}"] = goodness_of_fit(
                np.bincount(seconds, minlength=v), cond, test, MIN_EXPECTED, delta
            )
    return tests


def greedy_configuration(
    name: str,
    fn: GenerateFn,
    target: TargetLaw,
    prompts: Sequence[Sequence[int]],
    m: int,
) -> Configuration:
    """Compare a greedy implementation with the float64 argmax path on every prompt."""
    config = Configuration(name=name, deterministic=True)
    checked = mismatches = skipped = 0
    examples = []
    start = time.perf_counter()
    for i, prompt in enumerate(prompts):
        reference, margin = target.greedy_path(prompt, m)
        if margin < GREEDY_MARGIN:
            skipped += 1
            continue
        try:
            out = check_generated(fn(list(prompt), m, i), m, target.vocab_size, target.eos_token_id)
        except ImplementationCrashed as exc:
            config.error = f"prompt {i}: {exc}"
            break
        except Exception as exc:  # noqa: BLE001 - the implementation's errors are the verdict
            config.error = f"prompt {i}: {type(exc).__name__}: {exc}"
            break
        checked += 1
        if out != reference:
            mismatches += 1
            if len(examples) < 3:
                examples.append({"prompt": list(prompt), "expected": reference, "got": out})
    config.n_samples = checked
    config.details = {
        "prompts": len(prompts),
        "skipped_near_ties": skipped,
        "mismatches": mismatches,
        "examples": examples,
        "seconds": time.perf_counter() - start,
    }
    if config.error is None and checked:
        config.tests["greedy"] = FitResult(
            statistic=float(mismatches),
            dof=0,
            p_value=0.0 if mismatches else 1.0,
            n=checked,
            cells=1,
            tv_hat=mismatches / checked,
            tv_upper=1.0 if mismatches else 1 - DEFAULT_ALPHA ** (1 / checked),
            impossible=mismatches,
        )
    return config


def sampling_configuration(
    name: str,
    fn: GenerateFn,
    target: TargetLaw,
    prompt: Sequence[int],
    m: int,
    n: int,
    test: str = "chi2",
    delta: float = DEFAULT_ALPHA,
    seed: int = 0,
    on_sample: Callable[[], None] | None = None,
) -> Configuration:
    """Sample `fn` `n` times and test the outputs against the target's exact law."""
    samples = collect_generations(
        fn, prompt, m, n, target.vocab_size, target.eos_token_id, seed, on_sample
    )
    config = Configuration(
        name=name,
        n_samples=len(samples.outputs),
        error=samples.error,
        details={
            "seconds": samples.seconds,
            "samples_per_second": len(samples.outputs) / samples.seconds
            if samples.seconds
            else None,
            "prompt": list(prompt),
            "max_new_tokens": m,
            "processing": target.processing.label(),
        },
    )
    if samples.error is None and samples.outputs:
        from .positions import position_paths

        config.tests = law_tests(target, prompt, m, samples.outputs, test, delta)
        config.path_tests = position_paths(m, joint="joint" in config.tests)
    return config


def audit_generate(
    fn: GenerateFn,
    target: TargetLaw,
    prompt: Sequence[int],
    max_new_tokens: int = 2,
    n_samples: int = 2000,
    alpha: float = DEFAULT_ALPHA,
    tv: float = DEFAULT_TV,
    power: float = DEFAULT_POWER,
    test: str = "chi2",
    seed: int = 0,
    on_progress: Callable[[str, int], None] | None = None,
) -> Audit:
    """Audit one generate function against `target`'s exact law (one configuration).

    Raises:
        ValueError: if `max_new_tokens` or `n_samples` is below 1.
    """
    if max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens!r}")
    if n_samples < 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples!r}")
    done = [0]

    def tick() -> None:
        done[0] += 1
        if on_progress is not None:
            on_progress("generate", done[0])

    config = sampling_configuration(
        "generate", fn, target, prompt, max_new_tokens, n_samples, test, alpha, seed, tick
    )
    return decide([config], alpha, tv, power)


def two_sample_configuration(
    name: str,
    fn: GenerateFn,
    baseline: GenerateFn,
    prompt: Sequence[int],
    m: int,
    n: int,
    vocab_size: int,
    eos_token_id: int | None,
    delta: float = DEFAULT_ALPHA,
    seed: int = 0,
    on_sample: Callable[[], None] | None = None,
) -> Configuration:
    """Two-sample mode: compare `fn` with `baseline` (plain sampling) when no exact law exists.

    Both are sampled `n` times (seeds `seed + s` and `seed + n + s`, so the arms are
    independent); the tuples of the first `m` tokens are compared by the chi-square test of
    homogeneity ([`homogeneity`][specproof.audit.stats.homogeneity]), and so are the
    first tokens; Bonferroni-combined like every configuration.
    """
    from .stats import homogeneity

    arm = collect_generations(fn, prompt, m, n, vocab_size, eos_token_id, seed, on_sample)
    config = Configuration(name=name, n_samples=len(arm.outputs), error=arm.error)
    if arm.error is not None:
        return config
    base = collect_generations(
        baseline, prompt, m, n, vocab_size, eos_token_id, seed + n, on_sample
    )
    if base.error is not None:
        config.error = f"baseline: {base.error}"
        return config
    keys = sorted(set(arm.outputs) | set(base.outputs))
    index = {k: i for i, k in enumerate(keys)}
    a = np.bincount([index[o] for o in arm.outputs], minlength=len(keys))
    b = np.bincount([index[o] for o in base.outputs], minlength=len(keys))
    labels = [" ".join(map(str, k)) for k in keys]
    config.tests["joint"] = homogeneity(a, b, MIN_EXPECTED, delta, labels)
    firsts = sorted({o[0] for o in arm.outputs} | {o[0] for o in base.outputs})
    findex = {t: i for i, t in enumerate(firsts)}
    fa = np.bincount([findex[o[0]] for o in arm.outputs], minlength=len(firsts))
    fb = np.bincount([findex[o[0]] for o in base.outputs], minlength=len(firsts))
    config.tests["first"] = homogeneity(fa, fb, MIN_EXPECTED, delta, [str(t) for t in firsts])
    config.details = {"mode": "two-sample", "baseline_samples": len(base.outputs)}
    return config
