"""csaq-quant 0.6.0 with transformers 5.24.0: speculative decoding crashes in `_truncate_kv`.

Run with csaq-quant==0.6.0 and transformers==5.24.0 (both admitted by csaq's requirements;
`.venv-findings/csaq-quant@transformers-5.24/bin/python`). Exits 1 on the crash (the bug), 0
when speculative decoding runs.
"""

import sys
import warnings

import torch
from csaq import CSAQConfig, CSAQInferenceEngine, quantize
from transformers import LlamaConfig, LlamaForCausalLM

warnings.filterwarnings("ignore")
torch.manual_seed(0)
config = LlamaConfig(vocab_size=32, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=4, eos_token_id=None)
model = LlamaForCausalLM(config).eval()
calib = [{"input_ids": torch.randint(0, 32, (1, 16))} for _ in range(4)]
model, info = quantize(model, calib, config=CSAQConfig(target_bits=8.0, bit_options=[8]),
                       verbose=False)
engine = CSAQInferenceEngine(model.eval(), info["causal_map"], verbose=False)
try:
    # the engine catches RuntimeError only; the ValueError from DynamicCache.crop escapes
    engine.generate(torch.tensor([[5, 9, 2, 17, 5, 9]]), speculative=True, lookahead=4,
                    temperature=0.0, max_new_tokens=12)
except ValueError as exc:
    print(f"crashed: ValueError: {exc}")
    sys.exit(1)
print("ran")
