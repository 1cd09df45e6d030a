"""The transformers audit behind the process boundary.

[`audit_transformers`][specproof.audit.hf_adapter.audit_transformers] takes the factory of its
generate functions as `make_fn`; [`isolated`][specproof.audit.hf_isolated.isolated] returns one
whose functions are [`IsolatedGenerate`][specproof.audit.hf_isolated.IsolatedGenerate]s: the
installed transformers' `generate` runs in a child process
([`hf_child`][specproof.audit.hf_child] loads the models there by name), so whatever it does
(exit, signal, print, hang, exhaust memory) ends as a `crashed` configuration with the reason.
Samples are the same as in process: the child builds the same generate function, seeded by the
same seeds.
"""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .boundary import IsolatedFunction
from .hf_configurations import HFConfiguration
from .hf_models import Models

#: What the child imports and calls.
CHILD_SPEC = "specproof.audit.hf_child:generate"


class IsolatedGenerate(IsolatedFunction):
    """One configuration's generate function in a child process.

    Args:
        config: the configuration.
        model_names: `target`, `draft`, `other_draft` names for `load_models` (None: default).
        spec: the child's `MODULE:FUNCTION` (a module that wraps `hf_child`, e.g. to patch
            transformers in a test).
        **limits: keyword arguments of
            [`IsolatedFunction`][specproof.audit.boundary.IsolatedFunction] (`call_timeout`,
            `start_timeout`, `memory_bytes`, `python`, `import_dir`).
    """

    def __init__(
        self,
        config: HFConfiguration,
        model_names: dict[str, str | None],
        spec: str = CHILD_SPEC,
        **limits: Any,
    ) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="specproof-hf-")
        folder = Path(self._folder.name)
        (folder / "configuration.pickle").write_bytes(pickle.dumps(config))
        self._calls_file = folder / "drafter_calls"
        env = {
            "SPECPROOF_HF_CONFIGURATION": str(folder / "configuration.pickle"),
            "SPECPROOF_HF_DRAFTER_CALLS": str(self._calls_file),
            "SPECPROOF_HF_TARGET": model_names.get("target") or "",
            "SPECPROOF_HF_DRAFT": model_names.get("draft") or "",
            "SPECPROOF_HF_OTHER_DRAFT": model_names.get("other_draft") or "",
        }
        super().__init__(spec, env=env, **limits)

    @property
    def drafter_calls(self) -> list[int]:
        """The drafter's forward calls the child reported (`[0]` if none or unreadable)."""
        try:
            return [int(self._calls_file.read_text())]
        except (OSError, ValueError):
            return [0]

    def close(self) -> None:
        """Stop the child and remove the configuration's files."""
        super().close()
        self._folder.cleanup()


def isolated(
    model_names: dict[str, str | None], spec: str = CHILD_SPEC, **limits: Any
) -> Callable[[Models, HFConfiguration], IsolatedGenerate]:
    """A `make_fn` for `audit_transformers` that runs each configuration in a child process.

    Args:
        model_names: `target`, `draft`, `other_draft` (the names the auditor's own `models`
            were loaded with; None: `load_models`' default).
        spec: the child's `MODULE:FUNCTION`.
        **limits: limits of [`IsolatedFunction`][specproof.audit.boundary.IsolatedFunction].
    """

    def make_fn(models: Models, config: HFConfiguration) -> IsolatedGenerate:
        return IsolatedGenerate(config, model_names, spec, **limits)

    return make_fn
