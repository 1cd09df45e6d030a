"""`proof_claim`: a claim proved by one call of a prover, with the run's arguments."""

from __future__ import annotations

from specproof.proofs.claims import proof_claim, run_prover
from specproof.proofs.registry import CheckOptions, Outcome, Registry, run_claim


def _sizes_proved(sizes: range, *rest: float) -> Outcome:
    """A stand-in prover: reports what it was called with."""
    return Outcome("proved", {"sizes": list(sizes), "rest": list(rest)})


def test_proof_claim_calls_its_prover_with_the_runs_arguments():
    registry = Registry()
    proof_claim(
        "probe_sizes", "s", "z3", _sizes_proved, default=(range(2, 4),),
        thorough=(range(2, 6),), timeout=True, scope="V = 2, 3", registry=registry,
    )  # fmt: skip
    claim = registry["probe_sizes"]
    assert (claim.method, claim.scope) == ("z3", "V = 2, 3")
    default = run_claim(claim, CheckOptions(timeout_s=7))
    assert default.status == "proved"
    assert default.certificate == {"sizes": [2, 3], "rest": [7]}
    thorough = run_claim(claim, CheckOptions(timeout_s=7, thorough=True))
    assert thorough.certificate == {"sizes": [2, 3, 4, 5], "rest": [7]}


def test_without_thorough_arguments_or_timeout_the_default_ones_alone_are_passed():
    outcome = run_prover(_sizes_proved, CheckOptions(thorough=True), default=(range(1, 3),))
    assert outcome.certificate == {"sizes": [1, 2], "rest": []}
