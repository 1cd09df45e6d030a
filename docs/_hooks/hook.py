"""mkdocs hook of the specproof site: generated pages, a source tree for griffe, local MathJax.

At `on_config` it (1) links the package folders into `.mkdocs-tree/specproof/` so that griffe
finds `specproof.reference`, `specproof.proofs`, `specproof.engine` (they install through a
package-dir mapping); (2) generates the theorem pages (registry + one fresh
`specproof verify --json` run per build), the results pages (every `bench/results/*.json`) and
the API pages (every module); (3) expands the nav entries `theorems/index.md`,
`results/index.md` and `api/index.md` into their sections. At `on_files` it adds the generated
pages and the MathJax files (copied from the installed `django-static-mathjax` package, the
`docs` extra) to the build. While pages render it logs progress (the verify run claim by
claim, each generated section, each API page), and `on_page_content` points source references
at the repository's files (`api_pages.link_sources`; links when mkdocs.yml sets `repo_url`).

Environment variables (for tests and quick local builds):

- `SPECPROOF_DOCS_RESULTS_DIR`: read results from this folder instead of `bench/results`;
- `SPECPROOF_DOCS_VERIFY_ONLY`: pass `--only PATTERN` to the verify run (other claims get
  their page, marked "not run in this build");
- `SPECPROOF_DOCS_CLAIM_MODULES`: comma-separated modules to import first (they register
  extra claims).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from pathlib import Path
from typing import Any

import algorithm_pages
import api_pages
import result_pages
import theorem_pages
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.specproof")

#: The parts of MathJax's es5 build the site serves (tex-chtml and what it loads lazily).
MATHJAX_PARTS = ["tex-chtml.js", "output/chtml/fonts/woff-v2", "input/tex/extensions", "ui", "a11y"]

_generated: dict[str, str | bytes] = {}


def _root(config: MkDocsConfig) -> Path:
    return Path(config.config_file_path).resolve().parent


def link_source_tree(root: Path) -> None:
    """`.mkdocs-tree/specproof/<pkg>` -> `<pkg>/`, as `.ci/mypy.sh` does for mypy."""
    tree = root / ".mkdocs-tree" / "specproof"
    tree.mkdir(parents=True, exist_ok=True)
    for folder in api_pages.PACKAGES:
        link = tree / folder
        target = Path("..") / ".." / folder
        if link.is_symlink() and os.readlink(link) == str(target):
            continue
        if link.is_symlink() or link.exists():
            link.unlink(missing_ok=True)
        try:
            link.symlink_to(target)
        except FileExistsError:  # a concurrent build (pytest-xdist) made it first
            if os.readlink(link) != str(target):
                raise


def mathjax_dir() -> Path:
    """The es5 build of MathJax 3 inside the installed `django-static-mathjax` package."""
    spec = importlib.util.find_spec("mathjax")
    if spec is None or spec.origin is None:
        raise PluginError(
            "MathJax is not installed: install the docs extra "
            "(`.venv/bin/pip install -e '.[docs]'`, or `make docs`), which provides it through "
            "the django-static-mathjax package"
        )
    es5 = Path(spec.origin).parent / "static" / "mathjax" / "es5"
    if not (es5 / "tex-chtml.js").is_file():
        raise PluginError(f"the installed `mathjax` package has no {es5 / 'tex-chtml.js'}")
    return es5


def _expand(nav: list[Any], sections: dict[str, list[Any]]) -> list[Any]:
    """Replace each nav entry pointing at a key of `sections` by that section."""
    expanded = []
    for item in nav:
        if isinstance(item, dict):
            ((title, value),) = item.items()
            if isinstance(value, str) and value in sections:
                item = {title: sections.pop(value)}
            elif isinstance(value, list):
                item = {title: _expand(value, sections)}
        expanded.append(item)
    return expanded


# Before the plugins' own on_config: mkdocstrings must find the source tree in place.
@event_priority(100)
def on_config(config: MkDocsConfig) -> MkDocsConfig:
    root = _root(config)
    link_source_tree(root)
    results_dir = Path(os.environ.get("SPECPROOF_DOCS_RESULTS_DIR") or root / "bench" / "results")
    only = os.environ.get("SPECPROOF_DOCS_VERIFY_ONLY") or None
    modules = [m for m in os.environ.get("SPECPROOF_DOCS_CLAIM_MODULES", "").split(",") if m]
    _generated.clear()
    _announced.clear()
    sections: dict[str, list[Any]] = {}
    try:
        # Results first: a malformed file fails the build before the (slower) verify run.
        log.info("specproof: generating the results pages")
        files, sections["results/index.md"] = result_pages.build(root, results_dir.resolve())
        _generated.update(files)
        start = time.perf_counter()
        log.info("specproof: running `specproof verify --json` for the theorem pages")
        files, sections["theorems/index.md"] = theorem_pages.build(
            root, modules, only, on_progress=lambda line: log.info(f"specproof: {line}")
        )
        claim_names = [uri[len("theorems/") : -len(".md")] for uri in files if uri.endswith(".md")]
        files[algorithm_pages.PAGE] = algorithm_pages.render(claim_names)
        log.info(
            f"specproof: verify run for the theorem pages took {time.perf_counter() - start:.1f}s"
        )
        _generated.update(files)
        files, sections["api/index.md"] = api_pages.build(root)
        _generated.update(files)
    except (result_pages.ResultsError, theorem_pages.TheoremError) as exc:
        raise PluginError(str(exc)) from exc
    config.nav = _expand(config.nav or [], sections)
    if sections:
        raise PluginError(
            f"mkdocs.yml's nav has no entry for the generated sections {sorted(sections)}"
        )
    return config


_announced: set[str] = set()


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Progress while pages render: each generated section once, each API page (slow) by name."""
    uri = page.file.src_uri
    section = uri.split("/", 1)[0] if "/" in uri else ""
    if section == "api" and "::: " in markdown:
        log.info(f"specproof: rendering {uri} (mkdocstrings)")
    elif section in ("theorems", "results") and section not in _announced:
        _announced.add(section)
        count = sum(u.startswith(section + "/") and u.endswith(".md") for u in _generated)
        log.info(f"specproof: rendering the {count} {section} pages")
    return markdown


def on_page_content(html: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Source references point at the repository's files, not the build tree."""
    return api_pages.link_sources(html, _root(config), config.repo_url)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    for uri, content in _generated.items():
        if files.get_file_from_path(uri) is not None:
            raise PluginError(f"docs/{uri} exists but is generated: remove it from docs/")
        files.append(File.generated(config, uri, content=content))
    es5 = mathjax_dir()
    for part in MATHJAX_PARTS:
        path = es5 / part
        paths = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for file in paths:
            uri = "assets/mathjax/" + file.relative_to(es5).as_posix()
            files.append(File.generated(config, uri, abs_src_path=str(file)))
    return files
