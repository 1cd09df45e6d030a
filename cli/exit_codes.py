"""Exit codes of every `specproof` command, in one table.

Codes 0-9 are outcomes (a verdict, a refuted claim); the failure codes that say the command
could not do its work follow the BSD `sysexits.h` numbering, so no failure can ever read as a
verdict. `docs/reference/exit-codes.md` renders [`TABLE`][specproof.cli.exit_codes.TABLE]
(a test checks that the page and the table agree).
"""

from __future__ import annotations

from dataclasses import dataclass

OK = 0
#: `audit`: not-lossless; `verify`: a claim refuted; `audit controls`: a control misjudged.
FAILED = 1
#: `audit`: the audited implementation crashed (exit, signal, hang, exception, garbage).
CRASHED = 2
#: `audit`: not rejected, but fewer samples than the power target needs.
INCONCLUSIVE = 3
#: `verify`: a claim could not be decided (`unknown`, or its check failed to run).
UNDECIDED = 4
#: A bad argument (the message names it).
USAGE = 64
#: A file or model given as input cannot be read or loaded.
BAD_INPUT = 65
#: An optional dependency is missing (the message names the extra to install).
MISSING_DEPENDENCY = 69
#: An internal error of specproof (a bug: please report it).
INTERNAL = 70
#: An output path cannot be written (checked before the long work starts).
CANNOT_WRITE = 73
#: Interrupted (Ctrl-C).
INTERRUPTED = 130
#: The reader of stdout went away (`specproof ... | head -1`): 128 + SIGPIPE, as a shell reports
#: a command killed by the closed pipe.
BROKEN_PIPE = 141


@dataclass(frozen=True)
class ExitCode:
    """One row of the table.

    Attributes:
        code: the process exit status.
        name: the constant's name in this module.
        commands: the commands that use it.
        meaning: what it says.
    """

    code: int
    name: str
    commands: str
    meaning: str


TABLE: tuple[ExitCode, ...] = (
    ExitCode(OK, "OK", "all", "success; `audit`: verdict `consistent`"),
    ExitCode(
        FAILED,
        "FAILED",
        "`audit`, `verify`",
        "`audit`: verdict `not-lossless` (`audit controls`: a control got the wrong verdict); "
        "`verify`: a claim was refuted",
    ),
    ExitCode(CRASHED, "CRASHED", "`audit`", "verdict `crashed`: the audited code failed"),
    ExitCode(INCONCLUSIVE, "INCONCLUSIVE", "`audit`", "verdict `inconclusive`"),
    ExitCode(
        UNDECIDED,
        "UNDECIDED",
        "`verify`",
        "a claim is `unknown` (e.g. its solver ran out of `--timeout`) or its check failed to run",
    ),
    ExitCode(USAGE, "USAGE", "all", "bad arguments; the message names the flag"),
    ExitCode(BAD_INPUT, "BAD_INPUT", "all", "an input file or model cannot be read or loaded"),
    ExitCode(
        MISSING_DEPENDENCY,
        "MISSING_DEPENDENCY",
        "all",
        "an optional dependency is missing; the message names the extra to install",
    ),
    ExitCode(INTERNAL, "INTERNAL", "all", "internal error of specproof (a bug; please report)"),
    ExitCode(
        CANNOT_WRITE,
        "CANNOT_WRITE",
        "all",
        "an output path (`--report`, `--out`) cannot be written; checked before the work starts",
    ),
    ExitCode(INTERRUPTED, "INTERRUPTED", "all", "interrupted (Ctrl-C)"),
    ExitCode(
        BROKEN_PIPE,
        "BROKEN_PIPE",
        "all",
        "stdout was closed by its reader (piped into `head -1`); the command stops quietly, "
        "128 + SIGPIPE like a shell",
    ),
)

#: Which extra provides each optional top-level module.
EXTRAS = {
    "torch": "engine",
    "transformers": "engine",
    "tokenizers": "engine",
    "safetensors": "engine",
    "accelerate": "engine",
    "gguf": "engine",
    "matplotlib": "engine",
    "ray": "dsi",
}


class CommandError(Exception):
    """A failure of the command itself, with its exit code and a one-line message.

    Args:
        message: what went wrong, naming the flag or file.
        code: the exit code (a failure code of [`TABLE`][specproof.cli.exit_codes.TABLE]).
    """

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.code = code


def missing_dependency(exc: ModuleNotFoundError) -> CommandError | None:
    """The error for a missing optional module, or None when `exc` is about anything else."""
    top = (exc.name or "").split(".")[0]
    if top not in EXTRAS:
        return None
    return CommandError(
        f"this needs the optional dependency {top!r}: pip install 'specproof[{EXTRAS[top]}]'",
        MISSING_DEPENDENCY,
    )
