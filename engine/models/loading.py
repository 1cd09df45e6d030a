"""Loading a model by name: real (GGUF-converted), local directory, random or tiny."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .base import _RANDOM_KEYS, LoadedModel, _float_option, _int_option, parse_model_name
from .gguf import REAL_MODELS, converted_model_dir
from .layers import drop_layers
from .random_models import ARCHITECTURES, RANDOM_PRESETS, random_model
from .tiny import tiny_model

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


def load_model(
    name: str,
    *,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "cpu",
    cache: str | Path | None = None,
) -> LoadedModel:
    """Load the model called `name` (see the module docstring for the names).

    Args:
        name: `smollm2`, `gemma3`, a local model directory, `random-...` or `tiny-...`, with
            optional `:key=value,...` options.
        dtype: the parameter dtype (default float32; float64 for exactness tests).
        device: where to put the model.
        cache: the cache folder for converted real models (default [`cache_dir`][specproof.engine.models.base.cache_dir]).

    Raises:
        ValueError: on an unknown name, a path that is not a safetensors model directory, a bad
            option, or a GGUF file whose sha256 differs from the pinned value.
    """
    import torch

    dtype = torch.float32 if dtype is None else dtype
    base, options = parse_model_name(name)
    layers = _int_option(options, "layers", name)
    if base in REAL_MODELS or _looks_like_path(base):
        unknown = set(options) - {"layers"}
        if unknown:
            raise ValueError(
                f"model: options {sorted(unknown)} of {name!r} apply only to random and tiny models"
            )
        if base in REAL_MODELS:
            folder = converted_model_dir(base, cache=cache)
        else:
            folder = Path(base).expanduser()
        loaded = load_local(folder, dtype=dtype, device=device, name=name)
        if layers is not None:
            loaded = LoadedModel(
                name, drop_layers(loaded.model, layers), loaded.tokenizer, loaded.eos_token_id
            )
        return loaded
    if base.startswith("random-"):
        return random_model(base, options, dtype=dtype, device=device, name=name)
    if base.startswith("tiny-"):
        arch = base.removeprefix("tiny-")
        unknown = set(options) - (_RANDOM_KEYS - {"intermediate", "positions"})
        if unknown:
            raise ValueError(f"model: unknown options {sorted(unknown)} in {name!r}")
        kwargs: dict[str, Any] = {}
        for key in options:
            if key == "init_std":
                kwargs[key] = _float_option(options, key, name)
            else:
                kwargs[key] = _int_option(options, key, name)
        tiny = tiny_model(arch, dtype=dtype, **kwargs)
        tiny.name = name
        tiny.model.to(device)
        return tiny
    raise ValueError(
        f"model: unknown model {name!r}; expected one of {sorted(REAL_MODELS)}, a local model "
        f"directory, a random model ({', '.join(sorted(RANDOM_PRESETS))}, or "
        f"random-<{'|'.join(ARCHITECTURES)}>:vocab=..,hidden=..,layers=..,heads=..), or "
        f"tiny-<{'|'.join(ARCHITECTURES)}>"
    )


def _looks_like_path(base: str) -> bool:
    return os.sep in base or base.startswith((".", "~")) or Path(base).exists()


def load_local(
    folder: str | Path,
    *,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "cpu",
    name: str | None = None,
) -> LoadedModel:
    """Load a local Hugging Face model directory (safetensors weights only, never pickles).

    Raises:
        ValueError: if `folder` is not a directory holding `config.json` and safetensors weights.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"model: {str(folder)!r} is not a model name nor an existing directory")
    if not (folder / "config.json").is_file():
        raise ValueError(f"model: directory {str(folder)!r} has no config.json")
    if not any(folder.glob("*.safetensors")):
        raise ValueError(
            f"model: directory {str(folder)!r} holds no *.safetensors weights "
            "(pickled weights are never loaded)"
        )
    model = AutoModelForCausalLM.from_pretrained(
        folder, use_safetensors=True, dtype=dtype or torch.float32
    )
    model.to(device)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return LoadedModel(name or str(folder), model, tokenizer, _eos_id(model, tokenizer))


def _eos_id(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int | None:
    eos = tokenizer.eos_token_id
    if eos is None:
        eos = getattr(model.generation_config, "eos_token_id", None)
    if isinstance(eos, list):
        eos = eos[0] if eos else None
    return None if eos is None else int(eos)
