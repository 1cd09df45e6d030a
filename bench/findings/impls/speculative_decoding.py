"""speculative-decoding: a compact PyTorch speculative sampler (Leviathan et al., Algorithm 1)."""

from harness import Implementation, Plan

PATH = "speculative_decoding.speculative_decoding:speculative_decoding"
NOTE = (
    "The target and drafter are the catalogue's Hugging Face models behind the call "
    "interface of the library's `Decoder` (full recompute per call): the library's key-value "
    "cache is not exercised."
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
        Plan(
            name="sample",
            function="speculative_decoding_adapter:sample",
            path=PATH,
            configuration="`temperature=1.0`, `filter_thres=0.0` (no top-k), `gamma=3`",
            level="generation",
            m=2,
            samples=1600,
            tv=0.15,
            notes=NOTE,
        ),
        Plan(
            name="sample-top4",
            function="speculative_decoding_adapter:sample_top4",
            path=PATH,
            configuration="`temperature=0.7`, `filter_thres=0.5` (top 4 of 8 logits), "
            "`gamma=3`",
            level="generation",
            temperature=0.7,
            top_k=4,
            m=2,
            samples=1600,
            tv=0.15,
            notes=NOTE,
        ),
    ],
)
