"""dflash: block-diffusion drafter; `dflash_generate` verifies blocks (greedy or rejection sampling)."""

from harness import Implementation, Plan

from impls._plan_table import PlanTable

TABLE = PlanTable(
    "dflash_adapter", "dflash.model:dflash_generate (through DFlashDraftModel.spec_generate)"
)


def _sample(name: str, words: str, **fields: object) -> Plan:
    """A sampling plan with blocks of 2 (one draft) from the random drafter."""
    return TABLE.sampling(name, f"sampling, {words}, blocks of 2 (1 draft), random drafter", **fields)


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
        TABLE.greedy(
            "greedy", "greedy (`temperature=0.0`), blocks of 4 (3 drafts), random drafter"
        ),
        _sample("sample", "`temperature=1.0`"),
        _sample(
            "sample-top-p0.8", "`temperature=1.0`, `top_p=0.8`", function="sample_top_p08", top_p=0.8
        ),
    ],
)
