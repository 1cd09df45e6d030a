"""The batched SD kernel equals the plain row-by-row loop on arbitrary shapes, chunks included.

Below 4 * BLOCK the batched kernel and `verify_sd_rowwise` perform the same float operations on
the same numbers (one cumulative sum per drawn row), so they must agree exactly in any dtype,
however the batch is cut into chunks.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from specproof.engine import sd
from specproof.engine.sd import verify_sd, verify_sd_rowwise
from specproof.engine.verify import draw_uniforms, verify_batch

torch.set_num_threads(1)


@st.composite
def batches(draw):
    batch, k, vocab = draw(st.integers(1, 12)), draw(st.integers(0, 6)), draw(st.integers(1, 40))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    zeros, overlap = draw(st.floats(0, 0.9)), draw(st.floats(0, 1))
    gen = torch.Generator().manual_seed(seed)

    def rows(*shape):
        w = torch.rand(*shape, vocab, generator=gen, dtype=torch.float64)
        w = w * (torch.rand(*shape, vocab, generator=gen) >= zeros)
        w[..., 0] += 1e-3
        return w / w.sum(-1, keepdim=True)

    target = rows(batch, k + 1)
    draft = rows(batch, k)
    same = torch.rand(batch, k, 1, generator=gen) < overlap
    draft = torch.where(same, target[:, :k], draft)
    tokens = torch.multinomial(draft.reshape(-1, vocab), 1, generator=gen).reshape(batch, k)
    accept_u, final_u = draw_uniforms(gen, batch, k, dtype)
    return target.to(dtype), draft.to(dtype), tokens, accept_u, final_u


@settings(max_examples=200)
@given(inputs=batches(), chunk_rows=st.integers(1, 5))
def test_batched_sd_equals_the_loop_whatever_the_chunks(inputs, chunk_rows):
    original = sd.CHUNK_BYTES
    sd.CHUNK_BYTES = chunk_rows * inputs[0].shape[-1] * inputs[0].element_size()
    try:
        fast = verify_sd(*inputs)
    finally:
        sd.CHUNK_BYTES = original
    slow = verify_sd_rowwise(*inputs)
    assert torch.equal(fast.tokens, slow.tokens)
    assert torch.equal(fast.n_accepted, slow.n_accepted)


def test_small_chunks_really_split_the_batch(monkeypatch):
    """Control: with one row per chunk the gathers run once per row (the chunk loop is used)."""
    calls = []
    original = torch.index_select

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(sd, "CHUNK_BYTES", 1)
    monkeypatch.setattr(torch, "index_select", counting)
    gen = torch.Generator().manual_seed(0)
    target = torch.softmax(torch.randn(6, 3, 10, generator=gen), -1)
    verify_sd(
        target,
        target[:, :2].clone(),
        torch.zeros(6, 2, dtype=torch.int64),
        *draw_uniforms(gen, 6, 2),
    )
    assert len(calls) == 6  # all drafts accepted (p = q): one bonus gather per row


@pytest.mark.parametrize("algorithm", ["sd", "exact_match", "greedy"])
@given(inputs=batches())
@settings(max_examples=30)
def test_non_contiguous_inputs_give_the_same_verdict(algorithm, inputs):
    target, draft, tokens, accept_u, final_u = inputs
    padded_target = torch.cat([target, torch.zeros_like(target[..., :3])], -1)[
        ..., : target.shape[-1]
    ]
    padded_draft = torch.cat([draft, torch.zeros_like(draft[..., :3])], -1)[..., : draft.shape[-1]]
    assert not padded_target.is_contiguous() or target.shape[0] * target.shape[1] == 1
    got = verify_batch(
        algorithm, padded_target, padded_draft, tokens.t().contiguous().t(), accept_u, final_u
    )
    expected = verify_batch(algorithm, target, draft, tokens, accept_u, final_u)
    assert torch.equal(got.tokens, expected.tokens)
