"""dejavuu: retrieval/n-gram drafters with greedy or position-coupled sampling verification."""

from harness import Implementation, Plan

from impls._plan_table import PlanTable

TABLE = PlanTable("dejavuu_adapter", "dejavuu.core.engine:generate (HFBackend verifier)")
T4 = "transformers 4.57.6"
BASE = [
    "--no-deps --ignore-requires-python dejavuu==0.2.0",
    "--no-deps loguru==0.7.3 onnxruntime==1.32.0",
]

CRASH = (
    "`HFBackend.rollback_kv` (in `dejavuu/decoders/hf.py`) truncates the cache with "
    "`kv.crop(committed)`, an absolute length. In transformers 5.24.0 `DynamicCache.crop` "
    "takes the number of tokens to remove as a negative integer and raises `ValueError: "
    "Calling crop with a positive value ... is not supported` on a positive one, so the first "
    "chain round after a rejection crashes. dejavuu 0.2.0 requires `transformers>=4.45`, so "
    "a fresh install resolves a transformers release on which its Hugging Face backend cannot "
    "decode. Fix: `kv.crop(committed - kv.get_seq_length())` (a negative count works on every "
    "release since 4.40), or pin `transformers<5`."
)


def _audited(level: str, name: str, words: str, **fields: object) -> Plan:
    """A plan under transformers 4.57.6 with the standard draft budget of 4."""
    return TABLE.plan(level, name, f"{words}, draft budget 4, {T4}", **fields)


IMPL = Implementation(
    package="dejavuu",
    version="0.2.0",
    summary=(
        "Retrieval-based speculative decoding (prompt lookup, suffix decoding, token "
        "recycling and a dozen more model-free drafters) for ONNX Runtime and transformers. "
        "Verification is greedy (keep the drafts equal to the target's argmax) or "
        "position-coupled sampling (every position draws from the target with a uniform "
        "seeded by its absolute position; drafts only decide how many positions one pass "
        "settles). dejavuu declares Python >= 3.13; this machine's Python is 3.11 and the "
        "package compiles and runs on it, so it is installed with `--ignore-requires-python` "
        "(its pure-Python source, unchanged). Audited through its transformers backend "
        "(`HFBackend`). **Findings**: with transformers 5.24.0 (admitted by its requirement "
        "`transformers>=4.45`) the transformers backend crashes in `rollback_kv`; with "
        "transformers 4.57.6 every lossless mode is consistent (greedy token for token with "
        "chain and tree verification, sampling against the exact law), and "
        "`accept_top_k=2`, documented as lossy, is flagged as such (a positive control)."
    ),
    install=[*BASE, "transformers==4.57.6"],
    envs={"transformers-5.24": BASE},
    items=[
        TABLE.greedy(
            "greedy-pld-transformers-5.24",
            "greedy, `pld` drafter, with transformers 5.24.0",
            function="greedy_pld",
            path="dejavuu.decoders.hf:HFBackend.rollback_kv",
            env="transformers-5.24",
            diagnosis=CRASH,
            reproducer="bench/findings/repro/dejavuu_1.py",
        ),
        _audited("generation", "sample-pld", "sampling, `temperature=1.0`, `pld` drafter"),
        _audited(
            "greedy",
            "greedy-loose-top2",
            "greedy, `accept_top_k=2` (documented lossy: accepts drafts in the target's top 2)",
            lossy_by_design=True,
            notes="The docstring of `generate` says `accept_top_k > 1` deliberately breaks "
            "losslessness; a positive control that the audit must flag.",
        ),
        _audited("greedy", "greedy-pld", "greedy, prompt-lookup drafter (`pld`), chain"),
        _audited(
            "greedy",
            "greedy-token-recycling-tree",
            "greedy, `token_recycling` drafter, tree verification",
        ),
        _audited(
            "generation",
            "sample-token-recycling-tree",
            "sampling, `temperature=0.7`, `top_p=0.8`, `token_recycling` drafter, tree",
            temperature=0.7,
            top_p=0.8,
        ),
        _audited("greedy", "greedy-suffix", "greedy, `suffix_decoding` drafter, chain"),
    ],
)
