"""medusa-llm 0.1: not run in this session."""

from impls._findings_only import findings_only

IMPL = findings_only(
    "medusa-llm", "0.1",
    "Medusa (extra decoding heads, tree verification; sampling uses *typical acceptance*, "
    "which the Medusa paper presents as not preserving the target distribution).",
    "medusa.model.medusa_model:MedusaModel.medusa_generate",
    "not run",
    "Not attempted in this session. Like eagle-llm it ships its own Llama modelling code "
    "(`medusa/model/modeling_llama_kv.py`, transformers 4.3x API) and a custom KV cache, and "
    "`MedusaModel` loads heads through `hf_hub_download` (no hub here): an audit needs an "
    "environment with a matching transformers 4.3x and randomly initialised heads built "
    "locally. Greedy tree decoding would be checked token for token; typical acceptance is "
    "lossy by design and would be reported as such.",
)
