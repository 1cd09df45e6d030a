"""vLLM 0.33.0: rejection sampler imported on CPU, but its kernel launcher rejects the Triton
interpreter."""

from impls._findings_only import findings_only

IMPL = findings_only(
    "vllm", "0.33.0",
    "vLLM's rejection sampler (`vllm/v1/sample/rejection_sampler.py`) at the sampler level.",
    "vllm.v1.sample.rejection_sampler:rejection_sample",
    "not run",
    "The wheel requires `torch==2.14.0`, served only as a CUDA build, and its kernels are "
    "Triton kernels; this machine has no GPU. Tried: `vllm==0.33.0` and `triton==3.9.0` "
    "installed with `--no-deps` over the project's CPU torch 2.13.0, plus the modules the "
    "import chain needs (`cbor2`, `pyzmq`, `aiohttp` and its dependencies, `openai`, "
    "`openai-harmony`, `pybase64`, `cachetools`, `msgspec`, `cloudpickle`, `uvloop`, "
    "`py-cpuinfo`, `prometheus-client`, `xgrammar`, `apache-tvm-ffi`, `fastapi`, "
    "`starlette`, `opentelemetry-*`, `partial-json-parser`, `llguidance`): "
    "`import vllm.v1.sample.rejection_sampler` then succeeds with `TRITON_INTERPRET=1`. "
    "Calling `rejection_sample` (one all-random request) fails before any kernel runs: "
    "`vllm/triton_utils/importing.py` sets `HAS_TRITON = False` when no non-CPU Triton "
    "driver is active (it does not look at `TRITON_INTERPRET`), so `vllm.triton_utils.triton` "
    "is a placeholder whose `jit` returns the plain Python function, and the launcher "
    "`triton_kernel_dispatcher_with_warmup` (`VllmTritonJitKernel._kernel_arg_names` in "
    "`vllm/model_executor/warmup/jit_warmup_triton_helper.py`) raises `TypeError: Cannot "
    "inspect kernel parameters for function`. Not a defect of the sampler (on a GPU host "
    "Triton is enabled and the path is not taken); running it needs a CUDA device, or launching the `@triton.jit` kernels "
    "(`rejection_random_sample_kernel`, `sample_recovered_tokens_kernel`) directly, which "
    "would replace vLLM's launch code and was not done.",
)
