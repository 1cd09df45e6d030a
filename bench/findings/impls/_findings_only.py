"""Helper for implementations recorded without an audit (no auditable path, or not run)."""

from harness import Finding, Implementation


def findings_only(
    package: str, version: str, summary: str, path: str, verdict: str, notes: str
) -> Implementation:
    """An implementation with one finding and nothing to install."""
    item = Finding(name="survey", path=path, configuration="survey of the installed source",
                   verdict=verdict, notes=notes)
    return Implementation(package=package, version=version, summary=summary, install=[],
                          items=[item])
