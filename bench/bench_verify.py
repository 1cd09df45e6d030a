"""Batched verify on CPU: verified draft tokens per second (issue target: >= 1e6/s at V = 32k).

Standard SD (`specproof.engine.sd.verify_sd`) on float32 rows shaped like a real round: target
rows are softmaxes of Gaussian logits, draft rows softmaxes of the same logits plus noise
(per-position acceptance rate $\\sum_x \\min(p, q) \\approx 0.8$), drafts sampled from the draft rows, uniforms from a seeded
generator. Throughput counts B*K verified draft tokens per call (best of several calls).

Three implementations side by side: the batched kernel without and with the full NaN/inf scan
(`check_values`), and the plain row-by-row loop (`verify_sd_rowwise`: a Python loop over rows
and positions with a full cumulative sum per drawn token), as a ratio. Exact-match and greedy
are listed for comparison; both must read every target row, so they cost O(B K V).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from common import goal, records, table, write_results

from specproof.engine.sd import verify_sd, verify_sd_rowwise
from specproof.engine.verify import draw_uniforms, verify_batch

SHAPES = [(1, 4), (8, 4), (32, 8), (64, 8), (128, 8), (64, 16), (64, 32), (32, 64)]
VOCABS = [32_000, 262_144]
MAX_ELEMENTS = 2**28  # per probability tensor (1 GiB in float32)


def make_round(batch: int, k: int, vocab: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Float32 target/draft rows, drafts and uniforms for one batch of rounds."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, k + 1, vocab, generator=gen) * 2
    target = torch.softmax(logits, -1)
    noise = torch.randn(batch, k, vocab, generator=gen) * 0.5
    draft = torch.softmax(logits[:, :k] + noise, -1)
    del logits, noise
    tokens = torch.multinomial(draft.reshape(-1, vocab), 1, generator=gen).reshape(batch, k)
    accept_u, final_u = draw_uniforms(gen, batch, k, torch.float32)
    return target, draft, tokens, accept_u, final_u


def best_time(fn: Callable[[], Any], budget_s: float = 1.0, min_repeats: int = 3) -> float:
    """Best wall time over at least `min_repeats` calls, repeating while within `budget_s`."""
    fn()
    best, spent, repeats = float("inf"), 0.0, 0
    while repeats < min_repeats or (spent < budget_s and repeats < 50):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, spent, repeats = min(best, elapsed), spent + elapsed, repeats + 1
    return best


def measure(
    inputs: tuple[torch.Tensor, ...], threads: list[int]
) -> tuple[list[list[Any]], list[list[Any]]]:
    """Time one batch of rounds: SD table rows (one per thread count) and other algorithms."""
    target, _, tokens, _, _ = inputs
    batch, k = tokens.shape
    vocab = target.shape[-1]
    accepted = float(verify_sd(*inputs).n_accepted.double().mean()) / k
    fast = verify_sd(*inputs, check_values=False)
    slow = verify_sd_rowwise(*inputs)
    # The two kernels sum in different orders: a float32 row may differ right at a boundary.
    differing = int((fast.tokens != slow.tokens).any(1).sum())
    rows = []
    for n_threads in threads:
        torch.set_num_threads(n_threads)
        t_fast = best_time(lambda: verify_sd(*inputs, check_values=False))
        t_checked = best_time(lambda: verify_sd(*inputs))
        t_loop = best_time(lambda: verify_sd_rowwise(*inputs), budget_s=0.5, min_repeats=1)
        tokens_per_call = batch * k
        rows.append(
            [
                vocab,
                batch,
                k,
                batch * k,
                n_threads,
                round(accepted, 3),
                tokens_per_call / t_fast,
                tokens_per_call / t_checked,
                tokens_per_call / t_loop,
                t_loop / t_fast,
                t_fast / batch * 1e6,
                differing,
                round(os.getloadavg()[0], 1),
            ]
        )
    torch.set_num_threads(1)
    others = []
    if (batch, k) in ((8, 4), (64, 8)):
        for algorithm in ("exact_match", "greedy"):
            t_alg = best_time(lambda a=algorithm: verify_batch(a, *inputs, check_values=False))
            others.append([algorithm, vocab, batch, k, batch * k / t_alg])
    return rows, others


def read_bandwidth() -> float:
    """Bytes per second one thread reads from memory (best sum over a 256 MiB float32 tensor)."""
    torch.set_num_threads(1)
    big = torch.ones(2**26)
    seconds = best_time(lambda: big.sum(), budget_s=1.0)
    return big.numel() * big.element_size() / seconds


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The run's headline and how it was measured, from the tables written (the page opens with it)."""
    rows = records(tables[0])
    one = [r for r in rows if r["threads"] == 1 and r["V"] == 32000]
    small = [r for r in one if r["K"] <= 8]
    best_small = max(small, key=lambda r: r["batched tok/s"])
    best = max(one, key=lambda r: r["batched tok/s"])
    load = max(r["load average"] for r in rows)
    return (
        f"Batched SD verify at V = 32,000 on one thread reaches {best['batched tok/s']:.2e} "
        f"verified draft tokens/s (B = {best['B']}, K = {best['K']}) but only "
        f"{best_small['batched tok/s']:.2e} at K <= 8 (B = {best_small['B']}, K = "
        f"{best_small['K']}), against a target of 1e6; the 2-thread rows, measured at load "
        f"average up to {load} on 2 cores, are not comparable. Measured on synthetic float32 "
        "rows shaped like a real round, best of several calls."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes only (smoke test)")
    parser.add_argument(
        "--results-dir", type=Path, default=None, help="where to write verify.json (bench/results)"
    )
    args = parser.parse_args()
    shapes = SHAPES[:3] if args.quick else SHAPES
    vocabs = [32_000] if args.quick else VOCABS
    threads = [1] if args.quick else [1, 2]

    start_load = os.getloadavg()
    bandwidth = read_bandwidth()
    rows: list[list[Any]] = []
    other_rows: list[list[Any]] = []
    series: dict[str, list[float | None]] = {}
    for vocab in vocabs:
        for batch, k in shapes:
            if batch * (k + 1) * vocab > MAX_ELEMENTS:
                continue
            measured, others = measure(make_round(batch, k, vocab), threads)
            rows.extend(measured)
            other_rows.extend(others)
            for row in measured:
                series.setdefault(f"V={vocab}, {row[4]} thread(s)", []).append(row[6])
                if row[4] == 1:
                    series.setdefault(f"row loop, V={vocab}, 1 thread", []).append(row[8])

    def best_rate(max_k: int) -> tuple[float, str]:
        candidates = [r for r in rows if r[0] == 32_000 and r[4] == 1 and r[2] <= max_k]
        if not candidates:
            return 0.0, "none"
        top = max(candidates, key=lambda r: r[6])
        return top[6], f"B={top[1]}, K={top[2]}"

    targets = []
    for max_k, label in ((8, "K <= 8"), (max(k for _, k in shapes), "any K")):
        rate, shape = best_rate(max_k)
        targets.append(
            goal(
                f"verified draft tokens/s at V=32k, 1 thread, {label} (best: {shape})",
                round(rate),
                ">= 1e6",
                rate >= 1e6,
            )
        )
    load = os.getloadavg()

    x = [f"{batch}x{k}" for batch, k in shapes]
    plot_series = {
        name: values + [None] * (len(x) - len(values)) for name, values in series.items()
    }
    write_results(
        "verify",
        "Batched verify on CPU",
        __doc__
        + "\n\nCost model: acceptance reads only the gathered $p(x)$, $q(x)$; each batch row then "
        "draws one token from a row of $V$ probabilities (the residual at the first rejection, or "
        "the target after the last draft) with a two-level inverse-CDF search (block sums, then "
        "one block's cumulative sum). So a call costs about $B(K + cV)$: the throughput in draft "
        "tokens grows with $K$, the number of draft tokens that share one $O(V)$ draw. "
        "`check_values=True` adds one pass over both probability tensors, $O(BKV)$. "
        f"One thread reads memory at {bandwidth / 1e9:.1f} GB/s here (sum over 256 MiB), so "
        "reading just the two rows a rejection needs (8V bytes in float32) takes "
        f"{8 * 32_000 / bandwidth * 1e6:.1f} us at V = 32k and "
        f"{8 * 262_144 / bandwidth * 1e6:.1f} us at V = 262,144: the floor of the "
        "'us per batch row' column, and why 1e6 tokens/s on one thread needs K of about "
        f"{8 * 32_000 / bandwidth * 1e6:.0f} or more at V = 32k. "
        f"Load average when the run started: {start_load[0]:.1f}; when it ended: {load[0]:.1f} "
        f"(the machine has {os.cpu_count()} cores and may be shared: the 2-thread rows in "
        "particular suffer when another process holds a core).",
        [
            table(
                "Standard SD, float32: verified draft tokens per second",
                [
                    "V",
                    "B",
                    "K",
                    "B*K",
                    "threads",
                    "accepted / K",
                    "batched tok/s",
                    "batched + full scan tok/s",
                    "row loop tok/s",
                    "batched / row loop",
                    "us per batch row",
                    "rows differing from the loop",
                    "load average",
                ],
                rows,
                note="batched: verify_sd(check_values=False); full scan: verify_sd() (scans every "
                "probability for NaN/inf/negatives); row loop: verify_sd_rowwise.",
            ),
            table(
                "Exact-match and greedy, float32, 1 thread (read every target row)",
                ["algorithm", "V", "B", "K", "tok/s"],
                other_rows,
            ),
        ],
        plots=[
            {
                "title": "Standard SD verify throughput (float32; batched without full scan, and the row loop)",
                "kind": "bar",
                "x": x,
                "series": plot_series,
                "xlabel": "B x K",
                "ylabel": "verified draft tokens / s",
                "logy": True,
            }
        ],
        targets=targets,
        directory=args.results_dir,
        finding=finding,
    )


if __name__ == "__main__":
    main()
