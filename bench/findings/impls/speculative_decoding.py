"""speculative-decoding: a compact PyTorch speculative sampler (Leviathan et al., Algorithm 1)."""

from harness import Implementation

from impls._plan_table import PlanTable

NOTE = (
    "The target and drafter are the catalogue's Hugging Face models behind the call "
    "interface of the library's `Decoder` (full recompute per call): the library's key-value "
    "cache is not exercised."
)
TABLE = PlanTable(
    "speculative_decoding_adapter",
    "speculative_decoding.speculative_decoding:speculative_decoding",
    samples=1600,
    notes=NOTE,
)

IMPL = Implementation(
    package="speculative-decoding",
    version="0.2.0",
    summary=(
        "A compact PyTorch implementation of speculative sampling (Leviathan et al. 2023, "
        "Algorithm 1) with its own small `Decoder`: the drafter proposes `gamma` tokens by "
        "Gumbel sampling, the target verifies them in one pass (accept while `u <= p/q`, "
        "residual `relu(p - q)`, a bonus token after a full acceptance), both sides filtered "
        "by the same top-k (`filter_thres`) and temperature. Audited with the catalogue's tiny "
        "target and same-tokenizer drafter standing in for its `Decoder` networks. No defect "
        "found in the sampling logic: both configurations are consistent with the target's "
        "law (its own `Decoder`'s key-value cache was not exercised)."
    ),
    install=["--no-deps speculative-decoding==0.2.0 einops==0.8.2 beartype==0.23.1"],
    items=[
        TABLE.sampling("sample", "`temperature=1.0`, `filter_thres=0.0` (no top-k), `gamma=3`"),
        TABLE.sampling(
            "sample-top4",
            "`temperature=0.7`, `filter_thres=0.5` (top 4 of 8 logits), `gamma=3`",
            temperature=0.7,
            top_k=4,
        ),
    ],
)
