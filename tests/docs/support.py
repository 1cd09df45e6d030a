"""Helpers for the docs tests: building the site, and reading code blocks out of Markdown."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
BIN = Path(sys.executable).parent

# A registry entry that exists only for the test: imported through SPECPROOF_DOCS_CLAIM_MODULES.
PROBE_CLAIM_MODULE = """
from specproof.proofs.registry import REGISTRY, CheckOptions, Outcome


@REGISTRY.claim(
    "docsprobe_sum_of_halves",
    "A probe claim for the docs tests: $\\\\frac{1}{2} + \\\\frac{1}{2} = 1$.",
    "arithmetic",
)
def check(options: CheckOptions) -> Outcome:
    return Outcome("proved", {"probe_value": 1, "note": "added by tests/docs"})
"""
PROBE_CLAIM = "docsprobe_sum_of_halves"


def probe_results() -> dict:
    """A results file in the bench/common.py schema, with one plot of each kind and targets."""
    return {
        "benchmark": "docsprobe_results",
        "title": "Docs probe results",
        "description": "A results file written by the docs tests; $\\alpha$ is maths.",
        "created": "2026-11-28T10:00:00+00:00",
        "machine": {"platform": "test", "cpu": "none", "cores": 2, "python": "3.11", "gpu": None},
        "tables": [
            {
                "title": "Probe table",
                "columns": ["size", "seconds"],
                "rows": [[1, 0.5], [2, 0.25]],
                "note": "probe note",
            }
        ],
        "plots": [
            {
                "title": "Probe line",
                "kind": "line",
                "x": [1, 2, 4],
                "series": {"fast": [1.0, 2.0, 4.0], "slow": [0.5, 1.0, 2.0]},
                "xlabel": "size",
                "ylabel": "speed",
                "logx": True,
                "logy": False,
            },
            {
                "title": "Probe bar",
                "kind": "bar",
                "x": ["a", "b"],
                "series": {"one": [1, 2], "two": [2, 1]},
                "xlabel": "case",
                "ylabel": "count",
            },
            {
                "title": "Probe heatmap",
                "kind": "heatmap",
                "x": [0.1, 0.2, 0.3],
                "y": [1, 2],
                "z": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
                "xlabel": "c",
                "ylabel": "K",
                "zlabel": "cost",
            },
        ],
        "targets": [
            {"name": "probe speed", "value": 2.0, "target": ">= 1", "met": True},
            {"name": "probe latency", "value": 9.0, "target": "< 1 s", "met": False},
        ],
    }


def write_probe_claim(directory: Path) -> str:
    """Write the probe claim module into `directory`; return its module name."""
    (directory / "docsprobe_claims.py").write_text(PROBE_CLAIM_MODULE)
    return "docsprobe_claims"


def probe_claim_env(directory: Path) -> dict[str, str]:
    """Write the probe claim into `directory`; the build environment that runs only it."""
    return {
        "PYTHONPATH": str(directory),
        "SPECPROOF_DOCS_CLAIM_MODULES": write_probe_claim(directory),
        "SPECPROOF_DOCS_VERIFY_ONLY": PROBE_CLAIM,
    }


# A page for the copied project: a link, a snippet and a `:::` target that all exist. A private
# function: rendered nowhere else on the site, so its anchor is unique.
GOOD_PAGE = (
    "# Extra\n\n[Conventions](explanation/conventions.md)\n\n"
    '--8<-- "snippet.txt"\n\n'
    "::: specproof.reference.verifier._intervals\n"
)
SNIPPET = "a snippet that exists"


def copy_project(directory: Path, page: str = GOOD_PAGE) -> Path:
    """The docs config and pages copied to `directory`, sources linked, `page` added to the nav.

    Returns the copied mkdocs.yml. `page` becomes `extra.md`; `snippet.txt` (holding `SNIPPET`)
    sits next to the config.
    """
    for name in ("reference", "proofs", "engine", "audit", "dsi", "experiments", "cli", "bench"):
        (directory / name).symlink_to(ROOT / name)
    (directory / "setup.py").symlink_to(ROOT / "setup.py")  # the source folders (api_pages)
    shutil.copytree(ROOT / "docs", directory / "docs")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    config["nav"].append({"Extra": "extra.md"})
    (directory / "mkdocs.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    (directory / "docs" / "extra.md").write_text(page)
    (directory / "snippet.txt").write_text(SNIPPET + "\n")
    return directory / "mkdocs.yml"


def write_results(directory: Path, data: dict, name: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name or data['benchmark']}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


def build(
    site_dir: Path,
    *,
    config: Path = ROOT / "mkdocs.yml",
    env: dict[str, str] | None = None,
    timeout: float = 900,
) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of `config` into `site_dir` (a fresh process)."""
    full_env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", **(env or {})}
    full_env["PATH"] = f"{BIN}{os.pathsep}{full_env.get('PATH', '')}"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            str(config),
            "-d",
            str(site_dir),
        ],
        cwd=config.parent,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def failure(proc: subprocess.CompletedProcess[str]) -> str:
    """A failed build's exit code and output, for assertion messages."""
    return f"exit {proc.returncode}\n--- stdout\n{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-6000:]}"


@dataclass(frozen=True)
class Block:
    """A fenced code block of a Markdown page."""

    page: Path
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    marker: str  # the `<!-- docs-test: ... -->` comment just above the fence, or ""

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT) if self.page.is_relative_to(ROOT) else self.page}:{self.line}"


_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<info>[^`]*)$")
_MARKER = re.compile(r"<!--\s*docs-test:\s*(?P<what>.*?)\s*-->")


def blocks(page: Path) -> list[Block]:
    """Every fenced code block of `page`, with its language and test marker."""
    lines = page.read_text().splitlines()
    found = []
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence = match["indent"], match["fence"]
        info = match["info"].strip()
        language = info.split()[0].lstrip("{.").rstrip("}") if info else ""
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        marker_match = _MARKER.search(lines[j]) if j >= 0 else None
        body = []
        k = i + 1
        while k < len(lines) and lines[k].strip() != fence:
            body.append(lines[k][len(indent) :] if lines[k].startswith(indent) else lines[k])
            k += 1
        found.append(
            Block(
                page,
                i + 1,
                language,
                "\n".join(body) + "\n",
                marker_match["what"] if marker_match else "",
            )
        )
        i = k + 1
    return found


def pages() -> list[Path]:
    """The hand-written Markdown pages of the site (the generated ones have no code to run),
    and the README, whose examples are held to the same rules."""
    site = sorted(p for p in DOCS.rglob("*.md") if "_hooks" not in p.parts)
    return [*site, ROOT / "README.md"]


def console_commands(block: Block) -> list[str]:
    """The commands of a console block: its lines that start with `$ `."""
    return [line[2:] for line in block.code.splitlines() if line.startswith("$ ")]


def console_output(block: Block) -> str:
    """The output a console block shows: every line that is not a command."""
    return "\n".join(line for line in block.code.splitlines() if not line.startswith("$ ")).strip()
