"""eagle-llm 1.2.1: not run in this session."""

from impls._findings_only import findings_only

IMPL = findings_only(
    "eagle-llm", "1.2.1",
    "EAGLE (feature-level draft head, tree verification), the 2024 PyPI release.",
    "eagle.model.ea_model:EaModel.eagenerate",
    "not run",
    "Not attempted in this session. The release ships its own copies of transformers' Llama "
    "and Mixtral modelling code (`eagle/model/modeling_llama_kv.py`, "
    "`modeling_mixtral_kv.py`) with a custom KV cache, written against the transformers "
    "4.3x API, and pins `accelerate==0.21.0`, `fschat==0.2.31`, `gradio==3.50.2`; an audit "
    "needs its own environment with a matching transformers 4.3x and a randomly initialised "
    "EAGLE head for the tiny target. Its verification is a tree, so the generation level "
    "(not the sampler level) is the one to use.",
)
