"""Random-initialised models of a given architecture and size, with weights drawn per parameter name."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import _RANDOM_KEYS, LoadedModel, _float_option, _int_option
from .chars import char_tokenizer

if TYPE_CHECKING:
    import torch


#: Architectures of random-initialised models: short name -> transformers model type.
ARCHITECTURES = {"gpt2": "gpt2", "starcoder": "gpt_bigcode", "llama": "llama"}

#: Named sizes of random-initialised models (`vocab`, `hidden`, `layers`, `heads`, ...).
#: Parameter counts are approximate and include the embeddings.
RANDOM_PRESETS: dict[str, dict[str, Any]] = {
    "random-gpt2-tiny": {"arch": "gpt2", "vocab": 512, "hidden": 64, "layers": 2, "heads": 4},
    "random-gpt2-124m": {"arch": "gpt2", "vocab": 50257, "hidden": 768, "layers": 12, "heads": 12},
    "random-starcoder-tiny": {
        "arch": "starcoder",
        "vocab": 512,
        "hidden": 64,
        "layers": 2,
        "heads": 4,
    },
    "random-starcoder-100m": {
        "arch": "starcoder",
        "vocab": 49152,
        "hidden": 768,
        "layers": 6,
        "heads": 12,
    },
    "random-starcoder-1b": {
        "arch": "starcoder",
        "vocab": 49152,
        "hidden": 2048,
        "layers": 20,
        "heads": 16,
    },
    "random-llama-tiny": {"arch": "llama", "vocab": 512, "hidden": 64, "layers": 2, "heads": 4},
    "random-llama-100m": {
        "arch": "llama",
        "vocab": 32000,
        "hidden": 768,
        "layers": 8,
        "heads": 12,
    },
    "random-llama-1b": {
        "arch": "llama",
        "vocab": 32000,
        "hidden": 2048,
        "layers": 16,
        "heads": 32,
    },
}


def random_config(
    arch: str, *, vocab: int, hidden: int, layers: int, heads: int, **extra: Any
) -> Any:
    """A transformers config for a random model of architecture `arch` and the given sizes.

    Args:
        arch: `gpt2`, `starcoder` (GPTBigCode, multi-query attention) or `llama`.
        vocab: vocabulary size V.
        hidden: hidden size (a multiple of `heads`).
        layers: number of transformer layers.
        heads: number of attention heads.
        **extra: `intermediate` (MLP width, default 4x hidden; Llama default 8/3x hidden
            rounded to 64), `positions` (maximum length, default 2048), `init_std` (the normal
            initialisation's standard deviation, default 0.02), `eos` (end-of-sequence id,
            default 0).

    Raises:
        ValueError: on an unknown architecture or inconsistent sizes.
    """
    from transformers import GPT2Config, GPTBigCodeConfig, LlamaConfig

    if arch not in ARCHITECTURES:
        raise ValueError(
            f"model: architecture must be one of {sorted(ARCHITECTURES)}, got {arch!r}"
        )
    for key, value in (("vocab", vocab), ("hidden", hidden), ("layers", layers), ("heads", heads)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"model: {key} must be a positive int, got {value!r}")
    if hidden % heads:
        raise ValueError(f"model: hidden ({hidden}) must be a multiple of heads ({heads})")
    positions = int(extra.get("positions", 2048))
    init_std = float(extra.get("init_std", 0.02))
    eos = int(extra.get("eos", 0))
    if arch == "llama":
        intermediate = int(extra.get("intermediate") or max(64, (hidden * 8 // 3 + 63) // 64 * 64))
        return LlamaConfig(
            vocab_size=vocab,
            hidden_size=hidden,
            intermediate_size=intermediate,
            num_hidden_layers=layers,
            num_attention_heads=heads,
            num_key_value_heads=heads,
            max_position_embeddings=positions,
            initializer_range=init_std,
            tie_word_embeddings=True,
            bos_token_id=eos,
            eos_token_id=eos,
            pad_token_id=eos,
        )
    common = {
        "vocab_size": vocab,
        "n_embd": hidden,
        "n_layer": layers,
        "n_head": heads,
        "n_positions": positions,
        "n_inner": extra.get("intermediate"),
        "initializer_range": init_std,
        "bos_token_id": eos,
        "eos_token_id": eos,
        "pad_token_id": eos,
    }
    if arch == "gpt2":
        return GPT2Config(**common)
    return GPTBigCodeConfig(multi_query=True, **common)


def random_model(
    base: str,
    options: Mapping[str, str] | None = None,
    *,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "cpu",
    name: str | None = None,
) -> LoadedModel:
    """A random-initialised model from a preset (`random-llama-100m`) or `random-<arch>`.

    Options (strings, as parsed from a model name) override the preset's sizes: `vocab`,
    `hidden`, `layers`, `heads`, `intermediate`, `positions`, `seed` (default 0; the weights
    are a function of the seed), `init_std`. The tokenizer is a character tokenizer
    ([`char_tokenizer`][specproof.engine.models.chars.char_tokenizer]) padded to the vocabulary size.

    Raises:
        ValueError: on an unknown preset or architecture or a bad option.
    """
    import torch

    options = dict(options or {})
    label = name or base
    unknown = set(options) - _RANDOM_KEYS
    if unknown:
        raise ValueError(f"model: unknown options {sorted(unknown)} in {label!r}")
    if base in RANDOM_PRESETS:
        sizes = dict(RANDOM_PRESETS[base])
    else:
        arch = base.removeprefix("random-")
        if arch not in ARCHITECTURES:
            raise ValueError(
                f"model: unknown random model {label!r}; presets: {sorted(RANDOM_PRESETS)}, or "
                f"random-<{'|'.join(ARCHITECTURES)}>:vocab=..,hidden=..,layers=..,heads=.."
            )
        sizes = {"arch": arch, "vocab": 512, "hidden": 64, "layers": 2, "heads": 4}
    for key in options:
        if key == "init_std":
            sizes[key] = _float_option(options, key, label)
        else:
            sizes[key] = _int_option(options, key, label)
    seed = int(sizes.pop("seed", 0))
    arch = sizes.pop("arch")
    tokenizer = char_tokenizer(vocab_size=int(sizes["vocab"]))
    config = random_config(arch, eos=int(tokenizer.eos_token_id), **sizes)
    model = _init_model(config, seed, dtype or torch.float32, device)
    return LoadedModel(label, model, tokenizer, int(tokenizer.eos_token_id))


def _init_model(config: Any, seed: int, dtype: torch.dtype, device: str | torch.device) -> Any:
    """Build a model from `config` and draw its weight matrices from the seed, per parameter.

    Every parameter with two or more dimensions is drawn from N(0, initializer_range**2) by a
    generator seeded from `(seed, parameter name)`; norms and biases keep transformers' constant
    initialisation. So the weights of layer i do not depend on how many layers the model has:
    a random model with N layers is exactly the first N layers of the same model with more
    (same seed and other sizes), which makes `random-...:layers=N` a layer-dropped draft of the
    deeper model, as for real models.
    """
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device(device):
        model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    std = float(config.initializer_range)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if parameter.dim() < 2:
                continue
            digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
            generator = torch.Generator(device=parameter.device)
            generator.manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
            values = torch.randn(
                parameter.shape, generator=generator, dtype=torch.float32, device=parameter.device
            )
            parameter.copy_(values.mul_(std))
    model.eval()
    return model
