"""Claim factories: an algorithm's standard claims, registered by one call each.

Every algorithm of the reference has the same two checked claims, differing only in the
algorithm's name and what the statement says:

- [`lossless_claim`][specproof.proofs.claims.lossless_claim] registers `<algorithm>_lossless`:
  the exact law of the speculative loop equals the target's own law on generated toy-LM pairs
  ([`check_lossless`][specproof.proofs.harness.check_lossless]);
- [`acceptance_claim`][specproof.proofs.claims.acceptance_claim] registers
  `<algorithm>_<suffix>`: the executed acceptance rate equals closed forms and is bounded by
  others on generated distribution pairs
  ([`check_acceptance`][specproof.proofs.harness.check_acceptance]).

Claims about every pair of distributions proved by z3 size by size are registered by
[`distribution_claim`][specproof.proofs.claims.distribution_claim]
([`check_distribution_claim`][specproof.proofs.harness.check_distribution_claim]), and any
other claim that is a property checked on generated instances by
[`hypothesis_claim`][specproof.proofs.claims.hypothesis_claim]
([`check_by_hypothesis`][specproof.proofs.checking.check_by_hypothesis]). A claim proved by
one call of a prover (sympy or z3) is registered by
[`proof_claim`][specproof.proofs.claims.proof_claim]
([`run_prover`][specproof.proofs.claims.run_prover] with the prover and its arguments bound).

The registered check is the harness function with the algorithm (and formulas) bound, so the
theorem page renders the harness function itself as "how it is checked".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from hypothesis import strategies as st

from specproof.reference import Verifier

from .arith import RateFormula
from .checking import Examples, check_by_hypothesis
from .harness import check_acceptance, check_distribution_claim, check_lossless
from .registry import REGISTRY, Check, CheckOptions, Outcome, Registry
from .smt import DistributionClaim

LOSSLESS_METHOD = "hypothesis + exact enumeration"
"""The method of every `<algorithm>_lossless` claim."""

ACCEPTANCE_METHOD = "hypothesis + exact arithmetic"
"""The method of every acceptance claim made by `acceptance_claim`."""

GENERATED_SCOPE = "generated instances (see certificate)"
"""The scope of a claim checked on generated instances (the factories' default)."""


def _name(algorithm: str | Verifier) -> str:
    return algorithm if isinstance(algorithm, str) else algorithm.name


def lossless_claim(
    algorithm: str | Verifier,
    statement: str,
    *,
    scope: str = GENERATED_SCOPE,
    registry: Registry = REGISTRY,
) -> Check:
    """Register `<algorithm>_lossless`, checked by `check_lossless`, and return its check.

    Args:
        algorithm: the algorithm's name (the claim's prefix) or its `Verifier` (named by its
            `name`).
        statement: the claim in words and LaTeX maths.
        scope: which instances its status covers (`Claim.scope`).
        registry: where to register it (the default registry unless a test passes its own).
    """
    check: Check = partial(check_lossless, algorithm)
    registry.claim(f"{_name(algorithm)}_lossless", statement, LOSSLESS_METHOD, scope=scope)(check)
    return check


def acceptance_claim(
    algorithm: str | Verifier,
    suffix: str,
    statement: str,
    *,
    equal_to: Mapping[str, RateFormula],
    at_most: Mapping[str, RateFormula] | None = None,
    scope: str = GENERATED_SCOPE,
    registry: Registry = REGISTRY,
) -> Check:
    """Register `<algorithm>_<suffix>`, checked by `check_acceptance`, and return its check.

    Args:
        algorithm: the algorithm's name (the claim's prefix) or its `Verifier` (named by its
            `name`).
        suffix: the rest of the claim's name (e.g. `acceptance_is_one_minus_tv`).
        statement: the claim in words and LaTeX maths.
        equal_to: rate formulas the executed acceptance rate must equal, by name.
        at_most: rate formulas the executed acceptance rate must not exceed, by name.
        scope: which instances its status covers (`Claim.scope`).
        registry: where to register it (the default registry unless a test passes its own).
    """
    check: Check = partial(
        check_acceptance, algorithm, equal_to=dict(equal_to), at_most=dict(at_most or {})
    )
    registry.claim(f"{_name(algorithm)}_{suffix}", statement, ACCEPTANCE_METHOD, scope=scope)(check)
    return check


def distribution_claim(
    name: str,
    statement: str,
    claim: DistributionClaim,
    *,
    sizes: Sequence[int],
    thorough_sizes: Sequence[int],
    track: bool = True,
    scope: str | None = None,
    registry: Registry = REGISTRY,
) -> Check:
    """Register `name` (method `z3`), checked by `check_distribution_claim`, and return its check.

    Args:
        name: the claim's full name (prefixed by its algorithm's short name).
        statement: the claim in words and LaTeX maths.
        claim: the z3 claim about every pair of distributions.
        sizes: the vocabulary sizes proved.
        thorough_sizes: the sizes proved under `--thorough`.
        track: ask z3 for an unsat core.
        scope: which instances its status covers (`Claim.scope`); None: the sizes, as
            `V = 2..8 (2..16 thorough)`.
        registry: where to register it (the default registry unless a test passes its own).
    """
    check: Check = partial(
        check_distribution_claim, claim, list(sizes), list(thorough_sizes), track=track
    )
    if scope is None:
        scope = f"V = {_sizes(sizes)} ({_sizes(thorough_sizes)} thorough)"
    registry.claim(name, statement, "z3", scope=scope)(check)
    return check


def hypothesis_claim(
    name: str,
    statement: str,
    strategy: st.SearchStrategy[Any],
    prop: Callable[[Any], dict[str, Any] | None],
    examples: Examples,
    *,
    method: str,
    scope: str = GENERATED_SCOPE,
    registry: Registry = REGISTRY,
) -> Check:
    """Register `name`, checked by `check_by_hypothesis` of `prop` on `strategy`; return its check.

    Args:
        name: the claim's full name (prefixed by its algorithm's short name).
        statement: the claim in words and LaTeX maths.
        strategy: bound to `check_by_hypothesis`'s `strategy` (generates the instances).
        prop: bound to its `prop` (`None` where the claim holds, else the failure).
        examples: bound to its `examples` (how many instances, and what they are).
        method: how it is checked (`LOSSLESS_METHOD`, `ACCEPTANCE_METHOD`, ...).
        scope: which instances its status covers (`Claim.scope`).
        registry: where to register it (the default registry unless a test passes its own).
    """
    check: Check = partial(check_by_hypothesis, strategy, prop, examples=examples)
    registry.claim(name, statement, method, scope=scope)(check)
    return check


def run_prover(
    prover: Callable[..., Outcome],
    options: CheckOptions,
    *,
    default: Sequence[Any] = (),
    thorough: Sequence[Any] | None = None,
    timeout: bool = False,
) -> Outcome:
    """Call `prover` with this run's arguments: a `proof_claim`'s check.

    Args:
        prover: the function that proves the claim and returns its `Outcome`.
        options: the run's options (`--thorough`, the solver timeout).
        default: the positional arguments of a default run.
        thorough: the positional arguments under `--thorough`; None: the default ones.
        timeout: pass `options.timeout_s` as the last positional argument (a z3 prover).
    """
    arguments = list(thorough if options.thorough and thorough is not None else default)
    if timeout:
        arguments.append(options.timeout_s)
    return prover(*arguments)


def proof_claim(
    name: str,
    statement: str,
    method: str,
    prover: Callable[..., Outcome],
    *,
    default: Sequence[Any] = (),
    thorough: Sequence[Any] | None = None,
    timeout: bool = False,
    scope: str,
    registry: Registry = REGISTRY,
) -> Check:
    """Register `name`, proved by one call of `prover` (see `run_prover`); return its check.

    Args:
        name: the claim's full name (prefixed by its algorithm's short name).
        statement: the claim in words and LaTeX maths.
        method: how it is proved (`sympy`, `z3`, ...).
        prover: bound to `run_prover`'s `prover`.
        default: bound to its `default` (the arguments of a default run).
        thorough: bound to its `thorough` (the arguments under `--thorough`; None: the default).
        timeout: bound to its `timeout` (pass the solver timeout).
        scope: which instances its status covers (`Claim.scope`).
        registry: where to register it (the default registry unless a test passes its own).
    """
    check: Check = partial(
        run_prover,
        prover,
        default=tuple(default),
        thorough=None if thorough is None else tuple(thorough),
        timeout=timeout,
    )
    registry.claim(name, statement, method, scope=scope)(check)
    return check


def _sizes(sizes: Sequence[int]) -> str:
    """`2..8` for a run of consecutive sizes, else `2, 3, 5`."""
    values = sorted(sizes)
    if len(values) > 2 and values == list(range(values[0], values[-1] + 1)):
        return f"{values[0]}..{values[-1]}"
    return ", ".join(map(str, values))


__all__ = [
    "ACCEPTANCE_METHOD",
    "GENERATED_SCOPE",
    "LOSSLESS_METHOD",
    "acceptance_claim",
    "distribution_claim",
    "hypothesis_claim",
    "lossless_claim",
    "proof_claim",
    "run_prover",
]
