"""flashmap: flow-map (one-step diffusion) block drafter with rejection-sampling verification."""

from harness import TARGETS, Implementation, Plan

PATH = "flashmap.modeling_flashmap:FlashMapDraftModel.spec_generate"

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
        Plan(
            name="greedy",
            function="flashmap_adapter:greedy",
            path=PATH,
            configuration="greedy (`temperature=0.0`), blocks of 4",
            level="greedy",
            m=8,
            target=TARGETS[1],
        ),
        Plan(
            name="sample",
            function="flashmap_adapter:sample",
            path=PATH,
            configuration="sampling (`temperature=1.0`), blocks of 2, `generator` seeded",
            level="generation",
            m=2,
            samples=1200,
            tv=0.15,
            target=TARGETS[1],
        ),
    ],
)
