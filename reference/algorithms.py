"""The algorithm registry: every speculative-decoding algorithm declared once.

An [`Algorithm`][specproof.reference.algorithms.Algorithm] names the algorithm and points at its
faces: the reference object (the specification), the engine's verify function and the module
that registers its theorems (both as import paths, resolved only when used, so that the
reference never imports torch or the proofs), and its docs page. Everything that lists
algorithms reads [`ALGORITHMS`][specproof.reference.algorithms.ALGORITHMS]: the law dispatch
([`get_verifier`][specproof.reference.laws.get_verifier]), the engine's
[`verify_batch`][specproof.engine.verify.verify_batch], the `specproof generate --algorithm`
choices, the theorem registry's claim modules, the conformance tests and the docs.

A new algorithm is its own files (`reference/NAME.py`, `proofs/NAME.py`, `engine/NAME.py`,
tests, a docs page) plus one `ALGORITHMS.register(Algorithm(...))` line below.

Examples:
    >>> ALGORITHMS.get("sd").title
    'Standard SD'
    >>> ALGORITHMS.get("nope")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: algorithm must be one of [...], got 'nope'
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from .exact_match import EXACT_MATCH
from .greedy import GREEDY
from .rdk import RDK
from .sd import STANDARD_SD
from .slrs import SLRS
from .string_level import SLEM
from .tli import TLI
from .union import UNION
from .verifier import Verifier

_NAME = re.compile(r"[a-z][a-z0-9_]*")
_IMPORT_PATH = re.compile(r"[A-Za-z_][\w.]*(:[A-Za-z_]\w*)?")


@dataclass(frozen=True)
class Algorithm:
    """One speculative-decoding algorithm and where its faces live.

    Attributes:
        name: short name, lower case (`"sd"`); the prefix of its theorems' names.
        title: display name (`"Standard SD"`).
        summary: one line saying what it does.
        reference: the exact reference object: a per-position
            [`Verifier`][specproof.reference.verifier.Verifier], or another reference form (a
            round kernel, a proposal) for algorithms the per-position loop does not cover.
        engine: `"module:function"` of the engine's batched verify function (signature of
            [`verify_batch`][specproof.engine.verify.verify_batch] without its first argument), or
            `None` when the engine has none.
        claims: the module whose import registers the algorithm's theorems, or `None`.
        docs_page: the page (path under `docs/`, optionally with `#anchor`) that defines it.
        generate: whether `specproof generate --algorithm NAME` offers it.
        drafter: for an algorithm whose drafter has *another tokenizer* than the target,
            `"module:name"` of the drafter class (or factory) `name(target, drafter) -> Drafter`
            (two loaded models) that `generate` drafts with; `None` for same-vocabulary
            algorithms.
    """

    name: str
    title: str
    summary: str
    reference: Any
    engine: str | None = None
    claims: str | None = None
    docs_page: str | None = None
    generate: bool = False
    drafter: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(f"name must be lower-case letters, digits and '_', got {self.name!r}")
        for field_name in ("title", "summary"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{field_name} must be a non-empty string, got {value!r}")
        for field_name in ("engine", "claims", "drafter"):
            value = getattr(self, field_name)
            if value is not None and not (isinstance(value, str) and _IMPORT_PATH.fullmatch(value)):
                raise ValueError(f"{field_name} must be an import path or None, got {value!r}")
        for field_name in ("engine", "drafter"):
            value = getattr(self, field_name)
            if value is not None and ":" not in value:
                raise ValueError(f"{field_name} must be 'module:function', got {value!r}")
        if self.generate and self.engine is None:
            raise ValueError(f"generate: algorithm {self.name!r} has no engine form")

    @property
    def verifier(self) -> Verifier | None:
        """The reference object when it is a per-position verifier, else `None`."""
        return self.reference if isinstance(self.reference, Verifier) else None

    def engine_function(self) -> Any:
        """Import and return the engine's verify function.

        Raises:
            ValueError: if the algorithm has no engine form.
        """
        if self.engine is None:
            raise ValueError(f"algorithm {self.name!r} has no engine form")
        module, _, function = self.engine.partition(":")
        return getattr(importlib.import_module(module), function)

    def drafter_factory(self) -> Any:
        """Import and return the cross-vocabulary drafter factory.

        Raises:
            ValueError: if the algorithm has none.
        """
        if self.drafter is None:
            raise ValueError(f"algorithm {self.name!r} has no cross-vocabulary drafter")
        module, _, function = self.drafter.partition(":")
        return getattr(importlib.import_module(module), function)


class AlgorithmRegistry:
    """Algorithms by name, in registration order."""

    def __init__(self) -> None:
        self._algorithms: dict[str, Algorithm] = {}

    def register(self, algorithm: Algorithm) -> Algorithm:
        """Add `algorithm`.

        Raises:
            ValueError: if it is not an `Algorithm` or its name is taken.
        """
        if not isinstance(algorithm, Algorithm):
            raise ValueError(f"algorithm must be an Algorithm, got {type(algorithm).__name__}")
        if algorithm.name in self._algorithms:
            raise ValueError(f"algorithm {algorithm.name!r} is already registered")
        self._algorithms[algorithm.name] = algorithm
        return algorithm

    def unregister(self, name: str) -> None:
        """Remove the algorithm `name` (tests use it to undo a temporary registration).

        Raises:
            ValueError: if no such algorithm is registered.
        """
        self.get(name)
        del self._algorithms[name]

    @contextmanager
    def registered(self, algorithm: Algorithm) -> Iterator[Algorithm]:
        """Register `algorithm` for the duration of a `with` block."""
        self.register(algorithm)
        try:
            yield algorithm
        finally:
            self._algorithms.pop(algorithm.name, None)

    def get(self, name: str) -> Algorithm:
        """The algorithm `name`.

        Raises:
            ValueError: naming `algorithm` and the registered names, for an unknown name.
        """
        try:
            return self._algorithms[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"algorithm must be one of {sorted(self._algorithms)}, got {name!r}"
            ) from None

    def names(self, *, engine: bool = False, generate: bool = False) -> tuple[str, ...]:
        """Registered names, optionally only those with an engine form / offered by `generate`."""
        return tuple(
            a.name
            for a in self._algorithms.values()
            if (not engine or a.engine is not None) and (not generate or a.generate)
        )

    def verifiers(self) -> dict[str, Verifier]:
        """`{name: Verifier}` of the algorithms whose reference is a per-position verifier."""
        return {a.name: a.verifier for a in self._algorithms.values() if a.verifier is not None}

    def __iter__(self) -> Iterator[Algorithm]:
        return iter(list(self._algorithms.values()))

    def __len__(self) -> int:
        return len(self._algorithms)

    def __contains__(self, name: object) -> bool:
        return name in self._algorithms


ALGORITHMS = AlgorithmRegistry()
"""The registry every algorithm list reads. One registration per algorithm, below."""

ALGORITHMS.register(
    Algorithm(
        name="sd",
        title="Standard SD",
        summary="Accept a draft with probability min(1, p/q); recover from (p - q)+.",
        reference=STANDARD_SD,
        engine="specproof.engine.sd:verify_sd",
        claims="specproof.proofs.sd",
        docs_page="explanation/algorithms.md#standard-speculative-decoding",
        generate=True,
    )
)
ALGORITHMS.register(
    Algorithm(
        name="exact_match",
        title="Exact match",
        summary="Sample y from the target; accept the draft iff it equals y (sample-and-match).",
        reference=EXACT_MATCH,
        engine="specproof.engine.exact_match:verify_exact_match",
        claims="specproof.proofs.exact_match",
        docs_page="explanation/algorithms.md#exact-match-verification-sample-and-match",
        generate=True,
    )
)
ALGORITHMS.register(
    Algorithm(
        name="greedy",
        title="Greedy",
        summary="Accept a greedy draft iff it is the target's argmax; output = greedy decoding.",
        reference=GREEDY,
        engine="specproof.engine.greedy:verify_greedy",
        claims="specproof.proofs.greedy",
        docs_page="explanation/algorithms.md#greedy-verification",
        generate=True,
    )
)
ALGORITHMS.register(
    Algorithm(
        name="rdk",
        title="RDK (redistributing drafter kernels)",
        summary="A pruned drafter's TLI row times a row-stochastic kernel M over the target "
        "vocabulary (q'M, drawn in two stages); verified by standard SD.",
        reference=RDK,
        # Verification is standard SD on the RDK proposal rows (`verify_rdk` is `verify_sd`);
        # what is RDK's own is the drafter (`specproof.engine.pruned_drafter.PrunedDrafter` with
        # a kernel), which `generate` requires for this algorithm.
        engine="specproof.engine.rdk:verify_rdk",
        claims="specproof.proofs.rdk",
        docs_page="explanation/rdk.md",
        generate=True,
    )
)
ALGORITHMS.register(
    Algorithm(
        name="union",
        title="Union baseline (heterogeneous vocabularies)",
        summary="Standard SD over the union of two vocabularies; drafter-only drafts are rejected.",
        reference=UNION,
        # Verification is standard SD on rows over the union vocabulary.
        engine="specproof.engine.sd:verify_sd",
        claims="specproof.proofs.union",
        docs_page="explanation/heterogeneous.md#the-union-baseline",
        generate=True,
        drafter="specproof.engine.union:UnionDrafter",
    )
)
ALGORITHMS.register(
    Algorithm(
        name="tli",
        title="TLI (token-level intersection)",
        summary="Draft from q restricted to the shared tokens, renormalised; verify by standard SD.",
        reference=TLI,
        # Verification is standard SD against the proposal q_I.
        engine="specproof.engine.sd:verify_sd",
        claims="specproof.proofs.tli",
        docs_page="explanation/heterogeneous.md#tli-token-level-intersection",
        generate=True,
        drafter="specproof.engine.cross_drafters:TliDrafter",
    )
)
ALGORITHMS.register(
    Algorithm(
        name="slem",
        title="SLEM (string-level exact match)",
        summary="Drafter text re-tokenised for the target (look-behind window); exact-match verification.",
        reference=SLEM,
        # Verification is exact match on the re-tokenised proposal.
        engine="specproof.engine.exact_match:verify_exact_match",
        claims="specproof.proofs.string_level",
        docs_page="explanation/heterogeneous.md#slem-string-level-exact-match",
        generate=True,
        drafter="specproof.engine.cross_drafters:SlemDrafter",
    )
)
ALGORITHMS.register(
    Algorithm(
        name="slrs",
        title="SLRS (string-level rejection sampling)",
        summary="SLEM's proposal verified by rejection sampling against its exact law per position.",
        reference=SLRS,
        # Verification is standard SD against the exact proposal rows (psi tilde).
        engine="specproof.engine.sd:verify_sd",
        claims="specproof.proofs.slrs",
        docs_page="explanation/heterogeneous.md#slrs-string-level-rejection-sampling",
        generate=True,
        drafter="specproof.engine.slrs:SlrsDrafter",
    )
)

__all__ = ["ALGORITHMS", "Algorithm", "AlgorithmRegistry"]
