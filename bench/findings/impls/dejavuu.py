"""dejavuu: retrieval/n-gram drafters with greedy or position-coupled sampling verification."""

from harness import Implementation, Plan

PATH = "dejavuu.core.engine:generate (HFBackend verifier)"
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


def _plan(name: str, function: str, words: str, level: str, **kw: object) -> Plan:
    return Plan(
        name=name,
        function=f"dejavuu_adapter:{function}",
        path=PATH,
        configuration=f"{words}, draft budget 4, {T4}",
        level=level,
        **kw,  # type: ignore[arg-type]
    )


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
        Plan(
            name="greedy-pld-transformers-5.24",
            function="dejavuu_adapter:greedy_pld",
            path="dejavuu.decoders.hf:HFBackend.rollback_kv",
            configuration="greedy, `pld` drafter, with transformers 5.24.0",
            level="greedy",
            m=8,
            env="transformers-5.24",
            diagnosis=CRASH,
            reproducer="bench/findings/repro/dejavuu_1.py",
        ),
        _plan("sample-pld", "sample_pld", "sampling, `temperature=1.0`, `pld` drafter",
              "generation", m=2, samples=1200, tv=0.15),
        _plan("greedy-loose-top2", "greedy_loose_top2",
              "greedy, `accept_top_k=2` (documented lossy: accepts drafts in the target's top 2)",
              "greedy", m=8, lossy_by_design=True,
              notes="The docstring of `generate` says `accept_top_k > 1` deliberately breaks "
              "losslessness; a positive control that the audit must flag."),
        _plan("greedy-pld", "greedy_pld", "greedy, prompt-lookup drafter (`pld`), chain",
              "greedy", m=8),
        _plan("greedy-token-recycling-tree", "greedy_token_recycling_tree",
              "greedy, `token_recycling` drafter, tree verification", "greedy", m=8),
        _plan("sample-token-recycling-tree", "sample_token_recycling_tree",
              "sampling, `temperature=0.7`, `top_p=0.8`, `token_recycling` drafter, tree",
              "generation", m=2, samples=1200, tv=0.15, temperature=0.7, top_p=0.8),
        _plan("greedy-suffix", "greedy_suffix", "greedy, `suffix_decoding` drafter, chain",
              "greedy", m=8),
    ],
)
