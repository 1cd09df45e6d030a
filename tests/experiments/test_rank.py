"""Training and rank measures of `specproof.experiments.rank`: known values, reproducibility."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from specproof.experiments.rank import (  # noqa: E402
    DeepConfig,
    TwoPointConfig,
    effective_ranks,
    stable_ranks,
    teacher_dataset,
    train_deep,
    train_two_point,
    two_point_inputs,
)


def test_stable_rank_of_known_matrices():
    matrices = torch.tensor(
        [[[1.0, 0.0], [0.0, 1.0]], [[2.0, 0.0], [0.0, 1.0]], [[1.0, 2.0], [2.0, 4.0]]],
        dtype=torch.float64,
    )
    # (1 + 1) / 1, (4 + 1) / 4, and a rank-1 matrix: 1.
    assert stable_ranks(matrices).tolist() == pytest.approx([2.0, 1.25, 1.0], rel=1e-12)


def test_effective_rank_of_known_matrices():
    identity = torch.eye(5, dtype=torch.float64)[None]
    rank_one = torch.outer(torch.arange(1.0, 4.0), torch.ones(3)).to(torch.float64)[None]
    # singular values (2, 1): p = (2/3, 1/3), exp(entropy) = exp(-(2/3 ln 2/3 + 1/3 ln 1/3)).
    two_one = torch.diag(torch.tensor([2.0, 1.0], dtype=torch.float64))[None]
    expected = math.exp(-(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3)))
    assert effective_ranks(identity).item() == pytest.approx(5.0, rel=1e-12)
    assert effective_ranks(rank_one).item() == pytest.approx(1.0, rel=1e-9)
    assert effective_ranks(two_one).item() == pytest.approx(expected, rel=1e-12)


def test_two_point_inputs_are_the_papers():
    inputs = two_point_inputs()
    norm = math.hypot(1.0, 0.99)
    expected = [1 / norm, 0.99 / norm, -1 / norm, 0.99 / norm]
    assert inputs.flatten().tolist() == pytest.approx(expected, rel=1e-15)
    # Slightly obtuse: cos = (0.99^2 - 1) / (1 + 0.99^2).
    cosine = float(inputs[0] @ inputs[1])
    assert cosine == pytest.approx((0.99**2 - 1) / (1 + 0.99**2), rel=1e-12)


def test_two_point_training_repeats_bit_for_bit():
    config = TwoPointConfig(seeds=tuple(range(12)), steps=300)
    first, second = train_two_point(config), train_two_point(config)
    assert first == second  # exact float equality of every loss, rank and weight
    other = train_two_point(TwoPointConfig(seeds=tuple(range(1, 13)), steps=300))
    assert first.first_layer != other.first_layer  # the seeds matter


def test_deep_training_repeats_bit_for_bit():
    config = DeepConfig(depths=(2, 3), seeds=(0, 1), max_steps=200)
    first, second = train_deep(config), train_deep(config)
    assert first == second


def test_training_restores_the_thread_count_and_determinism_flag():
    threads = torch.get_num_threads()
    flag = torch.are_deterministic_algorithms_enabled()
    train_two_point(TwoPointConfig(seeds=(0,), steps=2))
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == flag


def test_gradient_descent_lowers_the_loss_to_a_fit():
    """A run that fits has (near) zero loss; its W2 relu(W1 x_i) reproduces the labels."""
    run = train_two_point(TwoPointConfig(seeds=tuple(range(16))))
    fits = run.fits()
    assert any(fits)
    inputs = two_point_inputs()
    for fit, w1, w2 in zip(fits, run.first_layer, run.second_layer, strict=True):
        if fit:
            w1, w2 = (torch.tensor(w, dtype=torch.float64) for w in (w1, w2))
            outputs = w2 @ torch.relu(w1 @ inputs.T)
            assert torch.allclose(outputs, torch.eye(2, dtype=torch.float64), atol=2e-2)


def test_teacher_labels_are_balanced_signs():
    inputs, labels = teacher_dataset(32, 8, seed=3)
    assert inputs.shape == (32, 8)
    assert torch.allclose(inputs.norm(dim=1), torch.ones(32, dtype=torch.float64))
    assert sorted(set(labels.tolist())) == [-1.0, 1.0] and int((labels > 0).sum()) == 16


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TwoPointConfig(seeds=()), "seeds"),
        (lambda: TwoPointConfig(seeds=(1, 1)), "seeds"),
        (lambda: TwoPointConfig(init_radius=0.0), "init_radius"),
        (lambda: TwoPointConfig(learning_rate=-1.0), "learning_rate"),
        (lambda: DeepConfig(depths=(1, 2)), "depths"),
        (lambda: DeepConfig(points=7), "points"),
    ],
)
def test_bad_configs_are_refused_naming_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()
