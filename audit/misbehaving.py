"""Deliberately misbehaving implementations: the negative controls of the process boundary.

Each function has the sampler-level signature and misbehaves in one way (exits, kills itself,
hangs, prints, raises a `BaseException`, returns garbage, uses its own randomness, exhausts
memory); [`CASES`][specproof.audit.misbehaving.CASES] pairs each with words the `crashed`
reason must contain. [`AT_IMPORT`][specproof.audit.misbehaving.AT_IMPORT] holds the sources of
modules that misbehave while being imported (their users write them to files). Audit them only
through the boundary ([`boundary`][specproof.audit.boundary]): called in the auditor's own
process they would exit it, hang it or fill its memory. [`correct`][specproof.audit.misbehaving.correct]
is the positive control: standard SD that chatters on stdout and stderr.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from typing import Any

import numpy as np


def verify(target_probs, draft_probs, draft_tokens, rng):  # type: ignore[no-untyped-def]
    """Standard SD in plain numpy, self-contained (its source is written to test modules).

    Tests write [`verify_source`][specproof.audit.misbehaving.verify_source] to modules that
    another interpreter imports without specproof.
    """
    out = []
    for i, x in enumerate(draft_tokens):
        if rng.random() * draft_probs[i, x] < target_probs[i, x]:
            out.append(int(x))
            continue
        residual = np.maximum(target_probs[i] - draft_probs[i], 0.0)
        out.append(int(rng.choice(residual.size, p=residual / residual.sum())))
        return out
    out.append(int(rng.choice(target_probs.shape[1], p=target_probs[-1])))
    return out


def verify_source() -> str:
    """The source of [`verify`][specproof.audit.misbehaving.verify], with `import numpy as np`."""
    import inspect

    return "import numpy as np\n\n\n" + inspect.getsource(verify)


def correct(
    target_probs: np.ndarray, draft_probs: np.ndarray, draft_tokens: np.ndarray, rng: Any
) -> list[int]:
    """Standard SD, printing on stdout (a stray `{` included) and stderr."""
    print("chatter on stdout {")
    print("chatter on stderr", file=sys.stderr)
    return list(verify(target_probs, draft_probs, draft_tokens, rng))


def sys_exit_0(*args: Any) -> Any:
    """`sys.exit(0)`: once read as the `consistent` exit code."""
    sys.exit(0)


def sys_exit_3(*args: Any) -> Any:
    """`sys.exit(3)`: once read as `inconclusive`."""
    sys.exit(3)


def os_exit_0(*args: Any) -> Any:
    """`os._exit(0)`: no exception, the process just ends."""
    os._exit(0)


def sigkill_self(*args: Any) -> Any:
    """Kills its own process."""
    os.kill(os.getpid(), signal.SIGKILL)


def segfault(*args: Any) -> Any:
    """A segmentation fault (the signal)."""
    os.kill(os.getpid(), signal.SIGSEGV)


def sigint_group(*args: Any) -> Any:
    """Sends SIGINT to its whole process group, then sleeps."""
    os.killpg(0, signal.SIGINT)
    time.sleep(30)


class Escape(BaseException):
    """A `BaseException` that is not an `Exception`."""


def base_exception(*args: Any) -> Any:
    """Raises a `BaseException` subclass."""
    raise Escape("not an Exception")


def keyboard_interrupt(*args: Any) -> Any:
    """Raises `KeyboardInterrupt`."""
    raise KeyboardInterrupt


def hang(*args: Any) -> Any:
    """Never returns."""
    while True:
        time.sleep(1)


def print_then_exit(*args: Any) -> Any:
    """Prints a fake verdict as JSON on stdout, then exits 0."""
    print('{"verdict": "consistent"}')
    sys.stdout.flush()
    os._exit(0)


def garbage(*args: Any) -> Any:
    """Returns an object that is not data."""
    return object()


def garbage_floats(*args: Any) -> Any:
    """Returns a float where token ids belong."""
    return [0.5]


def own_randomness(
    target_probs: np.ndarray, draft_probs: np.ndarray, draft_tokens: np.ndarray, rng: Any
) -> list[int]:
    """Correct SD, but on a generator of its own instead of `rng`."""
    return correct(target_probs, draft_probs, draft_tokens, np.random.default_rng())


def memory_hog(*args: Any) -> Any:
    """Allocates 64 MiB blocks until the memory limit stops it."""
    keep = []
    while True:
        keep.append(np.empty(1 << 23))


#: (function name, words the `crashed` reason must contain).
CASES: list[tuple[str, str]] = [
    ("sys_exit_0", "SystemExit: 0"),
    ("sys_exit_3", "SystemExit: 3"),
    ("os_exit_0", "exited with code 0"),
    ("sigkill_self", "signal SIGKILL"),
    ("segfault", "signal SIGSEGV"),
    # The auditor runs in another session: the SIGINT reaches the audited process only.
    ("sigint_group", "KeyboardInterrupt"),
    ("base_exception", "Escape: not an Exception"),
    ("keyboard_interrupt", "KeyboardInterrupt"),
    ("hang", "time limit"),
    ("print_then_exit", "exited with code 0"),
    ("garbage", "object of type object"),
    ("garbage_floats", "malformed output"),
    ("own_randomness", "randomness other than its arguments"),
    ("memory_hog", "MemoryError"),
]

#: `{module name: (source, words the reason must contain)}`: misbehaviour at import.
AT_IMPORT: dict[str, tuple[str, str]] = {
    "exit_at_import": ("import sys\nsys.exit(0)\n", "SystemExit: 0"),
    "os_exit_at_import": ("import os\nos._exit(0)\n", "exited with code 0"),
    "hang_at_import": ("import time\nwhile True:\n    time.sleep(1)\n", "time limit"),
    "print_at_import": ("print('{not json')\nraise SystemExit(0)\n", "SystemExit: 0"),
}
