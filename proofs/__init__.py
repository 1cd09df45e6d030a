"""specproof's theorems: named claims about the reference algorithms, each checked and reported as data.

The registry lives in [`specproof.proofs.registry`][specproof.proofs.registry]; `specproof
verify` runs it. Never imports torch.
"""

from .registry import (
    CLAIM_MODULES,
    REGISTRY,
    CheckOptions,
    Claim,
    ClaimResult,
    Outcome,
    Registry,
    claim_modules,
    default_registry,
    run_claim,
    run_claims,
)

__all__ = [
    "CLAIM_MODULES",
    "REGISTRY",
    "CheckOptions",
    "Claim",
    "ClaimResult",
    "Outcome",
    "Registry",
    "claim_modules",
    "default_registry",
    "run_claim",
    "run_claims",
]
