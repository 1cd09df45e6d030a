"""API reference pages: one per package, one `:::` directive per module, found by walking the sources.

A module added to any source folder (`reference/`, `proofs/`, `engine/`, `audit/`, ...) or a new
subpackage appears without
any docs code. Private modules (`_name.py`) and `__main__.py` are left out. The command-line
page prints every subcommand's `--help`, taken from the parser itself.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path
from typing import Any


def _source_folders() -> tuple[str, ...]:
    """`SOURCE_FOLDERS` of setup.py (the package-dir mapping), read without running setup.py."""
    tree = ast.parse((Path(__file__).resolve().parents[2] / "setup.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(getattr(t, "id", None) == "SOURCE_FOLDERS" for t in targets):
                assert node.value is not None
                folders: tuple[str, ...] = ast.literal_eval(node.value)
                return folders
    raise RuntimeError("setup.py defines no SOURCE_FOLDERS")


#: Source folder -> import name (setup.py's package-dir mapping), the command line excepted.
PACKAGES = {
    folder: f"specproof.{folder}"
    for folder in _source_folders()
    if folder != "cli" and (Path(__file__).resolve().parents[2] / folder / "__init__.py").is_file()
}


def _summary(path: Path) -> str:
    """The first line of a module's docstring, read without importing it."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text()))
    except SyntaxError:
        doc = None
    return (doc or "").strip().splitlines()[0] if doc else ""


def packages(root: Path) -> list[tuple[str, Path]]:
    """`(dotted name, folder)` of every package and subpackage, in a stable order."""
    found = []
    for folder, dotted in PACKAGES.items():
        base = root / folder
        for directory, subdirs, files in os.walk(base):
            subdirs[:] = sorted(d for d in subdirs if not d.startswith(("_", ".")))
            if "__init__.py" not in files:
                subdirs[:] = []
                continue
            rel = Path(directory).relative_to(base)
            found.append((".".join([dotted, *rel.parts]), Path(directory)))
    return found


def render_package(dotted: str, directory: Path) -> str:
    lines = [
        f"# `{dotted}`",
        "",
        f"::: {dotted}",
        "    options:",
        "      members: false",
        "      show_root_heading: false",
        "",
    ]
    for path in sorted(directory.glob("*.py")):
        if path.name.startswith("_"):
            continue
        lines += [f"::: {dotted}.{path.stem}", ""]
    return "\n".join(lines)


def page_uri(dotted: str) -> str:
    return "api/" + dotted.removeprefix("specproof.") + ".md"


def _subcommands(parser: Any) -> dict[str, Any]:
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help_sections(parser: Any, path: str, level: int) -> list[str]:
    """`--help` of `parser`, then of each of its subcommands, recursively."""
    lines = [f"{'#' * level} `{path}`", "", "```text"]
    lines += parser.format_help().rstrip().splitlines()
    lines += ["```", ""]
    for name, sub in _subcommands(parser).items():
        lines += _help_sections(sub, f"{path} {name}", min(level + 1, 4))
    return lines


def render_cli() -> str:
    """Every command's and subcommand's `--help`, from the parser `specproof` builds."""
    from specproof.cli.main import build_parser

    os.environ.setdefault("COLUMNS", "100")
    lines = [
        "# Command line",
        "",
        "The `specproof` command and its subcommands. This page is generated from the argument "
        "parser itself, so it always matches the installed command.",
        "",
    ]
    parser = build_parser()
    lines += ["```text", *parser.format_help().rstrip().splitlines(), "```", ""]
    for name, sub in _subcommands(parser).items():
        lines += _help_sections(sub, f"specproof {name}", 2)
    return "\n".join(lines)


def build(root: Path) -> tuple[dict[str, str | bytes], list[Any]]:
    """All API pages (`{src_uri: content}`) and their nav entries."""
    found = packages(root)
    index = [
        "# API reference",
        "",
        "Generated from the docstrings (Google style) by mkdocstrings, which reads the sources "
        "statically: building these pages needs no torch. One page per package:",
        "",
    ]
    files: dict[str, str | bytes] = {}
    nav: list[Any] = ["api/index.md"]
    for dotted, directory in found:
        uri = page_uri(dotted)
        files[uri] = render_package(dotted, directory)
        summary = _summary(directory / "__init__.py")
        index.append(
            f"- [`{dotted}`]({uri.removeprefix('api/')}){': ' + summary if summary else ''}"
        )
        nav.append({dotted: uri})
    index += ["", "The command line: [`specproof`](cli.md).", ""]
    files["api/cli.md"] = render_cli()
    nav.append({"Command line": "api/cli.md"})
    files["api/index.md"] = "\n".join(index)
    return files, nav
