"""The child side of the audit's process boundary (see [`boundary`][specproof.audit.boundary]).

This file runs as a script, possibly under another Python interpreter that has no specproof
installed, so it imports only the standard library (numpy and torch only when a value needs
them) and nothing from its own package; the auditor imports the same file for the encoding.

Protocol: frames of an 8-byte big-endian length and a pickle (protocol 4) of builtin values
only (tuples, lists, dicts, str, bytes, int, float, bool, None), read from the child's original
stdin and written to its original stdout. Before the audited module is imported, file
descriptors 1 and 2 are both pointed at the stderr pipe the auditor drains, and 0 at
`/dev/null`, so nothing the audited code prints can reach the protocol or the auditor's output.

Messages: child `("ready", info)` or `("import-failed", reason)`; auditor
`("call", args, check)`; child `("ok", result, args_after, seconds)` (`seconds`: the time the
audited function itself took, the replay of the randomness check left out),
`("raised", reason, args_after)` (the generators' states when it raised) or
`("nondeterministic", reason)`; auditor `("exit",)`. The ready message's info says which
calling convention a generate function uses (`info["convention"]`, read from its signature by
`request.py`, loaded from its file). A
[`GenerationRequest`][specproof.audit.request.GenerationRequest] crosses as its fields
(`REQUEST` tag) and is rebuilt in the child from that same file.

Batches (many calls per round trip): auditor `("calls", [args, ...], [check, ...], flush_s)`;
the generators among the arguments continue from one call to the next, as they would in
process. The child answers with `("part", items)` frames, every `flush_s` seconds while calls
have finished (a reporting thread sends them), and a final `("end", items, failure)`; an item is
`(result, args_after, seconds)`, and `failure` is `None` or the `"raised"`/`"nondeterministic"`
message of the call after the last item (the batch stops there).
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, BinaryIO

#: Tags of encoded values that are not builtins (tuples whose first item is the tag).
ARRAY = "\x00specproof:ndarray"
RNG = "\x00specproof:rng"
OBJECT = "\x00specproof:object"
REQUEST = "\x00specproof:generation-request"
DICT = "\x00specproof:dict"
#: Largest number of elements an encoded value may hold (bigger outputs are malformed).
MAX_ELEMENTS = 10_000_000
HEADER = struct.Struct(">Q")
#: Why a call whose replay differed is refused.
NONDETERMINISTIC = (
    "two calls with the same arguments and the same generator state gave different results: "
    "the implementation uses randomness other than its arguments (the rng, or the seed)"
)
_GENERATORS: dict[str, Any] = {}


def write_frame(stream: BinaryIO, message: Any) -> None:
    """Write one length-prefixed pickle frame and flush."""
    data = pickle.dumps(message, protocol=4)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def encode(value: Any, depth: int = 0) -> Any:
    """A value as builtins only: arrays, tensors and generators become tagged tuples.

    Objects that have no such form become `(OBJECT, type name, short repr)`.
    """
    if value is None or isinstance(value, (bool, int, float, str, bytes)):
        return value
    if type(value) is list and all(type(v) is int for v in value):
        # A list of token ids, what most audited functions return: a copy (the function may
        # reuse the list it returned before the batch is reported), without the per-item calls.
        return value[:]
    if depth > 20:
        return (OBJECT, type(value).__name__, "nested too deeply")
    module = type(value).__module__ or ""
    if module.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
        module = "numpy"
    if module.startswith("numpy"):
        import numpy as np

        if isinstance(value, np.random.Generator):
            return (RNG, value.bit_generator.state)
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            if value.size > MAX_ELEMENTS:
                return (OBJECT, "ndarray", f"{value.size} elements")
            if value.dtype.hasobject:
                return (OBJECT, "ndarray", "dtype object")
            return (ARRAY, value.dtype.str, tuple(value.shape), value.tobytes())
    if type(value).__name__ == "GenerationRequest" and hasattr(value, "to_data"):
        return (REQUEST, value.to_data())
    if isinstance(value, dict):
        if len(value) > MAX_ELEMENTS or not all(isinstance(k, str) for k in value):
            return (OBJECT, "dict", "keys must be strings")
        return (DICT, [[k, encode(v, depth + 1)] for k, v in value.items()])
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ELEMENTS:
            return (OBJECT, type(value).__name__, f"{len(value)} elements")
        items = [encode(v, depth + 1) for v in value]
        return items if isinstance(value, list) else ("\x00specproof:tuple", items)
    text = repr(value) if len(type(value).__name__) < 200 else ""
    return (OBJECT, type(value).__name__, text[:200])


def decode(value: Any) -> Any:
    """The inverse of [`encode`][specproof.audit.isolated_child.encode] (objects stay tagged)."""
    if isinstance(value, list):
        if all(type(v) is int for v in value):
            return value[:]  # a new list per decode, as below: calls never share a mutable list
        return [decode(v) for v in value]
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        tag = value[0]
        if tag == ARRAY:
            import numpy as np

            _, dtype, shape, data = value
            return np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()
        if tag == RNG:
            state = value[1]
            generator = _GENERATORS.get(state["bit_generator"])
            if generator is None:
                import numpy as np

                # One generator per kind, reused: a fresh one would read OS entropy per call.
                bit_generator = getattr(np.random, state["bit_generator"])(0)
                generator = _GENERATORS[state["bit_generator"]] = np.random.Generator(bit_generator)
            generator.bit_generator.state = state
            return generator
        if tag == "\x00specproof:tuple":
            return tuple(decode(v) for v in value[1])
        if tag == DICT:
            return {k: decode(v) for k, v in value[1]}
        if tag == REQUEST:
            return request_module().GenerationRequest.from_data(value[1])
    return value


def request_module() -> Any:
    """`request.py` next to this file, loaded from its path (no specproof install needed)."""
    name = "_specproof_audit_request"
    if name not in sys.modules:
        import importlib.util

        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("request.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _reason(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


def _load(spec: str) -> Any:
    import importlib

    module_name, _, attr = spec.partition(":")
    fn: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        fn = getattr(fn, part)
    if not callable(fn):
        raise TypeError(f"{spec} is not callable")
    return fn


def _call(
    fn: Any, args: Any, states: dict[int, Any] | None = None
) -> tuple[bytes, Any, Any, float]:
    """Call `fn` on decoded `args`: (pickled encoded result and args, result, args, seconds).

    `states` maps argument positions to generator states that replace the encoded ones. An
    exception from `fn` propagates with the generators' states afterwards in its
    `generator_states` attribute.
    """
    decoded = decode(args)
    for position, state in (states or {}).items():
        decoded[position].bit_generator.state = state
    start = time.perf_counter()
    try:
        value = fn(*decoded)
    except BaseException as exc:
        exc.generator_states = _generator_states(decoded)  # type: ignore[attr-defined]
        raise
    seconds = time.perf_counter() - start
    result = encode(value)
    after = _generator_states(decoded)
    return pickle.dumps((result, after), protocol=4), result, after, seconds


def _generator_states(decoded: list[Any]) -> list[Any]:
    return [encode(a) if _is_generator(a) else None for a in decoded]


def _is_generator(value: Any) -> bool:
    return (type(value).__module__ or "").startswith("numpy") and hasattr(value, "bit_generator")


def serve(spec: str, protocol_in: BinaryIO, protocol_out: BinaryIO) -> int:
    """Import `spec` and answer calls until told to exit (or the auditor goes away)."""
    try:
        fn = _load(spec)
    except BaseException as exc:  # noqa: BLE001 - exits and interrupts at import are failures too
        write_frame(protocol_out, ("import-failed", _reason(exc)))
        return 0
    info = {"python": sys.version.split()[0], "prefix": sys.prefix, "pid": os.getpid()}
    try:
        info["convention"] = request_module().convention(fn)
    except Exception as exc:  # noqa: BLE001 - a bad declaration is the implementation's fault
        write_frame(protocol_out, ("import-failed", _reason(exc)))
        return 0
    write_frame(protocol_out, ("ready", info))
    while True:
        header = protocol_in.read(HEADER.size)
        if len(header) < HEADER.size:
            return 0
        message = pickle.loads(protocol_in.read(HEADER.unpack(header)[0]))
        if message[0] == "calls":
            _serve_batch(fn, message[1], message[2], message[3], protocol_out)
            continue
        if message[0] != "call":
            return 0
        _, args, check = message
        write_frame(protocol_out, _checked_call(fn, args, check, {}))


def _checked_call(fn: Any, args: Any, check: bool, states: dict[int, Any]) -> tuple[Any, ...]:
    """One checked call's answer (module docstring): `"ok"`, `"raised"` or `"nondeterministic"`."""
    try:
        first, result, after, seconds = _call(fn, args, states)
        if check and _call(fn, args, states)[0] != first:
            return ("nondeterministic", NONDETERMINISTIC)
    except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt... all fail
        return ("raised", _reason(exc), getattr(exc, "generator_states", None))
    return ("ok", result, after, seconds)


class _BatchArguments:
    """Decodes a batch's calls: shared arrays once (then copied per call), generators live.

    An array that only one call receives is decoded into its own copy, with no second copy.

    A generator argument is decoded at the first call and the same object is passed to every
    later call, so it continues exactly as it would in process.
    """

    def __init__(self, calls: list[Any] | None = None) -> None:
        self._arrays: dict[int, Any] = {}
        self.generators: dict[int, Any] = {}
        # The arrays that more than one call receives (by encoded object): only those are kept
        # as templates and copied per call; the others are decoded once, into their own copy.
        seen: set[int] = set()
        self._shared: set[int] = set()
        for args in calls or ():
            for value in args:
                if isinstance(value, tuple) and value and value[0] == ARRAY:
                    (self._shared if id(value) in seen else seen).add(id(value))

    def __call__(self, args: list[Any]) -> list[Any]:
        decoded = []
        for position, value in enumerate(args):
            if position in self.generators:
                decoded.append(self.generators[position])
            elif isinstance(value, tuple) and value and value[0] == ARRAY:
                if id(value) not in self._shared:
                    decoded.append(decode(value))  # a fresh array, used by this call only
                    continue
                template = self._arrays.get(id(value))
                if template is None:
                    template = self._arrays[id(value)] = decode(value)
                decoded.append(template.copy())
            else:
                item = decode(value)
                if _is_generator(item):
                    self.generators[position] = item
                decoded.append(item)
        return decoded

    def states(self, size: int) -> list[Any]:
        """The encoded generator arguments now (`None` at the other positions)."""
        generators = self.generators
        return [
            (RNG, generators[i].bit_generator.state) if i in generators else None
            for i in range(size)
        ]


def _serve_batch(
    fn: Any, calls: list[Any], checks: list[bool], flush_s: float, protocol_out: BinaryIO
) -> None:
    """Answer one batch of calls (module docstring), generators continuing across calls.

    A reporting thread sends the finished calls every `flush_s` seconds, so that a call that
    then hangs leaves the calls before it reported (as one by one).
    """
    pending: list[Any] = []
    lock = threading.Lock()
    done = threading.Event()

    def report() -> None:
        while not done.wait(flush_s):
            with lock:
                if pending:
                    write_frame(protocol_out, ("part", pending[:]))
                    pending.clear()

    reporter = threading.Thread(target=report, daemon=True)
    reporter.start()
    arguments = _BatchArguments(calls)
    failure = None
    try:
        for args, check in zip(calls, checks, strict=True):
            try:
                decoded = arguments(args)  # decodes a generator at the first call
                before = [g.bit_generator.state for g in arguments.generators.values() if check]
                start = time.perf_counter()
                value = fn(*decoded)
                seconds = time.perf_counter() - start  # the function alone, as for one call
                result = encode(value)
                after = arguments.states(len(args))
                if check:
                    first = pickle.dumps((result, after), protocol=4)
                    for generator, state in zip(arguments.generators.values(), before, strict=True):
                        generator.bit_generator.state = state
                    replay = encode(fn(*arguments(args)))
                    if pickle.dumps((replay, arguments.states(len(args))), protocol=4) != first:
                        failure = ("nondeterministic", NONDETERMINISTIC)
                        break
            except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt... all fail
                failure = ("raised", _reason(exc), arguments.states(len(args)))
                break
            with lock:
                pending.append((result, after, seconds))
    finally:
        done.set()
        reporter.join()
    write_frame(protocol_out, ("end", pending, failure))


def main(argv: list[str]) -> int:
    """Child entry point: `isolated_child.py MODULE:FUNCTION IMPORT_DIR MEMORY_BYTES`."""
    spec, import_dir, memory = argv[1], argv[2], int(argv[3])
    # The script's own folder (specproof/audit) must not shadow the audited modules.
    sys.path[:] = [import_dir] + [p for p in sys.path[1:] if p != import_dir]
    protocol_in = os.fdopen(os.dup(0), "rb")
    protocol_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    # A process started in the background of a non-interactive shell inherits SIGINT ignored;
    # the audited code gets Python's usual KeyboardInterrupt whoever started the auditor.
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    if memory > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    return serve(spec, protocol_in, protocol_out)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
