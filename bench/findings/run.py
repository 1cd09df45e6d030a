"""Rebuild the findings catalogue: install, audit, write results and docs pages.

For every implementation of [`plans.IMPLEMENTATIONS`][] (or those named by `--impl`):

1. make its own virtual environment `.venv-findings/<impl>` (once; `--reinstall` remakes it)
   and `pip install` exactly its pinned requirements there, never into `.venv`. The
   environment sees the project's `.venv` packages (the CPU torch 2.13.0, numpy, ...) through
   a `.pth` line placed after its own site-packages, read-only: whatever the library pins is
   installed in its own environment and shadows them, and an unpinned torch is never pulled
   (libraries that would pull a CUDA build are installed with `--no-deps`);
2. run every configuration through the auditor ([`harness.run_plan`][]), the adapter under that
   environment's interpreter;
3. write `bench/results/findings/<impl>.json` and regenerate `docs/findings/` from all results
   files ([`catalogue.write_pages`][]).

Usage: `python bench/findings/run.py [--impl NAME ...] [--only CONFIG ...] [--pages-only]`
(`make findings` runs it for every implementation). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import catalogue  # noqa: E402
import harness  # noqa: E402
import plans  # noqa: E402

ROOT = catalogue.ROOT
VENVS = ROOT / ".venv-findings"


def venv_folder(impl: str, env: str = "default") -> Path:
    """`.venv-findings/<impl>` (or `<impl>@<env>` for another pinned environment)."""
    return VENVS / (impl if env == "default" else f"{impl}@{env}")


def ensure_venv(
    impl: str, spec: harness.Implementation, env: str = "default", reinstall: bool = False
) -> Path:
    """Create the environment and install the implementation's pinned requirements there."""
    folder = venv_folder(impl, env)
    python = folder / "bin" / "python"
    marker = folder / ".installed"
    install = spec.install if env == "default" else spec.envs[env]
    wanted = json.dumps(install)
    if python.exists() and marker.exists() and marker.read_text() == wanted and not reinstall:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(folder)], check=True)
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    base = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if spec.lend_base:
        # Appended after the venv's own site-packages: its own installs win.
        (Path(site) / "zz_specproof_base.pth").write_text(base + "\n")
    for args in install:
        cmd = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        print(f"[{impl}] pip install {args}", flush=True)
        subprocess.run([*cmd, *args.split()], check=True)
    marker.write_text(wanted)
    return python


def installed_version(python: Path, package: str) -> str:
    """The version of `package` as installed in the environment of `python`."""
    return subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def record(
    impl: str, spec: harness.Implementation, version: str, item: Any, measured: dict[str, Any]
) -> dict[str, Any]:
    """One configuration's catalogue record (`version`: the package's version where it ran)."""
    command = f".venv/bin/python bench/findings/run.py --impl {impl} --only {item.name}"
    if isinstance(item, harness.Finding):
        return {
            "package": spec.package,
            "version": version,
            "path": item.path,
            "configuration": item.configuration,
            "level": None,
            "verdict": item.verdict,
            "tv_bound": None,
            "samples": 0,
            "seconds": 0.0,
            "seed": None,
            "command": command,
            "reproducer": None,
            "diagnosis": None,
            "lossy_by_design": False,
            "notes": item.notes,
        }
    verdict = measured["verdict"]
    failing = verdict in catalogue.FAILING
    notes = item.notes
    if measured.get("summary"):
        notes = (notes + " " if notes else "") + measured["summary"]
    if measured.get("error"):
        notes = (notes + " " if notes else "") + f"Error: `{measured['error'][:600]}`"
    if failing and not item.lossy_by_design and not item.diagnosis:
        notes += " (no diagnosis written yet for this verdict: a new finding to examine)"
    tv_bound = measured["tv_bound"]
    return {
        "package": spec.package,
        "version": version,
        "path": item.path,
        "configuration": item.configuration,
        "level": item.level,
        "verdict": verdict,
        "tv_bound": None if tv_bound is None else round(float(tv_bound), 4),
        "samples": int(measured["samples"]),
        "seconds": round(float(measured["seconds"]), 1),
        "seed": item.seed,
        "command": command,
        "reproducer": item.reproducer if failing else None,
        "diagnosis": item.diagnosis if failing else None,
        "lossy_by_design": item.lossy_by_design,
        "notes": notes.strip().replace(f"{ROOT}/", ""),
    }


def run_impl(impl: str, only: list[str] | None, reinstall: bool, models: harness.Models) -> Path:
    """Audit one implementation and write its results file."""
    spec = plans.IMPLEMENTATIONS[impl]
    out = catalogue.RESULTS_DIR / f"{impl}.json"
    old = json.loads(out.read_text()) if out.exists() else None
    pythons = {}
    if spec.install:
        for env in ["default", *spec.envs]:
            pythons[env] = ensure_venv(impl, spec, env, reinstall)
        versions = {env: installed_version(python, spec.package) for env, python in pythons.items()}
        version = versions["default"]
    else:
        version = spec.version
        versions = {"default": version}
    if version != spec.version:
        print(f"[{impl}] note: installed {version}, plan pinned {spec.version}", flush=True)
    records: list[dict[str, Any]] = []
    out.parent.mkdir(parents=True, exist_ok=True)
    for i, item in enumerate(spec.items):
        if only and item.name not in only:
            previous = _previous(old, item)
            if previous is not None:
                records.append(previous)
            continue
        print(f"[{impl}] {item.name} ...", flush=True)
        measured = {} if isinstance(item, harness.Finding) else harness.run_plan(
            item, str(pythons[item.env]), models
        )
        # A configuration run in another environment records the version installed there.
        item_version = versions.get(getattr(item, "env", "default"), version)
        rec = record(impl, spec, item_version, item, measured)
        print(
            f"[{impl}] {item.name}: {rec['verdict']} (TV<= {rec['tv_bound']}, "
            f"{rec['samples']} samples, {rec['seconds']} s)",
            flush=True,
        )
        records.append(rec)
        # Written after every configuration (the rest kept from the previous file), so an
        # interrupted run keeps what it measured.
        pending = [p for it in spec.items[i + 1 :] if (p := _previous(old, it)) is not None]
        _write(out, impl, spec, version, records + pending)
    if records:
        _write(out, impl, spec, version, records)
    return out


def _write(
    out: Path, impl: str, spec: harness.Implementation, version: str, records: list[dict[str, Any]]
) -> None:
    data = {
        "implementation": impl,
        "package": spec.package,
        "version": version,
        "summary": spec.summary,
        "install": [" ".join(a.split()) for a in spec.install],
        "created": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "configurations": records,
    }
    errors = catalogue.validate(data)
    if errors:
        print(f"[{impl}] results file not yet valid: {errors}", flush=True)
    out.write_text(json.dumps(data, indent=2) + "\n")


def _previous(old: dict[str, Any] | None, item: Any) -> dict[str, Any] | None:
    if old is None:
        return None
    for rec in old["configurations"]:
        if rec["command"].endswith(f"--only {item.name}"):
            return dict(rec)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--impl", nargs="*", help="implementations (default: all)")
    parser.add_argument("--only", nargs="*", help="configuration names (default: all)")
    parser.add_argument("--reinstall", action="store_true", help="remake the environments")
    parser.add_argument("--pages-only", action="store_true", help="only regenerate docs pages")
    args = parser.parse_args()
    if not args.pages_only:
        impls = args.impl or list(plans.IMPLEMENTATIONS)
        unknown = sorted(set(impls) - set(plans.IMPLEMENTATIONS))
        if unknown:
            parser.error(f"unknown implementations {unknown}; known: {list(plans.IMPLEMENTATIONS)}")
        with tempfile.TemporaryDirectory(prefix="specproof-findings-") as folder:
            models = harness.save_models(Path(folder))
            for impl in impls:
                print(f"wrote {run_impl(impl, args.only, args.reinstall, models)}", flush=True)
    try:
        pages = catalogue.write_pages()
    except ValueError as exc:  # a record that still lacks its reproducer or diagnosis
        print(f"docs pages not written: {exc}", flush=True)
        return
    for page in pages:
        print(f"wrote {page.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
