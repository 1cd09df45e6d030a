"""The child side of the transformers audit behind the process boundary.

[`IsolatedGenerate`][specproof.audit.hf_isolated.IsolatedGenerate] runs
`specproof.audit.hf_child:generate` in a child process. Importing this module (which only that
child does) loads the models and builds the configuration's generate function, exactly as the
in-process audit does with [`make_generate`][specproof.audit.hf_models.make_generate]:

- `SPECPROOF_HF_CONFIGURATION`: a file holding the pickled
  [`HFConfiguration`][specproof.audit.hf_configurations.HFConfiguration] (written by the auditor);
- `SPECPROOF_HF_TARGET`, `SPECPROOF_HF_DRAFT`, `SPECPROOF_HF_OTHER_DRAFT`: model names for
  [`load_models`][specproof.audit.hf_models.load_models] (unset or empty: its default);
- `SPECPROOF_HF_DRAFTER_CALLS`: a file where each call writes the drafter's forward calls so
  far, which the auditor reads for its never-drafted check.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from .hf_models import load_models, make_generate


def _name(variable: str) -> str | None:
    return os.environ.get(variable) or None


def _build() -> Any:
    import transformers

    if "SPECPROOF_HF_CONFIGURATION" not in os.environ:
        raise RuntimeError(
            "specproof.audit.hf_child is imported only by the child process of "
            "specproof.audit.hf_isolated (SPECPROOF_HF_CONFIGURATION is not set)"
        )
    transformers.logging.set_verbosity_error()
    configuration = pickle.loads(Path(os.environ["SPECPROOF_HF_CONFIGURATION"]).read_bytes())
    models = load_models(
        _name("SPECPROOF_HF_TARGET"), _name("SPECPROOF_HF_DRAFT"), _name("SPECPROOF_HF_OTHER_DRAFT")
    )
    return make_generate(models, configuration)


_GENERATE = _build()
_DRAFTER_CALLS = Path(os.environ["SPECPROOF_HF_DRAFTER_CALLS"])


def generate(prompt_ids: list[int], max_new_tokens: int, seed: int) -> list[int]:
    """The configuration's generate function (the installed transformers' `generate`)."""
    tokens = _GENERATE(prompt_ids, max_new_tokens, seed)
    _DRAFTER_CALLS.write_text(str(int(_GENERATE.drafter_calls[0])))
    return tokens
