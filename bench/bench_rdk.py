"""RDK on a real model: what redistribution recovers when a drafter's LM head is pruned.

Target: Gemma-3-270M (V = 262,144). Drafter: the same model with its LM head pruned to the most
frequent tokens (`specproof.engine.pruned.PrunedHead`); its pruned softmax is exactly TLI of the
target's row, so vanilla SD accepts with probability p(D) at every position. A second drafter,
SmolLM2-135M through TLI (D = the tokens both vocabularies share, q' = TLI of its row), gets the
same methods. Teacher-forced:
every position of held-out texts (HumanEval prompts 120-163 and prose written for this script)
gives one target row p and one drafter row q', and each method's exact per-position acceptance
sum_t min(p, proposal) is averaged (no sampling noise).

Token frequencies (the choice of D, the prior r and the implementable mixing weight) come from a
corpus the evaluation never sees: token counts of HumanEval prompts 0-119, other prose and the
Python standard library's own source (a few MB, so that frequencies rank more than the few
thousand tokens the prompts alone contain), plus the model's own expected counts (the sum of its
next-token rows over the first HumanEval prompts: the expectation of counting its own samples,
which also ranks the tokens the corpus never shows). Methods per pruning level:

- vanilla: standard SD with q' (alpha = p(D));
- RDK rank-one, lambda = corpus share of the pruned tokens (implementable: corpus only);
- RDK rank-one at fixed lambda 0.05 and 0.3 (to show that a blind fixed lambda can hurt);
- RDK sparse kernels (k = 8 neighbours among the most frequent pruned tokens, for the most
  frequent kept tokens; share beta = the implementable lambda): cosine neighbours in Gemma's
  token embeddings, and string overlap;
- oracle lambda*: the exact best rank-one lambda per position. It reads p: an upper bound on
  the rank-one form, not a method.

Costs: RDK's per-step overhead at V = 262,144 on the kept-only path `generate` runs
(`PrunedDrafter`: the drafter's per-position draw with a rank-one or sparse kernel, minus
vanilla's draw) against one drafter step (one token through the body with a KV cache, then the
kept-only head), in CPU time, interleaved and repeated; and dense O(N^2) against rank-one O(N)
proposal time as N grows.

The machine is shared (2 cores, several jobs): times are noisy; acceptance numbers are exact
functions of the model's float32 rows and do not depend on load.
"""

from __future__ import annotations

import argparse
import sysconfig
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from common import goal, humaneval_problems, table, write_results
from rdk_costs import cost_table, scaling_table

from specproof.engine import pruned
from specproof.engine.models import load_model
from specproof.engine.pruned import cosine_kernel, frequency_prior, keep_most_frequent
from specproof.engine.pruned_drafter import PrunedDrafter
from specproof.engine.rdk import RankOneKernel, SparseKernel, mixture_acceptance, optimal_mix
from specproof.engine.tli import tli_proposal_from_logits

KEEP = (0.5, 0.25, 0.1, 0.02, 0.005)
FIXED_MIX = (0.05, 0.3)
NEIGHBOURS = 8
SOURCES = 2048
CANDIDATES = 8192
KEEP_COST = 0.1  # the share of the LM head kept by the drafters whose costs are timed

PROSE_CORPUS = [
    "The river rose for three days before the village council agreed to move the grain stores "
    "to the old chapel on the hill, where the floor was dry and the walls were thick.",
    "In the spring the market reopened, and traders came from the coast with salt, dried fish "
    "and bolts of blue cloth that the children had never seen before.",
    "A good explanation starts from what the reader already knows, names the new idea once, "
    "and then shows it at work on an example small enough to check by hand.",
    "The committee's report recommended that the library extend its opening hours during the "
    "examination period and buy more copies of the most requested textbooks.",
]
PROSE_EVAL = [
    "When the train finally pulled into the station, the platform was empty except for an old "
    "man with a suitcase tied shut with string, who looked at the timetable as if it had lied "
    "to him for years.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen. Most of it "
    "happens in the leaves, inside small green bodies called chloroplasts.",
    "The city council voted on Tuesday to repair the bridge over the canal, after engineers "
    "warned that the supports had been weakened by decades of heavy traffic.",
]


def humaneval_prompts() -> list[str]:
    return [problem["prompt"] for problem in humaneval_problems()]


def stdlib_texts(max_bytes: int) -> list[str]:
    """Python standard library sources, in sorted path order, up to `max_bytes`."""
    root = Path(sysconfig.get_paths()["stdlib"])
    texts, size = [], 0
    for path in sorted(root.glob("*.py")):
        text = path.read_text(errors="ignore")
        texts.append(text)
        size += len(text)
        if size >= max_bytes:
            break
    return texts


@torch.no_grad()
def text_hidden_states(model: Any, texts: list[str], max_tokens: int) -> Iterator[torch.Tensor]:
    """Teacher-forced final hidden states `[positions, H]` of each of `texts` in turn (its
    first `max_tokens` tokens), computed as they are taken."""
    for text in texts:
        ids = model.tokenizer(text)["input_ids"][:max_tokens]
        yield model.model.model(input_ids=torch.tensor([ids])).last_hidden_state[0]


@torch.no_grad()
def target_logits(model: Any, texts: list[str], max_tokens: int) -> torch.Tensor:
    """Teacher-forced full-vocabulary logits `[positions, V]` over `texts` (float32)."""
    return torch.cat(
        [model.model.lm_head(hidden) for hidden in text_hidden_states(model, texts, max_tokens)]
    )


METHODS = [
    "vanilla",
    "rank-one, implementable lambda",
    *(f"rank-one, fixed lambda {fixed}" for fixed in FIXED_MIX),
    "sparse, cosine top-8",
    "sparse, string overlap",
    "oracle lambda* (bound)",
]


@torch.no_grad()
def soft_counts(model: Any, texts: list[str], max_tokens: int) -> torch.Tensor:
    """`[V]` expected token counts under the model's own next-token rows over `texts`."""
    total = torch.zeros(model.vocab_size, dtype=torch.float64)
    for block in target_logits(model, texts, max_tokens).split(64):
        total += torch.softmax(block.double(), -1).sum(0)
    return total


@torch.no_grad()
def tli_logits(
    target: Any, drafter: Any, texts: list[str], max_tokens: int
) -> tuple[torch.Tensor, torch.Tensor, Any]:
    """Teacher-forced `(target logits [n, V], drafter logits [n, V_D], vocab map)` for TLI.

    The drafter reads each text's target tokens as in generation (`DrafterReader`); position
    `i` pairs the target's row after `ids[:i]` with the drafter's row after its reading of
    them, from the first position at which the drafter has read something.
    """
    from specproof.engine.cross_drafters import DrafterReader, vocab_map_for

    vocab_map = vocab_map_for(target, drafter)
    reader = DrafterReader(target, drafter, vocab_map)
    p_rows, q_rows = [], []
    for text in texts:
        ids = target.tokenizer(text)["input_ids"][:max_tokens]
        read = [] if reader.bos is None else [reader.bos]
        ends = []
        for token in ids:
            read.extend(reader.token(token))
            ends.append(len(read))
        p = target.model(input_ids=torch.tensor([ids]), use_cache=False).logits[0]
        q = drafter.model(input_ids=torch.tensor([read]), use_cache=False).logits[0]
        positions = [i for i in range(1, len(ids)) if ends[i - 1]]
        p_rows.append(p[[i - 1 for i in positions]])
        q_rows.append(q[[ends[i - 1] - 1 for i in positions]])
    return torch.cat(p_rows), torch.cat(q_rows), vocab_map


def acceptances(
    logits: torch.Tensor,
    source_rows: Callable[[slice, torch.Tensor], torch.Tensor],
    prior: torch.Tensor,
    mix: float,
    kernels: dict[str, SparseKernel],
) -> dict[str, float]:
    """Mean exact per-position acceptance of every method at one pruning level.

    `source_rows(positions, target_logits)` gives the drafter's rows `q'` (over the target's
    vocabulary, zero off D) at those positions.
    """
    sums: dict[str, float] = {}

    def add(name: str, values: torch.Tensor) -> None:
        sums[name] = sums.get(name, 0.0) + float(values.sum())

    for first in range(0, logits.shape[0], 8):
        positions = slice(first, first + 8)
        block = logits[positions]
        target = torch.softmax(block.double(), -1)
        source = source_rows(positions, block)
        add("vanilla", torch.minimum(target, source).sum(-1))
        add("rank-one, implementable lambda", mixture_acceptance(target, source, prior, mix))
        for fixed in FIXED_MIX:
            add(f"rank-one, fixed lambda {fixed}", mixture_acceptance(target, source, prior, fixed))
        for name, kernel in kernels.items():
            add(name, torch.minimum(target, kernel.propose(source)).sum(-1))
        _, best = optimal_mix(target, source, prior)
        add("oracle lambda* (bound)", best)
    return {name: value / logits.shape[0] for name, value in sums.items()}


def neighbourhoods(counts: torch.Tensor, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The most frequent kept tokens (rows that get neighbours) and pruned tokens (neighbours)."""
    sources = kept[torch.sort(counts[kept], descending=True, stable=True).indices[:SOURCES]]
    pruned_counts = counts.clone()
    pruned_counts[kept] = 0
    pruned = pruned_counts.nonzero().squeeze(1)
    order = torch.sort(counts[pruned], descending=True, stable=True).indices[:CANDIDATES]
    return sources, pruned[order]


def sparse_kernels(
    embeddings: torch.Tensor,
    strings: list[str],
    counts: torch.Tensor,
    kept: torch.Tensor,
    mix: float,
) -> dict[str, SparseKernel]:
    """The two sparse kernels (cosine and string-overlap neighbours) for the kept tokens `kept`.

    Empty when fewer than `NEIGHBOURS` pruned tokens are candidates (their columns then read nan).
    """
    sources, top = neighbourhoods(counts, kept)
    if top.numel() < NEIGHBOURS:
        return {}
    return {
        "sparse, cosine top-8": cosine_kernel(embeddings, sources, top, NEIGHBOURS, mix),
        "sparse, string overlap": pruned.overlap_kernel(
            strings, counts, sources, top, NEIGHBOURS, mix
        ),
    }


def acceptance_row(
    texts: str, drafter: str, kept: torch.Tensor, mix: float, result: dict[str, float]
) -> list[Any]:
    """One row of the acceptance table: texts, drafter, |D|, lambda, then every method."""
    return [texts, drafter, int(kept.numel()), round(mix, 4)] + [
        round(result.get(m, float("nan")), 4) for m in METHODS
    ]


def pruned_head_rows(
    logits: dict[str, torch.Tensor],
    counts: torch.Tensor,
    embeddings: torch.Tensor,
    strings: list[str],
    start: float,
) -> tuple[list[list[Any]], dict[str, list[dict[str, float]]]]:
    """Acceptance rows of the pruned-head drafter at every level of `KEEP`, for every text set.

    Also returns, per text set, every method's acceptance level by level (for the plots).
    """
    rows: list[list[Any]] = []
    per_set: dict[str, list[dict[str, float]]] = {name: [] for name in logits}
    for keep in KEEP:
        kept = keep_most_frequent(counts, keep)
        mix = pruned.frequency_mix(counts, kept)
        prior = frequency_prior(counts, kept)
        kernels = sparse_kernels(embeddings, strings, counts, kept, mix)

        def pruned_rows(_: slice, block: torch.Tensor, kept: torch.Tensor = kept) -> torch.Tensor:
            source = torch.zeros(block.shape, dtype=torch.float64)
            source[:, kept] = torch.softmax(block[:, kept].double(), -1)
            return source

        for name, set_logits in logits.items():
            result = acceptances(set_logits, pruned_rows, prior, mix, kernels)
            per_set[name].append(result)
            rows.append(acceptance_row(name, f"{keep:.1%}", kept, mix, result))
            print(rows[-1], f"{time.perf_counter() - start:.0f} s", flush=True)
    return rows, per_set


def tli_rows(
    model: Any,
    eval_sets: dict[str, list[str]],
    counts: torch.Tensor,
    embeddings: torch.Tensor,
    strings: list[str],
    max_tokens: int,
    start: float,
) -> list[list[Any]]:
    """Acceptance rows of SmolLM2-135M through TLI: D = the shared tokens, q' = the TLI proposal."""
    smol = load_model("smollm2")
    rows = []
    for name, texts in eval_sets.items():
        p_logits, d_logits, vocab_map = tli_logits(model, smol, texts, max_tokens)
        kept = torch.sort(vocab_map.target_ids).values
        mix = pruned.frequency_mix(counts, kept)
        prior = frequency_prior(counts, kept)
        kernels = sparse_kernels(embeddings, strings, counts, kept, mix)

        def proposal_rows(
            positions: slice,
            _: torch.Tensor,
            d_logits: torch.Tensor = d_logits,
            vocab_map: Any = vocab_map,
        ) -> torch.Tensor:
            return tli_proposal_from_logits(vocab_map, d_logits[positions].double())

        result = acceptances(p_logits, proposal_rows, prior, mix, kernels)
        rows.append(acceptance_row(name, "SmolLM2-135M via TLI", kept, mix, result))
        print(rows[-1], f"{time.perf_counter() - start:.0f} s", flush=True)
    return rows


def acceptance_plots(per_set: dict[str, list[dict[str, float]]]) -> list[dict[str, Any]]:
    """Per text set: every method but the fixed lambdas, acceptance against pruning."""
    return [
        {
            "title": f"Acceptance vs pruning, {name}",
            "kind": "bar",
            "x": [f"{k:.1%}" for k in KEEP],
            "series": {m: [r.get(m, 0.0) for r in levels] for m in METHODS if "fixed" not in m},
            "xlabel": "share of the LM head kept",
            "ylabel": "acceptance per position",
        }
        for name, levels in per_set.items()
    ]


def cost_drafters(
    model: Any, counts: torch.Tensor, embeddings: torch.Tensor, keep: float
) -> dict[str, PrunedDrafter]:
    """The drafters `rdk_costs.cost_table` times: full head, and kept `keep` of it with each rule."""
    kept = keep_most_frequent(counts, keep)
    sources, top = neighbourhoods(counts, kept)
    lm = model.model
    return {
        "full head": PrunedDrafter(lm, torch.arange(model.vocab_size)),
        "vanilla": PrunedDrafter(lm, kept),
        "rank-one": PrunedDrafter(lm, kept, RankOneKernel(frequency_prior(counts, kept), 0.05)),
        "sparse": PrunedDrafter(
            lm, kept, cosine_kernel(embeddings, sources, top, NEIGHBOURS, 0.05)
        ),
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=96, help="tokens per evaluation text")
    parser.add_argument("--code-texts", type=int, default=6, help="held-out HumanEval prompts")
    parser.add_argument("--stdlib-bytes", type=int, default=4_000_000)
    parser.add_argument("--soft-texts", type=int, default=12, help="prompts for soft counts")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--cost-repeats", type=int, default=15, help="interleaved cost repeats")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model = load_model("gemma3")
    vocab = model.vocab_size
    prompts = humaneval_prompts()
    corpus = prompts[:120] + PROSE_CORPUS + stdlib_texts(args.stdlib_bytes)
    counts = pruned.token_counts((model.tokenizer(t)["input_ids"] for t in corpus), vocab)
    # The model's own rows rank the tokens the corpus never shows (and give each a little mass).
    counts += soft_counts(model, prompts[: args.soft_texts], args.max_tokens)
    print(
        f"corpus: {float(counts.sum()):.0f} tokens; {time.perf_counter() - start:.0f} s", flush=True
    )
    eval_sets = {"HumanEval (held out)": prompts[120 : 120 + args.code_texts], "prose": PROSE_EVAL}
    logits = {
        name: target_logits(model, texts, args.max_tokens) for name, texts in eval_sets.items()
    }
    print({k: v.shape[0] for k, v in logits.items()}, "positions", flush=True)
    strings = model.tokenizer.convert_ids_to_tokens(list(range(vocab)))
    embeddings = model.model.get_input_embeddings().weight.detach()
    rows, per_set = pruned_head_rows(logits, counts, embeddings, strings, start)
    rows += tli_rows(model, eval_sets, counts, embeddings, strings, args.max_tokens, start)
    acceptance_table = table(
        "Teacher-forced acceptance per position, Gemma-3-270M target, pruned-head drafter "
        "and SmolLM2-135M through TLI",
        ["texts", "head kept", "|D|", "implementable lambda", *METHODS],
        rows,
        "Exact per-position sum_t min(p, proposal), averaged over positions. The oracle reads p "
        "(an upper bound on the rank-one form, not a method). SmolLM2 rows: D = the tokens "
        "both vocabularies share, q' = TLI of SmolLM2's row (vanilla is TLI), over the "
        "positions at which SmolLM2 has read something.",
    )
    # Costs at full V, on the kept-only path `generate` runs.
    drafters = cost_drafters(model, counts, embeddings, KEEP_COST)
    cost, overheads = cost_table(drafters, vocab, KEEP_COST, args.cost_repeats)
    scale, scaling_plot = scaling_table()
    targets = [
        goal(
            "RDK rank-one overhead per step / pruned drafter step",
            round(overheads["rank-one"], 4),
            "< 0.05",
            overheads["rank-one"] < 0.05,
        )
    ]
    write_results(
        "rdk",
        "RDK: pruned-head drafters on Gemma-3-270M",
        __doc__ + f"\n\nRun time: {time.perf_counter() - start:.0f} s.",
        [acceptance_table, cost, scale],
        acceptance_plots(per_set) + [scaling_plot],
        targets,
        finding=finding,
    )


def finding(tables: list[dict[str, Any]], targets: list[dict[str, Any]]) -> str:
    """The headline, from the tables: acceptance gains over vanilla and the step cost."""
    acceptance, cost = tables[0], tables[1]
    cols = acceptance["columns"]
    vanilla, ours, oracle = (
        cols.index("vanilla"),
        cols.index("rank-one, implementable lambda"),
        cols.index("oracle lambda* (bound)"),
    )
    rows = acceptance["rows"]
    gains = [r[ours] - r[vanilla] for r in rows]
    bound = [r[oracle] - r[vanilla] for r in rows]
    shares = {r[0].split(":")[0]: r[2] for r in cost["rows"] if r[0].startswith("RDK")}
    return (
        f"Teacher-forced exact acceptance on Gemma-3-270M over {len(rows)} (texts, head kept) "
        f"rows: the implementable-lambda rank-one RDK gains {min(gains):+.4f} to "
        f"{max(gains):+.4f} over vanilla pruned-drafter SD, the oracle lambda* at most "
        f"{max(bound):+.4f}. On the kept-only path `generate` runs, RDK adds "
        f"{shares['RDK rank-one']:.1%} (rank-one) and {shares['RDK sparse (k = 9)']:.1%} (sparse) "
        "of a pruned drafter step (CPU time; target < 5%: "
        f"{'met' if max(shares.values()) < 0.05 else 'not met'})."
    )


if __name__ == "__main__":
    main()
