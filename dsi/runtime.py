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
server factories in [`make_servers`][specproof.dsi.runtime.make_servers].
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from .workers import Drafter, Target, Token

WorkerFactory = Callable[[], Any]


class DSIRuntimeError(RuntimeError):
    """Base class of the runtime's errors."""


class WorkerFailedError(DSIRuntimeError):
    """A worker raised and could not be replaced."""


class WorkerTimeoutError(DSIRuntimeError):
    """A worker did not answer within its timeout and could not be replaced."""


class InconsistentTargetError(DSIRuntimeError):
    """Two target answers disagree about the same position (a nondeterministic target)."""


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
        if (
            isinstance(self.lookahead, bool)
            or not isinstance(self.lookahead, int)
            or self.lookahead < 1
        ):
            raise ValueError(f"lookahead must be an int >= 1, got {self.lookahead!r}")
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


# ---------------------------------------------------------------- servers (local and Ray)


class _DaemonThread:
    """A one-thread executor on a daemon thread: a stuck call never blocks process exit.

    (A `ThreadPoolExecutor` joins its threads at exit.)
    """

    def __init__(self, name: str) -> None:
        self._calls: queue.Queue[Any] = queue.Queue()
        threading.Thread(target=self._run, name=name, daemon=True).start()

    def _run(self) -> None:
        while True:
            item = self._calls.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to whoever waits on the future
                future.set_exception(exc)

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._calls.put((future, fn, args, kwargs))
        return future

    def shutdown(self) -> None:
        self._calls.put(None)


class LocalServer:
    """A worker on its own thread, made by `factory`; `submit` returns a `Future`."""

    backend = "local"

    def __init__(self, factory: WorkerFactory, name: str) -> None:
        self.factory, self.name = factory, name
        self._start()

    def _start(self) -> None:
        self.worker = self.factory()
        self.pool = _DaemonThread(self.name)

    def submit(self, method: str, *args: Any, cancel: threading.Event | None = None) -> Future[Any]:
        """Call `worker.method(*args, cancel=cancel)` on the server's thread."""
        return self.pool.submit(getattr(self.worker, method), *args, cancel=cancel)

    def replace(self) -> None:
        """Abandon the current worker and thread (a stuck call keeps running, ignored)."""
        self.pool.shutdown()
        self._start()

    def close(self) -> None:
        """Stop the thread (without waiting for a running call)."""
        self.pool.shutdown()


class _ActorWorker:
    """The body of a Ray actor: builds the worker from its factory inside the actor."""

    def __init__(self, factory: WorkerFactory) -> None:
        self.worker = factory()

    def call(self, method: str, *args: Any) -> Any:
        return getattr(self.worker, method)(*args)


class RayServer:
    """A worker inside a Ray actor (it may live on another GPU or machine)."""

    backend = "ray"

    def __init__(
        self, factory: WorkerFactory, name: str, actor_options: dict[str, Any] | None = None
    ) -> None:
        import ray

        self.factory, self.name = factory, name
        self._actor_class: Any = ray.remote(_ActorWorker).options(**(actor_options or {}))
        self._start()

    def _start(self) -> None:
        self.actor: Any = self._actor_class.remote(self.factory)

    def submit(self, method: str, *args: Any, cancel: threading.Event | None = None) -> Future[Any]:
        """Call the worker's `method` in the actor (cancel events stay local: not passed)."""
        future: Future[Any] = self.actor.call.remote(method, *args).future()
        return future

    def replace(self) -> None:
        """Kill the actor and start a fresh one."""
        import ray

        ray.kill(self.actor, no_restart=True)
        self._start()

    def close(self) -> None:
        """Kill the actor."""
        import ray

        ray.kill(self.actor, no_restart=True)


def make_servers(
    factory: WorkerFactory,
    count: int,
    backend: str = "local",
    prefix: str = "target",
    **options: Any,
) -> list[Any]:
    """`count` servers running workers made by `factory` on `backend` (`"local"` or `"ray"`).

    With `"ray"`, `options` may hold `address` (for `ray.init`) and `actor_options` (e.g.
    `{"num_gpus": 1}`); the factory must be picklable.
    """
    if backend == "local":
        return [LocalServer(factory, f"{prefix}{i}") for i in range(count)]
    if backend == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(address=options.get("address"), include_dashboard=False, log_to_driver=False)
        return [
            RayServer(factory, f"{prefix}{i}", options.get("actor_options")) for i in range(count)
        ]
    raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")


# ---------------------------------------------------------------- the orchestrator


@dataclass
class _Job:
    id: int
    kind: str  # "verify" or "chain"
    server: Any
    snapshot: tuple[Token, ...]
    start: int
    epoch: int
    cancel: threading.Event
    deadline: float
    future: Future[Any] | None = None


class _DrafterLoop:
    """The drafter's thread: drafts from the latest (epoch, base) until told to stop or restart."""

    def __init__(self, server: Any, events: queue.Queue[Any], limit: int, timeout_s: float) -> None:
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
        drafter: Any,
        servers: Sequence[Any],
        chain_server: Any | None,
        config: DSIConfig,
    ) -> None:
        if (
            isinstance(max_new_tokens, bool)
            or not isinstance(max_new_tokens, int)
            or max_new_tokens < 1
        ):
            raise ValueError(f"max_new_tokens must be an int >= 1, got {max_new_tokens!r}")
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

    def _launch(self, kind: str, server: Any, snapshot: tuple[Token, ...], start: int) -> None:
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

    def _release(self, server: Any) -> None:
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
        if self.config.target_only and not any(j.kind == "chain" for j in self.jobs.values()):
            self._launch(
                "chain", self.chain_server, tuple(self.sequence[: self.committed]), self.committed
            )

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

    def _replace(self, server: Any, name: str, exc: BaseException, timed_out: bool = False) -> None:
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
    drafter: Any,
    servers: Sequence[Any],
    chain_server: Any | None = None,
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


# ---------------------------------------------------------------- baselines on the same workers


def run_nonsi(prompt: Sequence[Token], max_new_tokens: int, target: Target) -> RunResult:
    """Non-SI: one target call per token."""
    start = time.perf_counter()
    sequence = list(prompt)
    stats = RunStats()
    for _ in range(max_new_tokens):
        tokens = target.target_tokens(tuple(sequence), len(sequence))
        if not tokens:
            raise WorkerFailedError("target returned no token")
        sequence.append(tokens[0])
        stats.chain_jobs += 1
    stats.seconds = time.perf_counter() - start
    return RunResult(sequence[len(prompt) :], stats)


def run_si(
    prompt: Sequence[Token], max_new_tokens: int, drafter: Drafter, target: Target, lookahead: int
) -> RunResult:
    r"""SI (blocking speculative inference): draft $\min(K, \text{left} - 1)$, verify, repeat."""
    start = time.perf_counter()
    sequence = list(prompt)
    final = len(prompt) + max_new_tokens
    stats = RunStats()
    while len(sequence) < final:
        drafts: list[Token] = []
        for i in range(min(lookahead, final - 1 - len(sequence))):
            drafts.append(drafter.next_token(tuple(sequence + drafts), i == 0))
        stats.drafted += len(drafts)
        tokens = target.target_tokens(tuple(sequence + drafts), len(sequence))
        if not tokens:
            raise WorkerFailedError("target returned no token")
        stats.jobs += 1
        for i, token in enumerate(tokens):
            sequence.append(token)
            if i < len(drafts) and token != drafts[i]:
                stats.rejections += 1
                break
            stats.accepted += i < len(drafts)
    stats.seconds = time.perf_counter() - start
    return RunResult(sequence[len(prompt) : final], stats)
