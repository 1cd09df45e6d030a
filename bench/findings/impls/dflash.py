"""dflash: block-diffusion drafter; `dflash_generate` verifies blocks (greedy or rejection sampling)."""

from harness import Implementation, Plan

PATH = "dflash.model:dflash_generate (through DFlashDraftModel.spec_generate)"


def _sample(
    name: str, function: str, words: str, top_k: int | None = None, top_p: float | None = None
) -> Plan:
    return Plan(
        name=name,
        function=f"dflash_adapter:{function}",
        path=PATH,
        configuration=f"sampling, {words}, blocks of 2 (1 draft), random drafter",
        level="generation",
        m=2,
        samples=1200,
        tv=0.15,
        top_k=top_k,
        top_p=top_p,
    )


IMPL = Implementation(
    package="dflash",
    version="0.1.0",
    summary=(
        "DFlash: a block-diffusion drafter that proposes a block of tokens in one pass from "
        "the target's hidden features; `dflash_generate` verifies it with one target forward "
        "pass (greedy prefix match, or rejection sampling with the residual and a bonus "
        "token; temperature, top-k and top-p applied to both sides). Audited with a randomly "
        "initialised `DFlashDraftModel` (Qwen3 layers) on the catalogue's tiny Llama target, "
        "under transformers 5.15.0 as the package pins it. No defect found."
    ),
    install=["--no-deps dflash==0.1.0", "transformers==5.15.0"],
    items=[
        Plan(
            name="greedy",
            function="dflash_adapter:greedy",
            path=PATH,
            configuration="greedy (`temperature=0.0`), blocks of 4 (3 drafts), random drafter",
            level="greedy",
            m=8,
        ),
        _sample("sample", "sample", "`temperature=1.0`"),
        _sample("sample-top-p0.8", "sample_top_p08", "`temperature=1.0`, `top_p=0.8`", top_p=0.8),
    ],
)
