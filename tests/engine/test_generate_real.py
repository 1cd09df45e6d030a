"""Generation on the real SmolLM2-135M-Instruct (slow: converts the GGUF once per machine)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine.generate import Sampling, generate  # noqa: E402
from specproof.engine.models import drop_layers  # noqa: E402

pytestmark = pytest.mark.slow

PROMPT = "Write a short poem about the sea."
DRAFT_LAYERS = 8


@pytest.fixture(scope="module")
def smollm2():
    from tests.engine.real_models import load_real

    loaded = load_real("smollm2")
    return loaded, drop_layers(loaded.model, DRAFT_LAYERS)


def test_greedy_sd_with_layer_dropped_draft_reproduces_greedy_decoding(smollm2) -> None:
    loaded, draft = smollm2
    ids = loaded.tokenizer(PROMPT)["input_ids"]
    plain = generate(loaded.model, None, [ids], algorithm="greedy", k=0, max_new_tokens=32)
    speculative = generate(loaded.model, draft, [ids], algorithm="greedy", k=4, max_new_tokens=32)
    assert len(plain.tokens[0]) == 32
    assert speculative.tokens == plain.tokens
    # The layer-dropped draft agrees with the target often enough for rollback to happen.
    histogram = speculative.stats.accepted_histogram
    assert sum(histogram[1:4]) > 0, histogram


def test_sampled_sd_is_reproducible_with_a_seed(smollm2) -> None:
    loaded, draft = smollm2
    ids = loaded.tokenizer(PROMPT)["input_ids"]
    settings = {
        "algorithm": "sd",
        "k": 4,
        "max_new_tokens": 24,
        "sampling": Sampling(0.8, top_p=0.95),
    }
    first = generate(loaded.model, draft, [ids], seed=123, **settings)
    again = generate(loaded.model, draft, [ids], seed=123, **settings)
    other = generate(loaded.model, draft, [ids], seed=124, **settings)
    assert first.tokens == again.tokens
    assert first.tokens != other.tokens
