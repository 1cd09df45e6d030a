"""DISCO's classifier: a small network scoring whether a drafted token will be accepted.

[`AcceptanceClassifier`][specproof.engine.disco.classifier.AcceptanceClassifier] standardises
the feature vector (mean and scale fitted on the training set), then applies either a logistic
regression (`hidden=0`) or a one-hidden-layer ReLU network, and returns a score in (0, 1): the
estimated probability that the token just drafted will be accepted. Its weights are plain lists
of floats (the policy file stores them as JSON), never a pickle.

[`train_classifier`][specproof.engine.disco.classifier.train_classifier] fits it by full-batch
Adam on the binary cross-entropy, seeded, so the same traces give the same weights.
[`binary_metrics`][specproof.engine.disco.classifier.binary_metrics] gives accuracy, precision,
recall and F1 of thresholded scores.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class AcceptanceClassifier:
    """Standardisation and a logistic or one-hidden-layer network, all in float64.

    Attributes:
        mean: `[F]` feature means subtracted first.
        scale: `[F]` positive divisors applied next.
        layers: `(weight [out, in], bias [out])` per layer: one layer is a logistic regression,
            two a ReLU network; the last layer has one output.
    """

    mean: torch.Tensor
    scale: torch.Tensor
    layers: tuple[tuple[torch.Tensor, torch.Tensor], ...]

    def __post_init__(self) -> None:
        features = self.mean.shape[0] if self.mean.dim() == 1 else -1
        if features < 1 or tuple(self.scale.shape) != (features,):
            raise ValueError(
                f"classifier: mean and scale must be [F] vectors of one size, got "
                f"{list(self.mean.shape)} and {list(self.scale.shape)}"
            )
        if not bool((self.scale > 0).all()) or not bool(torch.isfinite(self.mean).all()):
            raise ValueError("classifier: scale must be positive and mean finite")
        if len(self.layers) not in (1, 2):
            raise ValueError(f"classifier: 1 or 2 layers, got {len(self.layers)}")
        width = features
        for i, (weight, bias) in enumerate(self.layers):
            if (
                weight.dim() != 2
                or weight.shape[1] != width
                or tuple(bias.shape) != (weight.shape[0],)
            ):
                raise ValueError(
                    f"classifier: layer {i} must be weight [out, {width}] and bias [out], got "
                    f"{list(weight.shape)} and {list(bias.shape)}"
                )
            if not bool(torch.isfinite(weight).all() and torch.isfinite(bias).all()):
                raise ValueError(f"classifier: layer {i} holds a non-finite weight")
            width = weight.shape[0]
        if width != 1:
            raise ValueError(f"classifier: the last layer must have 1 output, got {width}")

    @property
    def features(self) -> int:
        """The input size F."""
        return int(self.mean.shape[0])

    @property
    def hidden(self) -> int:
        """The hidden width (0 for a logistic regression)."""
        return 0 if len(self.layers) == 1 else int(self.layers[0][0].shape[0])

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """`[N]` logits of `[N, F]` features."""
        if x.dim() != 2 or x.shape[1] != self.features:
            raise ValueError(f"features must be [N, {self.features}], got {list(x.shape)}")
        h = (x.to(torch.float64) - self.mean) / self.scale
        for i, (weight, bias) in enumerate(self.layers):
            h = h @ weight.T + bias
            if i < len(self.layers) - 1:
                h = torch.relu(h)
        return h[:, 0]

    def scores(self, x: torch.Tensor) -> torch.Tensor:
        """`[N]` scores in (0, 1): the estimated probability that each token is accepted."""
        return torch.sigmoid(self.logits(x))

    def to_dict(self) -> dict[str, Any]:
        """The weights as JSON-ready lists."""
        return {
            "kind": "logistic" if self.hidden == 0 else "mlp",
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "layers": [{"weight": w.tolist(), "bias": b.tolist()} for w, b in self.layers],
        }

    @classmethod
    def from_dict(cls, data: Any) -> AcceptanceClassifier:
        """Rebuild from `to_dict`'s output.

        Raises:
            ValueError: naming the field that is missing, of the wrong type or shape.
        """
        if not isinstance(data, dict):
            raise ValueError("classifier must be an object")
        for key in ("kind", "mean", "scale", "layers"):
            if key not in data:
                raise ValueError(f"classifier: missing field {key!r}")
        if not isinstance(data["layers"], list):
            raise ValueError("classifier.layers must be a list")
        layers = []
        for i, layer in enumerate(data["layers"]):
            if not isinstance(layer, dict) or set(layer) != {"weight", "bias"}:
                raise ValueError(f"classifier.layers[{i}] must hold exactly 'weight' and 'bias'")
            layers.append(
                (
                    _tensor(layer["weight"], f"classifier.layers[{i}].weight", 2),
                    _tensor(layer["bias"], f"classifier.layers[{i}].bias", 1),
                )
            )
        built = cls(
            _tensor(data["mean"], "classifier.mean", 1),
            _tensor(data["scale"], "classifier.scale", 1),
            tuple(layers),
        )
        kind = "logistic" if built.hidden == 0 else "mlp"
        if data["kind"] != kind:
            raise ValueError(f"classifier.kind is {data['kind']!r} but the layers make a {kind}")
        return built


def _tensor(value: Any, name: str, dims: int) -> torch.Tensor:
    """A float64 tensor from nested lists of numbers (no bools, no strings), with `dims` dims."""

    def check(item: Any, depth: int) -> None:
        if depth == dims:
            if isinstance(item, bool) or not isinstance(item, int | float):
                raise ValueError(f"{name} must hold numbers, found {item!r}")
            if not math.isfinite(item):
                raise ValueError(f"{name} must hold finite numbers, found {item!r}")
            return
        if not isinstance(item, list) or not item:
            raise ValueError(f"{name} must be a non-empty {dims}-D list of numbers")
        for sub in item:
            check(sub, depth + 1)

    check(value, 0)
    try:
        return torch.tensor(value, dtype=torch.float64)
    except ValueError:
        raise ValueError(f"{name} must be a rectangular {dims}-D list") from None


def train_classifier(
    features: torch.Tensor,
    labels: torch.Tensor,
    *,
    hidden: int = 16,
    steps: int = 400,
    learning_rate: float = 0.03,
    weight_decay: float = 1e-4,
    seed: int = 0,
) -> AcceptanceClassifier:
    """Fit an [`AcceptanceClassifier`][specproof.engine.disco.classifier.AcceptanceClassifier].

    Args:
        features: `[N, F]` feature vectors.
        labels: `[N]` 1 (accepted) or 0.
        hidden: hidden width; 0 for a logistic regression.
        steps: full-batch Adam steps.
        learning_rate: Adam's step size.
        weight_decay: L2 penalty on the weights.
        seed: seeds the initial weights.

    Raises:
        ValueError: on empty or mismatched inputs, labels other than 0/1, non-finite features,
            or bad hyperparameters.
    """
    if features.dim() != 2 or features.shape[0] == 0 or features.shape[1] == 0:
        raise ValueError(f"features must be a non-empty [N, F] tensor, got {list(features.shape)}")
    if tuple(labels.shape) != (features.shape[0],):
        raise ValueError(f"labels must be [{features.shape[0]}], got {list(labels.shape)}")
    if not bool(((labels == 0) | (labels == 1)).all()):
        raise ValueError("labels must be 0 or 1")
    if not bool(torch.isfinite(features).all()):
        raise ValueError("features must be finite")
    if hidden < 0 or steps < 1 or not learning_rate > 0 or weight_decay < 0:
        raise ValueError(
            f"hidden >= 0, steps >= 1, learning_rate > 0, weight_decay >= 0 required, got "
            f"{hidden}, {steps}, {learning_rate}, {weight_decay}"
        )
    x = features.to(torch.float64)
    y = labels.to(torch.float64)
    mean = x.mean(0)
    scale = x.std(0, correction=0)
    # A constant feature (e.g. `deterministic` for one drafter) keeps scale 1: it is then 0.
    scale = torch.where(scale > 1e-12, scale, torch.ones_like(scale))
    z = (x - mean) / scale
    generator = torch.Generator().manual_seed(seed)
    sizes = [x.shape[1], hidden, 1] if hidden else [x.shape[1], 1]
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = 1.0 / math.sqrt(fan_in)
        weight = (
            torch.rand(fan_out, fan_in, generator=generator, dtype=torch.float64) * 2 - 1
        ) * bound
        params += [
            weight.requires_grad_(),
            torch.zeros(fan_out, dtype=torch.float64, requires_grad=True),
        ]
    optimizer = torch.optim.Adam(params, lr=learning_rate)
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad()
            h = z
            for i in range(0, len(params), 2):
                h = h @ params[i].T + params[i + 1]
                if i + 2 < len(params):
                    h = torch.relu(h)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(h[:, 0], y)
            loss = loss + weight_decay * sum(
                (params[i] ** 2).sum() for i in range(0, len(params), 2)
            )
            loss.backward()
            optimizer.step()
    layers = tuple(
        (params[i].detach().clone(), params[i + 1].detach().clone())
        for i in range(0, len(params), 2)
    )
    return AcceptanceClassifier(mean, scale, layers)


def binary_metrics(
    scores: Sequence[float] | torch.Tensor, labels: Sequence[int] | torch.Tensor, threshold: float
) -> dict[str, float | int | None]:
    """Accuracy, precision, recall and F1 of `score >= threshold` as the prediction "accepted".

    Args:
        scores: the classifier's scores.
        labels: 1 (accepted) or 0, one per score.
        threshold: predict "accepted" at or above it.

    Returns:
        `{"n", "positives", "base_rate", "accuracy", "majority_accuracy", "precision",
        "recall", "f1"}` (precision, recall and F1 are None when undefined).

    Raises:
        ValueError: on empty or mismatched inputs.
    """
    s = torch.as_tensor(scores, dtype=torch.float64)
    y = torch.as_tensor(labels, dtype=torch.float64)
    if s.dim() != 1 or s.shape != y.shape or s.numel() == 0:
        raise ValueError("scores and labels must be non-empty 1-D sequences of one length")
    predicted = s >= threshold
    actual = y == 1
    tp = int((predicted & actual).sum())
    fp = int((predicted & ~actual).sum())
    fn = int((~predicted & actual).sum())
    n = int(s.numel())
    positives = int(actual.sum())
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    f1 = (2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else None
    return {
        "n": n,
        "positives": positives,
        "base_rate": positives / n,
        "accuracy": int((predicted == actual).sum()) / n,
        "majority_accuracy": max(positives, n - positives) / n,
        "precision": precision,
        "recall": recall,
        "f1": f1,
    }
