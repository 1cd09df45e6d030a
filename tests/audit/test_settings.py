"""The statistical keywords of the generation-level audit functions (`specproof.audit.settings`)."""

from __future__ import annotations

import pytest

from specproof.audit.core import DEFAULT_POWER, DEFAULT_TV
from specproof.audit.settings import DEFAULTS, Statistics, with_defaults
from specproof.audit.stats import DEFAULT_ALPHA
from specproof.cli.audit_common import statistics
from specproof.cli.main import build_parser


def test_a_call_sets_what_it_gives_and_the_rest_is_the_documented_default():
    plan = with_defaults("f", {"tv": 0.2, "seed": 7})
    assert plan == {
        "alpha": DEFAULT_ALPHA,
        "tv": 0.2,
        "power": DEFAULT_POWER,
        "test": "chi2",
        "seed": 7,
    }
    assert DEFAULTS["tv"] == DEFAULT_TV


def test_a_misspelt_keyword_is_refused_by_name():
    with pytest.raises(TypeError, match=r"^f\(\) got an unexpected keyword argument 'alpah'$"):
        with_defaults("f", {"alpah": 0.1})  # type: ignore[typeddict-unknown-key]


def test_every_statistical_keyword_has_a_default_and_the_cli_passes_each():
    assert set(DEFAULTS) == Statistics.__optional_keys__
    args = build_parser().parse_args(["audit", "generate", "m:f"])
    assert set(statistics(args)) == Statistics.__optional_keys__


@pytest.mark.parametrize(
    ("module", "name", "args"),
    [
        ("generation", "audit_generate", (None, None, [1])),
        ("regimes", "audit_regimes", (None, None, [1], {}, 2)),
        ("hf_adapter", "audit_transformers", ()),
    ],
)
def test_each_audit_function_refuses_a_misspelt_keyword_before_any_work(module, name, args):
    """Nothing is generated or loaded: the check comes first (the arguments are placeholders)."""
    import importlib

    function = getattr(importlib.import_module(f"specproof.audit.{module}"), name)
    with pytest.raises(TypeError, match=f"{name}\\(\\) got an unexpected keyword argument 'alpah'"):
        function(*args, alpah=0.1)
