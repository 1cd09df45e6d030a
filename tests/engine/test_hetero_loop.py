"""The heterogeneous generation loops on tiny models with in-memory tokenizers of different sizes."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from specproof.engine.hetero_loop import generate, vocab_map_for  # noqa: E402
from specproof.engine.models import tiny_model  # noqa: E402

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def pair():
    # Target over <eos> + 'abcde', drafter over <eos> + 'abcdefgh': the drafter's 'fgh' are not
    # target tokens (the union baseline drafts them and has them rejected).
    return tiny_model(vocab=6, seed=1, dtype=torch.float64), tiny_model(
        vocab=9, seed=2, dtype=torch.float64
    )


def test_map_of_tiny_models(pair):
    target, drafter = pair
    m = vocab_map_for(target, drafter)
    assert m.target_ids.tolist() == list(range(6))
    assert m.draft_ids.tolist() == list(range(6))


@pytest.mark.parametrize(
    ("algorithm", "mode"),
    [("tli", "sample"), ("union", "sample"), ("slem", "sample"), ("slem", "greedy")],
)
def test_loops_run_and_are_reproducible(pair, algorithm, mode):
    target, drafter = pair
    runs = []
    for _ in range(2):
        generator = torch.Generator().manual_seed(7)
        result = generate(algorithm, target, drafter, [1, 2], 12, 3, generator, mode=mode)
        runs.append(result.tokens)
        assert all(0 <= t < target.vocab_size for t in result.tokens)
        assert 1 <= len(result.tokens) <= 12
        assert result.accepted <= result.proposed
    assert runs[0] == runs[1]


def test_greedy_slem_is_the_targets_greedy_decoding(pair):
    target, drafter = pair
    generator = torch.Generator().manual_seed(0)
    result = generate("slem", target, drafter, [1, 2], 8, 2, generator, mode="greedy")
    ids = [1, 2]
    expected = []
    with torch.no_grad():
        for _ in range(len(result.tokens)):
            token = int(target.model(torch.tensor([ids])).logits[0, -1].argmax())
            expected.append(token)
            ids.append(token)
            if token == target.eos_token_id:
                break
    assert result.tokens == expected


def test_loop_refuses_bad_arguments(pair):
    target, drafter = pair
    generator = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="algorithm must be"):
        generate("slrs", target, drafter, [1], 2, 1, generator)
    with pytest.raises(ValueError, match="prompt must hold"):
        generate("tli", target, drafter, [], 2, 1, generator)
