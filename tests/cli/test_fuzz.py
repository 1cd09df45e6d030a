"""Fuzz of the command line: hypothesis over argument lists, per subcommand.

Arguments are drawn by `specproof.cli.strategies.argv` from each subcommand's own options
(found by walking the parser, so a new flag is fuzzed without editing this file) with values
from a pool of nonsense (NaN, infinities, huge and negative numbers, empty and non-numeric
text) and plausible ones.
Handlers are replaced by a stub, so each example costs one parse (the work itself is fuzzed
by the cheap real-handler properties below and by tests/audit/test_misbehaving.py).

Properties: `main` never raises and never prints a traceback; it returns a code of the
exit-code table; a refusal exits `USAGE` (64) with one line naming the argument; and what the
parser accepts is never nonsense (every number finite, every seed in range), so a handler
never sees a NaN or an infinity.
"""

from __future__ import annotations

import argparse
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specproof.cli import exit_codes
from specproof.cli.main import build_parser, main
from specproof.cli.strategies import argv, leaf_parsers, options

CODES = {e.code for e in exit_codes.TABLE}
LEAVES = leaf_parsers(build_parser())


def _stub(args: argparse.Namespace) -> int:
    for name, value in vars(args).items():
        if isinstance(value, float):
            assert math.isfinite(value), f"{name} = {value} reached the handler"
        if isinstance(value, int) and not isinstance(value, bool):
            assert abs(value) < 2**63, f"{name} = {value} reached the handler"
    return 0


@pytest.fixture
def stubbed(monkeypatch):
    """Every handler replaced by the stub that checks what reached it."""
    original = argparse.ArgumentParser.set_defaults

    def set_defaults(self, **kwargs):
        if "handler" in kwargs:
            kwargs["handler"] = _stub
        return original(self, **kwargs)

    monkeypatch.setattr(argparse.ArgumentParser, "set_defaults", set_defaults)


@pytest.mark.parametrize("command", sorted(LEAVES))
def test_fuzzed_arguments_are_parsed_or_refused_naming_the_argument(command, stubbed, capsys):
    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(words=argv(command, LEAVES[command]))
    def check(words: list[str]) -> None:
        capsys.readouterr()
        code = main(words)
        err = capsys.readouterr().err
        assert code in CODES
        assert "Traceback" not in err
        if code == exit_codes.USAGE:
            last = err.strip().splitlines()[-1]
            assert "error:" in last
            named = [o for a in options(LEAVES[command]) for o in a.option_strings]
            assert any(flag in last for flag in named) or "argument" in last or "MODULE" in last

    check()


def test_the_fuzz_sees_every_subcommand():
    assert {"verify", "generate", "audit sampler", "audit generate", "dsi simulate"} <= set(LEAVES)


@settings(max_examples=15, deadline=None)
@given(
    c=st.sampled_from(["0.1", "0.5", "0.9", "1"]),
    a=st.sampled_from(["0", "0.3", "0.9", "1"]),
    k=st.integers(1, 8),
    seed=st.integers(0, 2**63 - 1),
)
def test_real_dsi_simulate_on_legal_input_succeeds_with_valid_json(c, a, k, seed):
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            ["dsi", "simulate", "--c", c, "--a", a, "--k", str(k), "--tokens", "50"]
            + ["--repeats", "2", "--seed", str(seed), "--json"]
        )
    assert code == 0
    assert json.loads(out.getvalue())["config"]["k"] == k


def test_negative_control_a_plain_float_flag_would_be_caught():
    """The property can fail: argparse's plain `float` lets NaN through, and the stub refuses it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--temperature", type=float)
    args = parser.parse_args(["--temperature", "nan"])
    with pytest.raises(AssertionError, match="temperature = nan reached the handler"):
        _stub(args)
