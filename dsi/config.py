"""The DSI runtime's data: a run's knobs (`DSIConfig`), its stats and result, and its errors.

The orchestrator that uses them is [`specproof.dsi.runtime`][specproof.dsi.runtime], which
re-exports every name here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from specproof.reference.arguments import check_int

from .workers import Token


class DSIRuntimeError(RuntimeError):
    """Base class of the runtime's errors."""


class WorkerFailedError(DSIRuntimeError):
    """A worker raised and could not be replaced."""


class WorkerTimeoutError(DSIRuntimeError):
    """A worker did not answer within its timeout and could not be replaced."""


class InconsistentTargetError(DSIRuntimeError):
    """Two target answers disagree about the same position (a nondeterministic target)."""


def require_positive_int(name: str, value: object) -> None:
    """Raise `ValueError` naming `name` unless `value` is an `int` (not a `bool`) >= 1."""
    check_int(value, name)


@dataclass(frozen=True)
class DSIConfig:
    """Knobs of a DSI run.

    Attributes:
        lookahead: $K$, drafts per verification job.
        target_only: run the target-only chain alongside.
        use_bonus: commit the token a job returns after its last draft. The authors' cost
            model does not (set False to match it); using it can only find a rejection earlier.
        job_timeout_s: a target or drafter call slower than this is a failure.
        run_timeout_s: the whole run's limit.
        max_restarts: worker replacements allowed in the run.
    """

    lookahead: int = 4
    target_only: bool = True
    use_bonus: bool = True
    job_timeout_s: float = 60.0
    run_timeout_s: float = 600.0
    max_restarts: int = 0

    def __post_init__(self) -> None:
        require_positive_int("lookahead", self.lookahead)
        if not self.job_timeout_s > 0 or not self.run_timeout_s > 0:
            raise ValueError("job_timeout_s and run_timeout_s must be > 0")
        if self.max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0, got {self.max_restarts}")


@dataclass
class RunStats:
    """What happened in a run (counts) and its wall time."""

    seconds: float = 0.0
    jobs: int = 0
    chain_jobs: int = 0
    rejections: int = 0
    preempted: int = 0
    drafted: int = 0
    accepted: int = 0
    restarts: int = 0
    committed_by: dict[str, int] = field(default_factory=lambda: {"verify": 0, "chain": 0})

    def to_json(self) -> dict[str, Any]:
        """The stats as plain JSON data."""
        return dict(self.__dict__)


@dataclass
class RunResult:
    """The committed tokens (after the prompt) and the run's stats."""

    tokens: list[Token]
    stats: RunStats


__all__ = [
    "DSIConfig",
    "DSIRuntimeError",
    "InconsistentTargetError",
    "RunResult",
    "RunStats",
    "WorkerFailedError",
    "WorkerTimeoutError",
    "require_positive_int",
]
