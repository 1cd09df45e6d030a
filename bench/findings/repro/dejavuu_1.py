"""dejavuu 0.2.0 with transformers 5.24.0: the transformers backend crashes in `rollback_kv`.

Run with dejavuu==0.2.0 (its Hugging Face backend) and transformers==5.24.0 (admitted by its
requirement `transformers>=4.45`). Saves a tiny random Llama, decodes with the prompt-lookup
drafter, exits 1 on the crash (the bug), 0 when decoding completes.
"""

import sys
import tempfile

import torch
from dejavuu.core import engine
from dejavuu.decoders.hf import HFBackend
from dejavuu.drafters import make_drafter
from transformers import LlamaConfig, LlamaForCausalLM

torch.manual_seed(0)
config = LlamaConfig(vocab_size=32, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=4, eos_token_id=None)
folder = tempfile.mkdtemp()
LlamaForCausalLM(config).save_pretrained(folder)
model = HFBackend(model_id=folder, device="cpu")
try:
    out = engine.generate(model, [5, 9, 2, 17, 5, 9, 2, 17], 16, drafter=make_drafter("pld"))
except ValueError as exc:
    print(f"crashed: ValueError: {exc}")
    sys.exit(1)
print("ran:", out.tokens)
