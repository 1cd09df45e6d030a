"""The algorithm index: one row per entry of the algorithm registry, generated at build time.

Nothing here knows any particular algorithm: every `Algorithm` of
`specproof.reference.algorithms.ALGORITHMS` (after the build's extra modules are imported) gets a
row with its summary, its definition page, its reference object, its engine form, whether
`specproof generate` offers it, and its theorems (read from the theorem entries of this build).
"""

from __future__ import annotations

from typing import Any

PAGE = "explanation/algorithm-index.md"


def _link(target: str) -> str:
    """A link from the index page to `target` (a path under docs/, maybe with an anchor)."""
    path, _, anchor = target.partition("#")
    depth = PAGE.count("/")
    relative = "../" * depth + path
    return relative + (f"#{anchor}" if anchor else "")


def _object_path(obj: Any) -> str:
    cls = obj if isinstance(obj, type) else type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def render(claim_names: list[str]) -> str:
    """The index page, with each algorithm's theorems taken from `claim_names`."""
    from specproof.reference.algorithms import ALGORITHMS

    lines = [
        "# Algorithm index",
        "",
        "Every algorithm in the algorithm registry (`specproof.reference.algorithms.ALGORITHMS`), "
        "generated from it when this site was built: a newly registered algorithm appears here, "
        "in `specproof generate --algorithm` and in the law dispatch without other edits.",
        "",
        "| algorithm | what it does | reference | engine | `generate` | theorems |",
        "|---|---|---|---|---|---|",
    ]
    for algorithm in ALGORITHMS:
        title = (
            f"[{algorithm.title}]({_link(algorithm.docs_page)})"
            if algorithm.docs_page
            else algorithm.title
        )
        reference = f"[`{type(algorithm.reference).__name__}`][{_object_path(algorithm.reference)}]"
        engine = f"`{algorithm.engine.replace(':', '.')}`" if algorithm.engine else "—"
        claims = [n for n in claim_names if n.startswith(algorithm.name + "_")]
        theorems = ", ".join(f"[`{n}`]({_link(f'theorems/{n}.md')})" for n in claims) or "—"
        lines.append(
            f"| {title} (`{algorithm.name}`) | {algorithm.summary} | {reference} | {engine} | "
            f"{'yes' if algorithm.generate else 'no'} | {theorems} |"
        )
    lines.append("")
    return "\n".join(lines)
