"""Verdicts: one per configuration, one for the whole audit.

A *configuration* is one thing audited on its own (a generated (p, q) case at the sampler level;
one decoding setup of an adapter). Each configuration runs one or more tests
([`FitResult`][specproof.audit.stats.FitResult]); its p-value is the Bonferroni
combination of its tests (`min(1, m * min p)`), and the p-values of all configurations of an
audit are Holm-adjusted together, so the family-wise false-failure rate of the whole audit is at
most `alpha`.

Verdicts (per configuration):

- `crashed`: the implementation raised, or returned malformed output (the message says which);
- `not-lossless`: the Holm-adjusted p-value is at most `alpha` (an impossible outcome, one of
  probability zero, gives p = 0);
- `inconclusive`: not rejected, but the sample size is below `n_required`, the size at which the
  main (joint) test has power `power` against every alternative whose TV from the reference on
  the tested cells is at least `tv`, at the smallest Holm threshold `alpha / M` (M = tests in
  the audit), computed with the main test's degrees of freedom (at least 1: a test whose cells
  were all pooled into one tested nothing); or a *path* of the configuration (`path_tests`: a
  draft position, the bonus after full acceptance, an output position) was exercised fewer
  times than its own test needs by the same rule (`uncovered` names each such path). A
  two-sample configuration (`plan = "two-sample"`, no exact law: the implementation against a
  plain sampler) is planned with the two-sample power
  ([`required_samples_two_sample`][specproof.audit.stats.required_samples_two_sample]):
  `n_samples` and `n_required` count samples *per arm*;
- `consistent`: not rejected with at least `n_required` samples, and every path covered.

The audit's verdict: `not-lossless` if any configuration is, else `crashed` if any crashed,
else `inconclusive` if any is, else `consistent`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from .stats import FitResult, bonferroni_min, holm, required_samples, required_samples_two_sample

VERDICTS = ("consistent", "not-lossless", "crashed", "inconclusive")
#: How a configuration's sample size is planned (`Configuration.plan`).
PLANS = ("one-sample", "two-sample")
#: Default TV the audit must be able to detect, and the power to detect it with.
DEFAULT_TV = 0.05
DEFAULT_POWER = 0.99


@dataclass
class Configuration:
    """The outcome of auditing one configuration.

    Attributes:
        name: what was audited (e.g. `"same-tokenizer/sample/top-k=3"`).
        tests: `{test name: FitResult}`; the first one is the main (joint) test.
        n_samples: samples drawn.
        error: the exception or malformed-output message when the implementation failed.
        details: free-form facts about the configuration (for reports).
        deterministic: the reference law is a point mass (greedy): any mismatch is certain.
        path_tests: `{path name: test name}`: the paths whose conditional law a test covers
            (the test's `n` is how often the path was exercised).
        uncovered: filled by `decide`: one message per path exercised too rarely.
        suggested_samples: filled by `decide` for an `inconclusive` configuration: the sample
            count that would meet its plan and cover its paths at the observed rates (None if
            more samples alone cannot reach a verdict).
        not_consistent_because: set by the level when a configuration must not be `consistent`
            whatever its tests say (e.g. a generation that never drafted a token).
        plan: `"one-sample"` (against an exact law) or `"two-sample"` (against a baseline
            sampler; `n_samples` and `n_required` per arm): how `n_required` is computed.
    """

    name: str
    tests: dict[str, FitResult] = field(default_factory=dict)
    n_samples: int = 0
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    deterministic: bool = False
    path_tests: dict[str, str] = field(default_factory=dict)
    uncovered: list[str] = field(default_factory=list)
    not_consistent_because: str | None = None
    plan: str = "one-sample"
    verdict: str = "inconclusive"
    p_value: float = 1.0
    p_adjusted: float = 1.0
    n_required: int = 0
    alpha: float = 0.0
    suggested_samples: int | None = None

    @property
    def main(self) -> FitResult | None:
        """The main test (the first one), if any ran."""
        return next(iter(self.tests.values()), None)

    def to_json(self) -> dict[str, Any]:
        """The JSON record of this configuration (keys of the CLI's `--json` output)."""
        main = self.main

        def num(x: float | None) -> float | None:
            return None if x is None or (isinstance(x, float) and math.isinf(x)) else x

        return {
            "name": self.name,
            "verdict": self.verdict,
            "statistic": num(main.statistic) if main else None,
            "dof": main.dof if main else None,
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "n_samples": self.n_samples,
            "n_required": self.n_required,
            "tv_hat": main.tv_hat if main else None,
            "tv_upper": main.tv_upper if main else None,
            "alpha": self.alpha,
            "error": self.error,
            "impossible": sum(t.impossible for t in self.tests.values()),
            "tests": {
                k: {"statistic": num(t.statistic), "dof": t.dof, "p_value": t.p_value}
                for k, t in self.tests.items()
            },
            "details": self.details,
            "paths": {
                path: {"test": name, "n": self.tests[name].n if name in self.tests else 0}
                for path, name in self.path_tests.items()
            },
            "uncovered": list(self.uncovered),
            "suggested_samples": self.suggested_samples,
            "not_consistent_because": self.not_consistent_because,
            "plan": "deterministic" if self.deterministic else self.plan,
        }


@dataclass
class Audit:
    """All configurations of one audit, with their verdicts assigned by [`decide`][specproof.audit.core.decide]."""

    configurations: list[Configuration]
    alpha: float
    tv: float
    power: float

    @property
    def verdict(self) -> str:
        """The audit's overall verdict about the implementation (see the module docstring).

        Configurations marked lossy by design (`details["lossy_by_design"]`, positive controls
        such as transformers' ensemble verification) are never counted as the implementation's
        loss; a control that was *not* flagged means the audit could not see a known loss, so
        the overall verdict is then at best `inconclusive`.
        """
        audited = [c for c in self.configurations if not c.details.get("lossy_by_design")]
        verdicts = {c.verdict for c in audited}
        for v in ("not-lossless", "crashed", "inconclusive"):
            if v in verdicts:
                return v
        if any(c.verdict != "not-lossless" for c in self.lossy_controls):
            return "inconclusive"
        return "consistent"

    @property
    def lossy_controls(self) -> list[Configuration]:
        """The configurations that are lossy by design (positive controls), not judged."""
        return [c for c in self.configurations if c.details.get("lossy_by_design")]

    def to_json(self) -> dict[str, Any]:
        """`{"verdict", "alpha", "tv", "power", "correction", "configurations": [...]}`."""
        return {
            "verdict": self.verdict,
            "alpha": self.alpha,
            "tv": self.tv,
            "power": self.power,
            "correction": "Bonferroni within a configuration, Holm across configurations",
            "lossy_controls": {c.name: c.verdict for c in self.lossy_controls},
            "configurations": [c.to_json() for c in self.configurations],
        }


def deterministic_required(tv: float, power: float) -> int:
    """Samples needed to see at least one mismatch with prob. `power` when P(mismatch) >= `tv`."""
    if tv >= 1:
        return 1
    return max(1, math.ceil(math.log(1 - power) / math.log(1 - tv)))


#: Factor on the plan of an inconclusive run when suggesting the samples of its rerun.
SUGGESTION_HEADROOM = 1.2


def _path_plan(
    config: Configuration, test: str, tv: float, alpha: float, power: float
) -> tuple[int, float] | None:
    """(samples the test needs, share of samples that reached its path), or None if enough."""
    result = config.tests.get(test)
    if result is None:
        return None
    needed = required_samples(tv, alpha, power, max(result.dof, 1))
    if result.n >= needed:
        return None
    return needed, (result.n / config.n_samples if config.n_samples else 0.0)


def _suggested(
    config: Configuration, tv: float, alpha: float, power: float
) -> int | None:
    """The samples at which an `inconclusive` configuration would meet its plan.

    Its plan and every path covered at the observed rates, times `SUGGESTION_HEADROOM`
    (rounded up to a hundred); None if more samples alone cannot
    help (a path never reached, a generation that never drafted) or it is not inconclusive.
    """
    if config.verdict != "inconclusive" or config.not_consistent_because or not config.tests:
        return None
    total = max(config.n_required, config.n_samples)
    for name in config.path_tests.values():
        plan = _path_plan(config, name, tv, alpha, power)
        if plan is not None:
            if plan[1] <= 0:
                return None
            total = max(total, math.ceil(plan[0] / plan[1]))
    # The plan grows with the outcomes a larger run observes (more degrees of freedom): 20%
    # headroom, rounded up to a hundred.
    return math.ceil(total * SUGGESTION_HEADROOM / 100) * 100


def _uncovered(
    config: Configuration, path: str, test: str, tv: float, alpha: float, power: float
) -> str | None:
    """A message if `path` was exercised too rarely for its test's power, else None."""
    plan = _path_plan(config, test, tv, alpha, power)
    if plan is None:
        return None
    needed, share = plan
    more = (
        f"about {math.ceil(needed / share):,} samples in all at the observed rate"
        if share > 0
        else "a regime that reaches it (e.g. a draft closer to the target)"
    )
    return f"{path}: exercised {config.tests[test].n} times, needs {needed} ({more})"


def decide(
    configurations: list[Configuration],
    alpha: float,
    tv: float = DEFAULT_TV,
    power: float = DEFAULT_POWER,
) -> Audit:
    """Combine tests, Holm-correct across configurations and assign every verdict.

    Args:
        configurations: the audited configurations (their `tests`, `n_samples`, `error` set).
        alpha: family-wise significance of the whole audit.
        tv: the smallest TV the audit must detect (defines `inconclusive`).
        power: the power required at that TV.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha!r}")
    if not 0 < power < 1:
        raise ValueError(f"power must lie in (0, 1), got {power!r}")
    if not 0 < tv <= 1:
        raise ValueError(f"tv must lie in (0, 1], got {tv!r}")
    live = [c for c in configurations if c.error is None and c.tests]
    total_tests = max(1, sum(len(c.tests) for c in live))
    for c in live:
        c.p_value = bonferroni_min([t.p_value for t in c.tests.values()])
    adjusted = holm([c.p_value for c in live])
    for c, adj in zip(live, adjusted, strict=True):
        c.p_adjusted = adj
    for c in configurations:
        c.alpha = alpha
        main = c.main
        if c.deterministic:
            c.n_required = deterministic_required(tv, power)
        elif main is not None:
            # dof 0 (every cell pooled into one) tests nothing: plan as for one degree of freedom.
            plan = required_samples_two_sample if c.plan == "two-sample" else required_samples
            c.n_required = plan(tv, alpha / total_tests, power, max(main.dof, 1))
        else:
            c.n_required = 0
        c.uncovered = [
            message
            for path, name in c.path_tests.items()
            if (message := _uncovered(c, path, name, tv, alpha / total_tests, power))
        ]
        if c.error is not None:
            c.verdict = "crashed"
        elif not c.tests:
            c.verdict = "inconclusive"
        elif c.p_adjusted <= alpha:
            c.verdict = "not-lossless"
        elif c.n_samples < c.n_required or c.uncovered or c.not_consistent_because:
            c.verdict = "inconclusive"
        else:
            c.verdict = "consistent"
        c.suggested_samples = _suggested(c, tv, alpha / total_tests, power)
    return Audit(configurations, alpha, tv, power)
