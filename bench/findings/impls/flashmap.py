"""flashmap: flow-map (one-step diffusion) block drafter with rejection-sampling verification."""

from harness import TARGETS, Implementation

from impls._plan_table import PlanTable

#: The drafter factors the Gram matrix of the target's embedding: it needs the wider vocabulary.
TABLE = PlanTable(
    "flashmap_adapter",
    "flashmap.modeling_flashmap:FlashMapDraftModel.spec_generate",
    target=TARGETS[1],
)

IMPL = Implementation(
    package="flashmap",
    version="0.1.0",
    summary=(
        "A flow-map drafter that proposes a whole block in one step from the target's hidden "
        "states; `spec_generate` verifies the block with the target in one forward pass "
        "(greedy prefix match, or per-slot rejection sampling with the residual "
        "`max(p - q, 0)` and a bonus token). Audited through its Hugging Face path with a "
        "randomly initialised drafter (random drafts exercise rejections and the residual). "
        "No defect found: greedy matches the target token for token and sampling is "
        "consistent with the target's exact law."
    ),
    install=["--no-deps flashmap==0.1.0"],
    items=[
        TABLE.greedy("greedy", "greedy (`temperature=0.0`), blocks of 4"),
        TABLE.sampling("sample", "sampling (`temperature=1.0`), blocks of 2, `generator` seeded"),
    ],
)
