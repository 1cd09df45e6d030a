r"""Gradient-descent training of bias-free ReLU networks and the rank of what they learn.

The setting of Timor, Vardi & Shamir, "Implicit Regularization Towards Rank Minimization in
ReLU Networks" (ALT 2023, arXiv 2201.12760). Networks are bias-free ReLU MLPs
$x \mapsto W_L \sigma(W_{L-1} \cdots \sigma(W_1 x))$, trained by full-batch gradient descent
with a small constant step (a discretisation of gradient flow) in float64 on the CPU.

Rank measures of a matrix $W \ne 0$ with singular values $s_1 \ge s_2 \ge \dots$:

- stable rank $\|W\|_F^2 / \|W\|_2^2 = \sum_i s_i^2 / s_1^2 \in [1, \operatorname{rank} W]$
  (the authors' `f2s`);
- effective rank $\exp(-\sum_i p_i \log p_i)$ with $p_i = s_i / \sum_j s_j$ (Roy & Vetterli).

Two experiments:

- [`train_two_point`][specproof.experiments.rank.train_two_point]: depth 2, width 2, the
  two-point dataset $x_{1,2} = (\pm 1, 0.99) / \|(1, 0.99)\|$ with labels $e_1, e_2$, square
  loss, the authors' "thm3" initialisation (rows of $W_1$ uniform in a disk, $W_2 = 0$);
- [`train_deep`][specproof.experiments.rank.train_deep]: depths $L = 2, 3, \dots$, scalar
  output, $\pm 1$ labels of a random ReLU teacher, logistic loss; measures the stable rank of
  the product $W_{L-1} \cdots W_1$ of the hidden layers and the mean stable rank of those layers.

Reproducibility: every seed has its own `torch.Generator`; training runs with one thread and
deterministic algorithms (both restored afterwards), so a run repeats bit for bit on the CPU.
The seeds of a batch are trained together (a leading batch dimension); their losses are summed,
so each seed's gradient is its own.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor

#: The two-point dataset before normalisation: $x_1 = (1, 0.99)$, $x_2 = (-1, 0.99)$.
TWO_POINT_RAW = ((1.0, 0.99), (-1.0, 0.99))

TORCH_MISSING = (
    "torch is not installed: these experiments need the `engine` extra "
    "(pip install 'specproof[engine]')"
)


class TorchMissingError(ImportError):
    """torch is not installed; the message names the extra that installs it."""


def import_torch() -> Any:
    """Import torch, or raise `TorchMissingError` naming the `engine` extra."""
    try:
        import torch
    except ImportError as exc:
        raise TorchMissingError(TORCH_MISSING) from exc
    return torch


@contextlib.contextmanager
def reproducible() -> Iterator[Any]:
    """One thread and deterministic algorithms for the duration; yields the torch module."""
    torch = import_torch()
    threads = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        yield torch
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def stable_ranks(matrices: Tensor) -> Tensor:
    r"""Stable rank $\sum s_i^2 / s_1^2$ of each matrix of a batch `(..., m, n)`; NaN for zero."""
    singular = import_torch().linalg.svdvals(matrices)
    ranks: Tensor = (singular**2).sum(-1) / singular[..., 0] ** 2
    return ranks


def effective_ranks(matrices: Tensor) -> Tensor:
    r"""Effective rank $\exp(-\sum p_i \log p_i)$, $p = s / \sum s$, of each matrix of a batch."""
    torch = import_torch()
    singular = torch.linalg.svdvals(matrices)
    weights = singular / singular.sum(-1, keepdim=True)
    logs = torch.where(weights > 0, torch.log(weights), torch.zeros_like(weights))
    ranks: Tensor = torch.exp(-(weights * logs).sum(-1))
    return ranks


def _check_config(config: Any, *positive: str) -> None:
    """`ValueError` unless `config.seeds` are distinct and non-negative and the named fields > 0."""
    seeds = config.seeds
    if not seeds or len(set(seeds)) != len(seeds) or any(s < 0 for s in seeds):
        raise ValueError(f"seeds must be distinct non-negative integers, got {list(seeds)!r}")
    for name in positive:
        value = getattr(config, name)
        if not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}")


@dataclass(frozen=True)
class TwoPointConfig:
    """The depth-2 experiment on the two-point dataset.

    Attributes:
        seeds: one initialisation per seed.
        init_radius: rows of $W_1$ uniform in the disk of this radius; $W_2 = 0$.
        learning_rate: the gradient-descent step.
        steps: gradient-descent steps.
        fit_loss: a run fits the data when its final loss is below this.
    """

    seeds: tuple[int, ...] = tuple(range(256))
    init_radius: float = 0.01
    learning_rate: float = 0.1
    steps: int = 4000
    fit_loss: float = 1e-4

    def __post_init__(self) -> None:
        _check_config(self, "init_radius", "learning_rate", "steps", "fit_loss")


@dataclass(frozen=True)
class TwoPointRun:
    r"""What [`train_two_point`][specproof.experiments.rank.train_two_point] measured, per seed.

    Attributes:
        config: the experiment.
        final_loss: the loss $\frac{1}{4}\sum_i \|f(x_i) - y_i\|^2$ after the last step.
        stable_rank: stable rank of the learned $W_1$.
        first_layer: the learned $W_1$ (rows = neurons).
        second_layer: the learned $W_2$.
        seconds: wall time of the training.
    """

    config: TwoPointConfig
    final_loss: list[float]
    stable_rank: list[float]
    first_layer: list[list[list[float]]]
    second_layer: list[list[list[float]]]
    seconds: float = field(compare=False)

    def fits(self) -> list[bool]:
        """Per seed: did the run fit the data (final loss below `config.fit_loss`)?"""
        return [loss < self.config.fit_loss for loss in self.final_loss]


def two_point_inputs() -> Tensor:
    """The two inputs (rows), each of unit norm, in float64."""
    torch = import_torch()
    inputs = torch.tensor(TWO_POINT_RAW, dtype=torch.float64)
    normalised: Tensor = inputs / torch.linalg.vector_norm(inputs, dim=1, keepdim=True)
    return normalised


def train_two_point(config: TwoPointConfig) -> TwoPointRun:
    """Train one width-2, depth-2 ReLU network per seed on the two-point dataset.

    Args:
        config: seeds, initialisation radius, step, number of steps, fit threshold.

    Returns:
        The final loss, the stable rank of $W_1$ and the learned weights, per seed.
    """
    start = time.perf_counter()
    with reproducible() as torch:
        dtype = torch.float64
        inputs = two_point_inputs()
        labels = torch.eye(2, dtype=dtype)  # column i = label of input i
        first = torch.empty(len(config.seeds), 2, 2, dtype=dtype)
        for i, seed in enumerate(config.seeds):
            generator = torch.Generator().manual_seed(seed)
            angle = 2 * math.pi * torch.rand(2, generator=generator, dtype=dtype)
            radius = config.init_radius * torch.sqrt(
                torch.rand(2, generator=generator, dtype=dtype)
            )
            first[i] = torch.stack((radius * torch.cos(angle), radius * torch.sin(angle)), dim=1)
        second = torch.zeros(len(config.seeds), 2, 2, dtype=dtype)
        first.requires_grad_(True)
        second.requires_grad_(True)
        for _ in range(config.steps):
            loss = _two_point_loss(torch, first, second, inputs, labels)
            grad_first, grad_second = torch.autograd.grad(loss.sum(), (first, second))
            with torch.no_grad():
                first -= config.learning_rate * grad_first
                second -= config.learning_rate * grad_second
        with torch.no_grad():
            loss = _two_point_loss(torch, first, second, inputs, labels)
            ranks = stable_ranks(first)
        return TwoPointRun(
            config,
            loss.tolist(),
            ranks.tolist(),
            first.detach().tolist(),
            second.detach().tolist(),
            time.perf_counter() - start,
        )


def _two_point_loss(
    torch: Any,
    first: Tensor,
    second: Tensor,
    inputs: Tensor,
    labels: Tensor,
) -> Tensor:
    hidden = torch.relu(first @ inputs.T)  # (seeds, neurons, points)
    outputs = second @ hidden  # (seeds, outputs, points)
    result: Tensor = ((outputs - labels) ** 2).sum(dim=(1, 2)) / 4
    return result


@dataclass(frozen=True)
class DeepConfig:
    """The depth sweep on a teacher dataset.

    Attributes:
        depths: network depths $L$ (number of weight matrices), each at least 2.
        seeds: one initialisation per seed (the same seeds at every depth).
        width: hidden width.
        input_dim: input dimension.
        points: training points.
        data_seed: seed of the inputs and the teacher.
        learning_rate: the gradient-descent step.
        max_steps: a seed stops when its loss falls below `target_loss`, else after this.
        target_loss: the logistic loss at which a seed stops.
    """

    depths: tuple[int, ...] = (2, 3, 4, 5, 6)
    seeds: tuple[int, ...] = tuple(range(8))
    width: int = 8
    input_dim: int = 8
    points: int = 32
    data_seed: int = 0
    learning_rate: float = 0.05
    max_steps: int = 5000
    target_loss: float = 1e-2

    def __post_init__(self) -> None:
        _check_config(self, "width", "input_dim", "learning_rate", "max_steps", "target_loss")
        if not self.depths or any(d < 2 for d in self.depths):
            raise ValueError(f"depths must be integers >= 2, got {self.depths!r}")
        if self.points < 2 or self.points % 2:
            raise ValueError(f"points must be an even integer >= 2, got {self.points!r}")


@dataclass(frozen=True)
class DepthResult:
    r"""Per-seed measurements at one depth.

    Attributes:
        depth: the number of weight matrices $L$.
        final_loss: the logistic loss when the seed stopped.
        fits: every training point classified correctly (all margins positive).
        steps: the steps the seed took.
        product_stable_rank: stable rank of $W_{L-1} \cdots W_1$.
        product_effective_rank: effective rank of $W_{L-1} \cdots W_1$.
        mean_layer_stable_rank: mean stable rank of $W_1, \dots, W_{L-1}$ (the authors'
            "nontrivial" layers: the last one is a row vector).
    """

    depth: int
    final_loss: list[float]
    fits: list[bool]
    steps: list[int]
    product_stable_rank: list[float]
    product_effective_rank: list[float]
    mean_layer_stable_rank: list[float]


@dataclass(frozen=True)
class DeepRun:
    """What [`train_deep`][specproof.experiments.rank.train_deep] measured.

    Attributes:
        config: the experiment.
        results: one entry per depth, in `config.depths` order.
        seconds: wall time of the whole sweep.
    """

    config: DeepConfig
    results: list[DepthResult]
    seconds: float = field(compare=False)


def teacher_dataset(points: int, input_dim: int, seed: int) -> tuple[Tensor, Tensor]:
    r"""Inputs uniform in $[0, 1]^d$ scaled to unit norm; balanced $\pm 1$ teacher labels.

    The teacher is a random depth-2 ReLU network (standard normal weights, width `input_dim`);
    a label is the sign of its output minus the median output (so half the labels are $+1$).

    Args:
        points: number of points (even).
        input_dim: input dimension.
        seed: seed of the inputs and the teacher.

    Returns:
        `(inputs, labels)`: shapes `(points, input_dim)` and `(points,)`, float64.
    """
    torch = import_torch()
    generator = torch.Generator().manual_seed(seed)
    dtype = torch.float64
    inputs = torch.rand(points, input_dim, generator=generator, dtype=dtype)
    inputs = inputs / torch.linalg.vector_norm(inputs, dim=1, keepdim=True)
    hidden = torch.randn(input_dim, input_dim, generator=generator, dtype=dtype)
    output = torch.randn(input_dim, generator=generator, dtype=dtype)
    teacher = torch.relu(inputs @ hidden.T) @ output
    ordered = teacher.sort().values
    middle = (ordered[points // 2 - 1] + ordered[points // 2]) / 2
    if not ordered[points // 2 - 1] < ordered[points // 2]:
        raise ValueError(f"teacher outputs tie at the median (seed {seed}); choose another seed")
    return inputs, torch.sign(teacher - middle)


def train_deep(config: DeepConfig) -> DeepRun:
    r"""Train one ReLU network per seed and depth on the teacher dataset; measure ranks.

    Initialisation: He-normal (standard deviation $\sqrt{2 / \text{fan-in}}$), one generator
    per (seed, depth). Loss: logistic, $\frac{1}{n}\sum_i \log(1 + e^{-y_i f(x_i)})$.

    Args:
        config: depths, seeds, sizes, step, stopping rule.

    Returns:
        Per depth and seed: loss, fit, steps and the rank measures.
    """
    start = time.perf_counter()
    with reproducible() as torch:
        inputs, labels = teacher_dataset(config.points, config.input_dim, config.data_seed)
        results = [_train_depth(torch, config, depth, inputs, labels) for depth in config.depths]
    return DeepRun(config, results, time.perf_counter() - start)


def _train_depth(
    torch: Any, config: DeepConfig, depth: int, inputs: Tensor, labels: Tensor
) -> DepthResult:
    dtype = torch.float64
    count = len(config.seeds)
    dims = [config.input_dim] + [config.width] * (depth - 1) + [1]
    layers = []
    for k in range(depth):
        weights = torch.empty(count, dims[k + 1], dims[k], dtype=dtype)
        for i, seed in enumerate(config.seeds):
            generator = torch.Generator().manual_seed(seed * 1_000 + depth * 100 + k)
            shape = (dims[k + 1], dims[k])
            weights[i] = torch.randn(shape, generator=generator, dtype=dtype)
        weights *= math.sqrt(2 / dims[k])
        layers.append(weights.requires_grad_(True))
    steps = torch.zeros(count, dtype=torch.int64)
    for _ in range(config.max_steps):
        loss = _logistic_loss(torch, layers, inputs, labels)
        running = loss >= config.target_loss
        if not bool(running.any()):
            break
        grads = torch.autograd.grad(loss.sum(), layers)
        mask = running.to(dtype)[:, None, None]
        with torch.no_grad():
            for weights, grad in zip(layers, grads, strict=True):
                weights -= config.learning_rate * mask * grad
        steps += running.to(torch.int64)
    with torch.no_grad():
        margins = labels * _forward(torch, layers, inputs)
        loss = torch.nn.functional.softplus(-margins).mean(dim=1)
        hidden = [w.detach() for w in layers[:-1]]
        product = hidden[0]
        for weights in hidden[1:]:
            product = weights @ product
        layer_ranks = torch.stack([stable_ranks(w) for w in hidden], dim=1).mean(dim=1)
        return DepthResult(
            depth,
            loss.tolist(),
            (margins > 0).all(dim=1).tolist(),
            steps.tolist(),
            stable_ranks(product).tolist(),
            effective_ranks(product).tolist(),
            layer_ranks.tolist(),
        )


def _forward(torch: Any, layers: list[Tensor], inputs: Tensor) -> Tensor:
    hidden = inputs.T.expand(layers[0].shape[0], -1, -1)  # (seeds, input_dim, points)
    for k, weights in enumerate(layers):
        hidden = weights @ hidden
        if k < len(layers) - 1:
            hidden = torch.relu(hidden)
    output: Tensor = hidden[:, 0, :]
    return output


def _logistic_loss(torch: Any, layers: list[Tensor], inputs: Tensor, labels: Tensor) -> Tensor:
    margins = labels * _forward(torch, layers, inputs)
    loss: Tensor = torch.nn.functional.softplus(-margins).mean(dim=1)
    return loss
