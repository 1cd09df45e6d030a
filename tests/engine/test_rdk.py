"""RDK engine vs the exact reference, fed the same uniforms (dyadic inputs: exact in float64)."""

from __future__ import annotations

from fractions import Fraction as F

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from specproof.engine import rdk as engine
from specproof.reference import Dist, Draws
from specproof.reference import rdk as ref
from specproof.reference.rdk_mixture import mixture_acceptance, optimal_mix
from specproof.reference.tli import tli_proposal

torch.set_num_threads(1)


@st.composite
def dyadic_dists(draw: st.DrawFn, tokens: tuple[int, ...], allow_zeros: bool = True) -> Dist:
    """Distributions whose probabilities are multiples of 1/2^m (exact in float64)."""
    low = 0 if allow_zeros else 1
    weights = draw(st.lists(st.integers(low, 8), min_size=len(tokens), max_size=len(tokens)))
    if sum(weights) == 0:
        weights[draw(st.integers(0, len(tokens) - 1))] = 1
    total = 1 << max(0, (sum(weights) - 1).bit_length())
    weights[draw(st.integers(0, len(tokens) - 1))] += total - sum(weights)
    return Dist.over(tokens, [F(w, total) for w in weights])


@st.composite
def instances(draw: st.DrawFn, max_vocab: int = 6, k: int = 3):
    vocab = tuple(range(draw(st.integers(1, max_vocab))))
    mask = draw(st.lists(st.booleans(), min_size=len(vocab), max_size=len(vocab)))
    mask[draw(st.integers(0, len(vocab) - 1))] = True
    kept = tuple(t for t, m in zip(vocab, mask, strict=True) if m)
    draft_rows = [draw(dyadic_dists(kept)) for _ in range(k)]
    target_rows = [draw(dyadic_dists(vocab)) for _ in range(k + 1)]
    prior = draw(dyadic_dists(vocab))
    mix = F(draw(st.integers(0, 8)), 8)
    dense_rows = {x: draw(dyadic_dists(vocab)) for x in vocab}
    uniforms = st.integers(0, 63).map(lambda i: F(i, 64))
    first_u = draw(st.lists(uniforms, min_size=k, max_size=k))
    second_u = draw(st.lists(uniforms, min_size=k, max_size=k))
    accept_u = draw(st.lists(uniforms, min_size=k, max_size=k))
    final_u = draw(uniforms)
    return {
        "vocab": vocab,
        "draft_rows": draft_rows,
        "target_rows": target_rows,
        "prior": prior,
        "mix": mix,
        "dense": ref.Kernel(vocab, dense_rows),
        "uniforms": (first_u, second_u, accept_u, final_u),
    }


def vector(dist: Dist, tokens) -> torch.Tensor:
    return torch.tensor([float(dist[t]) for t in tokens], dtype=torch.float64)


def as_dist(row: torch.Tensor, tokens) -> dict:
    return {t: F(float(v)) for t, v in zip(tokens, row.tolist(), strict=True)}


def sparse_from(kernel: ref.Kernel) -> engine.SparseKernel:
    """The reference kernel's rows as a sparse kernel with k = V (ascending indices)."""
    size = len(kernel.tokens)
    indices = torch.arange(size).expand(size, size).contiguous()
    weights = torch.stack([vector(row, kernel.tokens) for row in kernel.rows])
    return engine.SparseKernel(indices, weights)


def forms(case):
    """(reference kernel, engine kernel) pairs: rank-one, dense and sparse forms."""
    vocab = case["vocab"]
    dense_ref = case["dense"]
    rank_ref = ref.rank_one_kernel(case["prior"], case["mix"])
    rank_engine = engine.RankOneKernel(vector(case["prior"], vocab), float(case["mix"]))
    matrix = torch.stack([vector(row, vocab) for row in dense_ref.rows])
    return [
        (rank_ref, rank_engine),
        (dense_ref, engine.DenseKernel(matrix)),
        (dense_ref, sparse_from(dense_ref)),
        (rank_ref, engine.DenseKernel(torch.stack([vector(r, vocab) for r in rank_ref.rows]))),
    ]


@settings(max_examples=150, deadline=None)
@given(instances())
def test_engine_matches_reference_draw_by_draw(case):
    vocab = case["vocab"]
    first_u, second_u, accept_u, final_u = case["uniforms"]
    source = torch.stack([vector(tli_proposal(row, vocab), vocab) for row in case["draft_rows"]])
    target = torch.stack([vector(row, vocab) for row in case["target_rows"]])
    as_tensor = lambda us: torch.tensor([float(u) for u in us], dtype=torch.float64)  # noqa: E731
    for ref_kernel, engine_kernel in forms(case):
        rdk = ref.RDK(ref_kernel)
        proposals = engine_kernel.propose(source)
        for i, row in enumerate(case["draft_rows"]):
            assert as_dist(proposals[i], vocab) == dict(rdk.proposal(row).items())
        expected_drafts = rdk.draft(case["draft_rows"], ref.StageDraws(first_u, second_u))
        _, drafts = engine.draft_rdk(source, engine_kernel, as_tensor(first_u), as_tensor(second_u))
        assert tuple(drafts.tolist()) == expected_drafts
        expected = rdk.verify(
            case["target_rows"], case["draft_rows"], expected_drafts, Draws(accept_u, final_u)
        )
        verdict = engine.verify_rdk(
            target.unsqueeze(0),
            proposals.unsqueeze(0),
            drafts.unsqueeze(0),
            as_tensor(accept_u).unsqueeze(0),
            as_tensor([final_u]),
        )
        assert tuple(verdict.row(0)) == expected.tokens


def test_a_draw_from_the_wrong_kernel_row_is_caught():
    # Negative control for the differential test: using the dense kernel's transpose (columns
    # instead of rows) changes some draw for this fixed instance.
    vocab = (0, 1, 2)
    matrix = torch.tensor(
        [[0.5, 0.5, 0.0], [0.0, 0.25, 0.75], [1.0, 0.0, 0.0]], dtype=torch.float64
    )
    kernel = ref.Kernel(
        vocab, {x: Dist.over(vocab, [F(v) for v in matrix[x].tolist()]) for x in vocab}
    )
    draft = Dist.over((0, 1), [F(1, 2), F(1, 2)])
    source = vector(tli_proposal(draft, vocab), vocab)
    draws = [(F(i, 8), F(j, 8)) for i in range(8) for j in range(8)]
    right = [ref.draw_rdk(draft, kernel, a, b)[1] for a, b in draws]
    wrong = engine.DenseKernel(matrix.T.contiguous() / matrix.T.sum(-1, keepdim=True))
    got = [
        int(engine.draft_rdk(source, wrong, torch.tensor(float(a)), torch.tensor(float(b)))[1])
        for a, b in draws
    ]
    assert got != right


@settings(max_examples=100, deadline=None)
@given(instances(k=1))
def test_oracle_mix_matches_the_reference(case):
    vocab = case["vocab"]
    source_dist = tli_proposal(case["draft_rows"][0], vocab)
    target_dist = case["target_rows"][0]
    _, alpha = optimal_mix(target_dist, source_dist, case["prior"])
    lam_engine, alpha_engine = engine.optimal_mix(
        vector(target_dist, vocab).unsqueeze(0),
        vector(source_dist, vocab).unsqueeze(0),
        vector(case["prior"], vocab),
    )
    assert abs(float(alpha_engine[0]) - float(alpha)) <= 1e-12
    # The engine's lambda attains the maximum (checked exactly on the reference).
    exact_at_engine = mixture_acceptance(
        target_dist, source_dist, case["prior"], F(float(lam_engine[0]))
    )
    assert abs(float(exact_at_engine) - float(alpha)) <= 1e-12


def test_rank_one_draw_edges():
    prior = torch.tensor([0.0, 0.5, 0.5], dtype=torch.float64)
    kernel = engine.RankOneKernel(prior, 0.5)  # row x = 0.5 e_x + 0.5 r
    rows = torch.tensor([0, 0, 2, 2, 1])
    u = torch.tensor([0.0, 0.5, 0.0, 0.49, 0.74], dtype=torch.float64)
    # row 0: cumsum (0.5, 0.75, 1): u=0 -> 0, u=0.5 -> 1; row 2: (0, 0.25, 1): 0 -> 1, 0.49 -> 2
    # row 1: (0, 0.75, 1): u=0.74 -> 1
    assert kernel.draw_row(rows, u).tolist() == [0, 1, 1, 2, 1]


def test_validation_names_the_argument():
    with pytest.raises(ValueError, match="prior"):
        engine.RankOneKernel(torch.tensor([0.5, 0.6]), 0.5)
    with pytest.raises(ValueError, match="mix"):
        engine.RankOneKernel(torch.tensor([0.5, 0.5]), 1.5)
    with pytest.raises(ValueError, match="ascending"):
        engine.SparseKernel(torch.tensor([[1, 0], [0, 1]]), torch.full((2, 2), 0.5))
    with pytest.raises(ValueError, match="matrix"):
        engine.DenseKernel(torch.ones(2, 3))
    kernel = engine.RankOneKernel(torch.tensor([0.5, 0.5]), 0.5)
    with pytest.raises(ValueError, match="first_u"):
        engine.draft_rdk(torch.tensor([1.0, 0.0]), kernel, torch.tensor(1.0), torch.tensor(0.0))
    with pytest.raises(ValueError, match="V=3"):
        engine.draft_rdk(torch.ones(3) / 3, kernel, torch.tensor(0.0), torch.tensor(0.0))
