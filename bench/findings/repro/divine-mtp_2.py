"""divine-mtp 0.1.0: the speculative engine's greedy output is not the base model's greedy output.

Binds `builtins.Tuple` first (the package does not import otherwise, see divine-mtp_1.py),
builds a tiny random Llama, attaches 4 MTP heads whose projections are drawn at random (as
trained heads, they then propose tokens other than the current one) and compares
`DivineMtpInferenceEngine.generate` with `model.generate(do_sample=False)`. Exits 1 when they
differ (the bug), 0 when they agree.
"""

import builtins
import sys

import torch
from transformers import LlamaConfig, LlamaForCausalLM

builtins.Tuple = tuple
from divine_mtp import DivineMtpInferenceEngine, attach_divine_mtp  # noqa: E402

torch.manual_seed(0)
config = LlamaConfig(vocab_size=32, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=4, eos_token_id=None)
model = LlamaForCausalLM(config).eval()
wrapper = attach_divine_mtp(model, num_heads=4, rank=16)
with torch.no_grad():
    for head in wrapper.mtp.heads:
        head.proj_down.weight.normal_(std=1.0)
        head.proj_up.weight.normal_(std=1.0)
engine = DivineMtpInferenceEngine(wrapper)

prompt = torch.tensor([[5, 9, 2, 17, 5, 9]])
speculative = engine.generate(prompt, max_new_tokens=12).token_ids[6:]
plain = model.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False,
                       max_new_tokens=12, pad_token_id=0)[0, 6:].tolist()
print("speculative:", speculative)
print("plain      :", plain)
sys.exit(int(speculative != plain))
