"""transformers 5.25.0: greedy universal assisted decoding crashes (`cannot reshape tensor of 0 elements`).

`generate(..., assistant_model=drafter, tokenizer=..., assistant_tokenizer=..., do_sample=False)`
with a drafter whose tokenizer has another vocabulary, 3 drafts per round and
`assistant_confidence_threshold=0.0`. 5.25.0 rolls the drafter's KV cache back by a length
counted in the target's tokens; when the drafts do not map one to one onto target tokens
(here the drafter also knows `x` and `y`, which the target does not), stale positions stay in
the cache until the drafter is handed an empty input. Tiny random Llama models with in-memory
character tokenizers (no files, no downloads).

Prints, per prompt, whether assisted decoding crashed or matched plain greedy decoding of the
target; exits 1 when a call crashed or differed (the defect: 2 of 5 prompts crash on 5.25.0),
0 when every call ran and matched (5.24.0).
"""

import sys

import torch
import transformers
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
drafter.generation_config.num_assistant_tokens = 3
drafter.generation_config.num_assistant_tokens_schedule = "constant"
drafter.generation_config.assistant_confidence_threshold = 0.0  # never stop drafting early

failures = 0
for text in ["a", "abc", "abcabca", "gfe", "bad"]:
    prompt = torch.tensor([target_tok.encode(text)])
    mask = torch.ones_like(prompt)
    with torch.no_grad():
        plain = target.generate(prompt, attention_mask=mask, max_new_tokens=6, do_sample=False,
                                pad_token_id=0)
        try:
            assisted = target.generate(prompt, attention_mask=mask, max_new_tokens=6,
                                       do_sample=False, assistant_model=drafter,
                                       tokenizer=target_tok, assistant_tokenizer=draft_tok,
                                       pad_token_id=0)
        except RuntimeError as exc:  # the defect: the drafter gets an empty input
            print(f"{text!r}: assisted decoding crashed: {exc}")
            failures += 1
            continue
    same = assisted.tolist() == plain.tolist()
    print(f"{text!r}: assisted {'==' if same else '!='} plain greedy")
    failures += not same
print(f"transformers {transformers.__version__}: {failures} of 5 prompts crashed or differed")
sys.exit(1 if failures else 0)
