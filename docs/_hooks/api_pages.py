"""API reference pages: one per package, one `:::` directive per module, found by walking the sources.

A module added to any source folder (`reference/`, `proofs/`, `engine/`, `audit/`, ...) or a new
subpackage appears without
any docs code. Private modules (`_name.py`) and `__main__.py` are left out. The command-line
page shows every subcommand's usage and a table of its options (flag, default, description),
read from the argparse parser itself.
"""

from __future__ import annotations

import ast
import html
import os
import re
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


def _cell(text: str) -> str:
    """Table-cell text: pipes escaped, whitespace collapsed."""
    return " ".join(text.split()).replace("|", "\\|")


def _default(action: Any) -> str:
    """An option's default as the table shows it (empty when it has none worth showing)."""
    import argparse

    if action.default in (None, argparse.SUPPRESS) or isinstance(
        action, argparse._StoreTrueAction | argparse._StoreFalseAction
    ):
        return ""
    if isinstance(action.default, list | tuple):
        return ", ".join(f"`{v}`" for v in action.default)
    return f"`{action.default}`"


def option_rows(parser: Any) -> list[tuple[str, str, str]]:
    """`(option, default, description)` of every argument of `parser`, from argparse itself.

    The option column names the flags and the value (`--tv TV`), or the choices; positional
    arguments come first under their metavar. Subcommand choosers and `--help` are left out.
    """
    import argparse

    rows = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        if action.option_strings:
            flags = ", ".join(f"`{o}`" for o in action.option_strings)
            if action.nargs != 0:
                if action.choices is not None:
                    value = "{" + ",".join(str(c) for c in action.choices) + "}"
                else:
                    value = action.metavar or action.dest.upper()
                flags += f" `{value}`"
        else:
            flags = f"`{action.metavar or action.dest}`"
            if action.choices is not None:
                flags += " {" + ", ".join(f"`{c}`" for c in action.choices) + "}"
        help_text = (action.help or "") % {"default": action.default} if action.help else ""
        rows.append((flags, _default(action), _cell(help_text)))
    positional = [r for r, a in zip(rows, _listed(parser), strict=True) if not a.option_strings]
    return positional + [r for r in rows if r not in positional]


def _listed(parser: Any) -> list[Any]:
    import argparse

    return [
        a
        for a in parser._actions
        if not isinstance(a, argparse._SubParsersAction | argparse._HelpAction)
        and a.help != argparse.SUPPRESS
    ]


def _summaries(parser: Any) -> dict[str, str]:
    """Subcommand name -> its one-line `help` (what the parent's `--help` lists)."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return {a.dest: a.help or "" for a in action._choices_actions}
    return {}


def _description(parser: Any) -> str:
    """The parser's description as Markdown: a raw-formatted one keeps its lines (lists)."""
    import argparse
    import textwrap

    text = parser.description or ""
    if not issubclass(parser.formatter_class, argparse.RawDescriptionHelpFormatter):
        return " ".join(text.split())
    out: list[str] = []
    in_list = False
    for line in textwrap.dedent(text).strip().splitlines():
        if line.startswith("- ") and not in_list:
            if out and out[-1]:
                out.append("")  # Markdown needs a blank line before a list
            in_list = True
        elif not line.strip():
            in_list = False
        out.append(line)
    return "\n".join(out)


def _sections(parser: Any, path: str, level: int, summary: str = "") -> list[str]:
    """`path`'s usage, description and option table, then its subcommands', recursively."""
    lines = [f"{'#' * level} `{path}`", ""]
    if summary:
        lines += [summary[0].upper() + summary[1:] + ("" if summary.endswith(".") else "."), ""]
    if parser.description:
        lines += [_description(parser), ""]
    lines += ["```text", *parser.format_usage().rstrip().splitlines(), "```", ""]
    rows = option_rows(parser)
    if rows:
        lines += ["| option | default | description |", "|---|---|---|"]
        lines += [f"| {flags} | {default} | {text} |" for flags, default, text in rows]
        lines.append("")
    subcommands = _subcommands(parser)
    if subcommands:
        lines += ["Subcommands: " + ", ".join(f"`{name}`" for name in subcommands) + ".", ""]
    summaries = _summaries(parser)
    for name, sub in subcommands.items():
        lines += _sections(sub, f"{path} {name}", min(level + 1, 4), summaries.get(name, ""))
    return lines


def render_cli() -> str:
    """Every command's and subcommand's usage and option table, from the parser `specproof` builds."""
    from specproof.cli.main import build_parser

    os.environ.setdefault("COLUMNS", "100")
    lines = [
        "# Command line",
        "",
        "The `specproof` command and its subcommands: usage, then one table of options per "
        "command (flag and value, default, description). This page is generated from the "
        "argument parser itself, so it always matches the installed command; "
        "`specproof COMMAND --help` prints the same. Exit codes: "
        "[the exit-code table](../reference/exit-codes.md).",
        "",
    ]
    parser = build_parser()
    lines += ["```text", *parser.format_usage().rstrip().splitlines(), "```", ""]
    summaries = _summaries(parser)
    for name, sub in _subcommands(parser).items():
        lines += _sections(sub, f"specproof {name}", 2, summaries.get(name, ""))
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


_TREE_LABEL = re.compile(r"<code>\.mkdocs-tree/specproof/([^<]+)</code>")
_MODULE_HEADING = re.compile(
    r'(<h2 id="(specproof\.[\w.]+)" class="doc doc-heading">.*?</h2>)', re.S
)


def source_path(root: Path, dotted: str) -> str | None:
    """The repository path of module `dotted` (`specproof.engine.sd` -> `engine/sd.py`)."""
    parts = dotted.split(".")[1:]
    for candidate in ("/".join(parts) + ".py", "/".join([*parts, "__init__.py"])):
        if parts and (root / candidate).is_file():
            return candidate
    return None


def _source_html(path: str, repo_url: str | None) -> str:
    code = f"<code>{html.escape(path)}</code>"
    if not repo_url:
        return code
    return f'<a href="{html.escape(repo_url.rstrip("/"))}/blob/HEAD/{html.escape(path)}">{code}</a>'


def link_sources(page_html: str, root: Path, repo_url: str | None) -> str:
    """Source references of a rendered page point at the repository's files.

    mkdocstrings labels source blocks with the path griffe read (`.mkdocs-tree/specproof/...`,
    the symlinked build tree); the label becomes the repository path (`proofs/sd.py`), a link
    to it when mkdocs.yml sets `repo_url`. Each module's heading on an API page gets a
    `Source:` line naming (or linking) its file.
    """
    page_html = _TREE_LABEL.sub(lambda m: _source_html(m.group(1), repo_url), page_html)

    def add_source(match: re.Match[str]) -> str:
        path = source_path(root, match.group(2))
        if path is None:
            return match.group(1)
        return f'{match.group(1)}\n<p class="sp-source">Source: {_source_html(path, repo_url)}</p>'

    return _MODULE_HEADING.sub(add_source, page_html)
