"""Model names and options, the cache folder, and the loaded-model value every loader returns."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


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
