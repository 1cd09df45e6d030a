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
audited function itself took, the replay of the randomness check left out), `("raised", reason)`
or `("nondeterministic", reason)`; auditor `("exit",)`. The ready message's info says which
calling convention a generate function uses (`info["convention"]`, read from its signature by
`request.py`, loaded from its file). A
[`GenerationRequest`][specproof.audit.request.GenerationRequest] crosses as its fields
(`REQUEST` tag) and is rebuilt in the child from that same file.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
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


def _call(fn: Any, args: Any) -> tuple[bytes, Any, Any, float]:
    """Call `fn` on decoded `args`: (pickled encoded result and args, result, args, seconds)."""
    decoded = decode(args)
    start = time.perf_counter()
    value = fn(*decoded)
    seconds = time.perf_counter() - start
    result = encode(value)
    after = [encode(a) if _is_generator(a) else None for a in decoded]
    return pickle.dumps((result, after), protocol=4), result, after, seconds


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
        if message[0] != "call":
            return 0
        _, args, check = message
        try:
            first, result, after, seconds = _call(fn, args)
            if check and _call(fn, args)[0] != first:
                write_frame(
                    protocol_out,
                    (
                        "nondeterministic",
                        "two calls with the same arguments and the same generator state gave "
                        "different results: the implementation uses randomness other than its "
                        "arguments (the rng, or the seed)",
                    ),
                )
                continue
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt... all fail
            write_frame(protocol_out, ("raised", _reason(exc)))
            continue
        write_frame(protocol_out, ("ok", result, after, seconds))


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
    if memory > 0:
        import resource

        resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))
    return serve(spec, protocol_in, protocol_out)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
