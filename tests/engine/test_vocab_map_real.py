"""The vocabulary map between the real Gemma-3-270M and SmolLM2-135M tokenizers (slow).

Loads only the two tokenizers (converting the models once per machine if needed).
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tokenizers():
    from transformers import AutoTokenizer

    from specproof.engine.models import converted_model_dir

    return (
        AutoTokenizer.from_pretrained(converted_model_dir("gemma3")),
        AutoTokenizer.from_pretrained(converted_model_dir("smollm2")),
    )


def test_real_map_is_ordered_and_matches_strings(tokenizers):
    from specproof.engine.tli import tli_proposal
    from specproof.engine.vocab_map import VocabMap, token_strings

    gemma, smol = tokenizers
    gemma_strings, smol_strings = token_strings(gemma), token_strings(smol)
    forward = VocabMap.from_tokenizers(gemma, smol)  # Gemma target, SmolLM2 drafter
    reverse = VocabMap.from_tokenizers(smol, gemma)
    assert forward.size == reverse.size > 40_000  # 46,032 when written
    target_ids = forward.target_ids.tolist()
    assert target_ids == sorted(target_ids)
    for t, d in zip(target_ids, forward.draft_ids.tolist(), strict=True):
        assert gemma_strings[t] == smol_strings[d]
    # Different conventions, same text: byte-level 'Ġthe' and SentencePiece '▁the'.
    the_gemma = gemma.convert_tokens_to_ids("▁the")
    the_smol = smol.convert_tokens_to_ids("Ġthe")
    assert int(forward.target_to_draft[the_gemma]) == the_smol
    # Special tokens map only to special tokens.
    special = set(gemma.all_special_ids)
    for t, d in zip(target_ids, forward.draft_ids.tolist(), strict=True):
        assert (t in special) == (d in set(smol.all_special_ids))
    # A TLI proposal over the real map is a distribution on the shared Gemma ids.
    draft = torch.softmax(torch.randn(2, len(smol), dtype=torch.float64), -1)
    proposal = tli_proposal(forward, draft)
    assert proposal.shape == (2, len(gemma))
    assert torch.allclose(proposal.sum(-1), torch.ones(2, dtype=torch.float64))
    outside = torch.ones(len(gemma), dtype=torch.bool)
    outside[forward.target_ids] = False
    assert bool((proposal[:, outside] == 0).all())
