"""Run a property over hypothesis-generated instances and report it as an `Outcome`.

The property returns `None` when it holds and a JSON-serialisable description of the failure
otherwise. A failure is shrunk by hypothesis and reported as `refuted` with that description
as the counterexample; otherwise the outcome is `checked`, with the number of instances and the
seed in the certificate (a check is deterministic given its seed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
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


def check_by_hypothesis(
    strategy: st.SearchStrategy[T],
    prop: Callable[[T], dict[str, Any] | None],
    options: CheckOptions,
    *,
    examples: int,
    thorough_examples: int,
    generator: str,
) -> Outcome:
    """Check `prop` on `examples` instances (`thorough_examples` under `--thorough`).

    Args:
        strategy: generates the instances.
        prop: `None` if the property holds for an instance, else a description of the failure.
        options: the run's options (seed, thorough).
        examples: instances in the default run.
        thorough_examples: instances under `--thorough`.
        generator: a short description of what is generated, for the certificate.
    """
    count = 0
    failure: dict[str, Any] | None = None

    @settings(
        max_examples=thorough_examples if options.thorough else examples,
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
    return Outcome("checked", {"examples": count, "seed": options.seed, "generator": generator})


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
