"""GPU check and timing: verify kernels vs the exact CPU reference, then AR vs SD at real sizes.

One prepared script for a CUDA machine (it runs on CPU too: `--smoke` uses tiny sizes, so CI can
run it). Three parts, one JSON file (`bench/results/gpu.json`, or `--out DIR`):

1. **Kernel conformance**: for `sd`, `exact_match` and `greedy`, random rounds whose
   probabilities and uniforms are dyadic rationals (exact in float64, so every product, sum and
   comparison of the kernels is exact) are verified on the device in float64 and by the exact
   reference (`specproof.reference`, Fractions, on the CPU); every row must agree token for
   token. float32 on the device is compared with float64 on the device (mismatches reported).
2. **Kernel throughput**: verified draft tokens per second of `verify_batch` on the device at
   V = 32,000 and V = 262,144 (float32, `check_values=False`, as the generation loop could).
3. **Generation**: tokens/s of specproof AR and SD, and of transformers' own generate with and
   without `assistant_model`, on random-initialised GPTBigCode (StarCoder architecture) models
   of real sizes: a ~1B target and a ~100M draft (bfloat16 on CUDA; tiny float32 models with
   `--smoke`).
4. **DSI**: the target's and drafter's measured latencies on the device (time to first token,
   per-token latency), then the expected per-token latency of SI and DSI at those latencies
   for a sweep of acceptance rates and lookaheads (exact, `specproof.reference.dsi`), and one
   online DSI run with sleeping workers at the measured latencies
   (`specproof.engine.dsi.hf.gpu_section`).

The GPU's name is recorded in the results' `machine.gpu` and in the first table.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (  # noqa: E402
    goal,
    set_assistant,
    specproof_new_tokens,
    table,
    transformers_options,
    write_results,
)

from specproof.engine.adapters import to_verdict  # noqa: E402
from specproof.engine.dsi.hf import gpu_section  # noqa: E402
from specproof.engine.models import load_model  # noqa: E402
from specproof.engine.verify import ALGORITHMS as ENGINE_ALGORITHMS  # noqa: E402
from specproof.engine.verify import verify_batch  # noqa: E402
from specproof.reference import Dist  # noqa: E402
from specproof.reference.laws import VERIFIERS, get_verifier  # noqa: E402

# The per-position verifiers with an engine form (TLI and the union baseline have engine verify
# functions too, but their reference is a round kernel over two vocabularies, not a verifier).
ALGORITHMS = tuple(a for a in ENGINE_ALGORITHMS if a in VERIFIERS)
from specproof.reference.verifier import Draws  # noqa: E402

DENOMINATOR_BITS = 12
UNIFORM_BITS = 20

FULL = {
    "target": "random-starcoder-1b",
    "draft": "random-starcoder-100m",
    "new_tokens": 128,
    "k": 4,
    "conformance_rounds": 200,
    "vocab_sizes": [32000, 262144],
    "kernel_batch": 256,
    "dsi_target": "random-llama:layers=16,hidden=2048,heads=16,vocab=32000",
    "dsi_drafter": "random-llama:layers=2,hidden=512,heads=8,vocab=32000",
}
SMOKE = {
    "target": "random-starcoder-tiny",
    "draft": "random-starcoder-tiny:seed=1,layers=1",
    "new_tokens": 16,
    "k": 3,
    "conformance_rounds": 20,
    "vocab_sizes": [1024],
    "kernel_batch": 8,
    "dsi_target": "random-llama:layers=2,hidden=64,heads=4,vocab=512",
    "dsi_drafter": "random-llama:layers=1,hidden=32,heads=2,vocab=512",
}


def dyadic_row(rng: random.Random, vocab: int) -> list[Fraction]:
    """A random distribution whose entries are multiples of 2**-DENOMINATOR_BITS."""
    total = 2**DENOMINATOR_BITS
    cuts = sorted(rng.randint(0, total) for _ in range(vocab - 1))
    parts = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
    return [Fraction(p, total) for p in parts]


def conformance(device: torch.device, rounds: int, seed: int = 0) -> list[list[Any]]:
    """Device float64 vs the exact reference; device float32 vs device float64."""
    rng = random.Random(seed)
    rows = []
    for algorithm in ALGORITHMS:
        exact_mismatch = float_mismatch = 0
        for _ in range(rounds):
            vocab, k = rng.randint(2, 12), rng.randint(0, 4)
            target = [dyadic_row(rng, vocab) for _ in range(k + 1)]
            draft = [dyadic_row(rng, vocab) for _ in range(k)]
            tokens = []
            for row in draft:
                support = [t for t in range(vocab) if row[t] > 0]
                tokens.append(rng.choice(support))
            accept_u = [Fraction(rng.randrange(2**UNIFORM_BITS), 2**UNIFORM_BITS) for _ in range(k)]
            final_u = Fraction(rng.randrange(2**UNIFORM_BITS), 2**UNIFORM_BITS)
            expected = get_verifier(algorithm).verify(
                [Dist.over(range(vocab), r) for r in target],
                [Dist.over(range(vocab), r) for r in draft],
                tokens,
                Draws(tuple(accept_u), final_u),
            )
            verdicts = {}
            for dtype in (torch.float64, torch.float32):

                def tensor(values: Any, dtype: torch.dtype = dtype) -> torch.Tensor:
                    return torch.tensor(values, dtype=torch.float64, device=device).to(dtype)

                verdict = verify_batch(
                    algorithm,
                    tensor([[[float(p) for p in r] for r in target]]),
                    tensor([[[float(p) for p in r] for r in draft]]).reshape(1, k, vocab),
                    torch.tensor([tokens], dtype=torch.int64, device=device).reshape(1, k),
                    tensor([[float(u) for u in accept_u]]).reshape(1, k),
                    tensor([float(final_u)]),
                )
                verdicts[dtype] = to_verdict(verdict, 0, k)
            exact_mismatch += verdicts[torch.float64] != expected
            float_mismatch += verdicts[torch.float32] != verdicts[torch.float64]
        rows.append([algorithm, rounds, exact_mismatch, float_mismatch])
    return rows


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def kernel_throughput(device: torch.device, vocab_sizes: list[int], batch: int, k: int) -> list:
    rows = []
    generator = torch.Generator(device=device).manual_seed(0)
    for vocab in vocab_sizes:
        p = torch.softmax(torch.randn(batch, k + 1, vocab, generator=generator, device=device), -1)
        q = torch.softmax(torch.randn(batch, k, vocab, generator=generator, device=device), -1)
        x = torch.multinomial(q.reshape(-1, vocab), 1, generator=generator).reshape(batch, k)
        u = torch.rand(batch, k, generator=generator, device=device)
        final = torch.rand(batch, generator=generator, device=device)
        for algorithm in ALGORITHMS:
            verify_batch(algorithm, p, q, x, u, final, check_values=False)
            sync(device)
            repeats = 10
            start = time.perf_counter()
            for _ in range(repeats):
                verify_batch(algorithm, p, q, x, u, final, check_values=False)
            sync(device)
            seconds = (time.perf_counter() - start) / repeats
            rows.append([algorithm, vocab, batch, k, seconds * 1e3, batch * k / seconds])
    return rows


def timed(device: torch.device, fn: Any) -> tuple[float, Any]:
    fn()  # warm-up
    sync(device)
    start = time.perf_counter()
    value = fn()
    sync(device)
    return time.perf_counter() - start, value


def generation(device: torch.device, sizes: dict[str, Any]) -> list[list[Any]]:
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    target = load_model(sizes["target"], dtype=dtype, device=device)
    draft = load_model(sizes["draft"], dtype=dtype, device=device)
    ids = target.tokenizer("def fibonacci(n):")["input_ids"]
    new, k = sizes["new_tokens"], sizes["k"]
    rows = []
    for mode in ("sampled", "greedy"):
        for label, kk in (("specproof AR", 0), ("specproof SD", k)):
            seconds, result = timed(
                device,
                lambda kk=kk, mode=mode: specproof_new_tokens(
                    target,
                    draft,
                    ids,
                    mode,
                    kk,
                    new,
                    generator=torch.Generator(device=device).manual_seed(0),
                ),
            )
            stats = result.stats
            rows.append(
                [mode, label, new / seconds, stats.acceptance_rate, stats.tokens_per_target_call]
            )
        set_assistant(draft.model, k)
        kwargs: dict[str, Any] = {
            "max_new_tokens": new,
            "min_new_tokens": new,
            **transformers_options(mode, target.eos_token_id),
        }
        for label, extra in (
            ("transformers AR", {}),
            ("transformers assisted", {"assistant_model": draft.model}),
        ):

            def call(extra: dict[str, Any] = extra, kwargs: dict[str, Any] = kwargs) -> Any:
                with torch.inference_mode():
                    return target.model.generate(
                        torch.tensor([ids], device=device), **kwargs, **extra
                    )

            seconds, _ = timed(device, call)
            rows.append([mode, label, new / seconds, None, None])
    sizes_note = (
        f"target {sizes['target']} ({target.num_parameters / 1e6:.0f}M parameters), "
        f"draft {sizes['draft']} ({draft.num_parameters / 1e6:.0f}M), {dtype}"
    )
    return rows, sizes_note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CPU smoke test)")
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    sizes = SMOKE if args.smoke else FULL
    gpu = torch.cuda.get_device_name(0) if device.type == "cuda" else None
    print(f"device: {device} ({gpu or 'no GPU'}), sizes: {'smoke' if args.smoke else 'full'}")
    conf_rows = conformance(device, sizes["conformance_rounds"])
    kernel_rows = kernel_throughput(device, sizes["vocab_sizes"], sizes["kernel_batch"], 4)
    gen_rows, sizes_note = generation(device, sizes)
    dsi = gpu_section(sizes["dsi_target"], sizes["dsi_drafter"], device=str(device))
    tables = [
        table(
            f"Verify kernels on {gpu or device.type} vs the exact CPU reference",
            ["algorithm", "rounds", "float64 mismatches vs reference", "float32 vs float64"],
            conf_rows,
            note="Dyadic probabilities and uniforms: float64 must match the reference exactly.",
        ),
        table(
            f"Verify throughput on {gpu or device.type} (float32)",
            ["algorithm", "V", "B", "K", "ms per call", "draft tokens/s"],
            kernel_rows,
        ),
        table(
            f"Generation on {gpu or device.type}: {sizes_note}",
            ["mode", "method", "tokens/s", "acceptance", "tokens per target call"],
            gen_rows,
        ),
        table(
            f"DSI on {gpu or device.type}: measured latencies (c = {dsi['c']:.3f})",
            ["model", "name", "time to first token ms", "per-token ms"],
            [
                [role, dsi[role], 1000 * lat["ttft_s"], 1000 * lat["tpot_s"]]
                for role, lat in (
                    ("target", dsi["latencies"]["target"]),
                    ("drafter", dsi["latencies"]["drafter"]),
                )
            ],
        ),
        table(
            f"DSI on {gpu or device.type}: expected latency per token at the measured c",
            ["a", "K", "SI", "DSI", "DSI speedup over SI", "DSI speedup over non-SI"],
            [
                [
                    r["a"],
                    r["k"],
                    r["si_per_token"],
                    r["dsi_per_token"],
                    r["dsi_vs_si"],
                    r["dsi_vs_nonsi"],
                ]
                for r in dsi["rows"]
            ],
            note="Random-initialised models: acceptance is swept, not measured. Online run with "
            "sleeping workers at the measured latencies (a = 0.8, K = 5), wall time per token in "
            "target forwards (offline cost on the same pattern): "
            + ", ".join(
                f"{name} {run['per_token']:.3f} ({run['offline_per_token']:.3f})"
                for name, run in dsi["online"]["algorithms"].items()
            ),
        ),
    ]
    exact_ok = all(row[2] == 0 for row in conf_rows)
    targets = [
        goal(
            "device float64 verify == exact reference",
            sum(row[2] for row in conf_rows),
            "0 mismatches",
            exact_ok,
        )
    ]
    write_results(
        "gpu" if not args.smoke else "gpu_smoke",
        "GPU: verify kernels and AR vs SD at real sizes",
        __doc__,
        tables,
        targets=targets,
        directory=args.out,
    )
    return 0 if exact_ok else 1


if __name__ == "__main__":
    sys.exit(main())
