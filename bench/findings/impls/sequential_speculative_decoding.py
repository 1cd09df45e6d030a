"""sequential-speculative-decoding: standard SD and hierarchical speculative decoding (HSD)."""

from harness import Implementation, Plan

from impls._plan_table import PlanTable

STEPS = {
    "standard": "seqspecdecod.standard_sd:standard_speculative_step",
    "naive_hsd": "seqspecdecod.naive_hsd:naive_hsd_step",
    "capped_hsd": "seqspecdecod.capped_hsd:capped_hsd_step",
}

CRASH = (
    "In `seqspecdecod/capped_hsd.py`, `capped_hsd_step` resamples after a rejection from "
    "`torch.maximum(q_dist * q_prefix * (r_star - 1), 0)`, the residual written as "
    "q * (r* - 1)+, where `compute_capped_branch_divergences` sets `r_star` to "
    "`p_joint / q_joint` only where `q_joint > 0` and to 0 elsewhere. Every token to which the "
    "drafter gives probability 0 therefore gets resampling weight 0, although the residual "
    "(p - q)+ is p there. At temperature 0 `apply_temperature` makes the drafter's law one-hot, "
    "so after any rejection the target's token is such a token: the distribution is all zeros, "
    "`resample_distribution / resample_distribution_sum` is NaN and `sample_from_probs` "
    "(`torch.multinomial`) raises `RuntimeError: probability tensor contains either inf, nan "
    "or element < 0`. Greedy capped HSD crashes on the first rejected draft. The same lines "
    "also mix positions: `r_star` comes from `compute_capped_branch_divergences(..., tau, ...)`, "
    "the laws at draft position `tau`, while `q_dist = draft_probs[tau + 1]`; with `tau == -1` "
    "(nothing accepted) that function reads `draft_probs[-1]`, the last position, through "
    "Python's negative indexing. Fix: resample the token at position `tau + 1` from "
    "(p_joint - q_joint)+ computed from both laws at that position (as "
    "`naive_hsd.branch_resample_prob` does), with 0-indexed positions throughout."
)

LAW = (
    "Two off-by-one errors in `seqspecdecod/capped_hsd.py`, `capped_hsd_step`. (1) The "
    "backward scan decides whether to keep the drafts `draft_tokens[:tau + 1]` with "
    "`D_cap_pq / D_cap_qp` from `compute_capped_branch_divergences(..., tau, ...)`, which builds "
    "the prefix from `draft_tokens[:tau]` and the branch from the laws at position `tau`: it "
    "sums over every value of the token `draft_tokens[tau]` whose acceptance it decides, so the "
    "ratio does not depend on that token. For `tau == 0` it is sum (p - q)+ / sum (q - p)+ = 1 "
    "identically (both sums are the total variation between the first target and draft laws): "
    "whenever the whole block is rejected, the first draft is accepted with probability 1 and "
    "the first emitted token follows the drafter's law, not the target's (observed TV 0.96 "
    "here; the reproducer shows P(token 1) = 0.50 where the target gives 0.90). The naive "
    "variant (`naive_hsd.naive_hsd_step`) evaluates the branch at position `tau + 1` after the "
    "prefix through `draft_tokens[tau]` and is consistent. (2) The full-block test "
    "`compute_capped_prefix_ratio(ratios, gamma - 1)` returns `ratios[gamma - 2]`, the joint "
    "ratio of the first `gamma - 1` drafts: the last draft never enters it, and a block whose "
    "only wrong token is the last is accepted whole (at temperature 0 with drafts 1, 1, 1, 1 "
    "where the target's greedy path is 1, 1, 1, 2 the round emits 1, 1, 1, 1 and a bonus "
    "token). Fix: pass the 1-indexed length `gamma` to `compute_capped_prefix_ratio`, and "
    "compute the divergences that decide `draft_tokens[:tau + 1]` on the branch at position "
    "`tau + 1` after the prefix `draft_tokens[:tau + 1]`."
)


def _plan(method: str, greedy: bool) -> Plan:
    table = PlanTable("sequential_speculative_decoding_adapter", STEPS[method])
    words = f'`method="{method}"`'
    name = method.replace("_", "-")
    if greedy:
        return table.greedy(
            f"greedy-{name}",
            f"{words}, greedy (temperatures 0.0), `gamma=4`",
            **_failure(method, greedy),
        )
    return table.sampling(
        f"sample-{name}",
        f"{words}, sampling (draft and target temperature 0.6, the defaults), `gamma=2`",
        temperature=0.6,
        **_failure(method, greedy),
    )


def _failure(method: str, greedy: bool) -> dict[str, str]:
    """The diagnosis and reproducer of the capped variant (read from its source)."""
    if method != "capped_hsd":
        return {}
    index = 1 if greedy else 2
    return {
        "diagnosis": CRASH if greedy else LAW,
        "reproducer": f"bench/findings/repro/sequential-speculative-decoding_{index}.py",
    }


IMPL = Implementation(
    package="sequential-speculative-decoding",
    version="0.1.1",
    summary=(
        "Standard speculative decoding and hierarchical speculative decoding (HSD, naive and "
        "capped: a backward scan over the drafted prefixes that accepts on joint probability "
        "ratios and resamples from a branch residual) on Hugging Face causal LMs, in pure "
        "PyTorch (module `seqspecdecod`). Audited through its round functions on the "
        "catalogue's tiny target and same-tokenizer drafter, under transformers 5.24.0. "
        "**Findings**: standard SD and naive HSD are consistent, greedy and sampling; capped "
        "HSD crashes in greedy decoding on the first rejected draft (an all-zero resampling "
        "distribution) and is not lossless in sampling (two off-by-one errors in its "
        "acceptance scan; its first token follows the drafter's law after a rejected block)."
    ),
    install=["--no-deps sequential-speculative-decoding==0.1.1"],
    items=[_plan(method, greedy) for method in STEPS for greedy in (True, False)],
)
