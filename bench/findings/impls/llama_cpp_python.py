"""llama-cpp-python 0.3.36: no wheel for this platform."""

from impls._findings_only import findings_only

IMPL = findings_only(
    "llama-cpp-python", "0.3.36",
    "Python bindings of llama.cpp, with a draft-model interface and a prompt-lookup drafter.",
    "llama_cpp.Llama(draft_model=LlamaPromptLookupDecoding(...))",
    "not run",
    "`pip download --no-deps --only-binary=:all: llama-cpp-python` finds no matching "
    "distribution: the package index has only the source distribution for this platform "
    "(CPython 3.11, x86-64 Linux), and building llama.cpp from source on this shared 2-core "
    "machine (load average above 20 during this session) was not attempted. What an audit "
    "needs: a built wheel in `.venv-findings/llama-cpp-python`, a GGUF export of the "
    "catalogue's tiny target, and a generation-level adapter around `Llama.__call__` with "
    "`draft_model`.",
)
