r"""The `rank_` claims: implicit rank minimisation in ReLU networks, made checkable.

From Timor, Vardi & Shamir, "Implicit Regularization Towards Rank Minimization in ReLU
Networks" (ALT 2023, arXiv 2201.12760). One exact claim and three measured ones:

- `rank_two_point_rank_one_interpolant` (sympy, `proved`, default run): every two-point
  dataset with linearly independent inputs has a zero-loss depth-2 ReLU interpolant whose first
  layer has rank 1 ([`specproof.experiments.interpolant`][specproof.experiments.interpolant]);
- `rank_depth2_gd_high_rank_fraction`, `rank_depth2_gd_away_from_rank_one` (the negative
  result): gradient descent on the paper's two-point dataset does not find such a solution;
- `rank_deep_product_rank_decreases_with_depth` (the positive result, in the form our short
  runs reach): the stable rank of the product of the hidden layers falls with depth.

The measured claims are `thorough_only` (torch, about a minute of CPU) and report `measured`
or `refuted`, never `checked`: their certificate carries the numbers, the seeds and the
thresholds the claim states. The thresholds are ours (the paper's percentages were not read);
they are fixed here, before and independently of any particular run. Without torch a measured
claim reports `unknown` naming the `engine` extra. Seeds: `--seed s` shifts every seed list by
`s` times its length (the default 0 gives the lists in the certificates).
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
from collections.abc import Callable
from typing import Any

from specproof.proofs.registry import REGISTRY, Check, CheckOptions, Outcome

from . import interpolant
from .rank import (
    DeepConfig,
    DeepRun,
    TorchMissingError,
    TwoPointConfig,
    TwoPointRun,
    train_deep,
    train_two_point,
)

#: Seeds of the depth-2 experiment (per `--seed` value).
TWO_POINT_SEEDS = 256
#: Seeds per depth of the depth sweep (per `--seed` value).
DEEP_SEEDS = 8
#: Thresholds of the negative (depth-2) claims.
HIGH_RANK_THRESHOLD = 1.5
HIGH_RANK_MIN_FRACTION = 0.5
RANK_ONE_FLOOR = 1.1
MIN_FIT_FRACTION = 0.25
#: Threshold of the positive (depth) claim: the median product stable rank at the largest depth.
DEEPEST_MEDIAN_CEILING = 1.2


def two_point_config(seed: int = 0) -> TwoPointConfig:
    """The registered depth-2 experiment for `--seed seed`."""
    start = seed * TWO_POINT_SEEDS
    return TwoPointConfig(seeds=tuple(range(start, start + TWO_POINT_SEEDS)))


def deep_config(seed: int = 0) -> DeepConfig:
    """The registered depth sweep for `--seed seed` (also the teacher's seed)."""
    start = seed * DEEP_SEEDS
    return DeepConfig(seeds=tuple(range(start, start + DEEP_SEEDS)), data_seed=seed)


@functools.lru_cache(maxsize=2)
def two_point_run(config: TwoPointConfig) -> TwoPointRun:
    """`train_two_point(config)`, once per process (the two depth-2 claims share it)."""
    return train_two_point(config)


def _measured(holds: bool, certificate: dict[str, Any]) -> Outcome:
    """`measured` if the thresholds held, else `refuted` with the measurement as counterexample."""
    if holds:
        return Outcome("measured", certificate)
    return Outcome("refuted", {**certificate, "counterexample": certificate["measurement"]})


def _needs_torch(measure: Callable[[], Outcome]) -> Outcome:
    """`measure()`, or `unknown` with an error naming the `engine` extra when torch is missing."""
    try:
        return measure()
    except TorchMissingError as exc:
        return Outcome("unknown", {"error": str(exc)})


@dataclasses.dataclass(frozen=True, repr=False)
class Experiment:
    """A registered experiment: its configuration for a seed, its training and its verdict.

    Attributes:
        judge: the run's verdict (`measured` or `refuted`).
        train: trains (or returns the shared run of) the configuration.
        config: the registered configuration for a seed.
    """

    judge: Callable[[Any], Outcome]
    train: Callable[[Any], Any]
    config: Callable[[int], Any]

    def __repr__(self) -> str:
        # By the functions' names: the theorem pages show it as the check's bound argument.
        parts = (f"{f.name}={getattr(self, f.name).__qualname__}" for f in dataclasses.fields(self))
        return f"Experiment({', '.join(parts)})"


def measure_experiment(experiment: Experiment, options: CheckOptions) -> Outcome:
    """Train the registered experiment for `--seed` and judge it against its thresholds.

    Args:
        experiment: what to train and how to judge it.
        options: the run's options (the seed).

    Returns:
        `judge(train(config(options.seed)))`, or `unknown` when torch is missing.
    """
    return _needs_torch(lambda: experiment.judge(experiment.train(experiment.config(options.seed))))


def experiment_claim(name: str, statement: str, experiment: Experiment, *, scope: str) -> Check:
    """Register the `--thorough` experiment claim `name`, checked by `measure_experiment`.

    Args:
        name: the claim's full name.
        statement: the claim in words and LaTeX maths.
        experiment: bound to `measure_experiment`'s `experiment`.
        scope: which instances its status covers (`Claim.scope`).
    """
    check: Check = functools.partial(measure_experiment, experiment)
    REGISTRY.claim(name, statement, "experiment", thorough_only=True, scope=scope)(check)
    return check


def _two_point_summary(run: TwoPointRun) -> tuple[list[float], dict[str, Any]]:
    """Stable ranks of the runs that fit, and the fields every depth-2 certificate shares."""
    fits = run.fits()
    ranks = [r for r, fit in zip(run.stable_rank, fits, strict=True) if fit]
    config = run.config
    shared = {
        "seeds": list(config.seeds),
        "setup": {
            "dataset": "x1,2 = (+-1, 0.99)/|(1, 0.99)|, labels e1, e2",
            "network": "x -> W2 relu(W1 x), width 2, no biases, float64",
            "init": f"rows of W1 uniform in the disk of radius {config.init_radius}, W2 = 0",
            "loss": "(1/4) sum_i |f(x_i) - y_i|^2",
            "learning_rate": config.learning_rate,
            "steps": config.steps,
            "fit_loss": config.fit_loss,
        },
        "runs": len(fits),
        "runs_that_fit": len(ranks),
        "stable_rank_W1_of_fitting_runs": ranks,
        "training_seconds": run.seconds,
    }
    return ranks, shared


def judge_high_rank_fraction(
    run: TwoPointRun,
    threshold: float = HIGH_RANK_THRESHOLD,
    min_fraction: float = HIGH_RANK_MIN_FRACTION,
    min_fit_fraction: float = MIN_FIT_FRACTION,
) -> Outcome:
    """Do at least `min_fraction` of the fitting runs end with stable rank of $W_1$ above `threshold`?

    Args:
        run: a depth-2 two-point run.
        threshold: the stable-rank threshold.
        min_fraction: the claimed lower bound on the fraction of fitting runs above it.
        min_fit_fraction: the claimed lower bound on the fraction of runs that fit.

    Returns:
        `measured` if both bounds held, else `refuted`.
    """
    ranks, shared = _two_point_summary(run)
    fit_fraction = len(ranks) / shared["runs"]
    above = sum(r > threshold for r in ranks)
    fraction = above / len(ranks) if ranks else 0.0
    measurement = {
        "fit_fraction": fit_fraction,
        "fitting_runs_above_threshold": above,
        "fraction_above_threshold": fraction,
        "fraction_of_all_seeds_fitting_above_threshold": above / shared["runs"],
    }
    thresholds = {
        "stable_rank_threshold": threshold,
        "min_fraction_above": min_fraction,
        "min_fit_fraction": min_fit_fraction,
    }
    holds = fit_fraction >= min_fit_fraction and fraction >= min_fraction
    return _measured(holds, {"measurement": measurement, "thresholds": thresholds, **shared})


def judge_away_from_rank_one(
    run: TwoPointRun, floor: float = RANK_ONE_FLOOR, min_fit_fraction: float = MIN_FIT_FRACTION
) -> Outcome:
    """Does every fitting run end with stable rank of $W_1$ at least `floor`?

    Args:
        run: a depth-2 two-point run.
        floor: the claimed lower bound on every fitting run's stable rank.
        min_fit_fraction: the claimed lower bound on the fraction of runs that fit.

    Returns:
        `measured` if both bounds held, else `refuted`.
    """
    ranks, shared = _two_point_summary(run)
    fit_fraction = len(ranks) / shared["runs"]
    lowest = min(ranks) if ranks else None
    below = [
        seed
        for seed, rank, fit in zip(run.config.seeds, run.stable_rank, run.fits(), strict=True)
        if fit and rank < floor
    ]
    measurement = {
        "fit_fraction": fit_fraction,
        "min_stable_rank_W1": lowest,
        "seeds_below_floor": below,
    }
    thresholds = {"stable_rank_floor": floor, "min_fit_fraction": min_fit_fraction}
    holds = fit_fraction >= min_fit_fraction and not below
    return _measured(holds, {"measurement": measurement, "thresholds": thresholds, **shared})


def depth_medians(run: DeepRun) -> list[dict[str, Any]]:
    """Per depth: fitting seeds, and medians over them of the rank measures."""
    rows = []
    for result in run.results:
        keep = [i for i, fit in enumerate(result.fits) if fit]

        def median(values: list[float], keep: list[int] = keep) -> float | None:
            return statistics.median(values[i] for i in keep) if keep else None

        rows.append(
            {
                "depth": result.depth,
                "fitting_seeds": len(keep),
                "median_product_stable_rank": median(result.product_stable_rank),
                "median_product_effective_rank": median(result.product_effective_rank),
                "median_mean_layer_stable_rank": median(result.mean_layer_stable_rank),
                "median_steps": statistics.median(result.steps),
            }
        )
    return rows


def judge_depth_trend(run: DeepRun, ceiling: float = DEEPEST_MEDIAN_CEILING) -> Outcome:
    """Is the median product stable rank lower at every depth above the smallest, and small last?

    Args:
        run: a depth sweep (its first depth is the baseline).
        ceiling: the claimed upper bound on the median at the largest depth.

    Returns:
        `measured` if every depth after the first has a lower median than the first and the
        last median is at most `ceiling` (and every depth has a fitting seed), else `refuted`.
    """
    rows = depth_medians(run)
    medians = [row["median_product_stable_rank"] for row in rows]
    baseline = medians[0]
    holds = (
        None not in medians
        and all(m < baseline for m in medians[1:])
        and medians[-1] <= ceiling
        and len(medians) >= 2
    )
    config = run.config
    certificate = {
        "measurement": {"per_depth": rows},
        "thresholds": {
            "each_deeper_median_below_depth": config.depths[0],
            "median_at_largest_depth_at_most": ceiling,
        },
        "seeds": list(config.seeds),
        "setup": {
            "depths": list(config.depths),
            "width": config.width,
            "input_dim": config.input_dim,
            "points": config.points,
            "data_seed": config.data_seed,
            "dataset": "inputs uniform in [0,1]^d, unit norm; labels: sign of a random "
            "depth-2 ReLU teacher minus its median",
            "init": "He normal (std sqrt(2 / fan-in)), no biases, float64",
            "loss": "logistic, mean log(1 + exp(-y f(x)))",
            "learning_rate": config.learning_rate,
            "max_steps": config.max_steps,
            "target_loss": config.target_loss,
            "fit": "every training margin positive",
        },
        "per_seed": [
            {
                "depth": r.depth,
                "fits": r.fits,
                "product_stable_rank": r.product_stable_rank,
                "mean_layer_stable_rank": r.mean_layer_stable_rank,
            }
            for r in run.results
        ],
        "training_seconds": run.seconds,
    }
    return _measured(holds, certificate)


@REGISTRY.claim(
    "rank_two_point_rank_one_interpolant",
    "For any two linearly independent inputs $x_1, x_2 \\in \\mathbb{R}^2$ and any labels "
    "$y_1, y_2 \\in \\mathbb{R}^2$, the depth-2 bias-free ReLU network "
    "$x \\mapsto W_2 \\sigma(W_1 x)$ with $W_1 = u v^\\top$, $u = (1, -1)$, "
    "$v = X^{-1}(1, -1)^\\top$ and $W_2 = [y_1\\ y_2]$ interpolates both points exactly, and "
    "$\\operatorname{rank} W_1 = 1$. On the paper's dataset "
    "$x_{1,2} = (\\pm 1, 0.99)/\\|(1, 0.99)\\|$, $y = I_2$, the weights are exhibited exactly "
    "(stable rank of $W_1$ exactly 1), while a linear network would need rank 2.",
    "sympy",
    scope="all independent x1, x2 in R^2 + paper's data",
)
def check_rank_one_interpolant(options: CheckOptions) -> Outcome:
    """The general identity symbolically, then the paper's instance in exact arithmetic."""
    return Outcome(
        "proved",
        {"general": interpolant.prove_general(), "paper_instance": interpolant.paper_instance()},
    )


check_depth2_high_rank_fraction = experiment_claim(
    "rank_depth2_gd_high_rank_fraction",
    "Gradient descent (step 0.1, 4000 steps, approximating gradient flow) on the paper's "
    "two-point dataset, width-2 depth-2 ReLU network, square loss, from $W_2 = 0$ and rows of "
    "$W_1$ uniform in a disk of radius 0.01, over 256 seeds: at least a quarter of the runs fit "
    "(loss $< 10^{-4}$), and at least half of those end with stable rank "
    "$\\|W_1\\|_F^2/\\|W_1\\|_2^2 > 1.5$, although a rank-1 interpolant exists.",
    Experiment(judge_high_rank_fraction, two_point_run, two_point_config),
    scope="one experiment: 256 seeds",
)
"""Measure the fraction of fitting runs above the threshold (shared run with the next claim)."""


check_depth2_away_from_rank_one = experiment_claim(
    "rank_depth2_gd_away_from_rank_one",
    "In the same depth-2 experiment (256 seeds), no run that fits ends near rank 1 even "
    "approximately: every fitting run has stable rank of $W_1$ at least 1.1.",
    Experiment(judge_away_from_rank_one, two_point_run, two_point_config),
    scope="one experiment: 256 seeds",
)
"""Measure the smallest stable rank of $W_1$ over the fitting runs."""


check_deep_product_rank = experiment_claim(
    "rank_deep_product_rank_decreases_with_depth",
    "Bias-free ReLU networks of depth $L = 2, \\dots, 6$ (width 8, scalar output), trained by "
    "gradient descent on the logistic loss to $\\pm 1$ labels of a random ReLU teacher "
    "(32 points in $\\mathbb{R}^8$, 8 seeds per depth): the median over fitting seeds of the "
    "stable rank of $W_{L-1} \\cdots W_1$ is lower at every depth $L \\ge 3$ than at $L = 2$, "
    "and at most 1.2 at $L = 6$.",
    Experiment(judge_depth_trend, train_deep, deep_config),
    scope="one experiment: L = 2..6, 8 seeds each",
)
"""Train the depth sweep and compare the medians."""
