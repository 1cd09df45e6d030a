"""Union baseline and TLI, engine: the vocabulary map, and rounds against the reference.

The differential tests use dyadic probabilities whose shared mass $q(I)$ is a power of two and
dyadic uniforms, so every float64 operation of the engine (restriction, division by $q(I)$,
products, residuals, cumulative sums) is exact and the engine must agree with the exact
reference draw for draw, with no tolerance.
"""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from specproof.engine.tli import (  # noqa: E402
    draw_drafts,
    tli_proposal,
    tli_proposal_from_logits,
    tli_round,
)
from specproof.engine.union import union_round  # noqa: E402
from specproof.engine.vocab_map import VocabMap, token_strings  # noqa: E402
from specproof.reference import STANDARD_SD, Dist, Draws  # noqa: E402
from specproof.reference.tli import tli_proposal as reference_tli_proposal  # noqa: E402
from specproof.reference.union import extend, union_vocabulary  # noqa: E402
from specproof.reference.verifier import inverse_cdf  # noqa: E402

torch.set_num_threads(1)


def composition(draw, total, parts):
    """`parts` non-negative integers summing to `total`."""
    cuts = sorted(draw(st.lists(st.integers(0, total), min_size=parts - 1, max_size=parts - 1)))
    bounds = [0, *cuts, total]
    return [b - a for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


@st.composite
def dyadic_case(draw):
    """Vocabularies, rows and uniforms of one round where float64 is exact."""
    target_vocab = draw(st.permutations(["a", "b", "ab", "ba", "aa"]))[: draw(st.integers(2, 5))]
    extra = draw(st.lists(st.sampled_from(["x", "ax", "bb", "abb"]), unique=True, max_size=3))
    shared = draw(st.lists(st.sampled_from(target_vocab), unique=True, min_size=1))
    draft_vocab = draw(st.permutations([*shared, *extra]))
    k = draw(st.integers(0, 3))
    scale = 64
    targets, drafts = [], []
    for _ in range(k + 1):
        weights = composition(draw, scale, len(target_vocab))
        targets.append(Dist({t: F(w, scale) for t, w in zip(target_vocab, weights, strict=True)}))
    only = [t for t in draft_vocab if t not in shared]
    for _ in range(k):
        shared_exp = draw(st.integers(0, 2)) if only else 0  # q(I) = 2^-shared_exp
        inside = composition(draw, scale, len(shared))
        outside = composition(draw, scale * (2**shared_exp - 1), len(only)) if only else []
        if sum(inside) == 0:
            inside[0] = scale
        mass = scale * 2**shared_exp
        row = dict(zip(shared, [F(w, mass) for w in inside], strict=True))
        row.update(zip(only, [F(w, mass) for w in outside], strict=True))
        drafts.append(Dist({t: row[t] for t in draft_vocab}))
    uniforms = st.integers(0, 31).map(lambda i: F(i, 32))
    accept_u = draw(st.lists(uniforms, min_size=k, max_size=k))
    return target_vocab, draft_vocab, targets, drafts, accept_u, draw(uniforms)


def tensor(rows, vocab):
    return torch.tensor([[[float(r[t]) for t in vocab] for r in rows]], dtype=torch.float64)


@settings(max_examples=150, deadline=None)
@given(case=dyadic_case(), data=st.data())
def test_tli_round_matches_the_reference(case, data):
    target_vocab, draft_vocab, targets, drafts, accept_u, final_u = case
    vocab_map = VocabMap.from_strings(target_vocab, draft_vocab)
    proposals = [reference_tli_proposal(q, target_vocab) for q in drafts]
    draft_tokens = [data.draw(st.sampled_from(row.support)) for row in proposals]
    expected = STANDARD_SD.verify(targets, proposals, draft_tokens, Draws(tuple(accept_u), final_u))
    k = len(drafts)
    verdict = tli_round(
        vocab_map,
        tensor(targets, target_vocab),
        tensor(drafts, draft_vocab).reshape(1, k, len(draft_vocab)),
        torch.tensor([[draft_vocab.index(t) for t in draft_tokens]], dtype=torch.int64),
        torch.tensor([[float(u) for u in accept_u]], dtype=torch.float64).reshape(1, k),
        torch.tensor([float(final_u)], dtype=torch.float64),
    )
    assert [target_vocab[i] for i in verdict.row(0)] == list(expected.tokens)
    # The proposal itself is exact, and drawing from it is the pinned rule.
    engine_rows = tli_proposal(vocab_map, tensor(drafts, draft_vocab).reshape(k, len(draft_vocab)))
    for row, reference in zip(engine_rows, proposals, strict=True):
        assert [F(float(v)) for v in row] == [reference[t] for t in target_vocab]
    if k:
        u = torch.tensor([float(v) for v in accept_u], dtype=torch.float64)
        drawn = draw_drafts(engine_rows, u).tolist()
        assert [target_vocab[i] for i in drawn] == [
            inverse_cdf(r.probs, r.tokens, v) for r, v in zip(proposals, accept_u, strict=True)
        ]


@settings(max_examples=150, deadline=None)
@given(case=dyadic_case(), data=st.data())
def test_union_round_matches_the_reference(case, data):
    target_vocab, draft_vocab, targets, drafts, accept_u, final_u = case
    vocab_map = VocabMap.from_strings(target_vocab, draft_vocab)
    k = len(drafts)
    draft_tokens = [data.draw(st.sampled_from(row.support)) for row in drafts]
    vocab_u = union_vocabulary(target_vocab, draft_vocab)
    target_rows = [extend(p, vocab_u) for p in targets]
    draft_rows = [extend(q, vocab_u) for q in drafts]
    expected = STANDARD_SD.verify(
        target_rows, draft_rows, draft_tokens, Draws(tuple(accept_u), final_u)
    )
    verdict = union_round(
        vocab_map,
        tensor(targets, target_vocab),
        tensor(drafts, draft_vocab).reshape(1, k, len(draft_vocab)),
        torch.tensor([[draft_vocab.index(t) for t in draft_tokens]], dtype=torch.int64).reshape(
            1, k
        ),
        torch.tensor([[float(u) for u in accept_u]], dtype=torch.float64).reshape(1, k),
        torch.tensor([float(final_u)], dtype=torch.float64),
    )
    assert [target_vocab[i] for i in verdict.row(0)] == list(expected.tokens)


def test_vocab_map_order_matches_the_token_strings():
    target = ["<eos>", "a", "b", "ab", "a", "ba"]  # 'a' twice: id 1 is mapped, id 4 is not
    draft = ["b", "<eos>", "ab", "x", "a"]
    m = VocabMap.from_strings(target, draft, target_special={0}, draft_special={1})
    pairs = list(zip(m.target_ids.tolist(), m.draft_ids.tolist(), strict=True))
    assert pairs == [(0, 1), (1, 4), (2, 0), (3, 2)]
    assert m.target_ids.tolist() == sorted(m.target_ids.tolist())
    for t, d in pairs:
        assert target[t] == draft[d]
    assert m.draft_to_target.tolist() == [2, 0, 3, -1, 1]
    assert m.target_to_draft.tolist() == [1, 4, 0, 2, -1, -1]


def test_special_tokens_match_only_special_tokens():
    # The target's special '<eos>' and the drafter's ordinary '<eos>' are different tokens.
    m = VocabMap.from_strings(["<eos>", "a"], ["a", "<eos>"], target_special={0})
    assert m.target_ids.tolist() == [1]
    with pytest.raises(ValueError, match="share no token string"):
        VocabMap.from_strings(["a", "b"], ["c"])


def test_bad_rows_and_tokens_are_refused():
    m = VocabMap.from_strings(["a", "b"], ["a", "c"])
    with pytest.raises(ValueError, match=r"draft_probs\[1\] has no positive, finite mass"):
        tli_proposal(m, torch.tensor([[0.5, 0.5], [0.0, 1.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="last dimension V_D = 2"):
        tli_proposal(m, torch.ones(1, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="drafter id 1, which is not a shared token"):
        m.draft_tokens_to_target(torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match="-inf at every shared token"):
        tli_proposal_from_logits(m, torch.tensor([[float("-inf"), 0.0]]))


def test_proposal_from_logits_is_the_softmax_over_shared_ids():
    m = VocabMap.from_strings(["a", "b", "ab"], ["b", "c", "a"])
    logits = torch.tensor([[0.0, 5.0, 0.0]], dtype=torch.float64)
    out = tli_proposal_from_logits(m, logits)
    assert out.tolist() == [[0.5, 0.5, 0.0]]
    assert torch.allclose(out, tli_proposal(m, logits.softmax(-1)))


def test_token_strings_of_in_memory_tokenizers():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    byte_level = Tokenizer(models.BPE({"Ġthe": 0, "a": 1, "Ċ": 2, "<eos>": 3}, []))
    byte_level.pre_tokenizer = pre_tokenizers.ByteLevel()
    byte_level.decoder = decoders.ByteLevel()
    first = PreTrainedTokenizerFast(tokenizer_object=byte_level, eos_token="<eos>")
    metaspace = Tokenizer(models.BPE({"▁the": 0, "<0x0A>": 1, "a": 2, "<eos>": 3, "<0xC3>": 4}, []))
    metaspace.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback()])
    second = PreTrainedTokenizerFast(tokenizer_object=metaspace, eos_token="<eos>")
    assert token_strings(first) == [" the", "a", "\n", "<eos>"]
    assert token_strings(second) == [" the", "\n", "a", "<eos>", None]
    m = VocabMap.from_tokenizers(second, first)
    assert list(zip(m.target_ids.tolist(), m.draft_ids.tolist(), strict=True)) == [
        (0, 0),
        (1, 2),
        (2, 1),
        (3, 3),
    ]
