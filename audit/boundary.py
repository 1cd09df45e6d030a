"""The audit's process boundary: the audited function runs in a child process.

[`IsolatedFunction`][specproof.audit.boundary.IsolatedFunction] is a callable with the audited
function's own signature, so the sampler and generation levels call it exactly as they would
call the function; behind it, `MODULE:FUNCTION` is imported and called in a child process
(this interpreter by default, or any other Python given as `python`, e.g. one of a separate
virtual environment pinned to an older transformers release). Arguments cross as data
(arrays as dtype, shape and bytes; a `numpy.random.Generator` as its bit generator's state,
which is written back after every call, so the auditor's stream advances exactly as if the
function had run in process).

Whatever the audited code does ends as
[`ImplementationCrashed`][specproof.audit.boundary.ImplementationCrashed] with the reason, which
the levels record as a `crashed` configuration:

| the audited code | the reason names |
|---|---|
| raises any exception, `BaseException` included (`SystemExit`, `KeyboardInterrupt`) | the exception and where |
| calls `os._exit`, is killed by a signal, aborts | the exit code or the signal, and the last output |
| runs longer than `call_timeout` seconds in a call (or `start_timeout` at import) | the limit (the child is killed with its process group) |
| allocates more than `memory_bytes` of data | the `MemoryError` (or the signal) |
| returns an object that is not data (cannot cross the boundary) | its type |
| uses randomness other than its arguments | the replay that differed |

[`call_many`][specproof.audit.boundary.IsolatedFunction.call_many] makes many calls in one
round trip (the sampler level uses it): the time limit still applies to each call (a call
that ran longer is reported, and a call that has not answered within `call_timeout` plus the
child's reporting interval is killed), and the result is the same as calling one by one.

Its prints go to a pipe the auditor drains (the last 2,000 characters are kept for the reason),
never to the auditor's stdout, so `--json` output stays valid. Randomness is checked by replay:
the first `check_first` calls and every `check_every`-th call run twice with identical
arguments and generator state, and must agree. The child runs in its own session, so signals
it sends to its process group do not reach the auditor. This is a fault boundary, not a
security sandbox: code that deliberately attacks the auditor's process (signalling its
parent by pid, writing to its files) is out of its scope.

(Longer than the project's ~450 lines per module on purpose: nearly all of it is one class,
whose child lifecycle, protocol and limits share one state; the child side and the encoding are
already in `isolated_child`.)
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from . import isolated_child

#: Default time limit of one call, in seconds (the CLI's `--call-timeout`).
DEFAULT_CALL_TIMEOUT = 60.0
#: Default time limit for importing the audited module, in seconds.
DEFAULT_START_TIMEOUT = 300.0
#: Default limit on the child's data segment (`RLIMIT_DATA`), in bytes: 8 GiB.
DEFAULT_MEMORY_BYTES = 8 << 30
#: Largest message the child may send, in bytes.
MAX_MESSAGE_BYTES = 1 << 30
_CHILD_SCRIPT = Path(isolated_child.__file__).resolve()
_OUTPUT_TAIL = 2000
#: Longest time the child holds finished calls of a batch before reporting them, in seconds.
MAX_REPORT_INTERVAL = 0.5


class ImplementationCrashed(Exception):
    """The audited code failed at the boundary; the message is the reason."""


@dataclass
class CallBatch:
    """What [`IsolatedFunction.call_many`][specproof.audit.boundary.IsolatedFunction.call_many] returns.

    Attributes:
        results: the results of the calls that returned, in order.
        error: the failure of call `len(results)` (then no later call counts), or `None`.
        generator_states: per returned call, the states of its generator arguments afterwards
            (`None` at other positions).
    """

    results: list[Any]
    error: ImplementationCrashed | None
    generator_states: list[list[Any]] = field(default_factory=list)

    def rewind(self, calls: Sequence[tuple[Any, ...]], index: int) -> None:
        """Set the generators passed to call `index` to their state just after it returned."""
        _set_generators(calls[index], self.generator_states[index])


def _set_generators(args: Sequence[Any], states: Sequence[Any] | None) -> None:
    """Set each generator in `args` to its encoded state in `states` (where not `None`)."""
    for original, state in zip(args, states or (), strict=False):
        if state is not None and hasattr(original, "bit_generator"):
            original.bit_generator.state = state[1]


class _DataOnly(pickle.Unpickler):
    """Unpickles builtin values only: the child can never make the auditor run code."""

    def find_class(self, module: str, name: str) -> Any:
        raise pickle.UnpicklingError(f"refused to load {module}.{name} from the audited process")


class IsolatedFunction:
    """`MODULE:FUNCTION` called in a child process; call it with the function's own arguments.

    Args:
        spec: `MODULE:FUNCTION` (attributes may be dotted), imported in the child.
        python: the child's interpreter (default: this one).
        import_dir: the folder put first on the child's import path (default: the current one).
        call_timeout: seconds one call may take.
        start_timeout: seconds importing the module may take.
        memory_bytes: the child's data-segment limit (0: none).
        env: extra environment variables for the child.
        check_first: calls replayed for the randomness check at the start.
        check_every: then every this many calls (0: never).
        max_starts: processes started at most; after that many have died (exit, signal, time
            limit), every call fails at once with the last reason, so a hang costs at most
            `max_starts * call_timeout` seconds however many cases the audit has.

    Raises:
        ValueError: on a `spec` that is not `MODULE:FUNCTION`, or a limit that is not positive.
    """

    def __init__(
        self,
        spec: str,
        python: str | None = None,
        import_dir: str | None = None,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        start_timeout: float = DEFAULT_START_TIMEOUT,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
        env: dict[str, str] | None = None,
        check_first: int = 8,
        check_every: int = 32,
        max_starts: int = 2,
    ) -> None:
        module_name, sep, attr = spec.partition(":")
        if not sep or not module_name or not attr:
            raise ValueError(f"function must be MODULE:FUNCTION, got {spec!r}")
        for name, value in (("call_timeout", call_timeout), ("start_timeout", start_timeout)):
            if not 0 < value < float("inf"):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")
        if memory_bytes < 0 or check_first < 0 or check_every < 0:
            raise ValueError("memory_bytes, check_first and check_every must be >= 0")
        self.spec = spec
        self.python = python or sys.executable
        self.import_dir = import_dir or os.getcwd()
        self.call_timeout = call_timeout
        self.start_timeout = start_timeout
        self.memory_bytes = memory_bytes
        self.env = dict(env or {})
        self.check_first = check_first
        self.check_every = check_every
        self.calls = 0
        self.max_starts = max_starts
        self._starts = 0
        self._last_death = ""
        self.info: dict[str, Any] = {}
        #: Seconds the audited function itself took in the last call, and in all calls.
        self.last_seconds = 0.0
        self.total_seconds = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._output: collections.deque[str] = collections.deque()
        self._output_chars = 0
        self._drain: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"IsolatedFunction({self.spec!r}, python={self.python!r})"

    def __enter__(self) -> IsolatedFunction:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Start the child and import the module (done by the first call if not before).

        Raises:
            ImplementationCrashed: if the import fails, exits, hangs or the interpreter is unusable.
        """
        if self._process is not None:
            return
        if self._starts >= self.max_starts:
            raise ImplementationCrashed(
                f"not restarted after {self._starts} failed processes; last: {self._last_death}"
            )
        self._starts += 1
        try:
            self._start_child()
        except ImplementationCrashed as exc:
            self._last_death = str(exc)
            raise

    def _start_child(self) -> None:
        env = {**os.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        command = [
            self.python,
            str(_CHILD_SCRIPT),
            self.spec,
            self.import_dir,
            str(self.memory_bytes),
        ]
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
                cwd=self.import_dir,
                start_new_session=True,
            )
        except OSError as exc:
            raise ImplementationCrashed(
                f"cannot start the interpreter {self.python!r}: {exc}"
            ) from None
        self._process = process
        self._output.clear()
        self._output_chars = 0
        self._drain = threading.Thread(target=self._drain_output, args=(process,), daemon=True)
        self._drain.start()
        message = self._receive(self.start_timeout, "importing the module")
        if message[0] == "ready":
            self.info = dict(message[1])
            return
        self._stop()
        if message[0] == "import-failed":
            raise ImplementationCrashed(f"importing {self.spec} failed: {message[1]}")
        raise ImplementationCrashed(f"unexpected message at import: {message[0]!r}")

    def __call__(self, *args: Any) -> Any:
        """Call the function in the child with `args`; generators passed are advanced in place.

        Raises:
            ImplementationCrashed: on any failure of the audited code (module docstring).
        """
        self.start()
        try:
            return self._call_child(args)
        except ImplementationCrashed as exc:
            if self._process is None:
                self._last_death = str(exc)
            raise

    def _call_child(self, args: tuple[Any, ...]) -> Any:
        index = self.calls
        self.calls += 1
        check = index < self.check_first or (self.check_every > 0 and index % self.check_every == 0)
        encoded = [isolated_child.encode(a) for a in args]
        self._send(("call", encoded, check))
        message = self._receive(self.call_timeout, f"call {index}")
        kind = message[0]
        if kind == "ok":
            self.last_seconds = float(message[3]) if len(message) > 3 else 0.0
            self.total_seconds += self.last_seconds
            result = isolated_child.decode(message[1])
            _set_generators(args, message[2])
            _refuse_objects(result)
            return result
        if kind in ("raised", "nondeterministic"):
            if kind == "raised":
                _set_generators(args, message[2])
            raise ImplementationCrashed(str(message[1]))
        self._stop()
        raise ImplementationCrashed(f"unexpected message from the audited process: {kind!r}")

    def call_many(self, calls: Sequence[tuple[Any, ...]]) -> CallBatch:
        """Make `calls` (argument tuples) in one round trip, in order; the first failure ends them.

        A generator passed to several calls (the same object) continues from one call to the
        next, exactly as in process, and is left in its state after the last returned call;
        arrays are copied per call, so a call that mutates its arguments affects no other call.
        The replay check and the per-call time limit apply as in `__call__`.

        Returns:
            The [`CallBatch`][specproof.audit.boundary.CallBatch]; its `error` is set instead
            of raising.
        """
        if not calls:
            return CallBatch([], None)
        try:
            self.start()
        except ImplementationCrashed as exc:
            return CallBatch([], exc)
        first = self.calls
        self.calls += len(calls)
        checks = [
            i < self.check_first or (self.check_every > 0 and i % self.check_every == 0)
            for i in range(first, first + len(calls))
        ]
        memo: dict[int, Any] = {}

        def encoded(value: Any) -> Any:
            # One encoding per array object: pickle then sends a shared array once per batch.
            if id(value) not in memo:
                memo[id(value)] = (value, isolated_child.encode(value))
            return memo[id(value)][1]

        interval = min(MAX_REPORT_INTERVAL, self.call_timeout / 10)
        items: list[Any] = []
        error: ImplementationCrashed | None = None
        raised = False
        try:
            self._send(("calls", [[encoded(a) for a in c] for c in calls], checks, interval))
            while True:
                message = self._receive(self.call_timeout + interval, f"call {first + len(items)}")
                if message[0] not in ("part", "end"):
                    self._stop()
                    raise ImplementationCrashed(
                        f"unexpected message from the audited process: {message[0]!r}"
                    )
                items.extend(message[1])
                if message[0] == "end":
                    failure = message[2]
                    if failure is not None:
                        error = ImplementationCrashed(str(failure[1]))
                        raised = failure[0] == "raised"
                        if raised:  # its generators' states when it raised
                            _set_generators(calls[len(items)], failure[2])
                    break
        except ImplementationCrashed as exc:
            if self._process is None:
                self._last_death = str(exc)
            error = exc
        batch = CallBatch([], None)
        for index, (result, after, seconds) in enumerate(items):
            decoded = isolated_child.decode(result)
            batch.generator_states.append(after)
            try:
                if seconds > self.call_timeout:
                    raise ImplementationCrashed(
                        f"call {first + index}: ran {seconds:.3g} s, over the time limit of "
                        f"{self.call_timeout:g} s"
                    )
                _refuse_objects(decoded)
            except ImplementationCrashed as exc:
                batch.rewind(calls, index)
                batch.error = exc
                return batch
            batch.results.append(decoded)
            self.last_seconds = float(seconds)
            self.total_seconds += self.last_seconds
        if batch.results and not raised:
            batch.rewind(calls, len(batch.results) - 1)
        batch.error = error
        return batch

    def close(self) -> None:
        """Ask the child to exit, and kill it (and its process group) if it does not."""
        process = self._process
        if process is None:
            return
        with contextlib.suppress(ImplementationCrashed, OSError, ValueError):
            self._send(("exit",), timeout=1.0)
        try:
            process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        self._stop()

    def output_tail(self) -> str:
        """The last characters the child printed (stdout and stderr together)."""
        return "".join(self._output)[-_OUTPUT_TAIL:]

    def _drain_output(self, process: subprocess.Popen[bytes]) -> None:
        stream = process.stderr
        if stream is None:
            return
        for chunk in iter(lambda: stream.read1(4096), b""):
            self._output.append(chunk.decode("utf-8", "replace"))
            self._output_chars += len(self._output[-1])
            while self._output_chars - len(self._output[0]) >= _OUTPUT_TAIL:
                self._output_chars -= len(self._output.popleft())

    def _send(self, message: Any, timeout: float | None = None) -> None:
        process = self._process
        if process is None or process.stdin is None:
            raise ImplementationCrashed("the audited process is not running")
        timeout = self.call_timeout if timeout is None else timeout
        data = pickle.dumps(message, protocol=4)
        view = memoryview(isolated_child.HEADER.pack(len(data)) + data)
        fd = process.stdin.fileno()
        deadline = time.monotonic() + timeout
        while view:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([], [fd], [], left)[1]:
                self._stop()
                raise ImplementationCrashed(
                    f"the audited process did not read its arguments within {timeout:g} s"
                )
            try:
                written = os.write(fd, view[: 1 << 16])
            except OSError:
                raise self._died("sending a call") from None
            view = view[written:]

    def _receive(self, timeout: float, during: str) -> Any:
        process = self._process
        if process is None or process.stdout is None:
            raise ImplementationCrashed("the audited process is not running")
        deadline = time.monotonic() + timeout
        header = self._read(process, isolated_child.HEADER.size, deadline, timeout, during)
        size = isolated_child.HEADER.unpack(header)[0]
        if size > MAX_MESSAGE_BYTES:
            self._stop()
            raise ImplementationCrashed(f"{during}: the audited process sent {size} bytes")
        body = self._read(process, size, deadline, timeout, during)
        try:
            return _DataOnly(io.BytesIO(body)).load()
        except Exception as exc:  # noqa: BLE001 - anything unreadable is the child's fault
            self._stop()
            raise ImplementationCrashed(f"{during}: unreadable reply ({exc})") from None

    def _read(
        self,
        process: subprocess.Popen[bytes],
        size: int,
        deadline: float,
        timeout: float,
        during: str,
    ) -> bytes:
        assert process.stdout is not None
        fd = process.stdout.fileno()
        chunks: list[bytes] = []
        missing = size
        while missing:
            left = deadline - time.monotonic()
            ready = select.select([fd], [], [], max(left, 0))[0] if left > 0 else []
            if not ready:
                self._stop()
                raise ImplementationCrashed(
                    f"{during}: no answer within the time limit of {timeout:g} s "
                    "(the audited process was killed)"
                )
            chunk = os.read(fd, min(missing, 1 << 20))
            if not chunk:
                raise self._died(during)
            chunks.append(chunk)
            missing -= len(chunk)
        return b"".join(chunks)

    def _died(self, during: str) -> ImplementationCrashed:
        process = self._process
        code = None
        if process is not None:
            try:
                code = process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
        self._stop()
        if code is None:
            how = "closed its connection"
        elif code < 0:
            how = f"was killed by signal {signal.Signals(-code).name}"
        else:
            how = f"exited with code {code} (sys.exit or os._exit in the audited code?)"
        tail = self.output_tail().strip()
        last = f"; its last output: {tail[-300:]!r}" if tail else ""
        return ImplementationCrashed(f"{during}: the audited process {how}{last}")

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._drain is not None:
            self._drain.join(timeout=2)
        if process.stderr is not None:
            with contextlib.suppress(OSError):
                process.stderr.close()


def _refuse_objects(value: Any) -> None:
    """Raise if a decoded result still holds an object that could not cross the boundary."""
    if isinstance(value, dict):
        for item in value.values():
            _refuse_objects(item)
        return
    if isinstance(value, list | tuple):
        if type(value) is list and all(type(v) is int for v in value):
            return
        if len(value) == 3 and value and value[0] == isolated_child.OBJECT:
            raise ImplementationCrashed(
                f"returned an object of type {value[1]}, which is not data ({value[2]})"
            )
        for item in value:
            _refuse_objects(item)
