"""Wall-clock: SD with a pruned-head self-drafter (vanilla and RDK) against plain decoding.

Target: Gemma-3-270M. Drafter: the same model with its LM head pruned to the most frequent 10%
of the vocabulary (`PrunedHead`). Target and drafter share the transformer body, so the drafter's
hidden state at a drafted position *is* the target's: verifying a round costs only the full head
on the K + 1 hidden states (one batched matmul), never a second body pass. What SD saves is the
full head (262,144 x 640 weights, read once per round instead of once per token); what it pays
is a body step for every drafted token, rejected ones included.

The loop here is a benchmark-local self-speculative loop (the project's `specproof generate` does
not yet take a drafter object): per round, K drafts by the pinned two-stage RDK draw (vanilla:
the identity kernel, i.e. the pruned softmax itself), then `verify_rdk` (standard SD on the
proposal rows) with explicit uniforms, then the KV cache cropped to the committed tokens. Plain
decoding is the same body with the full head, one token at a time. Sampling at temperature 1;
the cost ratio c is a pruned drafter step over a full-head step, measured here.

Prompts: the first `--prompts` of HumanEval prompts 120-163 and of the prose openings; `--new-tokens` tokens each; the
methods take turns per prompt (round robin) because the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import torch
from bench_rdk import PROSE_EVAL, humaneval_prompts, stdlib_texts
from common import table, write_results

from specproof.engine.kernels import draw_uniforms, inverse_cdf_rows
from specproof.engine.models import load_model
from specproof.engine.pruned import (
    PrunedHead,
    frequency_mix,
    frequency_prior,
    keep_most_frequent,
    token_counts,
)
from specproof.engine.rdk import RankOneKernel, draft_rdk, verify_rdk

K = 4


@torch.no_grad()
def plain(head_full: PrunedHead, ids: list[int], new: int, gen: torch.Generator) -> list[int]:
    """Autoregressive sampling with the full head."""
    hidden, cache = head_full.hidden_states(torch.tensor([ids]))
    out: list[int] = []
    for _ in range(new):
        probs = head_full.source_rows(hidden[:, -1])
        token = int(torch.multinomial(probs, 1, generator=gen))
        out.append(token)
        hidden, cache = head_full.hidden_states(torch.tensor([[token]]), cache)
    return out


@torch.no_grad()
def speculative(
    head_full: PrunedHead,
    drafter: PrunedHead,
    kernel: Any,
    ids: list[int],
    new: int,
    gen: torch.Generator,
) -> tuple[list[int], int, int]:
    """Self-speculative sampling; returns (tokens, rounds, accepted drafts)."""
    hidden, cache = drafter.hidden_states(torch.tensor([ids[:-1]]))
    committed = len(ids) - 1  # tokens in the cache
    last = ids[-1]
    out: list[int] = []
    rounds = accepted_total = 0
    while len(out) < new:
        states, proposals, drafts = [], [], []
        token = last
        for i in range(K + 1):
            hidden, cache = drafter.hidden_states(torch.tensor([[token]]), cache)
            states.append(hidden[:, -1])
            if i == K:
                break
            source = drafter.source_rows(hidden[:, -1]).double()
            u1, u2 = torch.rand(2, 1, generator=gen, dtype=torch.float64)
            if kernel is None:  # vanilla: the pruned softmax itself
                proposal, token = source, int(inverse_cdf_rows(source, u1))
            else:
                proposal = kernel.propose(source)
                token = int(draft_rdk(source, kernel, u1, u2)[1])
            proposals.append(proposal[0])
            drafts.append(token)
        target = head_full.source_rows(torch.cat(states)).double()
        accept_u, final_u = draw_uniforms(gen, 1, K, torch.float64)
        verdict = verify_rdk(
            target.unsqueeze(0),
            torch.stack(proposals).unsqueeze(0),
            torch.tensor([drafts]),
            accept_u,
            final_u,
            check_values=False,
        )
        n = int(verdict.n_accepted[0])
        tokens = verdict.row(0)
        # Cache holds last + K drafts; keep last + the n accepted ones.
        if n < K:  # transformers 5: a negative crop removes that many tokens from the end
            cache.crop(-(K - n))
        committed += 1 + n
        last = tokens[-1]
        out.extend(tokens)
        rounds += 1
        accepted_total += n
    return out[:new], rounds, accepted_total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--keep", type=float, default=0.1)
    parser.add_argument("--prompts", type=int, default=2, help="prompts per text kind")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stdlib-bytes", type=int, default=2_000_000)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model = load_model("gemma3")
    vocab = model.vocab_size
    prompts = humaneval_prompts()
    corpus = prompts[:120] + stdlib_texts(args.stdlib_bytes)
    counts = token_counts((model.tokenizer(t)["input_ids"] for t in corpus), vocab) + 1e-3
    kept = keep_most_frequent(counts, args.keep)
    full = PrunedHead(model.model, torch.arange(vocab))
    drafter = PrunedHead(model.model, kept)
    mix = frequency_mix(counts, kept)
    rdk = RankOneKernel(frequency_prior(counts, kept), mix)
    texts = {"HumanEval": prompts[120 : 120 + args.prompts], "prose": PROSE_EVAL[: args.prompts]}
    methods = {
        "plain decoding": None,
        "SD vanilla (pruned head)": "vanilla",
        "SD RDK rank-one": rdk,
    }
    seconds = {(s, m): 0.0 for s in texts for m in methods}
    produced = {(s, m): 0 for s in texts for m in methods}
    stats = {(s, m): [0, 0] for s in texts for m in methods}
    for name, group in texts.items():
        for i, text in enumerate(group):
            ids = model.tokenizer(text)["input_ids"][:128]
            for method, kernel in methods.items():
                gen = torch.Generator().manual_seed(i)
                t0 = time.perf_counter()
                if kernel is None:
                    tokens = plain(full, ids, args.new_tokens, gen)
                else:
                    tokens, rounds, acc = speculative(
                        full,
                        drafter,
                        None if kernel == "vanilla" else kernel,
                        ids,
                        args.new_tokens,
                        gen,
                    )
                    stats[name, method][0] += rounds
                    stats[name, method][1] += acc
                seconds[name, method] += time.perf_counter() - t0
                produced[name, method] += len(tokens)
                print(name, i, method, f"{time.perf_counter() - t0:.1f} s", flush=True)
    rows = []
    for name in texts:
        base = produced[name, "plain decoding"] / seconds[name, "plain decoding"]
        for method in methods:
            rate = produced[name, method] / seconds[name, method]
            rounds, acc = stats[name, method]
            rows.append(
                [
                    name,
                    method,
                    round(rate, 2),
                    round(rate / base, 3),
                    round(acc / (rounds * K), 3) if rounds else "",
                    round(produced[name, method] / rounds, 2) if rounds else "",
                ]
            )
    write_results(
        "rdk_speed",
        "RDK: wall-clock speed of a pruned-head self-drafter on Gemma-3-270M",
        __doc__ + f"\n\nHead kept: {args.keep:.0%} ({kept.numel()} tokens); implementable "
        f"lambda = {mix:.4f}; K = {K}; {args.new_tokens} new tokens per prompt. "
        f"Run time {time.perf_counter() - start:.0f} s.",
        [
            table(
                "Tokens/s, sampling at temperature 1",
                ["texts", "method", "tokens/s", "speed-up vs plain", "acceptance", "tokens/round"],
                rows,
                "Shared 2-core machine under load from other jobs: expect +-20% noise.",
            )
        ],
    )


if __name__ == "__main__":
    main()
