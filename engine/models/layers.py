"""Layer dropping: a copy of a model with only its first transformer layers (a draft that shares its vocabulary)."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedModel


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
