"""csaq-quant 0.6.0: greedy self-speculative decoding differs from the model's own greedy decoding.

Run with csaq-quant==0.6.0 and transformers 4.57.6 (`.venv-findings/csaq-quant/bin/python`).
Exits 1 when the speculative output differs from `model.generate` greedy on the same
quantised model (the bug), 0 when they agree.
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

prompt = torch.tensor([[5, 9, 2, 17, 5, 9]])
speculative, _ = engine.generate(prompt, speculative=True, lookahead=4, temperature=0.0,
                                 max_new_tokens=12)
plain = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                       max_new_tokens=12, pad_token_id=0)
print("speculative:", speculative[0, 6:].tolist())
print("plain      :", plain[0, 6:].tolist())
sys.exit(int(speculative[0, 6:].tolist() != plain[0, 6:].tolist()))
