"""The theorem registry: named claims, how each is checked, and what the check returned.

A [`Claim`][specproof.proofs.registry.Claim] has a name (prefixed by its algorithm's short
name: `sd_`, `exact_match_`, `greedy_`, `union_`, `tli_`, `slem_`, `slrs_`, `rdk_`, `disco_`,
`dsi_`, `rank_`; `audit_` for the auditor's criteria), a statement, a method, a scope (which
instances its status covers: `V = 2..8`, `all V (lemma)`, `generated instances (see
certificate)`, ...) and a check function. The check returns an
[`Outcome`][specproof.proofs.registry.Outcome] (status and certificate, as data); the registry
times it and turns any exception into an `unknown` result that carries the error, so a broken
check is never reported as a proof.

Statuses:

- `proved`: a proof for every instance the statement covers (symbolic or SMT);
- `checked`: verified exactly on every generated or enumerated instance, which the certificate
  lists (not a proof for all instances);
- `measured`: an empirical claim (method `experiment`) whose stated thresholds held on the
  measurement the certificate records (its numbers, seeds, thresholds and run time): evidence,
  not a proof, and never `checked`, which means exact on every instance;
- `refuted`: a counterexample was found (in the certificate's `counterexample`); for a
  measured claim, the measurement contradicts the stated thresholds;
- `unknown`: neither (timeout, solver gave up, or the check failed to run).

An algorithm's claim module is named by its entry in the algorithm registry
(`specproof.reference.algorithms`); other modules that register claims are listed in
`CLAIM_MODULES`.
"""

from __future__ import annotations

import importlib
import itertools
import multiprocessing
import signal
import sys
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any, Literal

Status = Literal["proved", "checked", "measured", "refuted", "unknown"]
STATUSES: tuple[Status, ...] = ("proved", "checked", "measured", "refuted", "unknown")

#: Modules whose import registers claims into `REGISTRY`, besides the algorithms' own claim
#: modules (each algorithm's `claims` in `specproof.reference.algorithms.ALGORITHMS`).
CLAIM_MODULES: list[str] = [
    "specproof.proofs.dsi",
    "specproof.proofs.lookahead",
    "specproof.proofs.slem",
    "specproof.experiments.claims",
    "specproof.proofs.token_law",
]


def claim_modules() -> list[str]:
    """Every module whose import registers claims: the algorithms' (registry order), then `CLAIM_MODULES`."""
    from specproof.reference.algorithms import ALGORITHMS

    modules = [a.claims for a in ALGORITHMS if a.claims is not None]
    return modules + [m for m in CLAIM_MODULES if m not in modules]


@dataclass(frozen=True)
class CheckOptions:
    """Knobs every check receives.

    Attributes:
        thorough: run the long version (more examples, larger sizes).
        seed: seed for any generated instances (checks are deterministic given it).
        timeout_s: a per-solver-call timeout for checks that call a solver.
    """

    thorough: bool = False
    seed: int = 0
    timeout_s: float = 30.0


@dataclass(frozen=True)
class Outcome:
    """What a check returns: its status and a JSON-serialisable certificate.

    A `refuted` outcome must carry `certificate["counterexample"]`; a `measured` one its
    `certificate["seeds"]` and `certificate["thresholds"]` (what the measurement was judged by).
    """

    status: Status
    certificate: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if self.status == "refuted" and "counterexample" not in self.certificate:
            raise ValueError("a refuted outcome must carry certificate['counterexample']")
        if self.status == "measured" and not {"seeds", "thresholds"} <= set(self.certificate):
            raise ValueError(
                "a measured outcome must carry certificate['seeds'] and certificate['thresholds']"
            )


Check = Callable[[CheckOptions], Outcome]


@dataclass(frozen=True)
class Claim:
    """A named claim and the function that checks it.

    Attributes:
        name: unique, snake case, prefixed by the algorithm's short name.
        statement: the claim in words and LaTeX maths (`$...$`).
        method: how it is checked (`hypothesis`, `exhaustive`, `sympy`, `z3`, `simulation`,
            `experiment`, ...).
        check: `check(options) -> Outcome`.
        thorough_only: run only under `--thorough` (long proofs).
        scope: which instances the status covers, in a few words (`all V (lemma)`,
            `V = 2..8 (2..16 thorough)`, `K = 1..6`, `generated instances (see certificate)`,
            `one exact witness`), so that `proved` never reads as more than it covers. Every
            claim of the default registry states one (a test enforces it).
    """

    name: str
    statement: str
    method: str
    check: Check
    thorough_only: bool = False
    scope: str = ""


@dataclass(frozen=True)
class ClaimResult:
    """A claim's check, run: the JSON record that `specproof verify --json` prints."""

    name: str
    statement: str
    method: str
    status: Status
    seconds: float
    certificate: dict[str, Any]
    scope: str = ""

    def to_json(self) -> dict[str, Any]:
        """The record as plain JSON data: every field, in declaration order."""
        return asdict(self)


class Registry:
    """An ordered collection of claims, unique by name."""

    def __init__(self) -> None:
        self._claims: dict[str, Claim] = {}

    def add(self, claim: Claim) -> Claim:
        """Add `claim`; its name must be new."""
        if claim.name in self._claims:
            raise ValueError(f"claim {claim.name!r} is already registered")
        self._claims[claim.name] = claim
        return claim

    def claim(
        self,
        name: str,
        statement: str,
        method: str,
        *,
        thorough_only: bool = False,
        scope: str = "",
    ) -> Callable[[Check], Check]:
        """Decorator: register the decorated check function under `name` (see `Claim`)."""

        def register(check: Check) -> Check:
            self.add(Claim(name, statement, method, check, thorough_only, scope))
            return check

        return register

    def __iter__(self) -> Iterator[Claim]:
        return iter(self._claims.values())

    def __len__(self) -> int:
        return len(self._claims)

    def __getitem__(self, name: str) -> Claim:
        return self._claims[name]

    def select(self, only: str | None = None, *, thorough: bool = False) -> list[Claim]:
        """Claims whose name or method contains `only` (all when None); long ones if `thorough`."""
        chosen = [c for c in self if thorough or not c.thorough_only]
        if only:
            chosen = [c for c in chosen if only in c.name or only in c.method]
        return chosen


def run_claim(claim: Claim, options: CheckOptions) -> ClaimResult:
    """Run one claim's check, timing it; an exception becomes `unknown` with the error."""
    start = time.perf_counter()
    try:
        outcome = claim.check(options)
        if not isinstance(outcome, Outcome):
            raise TypeError(f"check returned {type(outcome).__name__}, not Outcome")
        status, certificate = outcome.status, outcome.certificate
    except Exception as exc:  # a failing check is reported, never taken as a proof
        status = "unknown"
        certificate = {
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=6),
        }
    return ClaimResult(
        claim.name,
        claim.statement,
        claim.method,
        status,
        time.perf_counter() - start,
        certificate,
        claim.scope,
    )


def run_claims(
    claims: Iterable[Claim],
    options: CheckOptions,
    on_result: Callable[[ClaimResult], None] | None = None,
    on_start: Callable[[Claim], None] | None = None,
    *,
    jobs: int = 1,
) -> list[ClaimResult]:
    """Run `claims` and return their results in the order of `claims`.

    Args:
        claims: the claims to run.
        options: what every check receives.
        on_result: called with each result as it arrives (with `jobs > 1`, in the order the
            checks finish).
        on_start: called before each check runs (only with `jobs == 1`: a check running in a
            worker process is seen by this process only when it finishes).
        jobs: how many checks run at once. 1: one after another, in this process. More: each
            check in a process of its own, forked from this one (so it holds every claim this
            process registered, tests' throwaway claims included), at most `jobs` at a time.
            Each check is deterministic given `options` (its seed), but z3's outputs (the model
            it returns as a witness, unsat cores, its counters) also depend on what z3 did
            before in the same process: in a fork each check starts from this process's state,
            so a claim's certificate is the one it has when checked alone (`--only NAME` in a
            fresh command), while with `jobs == 1` it can depend on the claims checked before
            it. Statuses do not depend on `jobs`. A process that
            dies (a crash in a solver, `os._exit` in a check) makes its claim `unknown` with
            the error, never a proof; the other claims keep their results. Interrupting this
            process (Ctrl-C) terminates the running checks. A check in a fork runs torch (if
            this process imported it) on one thread: the checks already share the cores, and a
            fork of a process that has run multi-threaded torch work hangs at its first
            multi-threaded torch operation (OpenMP's thread pool does not survive a fork).

    Raises:
        ValueError: if `jobs` is not a positive integer.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer, got {jobs!r}")
    chosen = list(claims)
    if jobs == 1 or len(chosen) <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        results = []
        for claim in chosen:
            if on_start is not None:
                on_start(claim)
            result = run_claim(claim, options)
            results.append(result)
            if on_result is not None:
                on_result(result)
        return results
    return _run_in_workers(chosen, options, on_result, min(jobs, len(chosen)))


def _run_in_workers(
    claims: list[Claim],
    options: CheckOptions,
    on_result: Callable[[ClaimResult], None] | None,
    workers: int,
) -> list[ClaimResult]:
    """`run_claims` with each check in a process of its own, forked from this one.

    At most `workers` run at once. A fork inherits the claim as it is (checks are often lambdas
    or closures, which could not be pickled); only the result travels back, through a pipe. A
    process that dies without sending its result loses only its own claim (`unknown`). If this
    process is interrupted (Ctrl-C) or fails, the running checks are terminated.
    """
    context = multiprocessing.get_context("fork")
    results: list[ClaimResult | None] = [None] * len(claims)
    waiting = iter(range(len(claims)))
    running: dict[Connection, tuple[int, BaseProcess]] = {}
    try:
        while True:
            for i in itertools.islice(waiting, workers - len(running)):
                receive, send = context.Pipe(duplex=False)
                process: BaseProcess = context.Process(
                    target=_check_in_child, args=(claims[i], options, send)
                )
                process.start()
                send.close()
                running[receive] = (i, process)
            if not running:
                break
            for ready in wait(list(running)):
                assert isinstance(ready, Connection)
                i, process = running.pop(ready)
                try:
                    result = ready.recv()
                except (EOFError, OSError):  # it died before sending anything
                    result = None
                ready.close()
                process.join()
                if not isinstance(result, ClaimResult):
                    result = _lost(claims[i], f"it exited with code {process.exitcode}")
                results[i] = result
                if on_result is not None:
                    on_result(result)
    finally:
        for receive, (_, process) in running.items():
            process.terminate()
            process.join()
            receive.close()
    return [r for r in results if r is not None]


def _check_in_child(claim: Claim, options: CheckOptions, send: Connection) -> None:
    """Run `claim` (in a forked process) and send its result back.

    Ctrl-C is left to the parent, which terminates its children: a check interrupted here would
    only add a traceback per process.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)  # see `run_claims`: never enter the parent's OpenMP pool
    result = run_claim(claim, options)
    try:
        send.send(result)
    except Exception as exc:  # e.g. a certificate that cannot be pickled
        send.send(_lost(claim, f"its result could not be sent back: {type(exc).__name__}: {exc}"))
    send.close()


def _lost(claim: Claim, why: str) -> ClaimResult:
    """The `unknown` result of a claim whose worker process did not return a result."""
    return ClaimResult(
        claim.name,
        claim.statement,
        claim.method,
        "unknown",
        0.0,
        {"error": f"the worker process running this check failed: {why}"},
        claim.scope,
    )


_ABBREVIATIONS = ("e.g.", "i.e.", "i.i.d.", "vs.", "cf.", "etc.")


def first_sentence(statement: str, width: int | None = None) -> str:
    """The statement's first sentence: up to its first `. ` outside `$...$` maths.

    Abbreviations (`e.g.`, `i.e.`, `i.i.d.`, `vs.`, `cf.`) do not end a sentence.

    Args:
        statement: the claim's statement.
        width: cut the sentence to at most this many characters, ending with `...` when cut,
            at a space and never inside `$...$` maths (None: no cut).
    """
    text = " ".join(statement.split())
    in_maths = False
    for i, char in enumerate(text):
        if char == "$":
            in_maths = not in_maths
        elif char == "." and not in_maths and text[i + 1 : i + 2] in (" ", ""):
            if not text[: i + 1].endswith(_ABBREVIATIONS):
                text = text[: i + 1]
                break
    if width is not None and len(text) > width:
        cut = text[: max(width - 3, 0)]
        text = cut if text[len(cut)] == " " or " " not in cut else cut[: cut.rindex(" ")]
        if text.count("$") % 2:  # never cut inside maths: end before its opening `$`
            text = text[: text.rindex("$")]
        text = text.rstrip() + "..."
    return text


REGISTRY = Registry()
"""The default registry, filled by importing the modules of `claim_modules()`."""


def default_registry() -> Registry:
    """The default registry with every module of `claim_modules()` imported."""
    for module in claim_modules():
        importlib.import_module(module)
    return REGISTRY
