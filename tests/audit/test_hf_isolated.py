"""`specproof audit transformers` behind the process boundary.

The installed transformers' `generate` runs in a child process
([`hf_isolated`][specproof.audit.hf_isolated]). Deterministic checks (no statistics): the
isolated generate function returns the same tokens as the in-process one for the same seeds, and
a configuration audited behind the boundary gets the same verdict and statistics as in process.
Negative controls: a transformers `generate` patched (in the child) to call `os._exit`, or to
hang, ends as a `crashed` configuration whose reason says so, while the auditor carries on.
The CLI wiring (boundary by default, `--in-process` on request) is checked without models.
"""

from __future__ import annotations

import argparse
import textwrap

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from specproof.audit import controls  # noqa: E402
from specproof.audit.boundary import IsolatedFunction  # noqa: E402
from specproof.audit.hf_adapter import (  # noqa: E402
    audit_transformers,
    configurations,
    load_models,
    make_generate,
)
from specproof.audit.hf_isolated import IsolatedGenerate, isolated  # noqa: E402

NAME = "same-tokenizer/sample/plain"
DEFAULT_NAMES: dict[str, str | None] = {"target": None, "draft": None, "other_draft": None}


def _config(name: str = NAME):
    return next(c for c in configurations(["same-tokenizer"], True) if c.name == name)


def _audit(make_fn, names=(NAME,), n_samples=150):
    return audit_transformers(
        modes=["same-tokenizer"],
        do_sample=True,
        n_samples=n_samples,
        alpha=1e-6,
        select=lambda c: c.name in names,
        make_fn=make_fn,
    )


def _comparable(audit):
    out = []
    for c in audit.to_json()["configurations"]:
        record = dict(c)
        details = dict(record.pop("details"))
        calls = details.pop("drafter_forward_calls", None)
        details.pop("timing", None)
        out.append((record, sorted(details), calls is not None and calls > 0))
    return audit.verdict, out


@pytest.mark.slow
def test_isolated_generate_returns_the_in_process_tokens():
    config = _config()
    local = make_generate(load_models(), config)
    with IsolatedGenerate(config, DEFAULT_NAMES) as remote:
        for seed in range(6):
            assert remote([1, 2, 3, 1], 3, seed) == local([1, 2, 3, 1], 3, seed)
        assert remote.drafter_calls[0] > 0


@pytest.mark.slow
def test_a_configuration_audits_the_same_in_process_and_behind_the_boundary():
    in_process = _comparable(_audit(make_generate))
    behind = _comparable(_audit(isolated(DEFAULT_NAMES)))
    assert behind == in_process
    assert in_process[0] != "crashed"


def _patched_child(tmp_path, body: str) -> str:
    """A child module that patches transformers' `generate`, then serves `hf_child.generate`."""
    (tmp_path / "patched_child.py").write_text(
        textwrap.dedent(
            f"""
            import os, time
            from transformers.generation.utils import GenerationMixin

            def generate(self, *args, **kwargs):
                {body}

            GenerationMixin.generate = generate
            from specproof.audit.hf_child import generate  # noqa: E402,F811
            """
        )
    )
    return "patched_child:generate"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "reason", "call_timeout"),
    [
        # Exits at once: a generous limit, so that a slow machine never reaches it first.
        ("os._exit(7)", "exited with code 7", 20.0),
        # Hangs: the test waits out the limit (the import has its own, `start_timeout`).
        ("time.sleep(3600)", "time limit", 5.0),
    ],
    ids=["exit", "hang"],
)
def test_a_misbehaving_transformers_generate_ends_crashed_with_the_reason(
    tmp_path, body, reason, call_timeout
):
    spec = _patched_child(tmp_path, body)
    make_fn = isolated(
        DEFAULT_NAMES, spec, import_dir=str(tmp_path), call_timeout=call_timeout, max_starts=1
    )
    audit = _audit(make_fn, n_samples=20)
    assert audit.verdict == "crashed"
    [config] = audit.configurations
    assert config.error is not None and reason in config.error, config.error


def _cli_args(**extra) -> argparse.Namespace:
    from specproof.cli.main import build_parser

    return build_parser().parse_args(["audit", *extra.pop("argv")])


@pytest.mark.parametrize("in_process", [False, True])
def test_the_transformers_command_runs_behind_the_boundary_unless_asked(monkeypatch, in_process):
    import specproof.audit.hf_adapter as hf_adapter
    from specproof.cli import audit_runs

    seen = {}

    def fake_audit(**kwargs):
        seen["make_fn"] = kwargs["make_fn"]
        raise SystemExit(0)

    monkeypatch.setattr(hf_adapter, "audit_transformers", fake_audit)
    args = _cli_args(argv=["transformers", "--samples", "10", *(["--in-process"] * in_process)])
    with pytest.raises(SystemExit):
        audit_runs.run_transformers(args)
    if in_process:
        assert seen["make_fn"] is make_generate
    else:
        fn = seen["make_fn"](load_models(), _config())
        try:
            assert isinstance(fn, IsolatedGenerate)
            assert fn.call_timeout == args.call_timeout
        finally:
            fn.close()


@pytest.mark.parametrize("in_process", [False, True])
def test_the_controls_command_runs_behind_the_boundary_unless_asked(monkeypatch, in_process):
    import specproof.audit.sampler as sampler
    from specproof.cli import audit_runs

    seen = []

    def fake_audit(fn, *args, **kwargs):
        seen.append(fn)
        raise SystemExit(0)

    monkeypatch.setattr(sampler, "audit_sampler", fake_audit)
    args = _cli_args(argv=["controls", *(["--in-process"] * in_process)])
    with pytest.raises(SystemExit):
        audit_runs.run_controls(args)
    name, fn, _ = controls.RUNS[0]
    if in_process:
        assert seen == [fn]
    else:
        assert isinstance(seen[0], IsolatedFunction) and seen[0].spec == controls.spec(fn)
