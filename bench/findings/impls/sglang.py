"""SGLang 0.5.23: the chain rejection sampler, run in Triton's interpreter on CPU."""

from harness import Implementation

from impls._plan_table import PlanTable

NOTES = (
    "The Triton kernel `speculative_sampling_classic_kernel` runs unchanged in Triton's "
    "interpreter (`TRITON_INTERPRET=1`) on CPU tensors, float32 rows and uniforms as SGLang "
    "passes them; the module is loaded by its file path (`import sglang` pulls the serving "
    "runtime)."
)
#: Both modes at the sampler level, 1,100 samples per case (the interpreter's 20 ms per call).
TABLE = PlanTable(
    "sglang_adapter",
    "sglang.kernels.ops.speculative.reject_sampling:chain_speculative_sampling_triton",
    samples=1100,
    tv=0.3,
    notes=NOTES,
)

IMPL = Implementation(
    package="sglang",
    version="0.5.23",
    summary=(
        "SGLang's chain speculative sampler "
        "(`sglang/kernels/ops/speculative/reject_sampling.py`): a Triton kernel that verifies "
        "the drafts token by token (accept iff `u * q < p`, residual `max(p - q, 0)` by an "
        "inverse-CDF scan, bonus token from the last target row) or, with "
        "`block_verification=True`, by block verification (Sun et al. 2024, Algorithm 2). "
        "There is no GPU here, so the kernel runs in Triton's interpreter "
        "(`TRITON_INTERPRET=1`, `triton==3.9.0`) on CPU tensors, audited at the sampler level "
        "on the auditor's default cases. SGLang's tree sampler (CUDA kernels from `sgl-kernel`) "
        "was not audited. No defect found: both modes are consistent with the target's law "
        "(1,100 samples per case, TV bound 0.215; the weak bound is the price of the "
        "interpreter's 20 ms per call)."
    ),
    install=["--no-deps sglang==0.5.23", "--no-deps triton==3.9.0"],
    items=[
        TABLE.plan(
            "sampler",
            "chain",
            "chain, token-by-token verification (`block_verification=False`)",
            function="classic",
        ),
        TABLE.plan(
            "sampler",
            "chain-block",
            "chain, block verification (`block_verification=True`)",
            function="block",
        ),
    ],
)
