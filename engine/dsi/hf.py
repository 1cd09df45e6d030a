"""Hugging Face workers for the DSI runtime (greedy), and the GPU benchmark section.

Models come from [`specproof.engine.models.loading.load_model`][specproof.engine.models.loading.load_model]
(`smollm2`, `smollm2:layers=8`, `gemma3`, `random-...`, `tiny-...`). Both workers keep a KV
cache and reuse the longest prefix it shares with the next request (cropping it after a
rejection), so a worker's cost per call is that of the new positions only.

Workers are built inside their server (thread or Ray actor) from a picklable
[`HFWorkerSpec`][specproof.engine.dsi.hf.HFWorkerSpec], so the same spec runs locally or on
another GPU or machine.

torch is imported inside the functions that use it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HFWorkerSpec:
    """How to build a worker: `HFWorkerSpec("smollm2", "target")()` loads it.

    Attributes:
        model: a `load_model` name.
        role: `"target"` or `"drafter"`.
        device: torch device (`"cpu"`, `"cuda"`, `"cuda:1"`, ...).
        threads: torch intra-op threads in this worker's process (CPU).
    """

    model: str
    role: str = "target"
    device: str = "cpu"
    threads: int = 1

    def __call__(self) -> HFWorker:
        """Load the model and return the worker."""
        if self.role not in ("target", "drafter"):
            raise ValueError(f"role must be 'target' or 'drafter', got {self.role!r}")
        import torch

        from specproof.engine.models import load_model

        if self.device == "cpu":
            torch.set_num_threads(self.threads)
        loaded = load_model(self.model, device=self.device)
        return HFWorker(loaded.model, self.device)


class HFWorker:
    """A causal LM with a prefix-reusing KV cache: greedy drafter and greedy target in one."""

    def __init__(self, model: Any, device: str = "cpu") -> None:
        import inspect

        self.model, self.device = model, device
        self._tokens: list[int] = []
        self._cache: Any = None
        self._lock = threading.Lock()
        # transformers 5 renamed `past_key_values` to `cache`; older versions know the former.
        parameters = inspect.signature(model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in parameters else "past_key_values"

    def _logits(self, sequence: Sequence[int], first: int) -> Any:
        """Logits `[len(sequence) - first + 1, V]`: the rows that predict positions `first ..`."""
        import torch
        from transformers import DynamicCache

        sequence = [int(t) for t in sequence]
        common = 0
        for mine, theirs in zip(self._tokens, sequence, strict=False):
            if mine != theirs:
                break
            common += 1
        reuse = min(common, first - 1)
        if self._cache is None or reuse <= 0:
            self._cache, reuse = DynamicCache(config=self.model.config), 0
        elif reuse < len(self._tokens):
            self._cache.crop(reuse - len(self._tokens))  # a negative count: tokens to remove
        ids = torch.tensor([sequence[reuse:]], dtype=torch.long, device=self.device)
        with torch.no_grad():
            out = self.model(input_ids=ids, use_cache=True, **{self._cache_kwarg: self._cache})
        self._tokens = sequence
        return out.logits[0, first - 1 - reuse :]

    def next_token(
        self, sequence: Sequence[int], fresh: bool, cancel: threading.Event | None = None
    ) -> int:
        """The greedy next token after `sequence`."""
        with self._lock:
            return int(self._logits(sequence, len(sequence)).argmax(-1)[-1])

    def target_tokens(
        self, sequence: Sequence[int], start: int, cancel: threading.Event | None = None
    ) -> list[int]:
        """Greedy tokens at positions `start .. len(sequence)`, up to the first mismatch."""
        if start < 1:
            raise ValueError("the target needs a non-empty prompt (start >= 1)")
        with self._lock:
            best = self._logits(sequence, start).argmax(-1).tolist()
        out: list[int] = []
        for offset, token in enumerate(best):
            out.append(int(token))
            position = start + offset
            if position < len(sequence) and sequence[position] != token:
                break
        return out


def measure_latencies(worker: HFWorker, prompt: Sequence[int], steps: int = 8) -> dict[str, float]:
    """Time to first token (one forward on the prompt) and per-token latency (cached decode)."""
    sequence = list(prompt)
    start = time.perf_counter()
    sequence.append(worker.next_token(sequence, True))
    ttft = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        sequence.append(worker.next_token(sequence, False))
    return {"ttft_s": ttft, "tpot_s": (time.perf_counter() - start) / steps}


def compare_on_models(
    target: str,
    drafter: str,
    prompt_ids: Sequence[int],
    max_new_tokens: int,
    lookahead: int = 4,
    servers: int = 2,
    device: str = "cpu",
    backend: str = "local",
    threads: int = 1,
) -> dict[str, Any]:
    """Non-SI, SI and DSI (greedy) on real models: wall times and whether outputs match.

    Every server of DSI loads its own copy of the target (threads share the process; Ray actors
    load in their own processes). On a 2-core CPU the drafter and the target servers compete for
    the same two cores, so DSI's concurrency is mostly lost there: the numbers are honest
    measurements of this machine, not of a multi-GPU node.
    """
    from specproof.dsi.runtime import DSIConfig, make_servers, run_dsi, run_nonsi, run_si

    target_spec = HFWorkerSpec(target, "target", device, threads)
    drafter_spec = HFWorkerSpec(drafter, "drafter", device, threads)
    target_worker, drafter_worker = target_spec(), drafter_spec()
    run_nonsi(prompt_ids, 2, target_worker)  # warm-up
    latencies = {
        "target": measure_latencies(target_worker, prompt_ids),
        "drafter": measure_latencies(drafter_worker, prompt_ids),
    }
    nonsi = run_nonsi(prompt_ids, max_new_tokens, target_worker)
    si = run_si(prompt_ids, max_new_tokens, drafter_worker, target_worker, lookahead)
    pool = make_servers(target_spec, servers, backend)
    chain = make_servers(target_spec, 1, backend, "chain")[0]
    draft_server = make_servers(drafter_spec, 1, backend, "drafter")[0]
    try:
        run_dsi(prompt_ids, 2, draft_server, pool, chain, DSIConfig(lookahead=lookahead))  # warm-up
        dsi = run_dsi(
            prompt_ids, max_new_tokens, draft_server, pool, chain, DSIConfig(lookahead=lookahead)
        )
    finally:
        for server in [*pool, chain, draft_server]:
            server.close()
    return {
        "target": target,
        "drafter": drafter,
        "device": device,
        "backend": backend,
        "lookahead": lookahead,
        "servers": servers,
        "tokens": max_new_tokens,
        "latencies": latencies,
        "c_measured": latencies["drafter"]["tpot_s"] / latencies["target"]["tpot_s"],
        "si_acceptance_per_draft": si.stats.accepted / max(si.stats.drafted, 1),
        "si_tokens_per_round": max_new_tokens / max(si.stats.jobs, 1),
        "seconds": {"nonsi": nonsi.stats.seconds, "si": si.stats.seconds, "dsi": dsi.stats.seconds},
        "identical_to_target_greedy": si.tokens == nonsi.tokens and dsi.tokens == nonsi.tokens,
        "dsi_stats": dsi.stats.to_json(),
    }


def gpu_section(
    target: str = "random-llama:layers=16,hidden=2048,heads=16,vocab=32000",
    drafter: str = "random-llama:layers=2,hidden=512,heads=8,vocab=32000",
    device: str = "cuda",
    acceptance: Sequence[float] = (0.5, 0.7, 0.8, 0.9),
    lookaheads: Sequence[int] = (1, 3, 5, 10),
) -> dict[str, Any]:
    """The DSI part of `bench/gpu.py`: measured latencies on the device, then simulated speedups.

    Measures the target's and drafter's time to first token and per-token latency on `device`
    (random-initialised models of real sizes: their acceptance is meaningless, so acceptance
    rates are swept), then gives the offline expected speedups of DSI over SI and non-SI for
    every (acceptance, lookahead) with $c$ = measured drafter/target latency ratio, plus one
    online (sleeping) DSI run with the measured latencies to check the runtime's overhead.

    Returns:
        JSON data: `latencies`, `c`, `rows` (a, K, SI, DSI per token, speedups) and `online`.
    """
    import torch

    from specproof.dsi.online import run_online_simulation
    from specproof.reference import dsi as ref

    prompt = list(range(1, 65))
    target_worker = HFWorkerSpec(target, "target", device)()
    drafter_worker = HFWorkerSpec(drafter, "drafter", device)()
    measure_latencies(target_worker, prompt, 2)  # warm-up (kernels, allocator)
    measure_latencies(drafter_worker, prompt, 2)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    latencies = {
        "target": measure_latencies(target_worker, prompt, 16),
        "drafter": measure_latencies(drafter_worker, prompt, 16),
    }
    c = min(1.0, latencies["drafter"]["tpot_s"] / latencies["target"]["tpot_s"])
    rows = []
    for a in acceptance:
        for k in lookaheads:
            si, dsi = ref.si_latency_per_token(c, a, k), ref.dsi_latency_per_token(c, a, k)
            rows.append(
                {
                    "a": a,
                    "k": k,
                    "si_per_token": si,
                    "dsi_per_token": dsi,
                    "dsi_vs_si": si / dsi,
                    "dsi_vs_nonsi": 1 / dsi,
                }
            )
    online = run_online_simulation(
        c, 0.8, 5, tokens=40, target_ms=1000 * latencies["target"]["tpot_s"],
        target_first_ms=1000 * latencies["target"]["ttft_s"],
        drafter_first_ms=1000 * latencies["drafter"]["ttft_s"],
    )  # fmt: skip
    return {
        "device": device,
        "target": target,
        "drafter": drafter,
        "latencies": latencies,
        "c": c,
        "rows": rows,
        "online": online,
    }
