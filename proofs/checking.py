"""Run a property over hypothesis-generated instances and report it as an `Outcome`.

The property returns `None` when it holds and a JSON-serialisable description of the failure
otherwise. A failure is shrunk by hypothesis and reported as `refuted` with that description
as the counterexample; otherwise the outcome is `checked`, with the number of instances and the
seed in the certificate (a check is deterministic given its seed). How many instances a check
generates, and what they are, travel together as one
[`Examples`][specproof.proofs.checking.Examples].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from typing import Any, TypeVar

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from specproof.reference import Dist, ToyLM

from .registry import CheckOptions, Outcome

T = TypeVar("T")


class _PropertyFailed(AssertionError):
    def __init__(self, details: dict[str, Any]) -> None:
        super().__init__(str(details))
        self.details = details


@dataclass(frozen=True)
class Examples:
    """How many instances a hypothesis check generates, and what they are.

    Attributes:
        default: instances in the default run.
        thorough: instances under `--thorough`.
        generator: a short description of what is generated, for the certificate.
    """

    default: int
    thorough: int
    generator: str

    def __post_init__(self) -> None:
        for what in ("default", "thorough"):
            value = getattr(self, what)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{what} must be a positive int, got {value!r}")
        if not isinstance(self.generator, str):
            raise ValueError(f"generator must be a str, got {self.generator!r}")

    def count(self, options: CheckOptions) -> int:
        """The instances to generate in a run with `options` (`thorough` under `--thorough`).

        Args:
            options: the run's options.
        """
        return self.thorough if options.thorough else self.default


def check_by_hypothesis(
    strategy: st.SearchStrategy[T],
    prop: Callable[[T], dict[str, Any] | None],
    options: CheckOptions,
    examples: Examples | int,
    thorough_examples: int | None = None,
    generator: str | None = None,
) -> Outcome:
    """Check `prop` on generated instances: as many as `examples` says for the run.

    Args:
        strategy: generates the instances.
        prop: `None` if the property holds for an instance, else a description of the failure.
        options: the run's options (seed, thorough).
        examples: how many instances, and what they are; or, as an int, the instances in the
            default run, with `thorough_examples` and `generator` giving the rest.
        thorough_examples: with an int `examples`, the instances under `--thorough`.
        generator: with an int `examples`, a short description of what is generated.
    """
    if not isinstance(examples, Examples):
        if thorough_examples is None or generator is None:
            raise ValueError("an int examples needs thorough_examples and generator")
        examples = Examples(examples, thorough_examples, generator)
    count = 0
    failure: dict[str, Any] | None = None

    @settings(
        max_examples=examples.count(options),
        derandomize=False,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        print_blob=False,
    )
    @given(strategy)
    def run(instance: T) -> None:
        nonlocal count, failure
        count += 1
        details = prop(instance)
        if details is not None:
            failure = details
            raise _PropertyFailed(details)

    seeded = _seed(run, options.seed)
    try:
        seeded()
    except _PropertyFailed:
        assert failure is not None
        return Outcome(
            "refuted", {"counterexample": failure, "examples": count, "seed": options.seed}
        )
    return Outcome(
        "checked", {"examples": count, "seed": options.seed, "generator": examples.generator}
    )


def kernel_law_check(
    strategy: st.SearchStrategy[T],
    equality: Callable[..., dict[str, Any] | None],
    examples: Examples,
    kernel: type[Any],
) -> Callable[..., Outcome]:
    """A law-equality check whose round-kernel class is an argument, defaulting to `kernel`.

    The returned `check(options, kernel=kernel)` runs `check_by_hypothesis` of
    `equality(instance, kernel=...)` on `strategy`: with the algorithm's own kernel it is the
    claim's check; a negative control passes a broken kernel class, which must be refuted.
    """
    default = kernel

    def check(options: CheckOptions, kernel: type[Any] = default) -> Outcome:
        return check_by_hypothesis(strategy, partial(equality, kernel=kernel), options, examples)

    return check


def _seed(test: Callable[[], None], seed: int) -> Callable[[], None]:
    from hypothesis import seed as hypothesis_seed

    return hypothesis_seed(seed)(test)


def fraction_json(value: Fraction) -> str:
    """A `Fraction` as the string `"num/den"` (or `"num"`)."""
    return str(value)


def dist_json(dist: Dist) -> dict[str, str]:
    """A `Dist` as `{repr(token): "num/den"}`."""
    return {repr(t): fraction_json(p) for t, p in dist.items()}


def lm_json(lm: ToyLM) -> dict[str, Any]:
    """A `ToyLM` as JSON data."""
    return {
        "vocab": [repr(t) for t in lm.vocab],
        "order": lm.order,
        "table": {repr(c): dist_json(d) for c, d in lm.table.items()},
    }


def loop_json(
    target: ToyLM, draft: ToyLM, prefix: Sequence[Any], n: int, **details: Any
) -> dict[str, Any]:
    """A speculative loop's setting (toy-LM pair, prefix, `n`) and `details`, as JSON data."""
    return {
        "target": lm_json(target),
        "draft": lm_json(draft),
        "prefix": [repr(t) for t in prefix],
        "n": n,
        **details,
    }


def law_json(law: Mapping[tuple[Any, ...], Fraction]) -> dict[str, str]:
    """A law as `{repr(outcome): "num/den"}`."""
    return {repr(k): fraction_json(v) for k, v in sorted(law.items(), key=lambda kv: repr(kv[0]))}


def law_difference(
    expected: Mapping[tuple[Any, ...], Fraction], actual: Mapping[tuple[Any, ...], Fraction]
) -> dict[str, dict[str, str]]:
    """The outcomes on which two laws differ: `{outcome: {"expected": ..., "actual": ...}}`."""
    keys = sorted(set(expected) | set(actual), key=repr)
    return {
        repr(k): {
            "expected": fraction_json(expected.get(k, Fraction(0))),
            "actual": fraction_json(actual.get(k, Fraction(0))),
        }
        for k in keys
        if expected.get(k, Fraction(0)) != actual.get(k, Fraction(0))
    }
