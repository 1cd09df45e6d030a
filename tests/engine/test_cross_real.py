"""Cross-vocabulary generation on the real pair (slow): Gemma-3-270M target, SmolLM2 drafter.

Greedy SLEM (`generate(algorithm="greedy")` with a `SlemDrafter`) must output exactly the
target's plain greedy decoding, token for token, on several prompts: every output token is the
target's argmax, whatever the drafter proposes. The drafter must also have proposed and had
some proposals accepted (else the check says nothing about verification). The sampled
algorithms must run, with and without KV caches giving the same tokens.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

torch = pytest.importorskip("torch")

from specproof.engine.cross_drafters import SlemDrafter, TliDrafter, vocab_map_for  # noqa: E402
from specproof.engine.generate import Sampling, generate  # noqa: E402
from specproof.engine.slrs import SlrsDrafter  # noqa: E402
from specproof.engine.union import UnionDrafter  # noqa: E402

from .real_models import load_real  # noqa: E402

PROMPTS = [
    "The history of the city begins in the early middle ages, when",
    "def fibonacci(n):\n    ",
    "Water boils at a temperature of",
]


@pytest.fixture(scope="module")
def pair():
    torch.set_num_threads(1)
    target, drafter = load_real("gemma3"), load_real("smollm2")
    return target, drafter, vocab_map_for(target, drafter)


def test_greedy_slem_is_the_targets_greedy_decoding(pair):
    target, drafter, vocab_map = pair
    accepted = 0
    for prompt in PROMPTS:
        ids = target.tokenizer.encode(prompt)
        plain = generate(target.model, None, [ids], algorithm="greedy", k=0, max_new_tokens=12)
        slem = generate(
            target.model,
            SlemDrafter(target, drafter, vocab_map),
            [ids],
            algorithm="greedy",
            k=3,
            max_new_tokens=12,
        )
        assert slem.tokens == plain.tokens, prompt
        accepted += slem.stats.accepted
    assert accepted > 0


def test_reverse_direction_greedy_slem_and_tli(pair):
    """SmolLM2 target, Gemma drafter: greedy SLEM and greedy TLI are the target's greedy."""
    drafter, target, _ = pair
    vocab_map = vocab_map_for(target, drafter)
    ids = target.tokenizer.encode(PROMPTS[1])
    plain = generate(target.model, None, [ids], algorithm="greedy", k=0, max_new_tokens=10)
    for drafter_class in (SlemDrafter, TliDrafter):
        cross = drafter_class(target, drafter, vocab_map)
        result = generate(
            cross.target_model, cross, [ids], algorithm="greedy", k=3, max_new_tokens=10
        )
        assert result.tokens == plain.tokens, drafter_class.__name__
        assert result.stats.drafted > 0


@pytest.mark.parametrize("drafter_class", [TliDrafter, UnionDrafter, SlemDrafter, SlrsDrafter])
def test_sampled_algorithms_run_and_cache_changes_nothing(pair, drafter_class):
    target, drafter, vocab_map = pair
    ids = target.tokenizer.encode(PROMPTS[0])
    algorithm = {TliDrafter: "tli", UnionDrafter: "union", SlemDrafter: "slem"}.get(
        drafter_class, "slrs"
    )
    runs = []
    for use_cache in (True, False):
        cross = drafter_class(target, drafter, vocab_map)
        result = generate(
            cross.target_model,
            cross,
            [ids],
            algorithm=algorithm,
            k=2,
            max_new_tokens=6,
            sampling=Sampling(top_k=4),
            seed=1,
            use_cache=use_cache,
        )
        runs.append(result.tokens)
        assert result.stats.drafted > 0
    assert runs[0] == runs[1]
