"""vLLM 0.33.0: rejection sampler not importable on this CPU setup."""

from impls._findings_only import findings_only

IMPL = findings_only(
    "vllm", "0.33.0",
    "vLLM's rejection sampler (`vllm/v1/sample/rejection_sampler.py`) at the sampler level.",
    "vllm.v1.sample.rejection_sampler:RejectionSampler",
    "not run",
    "The wheel (336 MB, downloaded with `--no-deps`) requires `torch==2.14.0`, which the "
    "package index serves only as a CUDA build (the project pins the CPU build of torch "
    "2.13.0, and an unpinned or CUDA torch must not be installed here). The sampler module "
    "imports `vllm.config`, the logits processors and `vllm.triton_utils`, and its kernels are "
    "Triton kernels (`triton_kernel_dispatcher_with_warmup`); Triton launches on CUDA/ROCm "
    "devices only, and this machine has neither. Not attempted further in this session. "
    "Remaining route: Triton's interpreter (`TRITON_INTERPRET=1`) with a CPU torch of the "
    "pinned version, importing only the sampler module.",
)
