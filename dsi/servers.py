"""The DSI runtime's servers: where workers run, behind one small interface.

The orchestrator ([`specproof.dsi.runtime`][specproof.dsi.runtime]) talks to every worker
through a [`Server`][specproof.dsi.servers.Server]: `submit(method, *args, cancel=...)` calls
the worker's method and returns a `Future`; `replace()` abandons the worker and makes a fresh
one from its factory (after a failure or a timeout); `close()` stops it. Two backends:

- [`LocalServer`][specproof.dsi.servers.LocalServer]: the worker on its own daemon thread in
  this process (one thread per server, so each server's worker keeps its own state);
- [`RayServer`][specproof.dsi.servers.RayServer]: the worker inside a Ray actor (another GPU
  or machine; `ray` is imported only here, when such a server is made).

[`make_servers`][specproof.dsi.servers.make_servers] builds either.
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol

from specproof.reference.arguments import check_real

from .config import WorkerFailedError, WorkerTimeoutError

WorkerFactory = Callable[[], Any]
"""Makes a worker (a `Drafter` or `Target` of `specproof.dsi.workers`); picklable for Ray."""


class Server(Protocol):
    """What the orchestrator needs of a server (both backends implement it)."""

    name: str
    backend: str

    def submit(self, method: str, *args: Any, cancel: threading.Event | None = None) -> Future[Any]:
        """Call the worker's `method` with `args`; `cancel` is set when the job is preempted."""
        ...

    def replace(self) -> None:
        """Abandon the current worker and start a fresh one from the factory."""
        ...

    def close(self) -> None:
        """Stop the server."""
        ...


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

    def ready(self) -> bool:
        """Answers once the actor's process is up and its worker is built."""
        return True


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

    def wait_ready(self, timeout_s: float) -> None:
        """Block until the actor is up and its worker built (at most `timeout_s` seconds).

        A Ray actor starts a Python process and builds its worker before its first call
        returns; on a loaded machine that takes seconds to tens of seconds. Waiting here keeps
        start-up out of the run: `job_timeout_s` then times calls, not process start-up.
        Raises `WorkerTimeoutError` naming the server when the actor is not up in time, and
        `WorkerFailedError` when its worker failed to build.
        """
        import ray

        try:
            ray.get(self.actor.ready.remote(), timeout=timeout_s)
        except ray.exceptions.GetTimeoutError as exc:
            raise WorkerTimeoutError(
                f"{self.name}: the Ray actor was not up within ready_timeout_s={timeout_s}"
            ) from exc
        except ray.exceptions.RayError as exc:
            raise WorkerFailedError(f"{self.name}: the Ray actor failed to start ({exc})") from exc

    def submit(self, method: str, *args: Any, cancel: threading.Event | None = None) -> Future[Any]:
        """Call the worker's `method` in the actor (cancel events stay local: not passed)."""
        future: Future[Any] = self.actor.call.remote(method, *args).future()
        return future

    def replace(self) -> None:
        """Kill the actor and start a fresh one.

        The new actor is not waited for: its start-up counts against the next call's
        `job_timeout_s`.
        """
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
) -> list[Server]:
    """`count` servers running workers made by `factory` on `backend` (`"local"` or `"ray"`).

    With `"ray"`, `options` may hold `address` (for `ray.init`), `actor_options` (e.g.
    `{"num_gpus": 1}`) and `ready_timeout_s` (default 300); the factory must be picklable.
    The Ray servers are returned once every actor is up (see `RayServer.wait_ready`), so a
    run's timings and timeouts do not include process start-up.
    """
    if backend == "local":
        return [LocalServer(factory, f"{prefix}{i}") for i in range(count)]
    if backend == "ray":
        ready_timeout_s = check_real(
            options.get("ready_timeout_s", 300.0),
            "ready_timeout_s",
            0,
            math.inf,
            low_open=True,
            high_open=True,
        )
        import ray

        if not ray.is_initialized():
            ray.init(address=options.get("address"), include_dashboard=False, log_to_driver=False)
        servers = [
            RayServer(factory, f"{prefix}{i}", options.get("actor_options")) for i in range(count)
        ]
        try:
            for server in servers:  # the actors start in parallel; this waits for the slowest
                server.wait_ready(ready_timeout_s)
        except BaseException:
            for server in servers:  # no actor outlives a failed make_servers
                server.close()
            raise
        return list[Server](servers)
    raise ValueError(f"backend must be 'local' or 'ray', got {backend!r}")


__all__ = ["LocalServer", "RayServer", "Server", "WorkerFactory", "make_servers"]
