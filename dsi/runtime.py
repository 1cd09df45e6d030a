r"""The DSI runtime: a drafter and several target servers working concurrently.

DSI (Timor et al., ICLR 2025, arXiv 2405.14105) in one screen:

- the drafter drafts ahead from the committed prefix without ever waiting;
- every $K$ drafted tokens (and when the drafts reach the last position), a verification job
  (the sequence so far, from the first uncommitted position) goes to a free target server; with
  no free server the newest request waits for one (older waiting requests are superseded: a job
  re-verifies every uncommitted position);
- a target-only chain runs alongside on its own server: one target forward per token from the
  committed prefix, so DSI is never slower than the target alone;
- every returned target token is a *fact* about one position, valid if the sequence before that
  position is the one the job saw; facts are applied left to right: a fact equal to the
  speculated token commits it, a different one commits the target's token, drops every later
  speculated token, preempts all work that depended on them (cancel events; stale results are
  ignored) and restarts the drafter from the corrected prefix;
- the run ends when `max_new_tokens` tokens are committed.

Output = the target's own tokens (greedy, or exact match with one uniform per position; see
`specproof.dsi.workers`), whatever the timing, because only facts are committed and two
facts about the same position must agree (else `InconsistentTargetError`: a wrong token is never
committed silently).

Failures: a worker that raises is replaced by a fresh one from its factory (up to
`max_restarts` replacements in the run), its job resubmitted; past that the run fails with
`WorkerFailedError`. A job that does not answer within `job_timeout_s` counts as a failure
(`WorkerTimeoutError` when it cannot be replaced); the whole run is bounded by `run_timeout_s`.
Nothing waits without a timeout.

Backends: `"local"` (threads; one thread per server, so each server's worker keeps its own
state) and `"ray"` (one Ray actor per worker; `ray.init(address=...)`), selected by the
server factories in [`make_servers`][specproof.dsi.servers.make_servers].

This module is the protocol (the orchestrator [`DSIRun`][specproof.dsi.runtime.DSIRun] and
[`run_dsi`][specproof.dsi.runtime.run_dsi]); the servers live in
[`specproof.dsi.servers`][specproof.dsi.servers], the run's knobs, stats and errors in
[`specproof.dsi.config`][specproof.dsi.config], SI and non-SI in
[`specproof.dsi.baselines`][specproof.dsi.baselines]. Every one of their public names is
importable from here too.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass
from functools import partial
from typing import Any

from .baselines import run_nonsi, run_si
from .config import (
    DSIConfig,
    DSIRuntimeError,
    InconsistentTargetError,
    RunResult,
    RunStats,
    WorkerFailedError,
    WorkerTimeoutError,
    require_positive_int,
)
from .servers import LocalServer, RayServer, Server, WorkerFactory, make_servers
from .workers import Token


@dataclass
class _Job:
    id: int
    kind: str  # "verify" or "chain"
    server: Server
    snapshot: tuple[Token, ...]
    start: int
    epoch: int
    cancel: threading.Event
    deadline: float
    future: Future[Any] | None = None


class _DrafterLoop:
    """The drafter's thread: drafts from the latest (epoch, base) until told to stop or restart."""

    def __init__(
        self, server: Server, events: queue.Queue[Any], limit: int, timeout_s: float
    ) -> None:
        self.server, self.events, self.limit, self.timeout_s = server, events, limit, timeout_s
        self._lock = threading.Condition()
        self._epoch = -1
        self._generation = 0
        self._base: tuple[Token, ...] = ()
        self._cancel = threading.Event()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="dsi-drafter", daemon=True)
        self._thread.start()

    def restart(self, epoch: int, base: Sequence[Token]) -> None:
        with self._lock:
            self._cancel.set()
            self._cancel = threading.Event()
            self._epoch, self._base = epoch, tuple(base)
            self._generation += 1
            self._lock.notify()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._cancel.set()
            self._lock.notify()

    def _run(self) -> None:
        seen = 0
        while True:
            with self._lock:
                while not self._stopped and self._generation == seen:
                    self._lock.wait()
                if self._stopped:
                    return
                epoch, sequence, cancel = self._epoch, list(self._base), self._cancel
                seen = self._generation
            fresh = True
            while len(sequence) < self.limit and not cancel.is_set():
                try:
                    future = self.server.submit("next_token", tuple(sequence), fresh, cancel=cancel)
                    token = future.result(timeout=self.timeout_s)
                except BaseException as exc:  # noqa: BLE001 - SystemExit from a drafter included
                    # Reported to the orchestrator, which decides; this daemon thread never
                    # receives a Ctrl-C, so anything raised here came from the drafter.
                    self.events.put(("draft_error", epoch, exc))
                    break
                if token is None or cancel.is_set():
                    break
                self.events.put(("draft", epoch, len(sequence), token))
                sequence.append(token)
                fresh = False


class DSIRun:
    """One DSI generation. Use [`run_dsi`][specproof.dsi.runtime.run_dsi]."""

    def __init__(
        self,
        prompt: Sequence[Token],
        max_new_tokens: int,
        drafter: Server,
        servers: Sequence[Server],
        chain_server: Server | None,
        config: DSIConfig,
    ) -> None:
        require_positive_int("max_new_tokens", max_new_tokens)
        if not servers:
            raise ValueError("servers must hold at least one target server")
        if config.target_only and chain_server is None:
            raise ValueError("config.target_only needs a chain_server")
        self.prompt, self.config = tuple(prompt), config
        self.final = len(self.prompt) + max_new_tokens  # committed length at the end
        self.drafter_server, self.servers, self.chain_server = drafter, list(servers), chain_server
        self.events: queue.Queue[Any] = queue.Queue()
        self.sequence: list[Token] = list(self.prompt)
        self.committed = len(self.prompt)
        self.epoch = 0
        self.since_job = 0  # drafts since the last verification request of this epoch
        self.free = list(self.servers)
        self.waiting: tuple[tuple[Token, ...], int] | None = None
        self.jobs: dict[int, _Job] = {}
        self.ids = itertools.count()
        self.stats = RunStats()
        self.drafter = _DrafterLoop(drafter, self.events, self.final - 1, config.job_timeout_s)

    # -- main loop

    def run(self) -> RunResult:
        """Run to the end; returns the committed tokens and stats (raises on failures)."""
        start = time.perf_counter()
        run_deadline = time.monotonic() + self.config.run_timeout_s
        try:
            self._new_epoch()
            while self.committed < self.final:
                now = time.monotonic()
                if now > run_deadline:
                    raise WorkerTimeoutError(
                        f"DSI run did not finish within run_timeout_s={self.config.run_timeout_s}"
                    )
                next_deadline = min([run_deadline, *(j.deadline for j in self.jobs.values())])
                try:
                    event = self.events.get(timeout=max(0.0, next_deadline - now))
                except queue.Empty:
                    self._expire_jobs()
                    continue
                self._handle(event)
        finally:
            self.stats.seconds = time.perf_counter() - start
            self.drafter.stop()
            for job in self.jobs.values():
                job.cancel.set()
        return RunResult(self.sequence[len(self.prompt) : self.final], self.stats)

    def _handle(self, event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "draft":
            _, epoch, position, token = event
            if epoch == self.epoch and position == len(self.sequence):
                self.sequence.append(token)
                self.stats.drafted += 1
                self.since_job += 1
                if self.since_job >= self.config.lookahead or len(self.sequence) >= self.final - 1:
                    self._request_verification()
        elif kind == "draft_error":
            _, epoch, exc = event
            if epoch == self.epoch:
                timed_out = isinstance(exc, TimeoutError | FutureTimeoutError)
                self._replace(self.drafter_server, "drafter", exc, timed_out=timed_out)
                self.drafter.restart(self.epoch, self.sequence)
        elif kind == "done":
            self._finish(event[1])

    def _expire_jobs(self) -> None:
        now = time.monotonic()
        for job in [j for j in self.jobs.values() if j.deadline <= now]:
            del self.jobs[job.id]
            job.cancel.set()
            timeout = TimeoutError(f"no answer within job_timeout_s={self.config.job_timeout_s}")
            self._replace(job.server, job.server.name, timeout, timed_out=True)
            self._release(job.server)
            self._resubmit(job)

    # -- jobs

    def _launch(self, kind: str, server: Server, snapshot: tuple[Token, ...], start: int) -> None:
        job = _Job(
            next(self.ids), kind, server, snapshot, start, self.epoch, threading.Event(),
            time.monotonic() + self.config.job_timeout_s,
        )  # fmt: skip
        self.jobs[job.id] = job
        if kind == "verify":
            self.stats.jobs += 1
        else:
            self.stats.chain_jobs += 1
        job.future = server.submit("target_tokens", snapshot, start, cancel=job.cancel)
        job.future.add_done_callback(partial(self._done, job.id))

    def _done(self, job_id: int, _future: Future[Any]) -> None:
        self.events.put(("done", job_id))

    def _request_verification(self) -> None:
        self.since_job = 0
        request = (tuple(self.sequence), self.committed)
        if self.free:
            self._launch("verify", self.free.pop(), *request)
        else:
            self.waiting = request

    def _release(self, server: Server) -> None:
        if server is self.chain_server:
            return
        if self.waiting is not None:
            snapshot, _ = self.waiting
            self.waiting = None
            if self._valid_prefix(snapshot) == len(snapshot) >= self.committed:
                self._launch("verify", server, snapshot, self.committed)
                return
        self.free.append(server)

    def _launch_chain(self) -> None:
        chain = self.chain_server  # never None with target_only (checked in __init__)
        if self.config.target_only and chain is not None:
            if not any(j.kind == "chain" for j in self.jobs.values()):
                self._launch("chain", chain, tuple(self.sequence[: self.committed]), self.committed)

    def _finish(self, job_id: int) -> None:
        job = self.jobs.pop(job_id, None)
        if job is None or job.future is None:  # expired and replaced already
            return
        # exception() hands over any BaseException of the worker (SystemExit included) as a
        # value: a worker's exit is its failure, never the orchestrator's.
        exc = job.future.exception()
        if exc is not None:
            self._replace(job.server, job.server.name, exc)
            self._release(job.server)
            self._resubmit(job)
            return
        tokens = job.future.result()
        self._release(job.server)
        if tokens is not None:
            self._apply(job, list(tokens))
        if job.kind == "chain":
            self._launch_chain()

    def _resubmit(self, job: _Job) -> None:
        """After a replacement: the chain restarts; a verification job is requested again."""
        if job.kind == "chain":
            self._launch_chain()
        elif job.epoch == self.epoch:
            self._request_verification()

    def _replace(
        self, server: Server, name: str, exc: BaseException, timed_out: bool = False
    ) -> None:
        if self.stats.restarts >= self.config.max_restarts:
            error = WorkerTimeoutError if timed_out else WorkerFailedError
            raise error(
                f"{name} worker failed ({type(exc).__name__}: {exc}); "
                f"{self.stats.restarts} of max_restarts={self.config.max_restarts} replacements used"
            ) from exc
        self.stats.restarts += 1
        server.replace()

    # -- facts

    def _valid_prefix(self, snapshot: Sequence[Token]) -> int:
        """Length of the common prefix of `snapshot` and the current sequence."""
        n = 0
        for mine, theirs in zip(self.sequence, snapshot, strict=False):
            if mine != theirs:
                break
            n += 1
        return n

    def _apply(self, job: _Job, tokens: list[Token]) -> None:
        valid = self._valid_prefix(job.snapshot)
        for offset, token in enumerate(tokens):
            position = job.start + offset
            if position > valid or position >= self.final:
                return  # its context is no longer the sequence (or past the end)
            is_bonus = job.kind == "verify" and position == len(job.snapshot)
            if is_bonus and not self.config.use_bonus and position != self.final - 1:
                return
            if position < self.committed:
                if self.sequence[position] != token:
                    raise InconsistentTargetError(
                        f"target answers disagree at position {position}: committed "
                        f"{self.sequence[position]!r}, {job.server.name} now says {token!r}"
                    )
                continue
            if position < len(self.sequence) and self.sequence[position] == token:
                self.stats.accepted += 1
                self.committed += 1
                self.stats.committed_by[job.kind] += 1
                continue
            # A rejection (or a token past the speculation): commit the target's token.
            if position < len(self.sequence):
                self.stats.rejections += 1
            del self.sequence[position:]
            self.sequence.append(token)
            self.committed = position + 1
            self.stats.committed_by[job.kind] += 1
            self._new_epoch()
            return

    def _new_epoch(self) -> None:
        """Preempt everything that depends on uncommitted tokens; restart drafter and chain."""
        self.epoch += 1
        self.since_job = 0
        self.waiting = None
        for job in list(self.jobs.values()):
            if (
                job.kind == "verify"
                or job.snapshot != tuple(self.sequence[: len(job.snapshot)])
                or job.start < self.committed
            ):
                job.cancel.set()
                self.stats.preempted += 1
        # Cancelled jobs stay registered until they return (their servers are busy until
        # then); _apply's prefix check ignores whatever they say about replaced positions.
        if self.committed < self.final:
            self.drafter.restart(self.epoch, self.sequence)
            if self.committed >= self.final - 1 and len(self.sequence) == self.committed:
                self._request_verification()  # nothing to draft: the last token is the target's
            self._launch_chain()


def run_dsi(
    prompt: Sequence[Token],
    max_new_tokens: int,
    drafter: Server,
    servers: Sequence[Server],
    chain_server: Server | None = None,
    config: DSIConfig | None = None,
) -> RunResult:
    """Generate `max_new_tokens` tokens after `prompt` with DSI.

    Args:
        prompt: the prompt's tokens.
        max_new_tokens: tokens to generate.
        drafter: a server (from `make_servers`) running a `Drafter`.
        servers: verification servers running `Target`s.
        chain_server: a server running a `Target` for the target-only chain (needed unless
            `config.target_only` is False).
        config: the run's knobs.

    Raises:
        WorkerFailedError, WorkerTimeoutError: a worker failed beyond `max_restarts`.
        InconsistentTargetError: two target answers disagree about a position.
    """
    return DSIRun(
        prompt, max_new_tokens, drafter, servers, chain_server, config or DSIConfig()
    ).run()


__all__ = [
    "DSIConfig",
    "DSIRun",
    "DSIRuntimeError",
    "InconsistentTargetError",
    "LocalServer",
    "RayServer",
    "RunResult",
    "RunStats",
    "Server",
    "WorkerFactory",
    "WorkerFailedError",
    "WorkerTimeoutError",
    "make_servers",
    "run_dsi",
    "run_nonsi",
    "run_si",
]
