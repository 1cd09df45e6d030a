"""hexonit-llm 0.1.0: delegates speculative decoding to llama.cpp or vLLM."""

from impls._findings_only import findings_only

IMPL = findings_only(
    "hexonit-llm", "0.1.0",
    "\"Zero-config\" local inference that picks an engine and a draft model for the hardware.",
    "hexonit_llm.engines.llamacpp_engine, hexonit_llm.engines.vllm_engine",
    "no auditable path",
    "No verification code of its own: `llamacpp_engine.py` passes `draft_model=<path>` to "
    "`llama_cpp.Llama` and `vllm_engine.py` passes a speculative config to vLLM; the "
    "acceptance rule and the sampling are the engines'. Auditing it means auditing "
    "llama-cpp-python or vLLM, whose entries say why they were not run here.",
)
