"""Pruned-head drafters and the kernels built for them, on a tiny model and hand-made inputs."""

from __future__ import annotations

import pytest
import torch

from specproof.engine.models import load_model
from specproof.engine.pruned import (
    PrunedHead,
    cosine_kernel,
    frequency_mix,
    frequency_prior,
    keep_most_frequent,
    overlap_kernel,
    token_counts,
)

torch.set_num_threads(1)


def test_pruned_rows_are_the_full_rows_restricted_and_renormalised():
    loaded = load_model("tiny-llama:vocab=9,seed=3", dtype=torch.float64)
    kept = torch.tensor([1, 4, 5, 8])
    head = PrunedHead(loaded.model, kept)
    ids = torch.tensor([[1, 2, 3, 4]])
    source, _ = head.next_source(ids)
    with torch.no_grad():
        full = torch.softmax(loaded.model(ids).logits[:, -1].double(), -1)
    expected = torch.zeros_like(full)
    expected[:, kept] = full[:, kept] / full[:, kept].sum(-1, keepdim=True)
    assert torch.allclose(source.double(), expected, atol=1e-6)  # float32 softmax in source_rows
    assert float(source[:, [0, 2, 3, 6, 7]].abs().max()) == 0.0


def test_pruned_head_validation():
    loaded = load_model("tiny-llama:vocab=9,seed=3")
    with pytest.raises(ValueError, match="ascending"):
        PrunedHead(loaded.model, torch.tensor([4, 1]))
    with pytest.raises(ValueError, match="lie in"):
        PrunedHead(loaded.model, torch.tensor([1, 9]))
    with pytest.raises(ValueError, match="temperature"):
        PrunedHead(loaded.model, torch.tensor([1])).source_rows(torch.zeros(1, 16), 0.0)


def test_counts_keep_prior_and_mix():
    counts = token_counts([[0, 1, 1, 2], [2, 2, 5]], 6)
    assert counts.tolist() == [1, 2, 3, 0, 0, 1]
    kept = keep_most_frequent(
        counts, 0.5
    )  # 3 of 6: ids 2 (3), 1 (2), then 0 (tie with 5: lower id)
    assert kept.tolist() == [0, 1, 2]
    assert frequency_prior(counts, kept).tolist() == [0, 0, 0, 0, 0, 1.0]
    assert frequency_mix(counts, kept) == pytest.approx(1 / 7)
    with pytest.raises(ValueError, match="fraction"):
        keep_most_frequent(counts, 0.0)
    with pytest.raises(ValueError, match="no pruned token"):
        frequency_prior(counts, torch.tensor([0, 1, 2, 5]))
    with pytest.raises(ValueError, match="lie in"):
        token_counts([[6]], 6)


def test_cosine_kernel_sends_mass_to_the_nearest_candidates():
    embeddings = torch.tensor(
        [[1.0, 0.0], [0.0, 1.0], [0.9, 0.1], [0.1, 0.9], [-1.0, 0.0], [0.7, 0.7]]
    )
    kernel = cosine_kernel(embeddings, torch.tensor([0, 1]), torch.tensor([2, 3, 4]), 1, 0.25)
    source = torch.zeros(1, 6, dtype=torch.float64)
    source[0, 0] = 1.0
    row0 = kernel.propose(source)[0]
    assert row0[0] == pytest.approx(0.75) and row0[2] == pytest.approx(0.25)
    source = torch.zeros(1, 6, dtype=torch.float64)
    source[0, 1] = 1.0
    assert kernel.propose(source)[0, 3] == pytest.approx(0.25)
    # Rows without neighbours are the identity.
    source = torch.zeros(1, 6, dtype=torch.float64)
    source[0, 5] = 1.0
    assert kernel.propose(source)[0].tolist() == [0, 0, 0, 0, 0, 1.0]


def test_overlap_kernel_prefers_frequent_extensions():
    strings = ["the", "a", "there", "then", "theory", "x"]
    counts = torch.tensor([10.0, 5.0, 3.0, 1.0, 0.0, 2.0])
    kernel = overlap_kernel(
        strings, counts, torch.tensor([0, 1]), torch.tensor([2, 3, 4, 5]), 2, 0.5
    )
    source = torch.zeros(1, 6, dtype=torch.float64)
    source[0, 0] = 1.0
    row = kernel.propose(source)[0]
    # "there" (3) and "then" (1) extend "the"; "theory" has count 0 and is skipped.
    assert row.tolist() == pytest.approx([0.5, 0, 0.375, 0.125, 0, 0])
    source = torch.zeros(1, 6, dtype=torch.float64)
    source[0, 1] = 1.0  # nothing extends "a": identity row
    assert kernel.propose(source)[0].tolist() == [0, 1.0, 0, 0, 0, 0]


def test_expected_counts_sum_the_models_own_next_token_rows():
    """The model's expected counts: one softmax row per position, summed; they total the positions."""
    from specproof.engine.pruned import expected_counts

    loaded = load_model("tiny-llama:vocab=9,seed=3", dtype=torch.float64)
    sequences = [[1, 2, 3], [4, 4]]
    counts = expected_counts(loaded.model, sequences, 9)
    with torch.no_grad():
        rows = [
            torch.softmax(loaded.model(torch.tensor([s])).logits[0].double(), -1) for s in sequences
        ]
    assert torch.allclose(counts, sum(r.sum(0) for r in rows), atol=1e-12)
    assert float(counts.sum()) == pytest.approx(5.0)
    # A ranking no text count gives: every token has positive expected count.
    assert bool((counts > 0).all())
    with pytest.raises(ValueError, match=r"token_ids\[1\] is empty"):
        expected_counts(loaded.model, [[1], []], 9)
    with pytest.raises(ValueError, match="logits must be"):
        expected_counts(loaded.model, [[1, 2]], 10)
