"""The audited code under another interpreter (`--python`), through the same process boundary.

The second environment is a virtual environment made here with `python -m venv --without-pip`;
a `.pth` file lends it this environment's third-party packages (numpy, torch, transformers),
but not specproof (its editable install is not activated by a lent path), so the child can
only run if the boundary's child script is self-contained, and the audited function asserts
that specproof is not importable where it runs. The worked example with an older transformers
release pinned in its own environment is docs/how-to/audit-other-python.md (it needs a
download, so the test lends packages instead).
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from specproof.audit.boundary import IsolatedFunction
from specproof.audit.misbehaving import verify_source
from specproof.cli.main import main

from ..support.venvs import lent_venv

VERIFY = (
    textwrap.dedent(
        """
        import importlib.util

        assert importlib.util.find_spec("specproof") is None, "specproof leaked into the child"
        """
    )
    + verify_source()
)

GENERATE = textwrap.dedent(
    """
    import importlib.util
    import os

    import torch
    import transformers

    assert importlib.util.find_spec("specproof") is None, "specproof leaked into the child"
    folder = os.environ["SPECPROOF_TARGET_DIR"]  # safetensors + config, written by the auditor
    model = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()

    def generate(prompt_ids, max_new_tokens, seed):
        torch.manual_seed(seed)
        ids = torch.tensor([prompt_ids])
        out = model.generate(
            ids, attention_mask=torch.ones_like(ids), do_sample=True, top_k=0,
            max_new_tokens=max_new_tokens, pad_token_id=0, eos_token_id=0,
        )
        return out[0, len(prompt_ids):].tolist()
    """
)


@pytest.fixture(scope="module")
def other_python(tmp_path_factory) -> Path:
    """A second virtual environment's interpreter, with this one's packages lent, not specproof."""
    return lent_venv(tmp_path_factory.mktemp("other-venv"))[0]


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "elsewhere_sd.py").write_text(VERIFY)
    (tmp_path / "elsewhere_generate.py").write_text(GENERATE)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_function_runs_in_the_other_environment(workdir, other_python):
    with IsolatedFunction("elsewhere_sd:verify", python=str(other_python)) as fn:
        fn.start()
        assert Path(fn.info["prefix"]) == other_python.parent.parent
        assert Path(fn.info["prefix"]) != Path(sys.prefix)


def test_a_sampler_audit_from_another_environment(workdir, other_python, capsys):
    code = main(
        ["audit", "sampler", "elsewhere_sd:verify", "--python", str(other_python)]
        + ["--samples", "300", "--tv", "0.5", "--json"]
    )
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] in ("consistent", "inconclusive") and code in (0, 3)
    assert all(c["n_samples"] == 300 for c in data["configurations"])


def test_negative_control_specproof_in_the_child_would_be_caught(workdir, capsys):
    """The same function under this interpreter (specproof importable) crashes at import."""
    code = main(["audit", "sampler", "elsewhere_sd:verify", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 2 and "specproof leaked" in data["configurations"][0]["error"]


@pytest.mark.slow
def test_a_generate_audit_from_another_environment_gets_the_target_as_files(
    workdir, other_python, capsys
):
    """Plain sampling of the target handed over as safetensors: not flagged (false-failure
    probability <= alpha = 1e-6)."""
    pytest.importorskip("transformers")
    code = main(
        ["audit", "generate", "elsewhere_generate:generate", "--python", str(other_python)]
        + ["--samples", "200", "--tv", "0.3", "--json"]
    )
    data = json.loads(capsys.readouterr().out)
    assert data["configurations"][0]["error"] is None
    assert data["verdict"] in ("consistent", "inconclusive") and code in (0, 3)
