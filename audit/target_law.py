r"""The target's exact law at the generation level: float64 logits processing and enumeration.

The auditor runs the target model itself in float64 and applies the same logits processing in
numpy float64 ([`Processing`][specproof.audit.target_law.Processing], transformers' documented
semantics: repetition penalty, then temperature, then top-k, then top-p). The exact law of the
first $m$ new tokens is then enumerated prefix by prefix (end-of-sequence absorbing). Both
names are also importable from [`generation`][specproof.audit.generation].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np


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
    """Exact next-token laws of a causal LM under [`Processing`][specproof.audit.target_law.Processing], in float64.

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
