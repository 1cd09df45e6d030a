"""Large vocabularies: the two-level inverse-CDF search and the chunked batched kernel.

At V >= 4 * BLOCK the engine draws tokens with block sums plus one block's cumulative sum, and
gathers rows in chunks. On dyadic rows (every probability a multiple of 2**-24, rows summing to
exactly 1) every sum is exact in float32 and float64 whatever the order of summation, so the
batched kernel must agree *exactly* with the plain row-by-row loop (`verify_sd_rowwise`), and in
float64 with the exact reference.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from specproof.engine.adapters import EngineVerifier
from specproof.engine.greedy import argmax_rows
from specproof.engine.kernels import BLOCK, inverse_cdf_with_mass
from specproof.engine.sd import verify_sd, verify_sd_rowwise
from specproof.engine.verify import verify_batch
from specproof.reference import EXACT_MATCH, STANDARD_SD, Dist, Draws

torch.set_num_threads(1)

GRID = 2**24
DTYPES = [torch.float64, torch.float32]


def dyadic_rows(
    gen: torch.Generator, shape: tuple[int, ...], vocab: int, zeros: float
) -> torch.Tensor:
    """Rows of integer weights (multiples of 2**-24) summing to exactly 2**24, as float64."""
    raw = torch.rand(*shape, vocab, generator=gen, dtype=torch.float64) ** 4
    raw = raw * (torch.rand(*shape, vocab, generator=gen) >= zeros)
    raw[..., 0] += 1e-3  # never an all-zero row
    weights = torch.floor(raw / raw.sum(-1, keepdim=True) * GRID)
    mode = weights.argmax(-1, keepdim=True)
    weights.scatter_add_(-1, mode, GRID - weights.sum(-1, keepdim=True))
    return weights / GRID


def grid_uniforms(gen: torch.Generator, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.floor(torch.rand(*shape, generator=gen, dtype=torch.float64) * 2**29) / 2**29


def one_level(weights: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    return inverse_cdf_with_mass(weights, u, block=weights.shape[-1])[0]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("vocab", [4 * BLOCK, 4 * BLOCK + 7, 10_000])
@pytest.mark.parametrize("block", [None, 1, 37, BLOCK])
def test_two_level_search_equals_one_level_on_dyadic_rows(dtype, vocab, block):
    gen = torch.Generator().manual_seed(vocab)
    weights = dyadic_rows(gen, (64,), vocab, zeros=0.7).to(dtype)
    u = grid_uniforms(gen, (64,)).to(dtype)
    # Also uniforms exactly at cumulative sums (the strict rule's boundaries).
    cum = weights.double().cumsum(-1)
    at_boundary = cum.gather(1, torch.randint(0, vocab - 1, (64, 1), generator=gen)).squeeze(1)
    for uniforms in (u, at_boundary.to(dtype)):
        got, mass = inverse_cdf_with_mass(weights, uniforms, block)
        assert torch.equal(got, one_level(weights, uniforms))
        assert (mass == 1).all()
        assert (weights.gather(1, got.unsqueeze(1)) > 0).all()


def test_two_level_search_can_fail():
    """Control: a different rule (non-strict `<=`) is told apart on the same rows."""
    gen = torch.Generator().manual_seed(1)
    weights = dyadic_rows(gen, (64,), 5000, zeros=0.7)
    at_boundary = (
        weights.cumsum(-1).gather(1, torch.randint(0, 4999, (64, 1), generator=gen)).squeeze(1)
    )
    cum = weights.cumsum(-1)
    non_strict = (cum < at_boundary.unsqueeze(1)).sum(-1)
    assert not torch.equal(inverse_cdf_with_mass(weights, at_boundary)[0], non_strict)


def dyadic_batch(seed: int, batch: int, k: int, vocab: int, dtype: torch.dtype, mix: float):
    gen = torch.Generator().manual_seed(seed)
    target = dyadic_rows(gen, (batch, k + 1), vocab, zeros=0.5)
    noise = dyadic_rows(gen, (batch, k), vocab, zeros=0.5)
    # Half-way mixtures of dyadic rows are dyadic on the 2**-25 grid: exact in both dtypes.
    draft = torch.where(
        torch.rand(batch, k, 1, generator=gen) < mix, target[:, :k], (target[:, :k] + noise) / 2
    )
    tokens = torch.multinomial(draft.reshape(-1, vocab), 1, generator=gen).reshape(batch, k)
    accept_u = grid_uniforms(gen, (batch, k))
    final_u = grid_uniforms(gen, (batch,))
    return target.to(dtype), draft.to(dtype), tokens, accept_u.to(dtype), final_u.to(dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    ("batch", "k", "vocab"), [(40, 3, 5000), (3, 6, 70_000), (17, 0, 4 * BLOCK)]
)
def test_batched_sd_equals_the_row_by_row_loop(dtype, batch, k, vocab):
    inputs = dyadic_batch(batch * vocab + k, batch, k, vocab, dtype, mix=0.3)
    fast = verify_sd(*inputs)
    slow = verify_sd_rowwise(*inputs)
    assert torch.equal(fast.tokens, slow.tokens) and torch.equal(fast.n_accepted, slow.n_accepted)
    assert 0 < int(fast.n_accepted.sum()) < batch * k or k == 0  # both accepts and rejections


def test_row_by_row_loop_can_fail():
    """Control: the loop is a real oracle; a perturbed input changes its answer."""
    inputs = list(dyadic_batch(5, 40, 3, 5000, torch.float64, mix=0.3))
    before = verify_sd_rowwise(*inputs)
    inputs[4] = (inputs[4] + 0.5) % 1
    assert not torch.equal(verify_sd(*inputs).tokens, before.tokens)


def to_dist(row: torch.Tensor) -> Dist:
    weights = (row.double() * GRID * 2).round().long().tolist()  # exact: rows are on 2**-25
    return Dist.over(list(range(len(weights))), [Fraction(w, 2 * GRID) for w in weights])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**16), algorithm=st.sampled_from(["sd", "exact_match"]))
def test_float64_engine_equals_the_reference_at_large_vocabulary(seed, algorithm):
    vocab, k = 4 * BLOCK + 3, 2
    target, draft, tokens, accept_u, final_u = dyadic_batch(
        seed, 1, k, vocab, torch.float64, mix=0.3
    )
    rnd = (
        [to_dist(r) for r in target[0]],
        [to_dist(r) for r in draft[0]],
        tokens[0].tolist(),
        Draws(tuple(Fraction(float(u)) for u in accept_u[0]), Fraction(float(final_u[0]))),
    )
    reference = {"sd": STANDARD_SD, "exact_match": EXACT_MATCH}[algorithm]
    assert EngineVerifier(algorithm, torch.float64).verify(*rnd) == reference.verify(*rnd)
    verdict = verify_batch(algorithm, target, draft, tokens, accept_u, final_u)
    assert tuple(verdict.row(0)) == reference.verify(*rnd).tokens


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("vocab", [4 * BLOCK, 32_000, 4 * BLOCK + 1])
def test_two_level_argmax_equals_torch_argmax_with_ties(dtype, vocab):
    gen = torch.Generator().manual_seed(vocab)
    scores = torch.randint(0, 50, (2, 30, vocab), generator=gen).to(dtype)  # many ties at the top
    scores[0, 0] = 7  # a constant row: index 0
    scores[0, 1, -1] = 60  # the maximum in the last block
    assert torch.equal(argmax_rows(scores), scores.argmax(-1))
    assert argmax_rows(scores)[0, 0] == 0 and argmax_rows(scores)[0, 1] == vocab - 1


def test_two_level_argmax_can_fail():
    """Control: a last-index-on-ties argmax is told apart on the same kind of rows."""
    scores = torch.randint(
        0, 50, (2, 30, 32_000), generator=torch.Generator().manual_seed(0)
    ).float()
    last_index = scores.shape[-1] - 1 - scores.flip(-1).argmax(-1)
    assert not torch.equal(argmax_rows(scores), last_index)


@pytest.mark.parametrize("value", [math.nan, math.inf])
def test_greedy_refuses_nan_and_inf_without_the_full_scan(value):
    target, draft, tokens, accept_u, final_u = dyadic_batch(0, 3, 2, 5000, torch.float32, mix=0.3)
    target[1, 2, 4321] = value
    with pytest.raises(ValueError, match="target_probs has a NaN, infinite"):
        verify_batch("greedy", target, draft, tokens, accept_u, final_u, check_values=False)


def test_two_level_search_when_rounding_pushes_the_threshold_past_the_block():
    """float32: a block's sum can round above its own last cumulative sum; the threshold can then
    land between the two. The search must return the block's last token of positive weight."""
    vocab, block, n = 4096, 1024, 64
    gen = torch.Generator().manual_seed(0)
    weights = torch.rand(n, vocab, generator=gen)
    weights[:, 1023::1024] = 0  # each block ends on a zero weight: "last positive" is not the end
    blocked = weights.view(n, vocab // block, block)
    prefix = torch.nn.functional.pad(blocked.sum(-1), (1, 0)).cumsum(-1)
    cum = blocked.cumsum(-1)
    cases = []
    for r in range(n):
        for b in range(vocab // block):
            if cases and cases[-1][0] == r:
                break  # one case per row
            u = prefix[r, b] + cum[r, b, -1]
            u = u / prefix[r, -1]
            for _ in range(40):  # walk up float32 uniforms until the threshold is in the gap
                threshold = u * prefix[r, -1]
                if threshold >= prefix[r, b + 1] or u >= 1:
                    break
                if threshold - prefix[r, b] >= cum[r, b, -1]:
                    cases.append((r, b, u.clone()))
                    break
                u = torch.nextafter(u, torch.tensor(2.0))
    assert len(cases) >= 5, "no threshold in a rounding gap: the fallback is untested"
    uniforms = torch.zeros(n)
    for r, _, u in cases:
        uniforms[r] = u
    got = inverse_cdf_with_mass(weights, uniforms, block)[0]
    for r, b, _ in cases:
        assert int(got[r]) == b * block + 1022  # the last positive weight of block b
