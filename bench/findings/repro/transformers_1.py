"""transformers 5.24.0: universal assisted decoding rewrites the assistant model in place.

`generate(..., assistant_model=drafter, tokenizer=..., assistant_tokenizer=..., do_sample=True)`
with tokenizers of different vocabularies replaces the drafter's output layer by a head pruned
to the shared tokens and its input embeddings by an id-remapping wrapper, and caches that
translator per tokenizer pair. Three consequences, each checked below on tiny random Llama
models with in-memory character tokenizers (no files, no downloads):

1. the drafter object is no longer the model it was: its logits have the intersection's size;
2. a second sampled call with a *fresh* copy of the same drafter (same tokenizers) crashes:
   the cached translator expects pruned logits and gets full ones;
3. a greedy call with the drafter that a sampled call pruned runs on the rewritten model.

Prints what happened at each step; exits 1 when the drafter was modified or a call crashed
(the misbehaviour), 0 when the drafter is left as it was and every call ran.
"""

import copy
import sys

import torch
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast


def char_tokenizer(alphabet: str) -> PreTrainedTokenizerFast:
    """One token per character, token 0 = `<eos>`."""
    vocab = {"<eos>": 0} | {c: i + 1 for i, c in enumerate(alphabet)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<eos>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>", pad_token="<eos>")


def llama(vocab: int, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4,
                         eos_token_id=0, pad_token_id=0, bos_token_id=None)
    return LlamaForCausalLM(config).eval()


target_tok, draft_tok = char_tokenizer("abcdefg"), char_tokenizer("gfedcbaxy")  # x, y: drafter only
target, drafter = llama(8, 0), llama(10, 1)
pristine = copy.deepcopy(drafter)
prompt = torch.tensor([target_tok.encode("abcabca")])
probe = torch.tensor([draft_tok.encode("abc")])


def call(assistant: LlamaForCausalLM, sample: bool) -> str:
    torch.manual_seed(0)
    with torch.no_grad():
        out = target.generate(prompt, attention_mask=torch.ones_like(prompt), max_new_tokens=6,
                              do_sample=sample, assistant_model=assistant, tokenizer=target_tok,
                              assistant_tokenizer=draft_tok, pad_token_id=0)
    return target_tok.decode(out[0, prompt.shape[1]:])


broken = False
print("sampled call 1 (drafter):", call(drafter, True))
with torch.no_grad():
    size = drafter(probe).logits.shape[-1]
head = type(drafter.get_output_embeddings()).__name__
print(f"1. drafter after the call: output layer {head}, logits of size {size} (was 10)")
broken |= size != 10
try:
    print("2. sampled call 2 (fresh copy of the drafter):", call(copy.deepcopy(pristine), True))
except Exception as exc:  # the misbehaviour: the cached translator expects pruned logits
    print(f"2. sampled call 2 (fresh copy of the drafter) crashed: {type(exc).__name__}: {exc}")
    broken = True
try:
    print("3. greedy call with the pruned drafter:", call(drafter, False))
except Exception as exc:
    print(f"3. greedy call with the pruned drafter crashed: {type(exc).__name__}: {exc}")
    broken = True
sys.exit(1 if broken else 0)
