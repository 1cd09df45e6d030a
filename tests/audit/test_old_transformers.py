"""An older transformers release, pinned in its own environment, audited end to end.

Issue 19 asks that an implementation pinned to an older transformers release in its own virtual
environment be audited from the project's environment. The fixture builds that environment
the way docs/how-to/audit-other-python.md describes, except that torch and numpy are lent from
this environment (a `.pth` line) instead of downloaded again: transformers 4.46.3 with the
tokenizers and huggingface_hub releases it requires are installed into the new environment's own
site-packages, which come first on its path, so the child imports transformers 4.46.3 while the
auditor runs today's release. specproof is not importable there (a lent path does not process
the editable install's `.pth`), and the audited module asserts both facts at import: if either
failed, the audit would end `crashed` and these tests fail.

The audited function is transformers 4.46.3's own assisted generation (the target as its own
assistant, sampling at temperature 1), run on the target that the auditor hands over as
safetensors. Its negative control is the same call at temperature 0.5 audited as plain sampling,
which must come out `not-lossless`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from specproof.cli.main import main

from ..support.venvs import lent_venv, python_prints

pytestmark = pytest.mark.slow

OLD_RELEASE = ("transformers==4.46.3", "tokenizers==0.20.3", "huggingface_hub==0.26.5")

OLD_HF_SD = textwrap.dedent(
    """
    import importlib.util
    import os

    import torch
    import transformers

    assert transformers.__version__ == "4.46.3", transformers.__version__
    assert importlib.util.find_spec("specproof") is None, "specproof leaked into the child"

    folder = os.environ["SPECPROOF_TARGET_DIR"]
    target = transformers.AutoModelForCausalLM.from_pretrained(folder).eval()
    TEMPERATURE = {temperature}


    def generate(prompt_ids, max_new_tokens, seed):
        torch.manual_seed(seed)
        ids = torch.tensor([prompt_ids])
        out = target.generate(
            ids, attention_mask=torch.ones_like(ids), assistant_model=target, do_sample=True,
            temperature=TEMPERATURE, top_k=0, max_new_tokens=max_new_tokens, pad_token_id=0,
            eos_token_id=0,
        )
        return out[0, len(prompt_ids):].tolist()
    """
)


@pytest.fixture(scope="module")
def old_transformers_python(tmp_path_factory) -> Path:
    """A virtual environment with transformers 4.46.3 of its own and this one's torch lent."""
    python, site = lent_venv(tmp_path_factory.mktemp("old-transformers"))
    install = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*install, "--no-deps", "--target", site, *OLD_RELEASE], check=True)
    return python


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    (tmp_path / "old_hf_sd.py").write_text(OLD_HF_SD.format(temperature=1.0))
    (tmp_path / "old_hf_hot.py").write_text(OLD_HF_SD.format(temperature=0.5))
    monkeypatch.chdir(tmp_path)
    # One torch thread in the child, as in the rest of the suite (spinning threads of two
    # processes on two cores would slow both).
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    return tmp_path


def _audit(module: str, python: Path, samples: int, capsys) -> tuple[int, dict]:
    code = main(
        ["audit", "generate", f"{module}:generate", "--target", "tiny-llama", "--tv", "0.2"]
        + ["--python", str(python), "--samples", str(samples), "--json"]
    )
    return code, json.loads(capsys.readouterr().out)


def test_the_child_runs_the_old_release(old_transformers_python):
    out = python_prints(
        old_transformers_python, "import transformers; print(transformers.__version__)"
    )
    assert out == "4.46.3"


def test_old_assisted_generation_is_consistent(workdir, old_transformers_python, capsys):
    """Lossless code: `consistent` (false-failure probability <= alpha = 1e-6), at enough
    samples for TV 0.2 and the default power (0.99) on tiny-llama (351 needed)."""
    code, data = _audit("old_hf_sd", old_transformers_python, 1000, capsys)
    config = data["configurations"][0]
    assert config["error"] is None
    assert data["verdict"] == "consistent" and code == 0, config.get("uncovered")


def test_negative_control_old_release_at_another_temperature(
    workdir, old_transformers_python, capsys
):
    """The same old release sampling at temperature 0.5, audited as plain sampling, must fail."""
    code, data = _audit("old_hf_hot", old_transformers_python, 600, capsys)
    assert data["configurations"][0]["error"] is None
    assert data["verdict"] == "not-lossless" and code == 1
