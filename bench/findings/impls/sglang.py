"""SGLang 0.5.23: rejection sampler is a Triton kernel."""

from impls._findings_only import findings_only

IMPL = findings_only(
    "sglang", "0.5.23",
    "SGLang's speculative (tree) rejection sampler at the sampler level.",
    "sglang.kernels.ops.speculative.reject_sampling:speculative_sampling_classic_kernel",
    "not run",
    "The wheel (downloaded with `--no-deps`) implements verification as Triton kernels: "
    "`sglang/kernels/ops/speculative/reject_sampling.py` starts with `import triton` and "
    "defines `speculative_sampling_classic_kernel` with `@triton.jit` (tree verification, "
    "optionally block verification); `sglang/srt/speculative/spec_utils.py` selects CUDA "
    "kernels when `is_cuda()`. There is no CPU fallback in the module, Triton launches on "
    "CUDA/ROCm devices only, and this machine has neither, so the sampler could not be run. "
    "Its round law is tree verification, so a sampler-level audit would also need a "
    "reference of its own (or the generation level). Remaining route: Triton's interpreter "
    "(`TRITON_INTERPRET=1`), not attempted in this session.",
)
