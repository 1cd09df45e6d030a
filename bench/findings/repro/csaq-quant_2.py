"""csaq-quant 0.6.0: the first token of speculative sampling does not follow the model's law.

Run with csaq-quant==0.6.0, transformers 4.57.6 and scipy. Draws the first new token 300
times with `speculative=True, temperature=1.0` and compares the counts with the quantised
model's own next-token distribution after the prompt (chi-square). Exits 1 when p < 1e-6
(the bug; a correct sampler gets there about once in a million runs), 0 otherwise.
"""

import sys
import warnings

import numpy as np
import torch
from csaq import CSAQConfig, CSAQInferenceEngine, quantize
from scipy.stats import chisquare
from transformers import LlamaConfig, LlamaForCausalLM

warnings.filterwarnings("ignore")
torch.manual_seed(0)
config = LlamaConfig(vocab_size=8, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=4, eos_token_id=None,
                     initializer_range=0.5)
model = LlamaForCausalLM(config).eval()
calib = [{"input_ids": torch.randint(0, 8, (1, 16))} for _ in range(4)]
model, info = quantize(model, calib, config=CSAQConfig(target_bits=8.0, bit_options=[8]),
                       verbose=False)
engine = CSAQInferenceEngine(model.eval(), info["causal_map"], verbose=False)

prompt = torch.tensor([[1, 2, 3, 4, 5, 6]])
with torch.no_grad():
    law = torch.softmax(model(prompt).logits[0, -1].double(), -1).numpy()
counts = np.zeros(8)
for seed in range(300):
    torch.manual_seed(seed)
    out, _ = engine.generate(prompt, speculative=True, lookahead=4, temperature=1.0,
                             max_new_tokens=1)
    counts[int(out[0, 6])] += 1
p_value = chisquare(counts, law * counts.sum()).pvalue
print("observed:", (counts / counts.sum()).round(3).tolist())
print("expected:", law.round(3).tolist(), "p =", p_value)
sys.exit(int(p_value < 1e-6))
