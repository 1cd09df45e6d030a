"""The statistical keywords that the generation-level audit functions share, declared once.

[`audit_generate`][specproof.audit.generation.audit_generate],
[`audit_regimes`][specproof.audit.regimes.audit_regimes] and
[`audit_transformers`][specproof.audit.hf_adapter.audit_transformers] take `alpha`, `tv`,
`power`, `test` and `seed` as keywords with one meaning and one default each:
[`Statistics`][specproof.audit.settings.Statistics] (PEP 692, `**statistics:
Unpack[Statistics]`), so a type checker checks every call, and
[`with_defaults`][specproof.audit.settings.with_defaults] fills in the defaults and refuses a
misspelt keyword by name, as Python does for a declared parameter.
"""

from __future__ import annotations

from typing import TypedDict

from .core import DEFAULT_POWER, DEFAULT_TV
from .stats import DEFAULT_ALPHA


class Statistics(TypedDict, total=False):
    """The statistical keywords of the generation-level audit functions, each optional."""

    alpha: float
    """Family-wise significance of the whole audit (default `DEFAULT_ALPHA`)."""
    tv: float
    """The smallest total variation distance to detect; it defines `inconclusive` (default
    `DEFAULT_TV`)."""
    power: float
    """The power wanted at `tv` (default `DEFAULT_POWER`)."""
    test: str
    """`"chi2"` or `"g"` (default `"chi2"`)."""
    seed: int
    """The first sample's seed: sample `s` is seeded `seed + s` (default 0)."""


#: The value of each statistical keyword that a call leaves out.
DEFAULTS: Statistics = {
    "alpha": DEFAULT_ALPHA,
    "tv": DEFAULT_TV,
    "power": DEFAULT_POWER,
    "test": "chi2",
    "seed": 0,
}


def with_defaults(function: str, given: Statistics) -> Statistics:
    """`given` over [`DEFAULTS`][specproof.audit.settings.DEFAULTS]: every keyword set.

    Args:
        function: the audit function's name (for the error).
        given: the statistical keywords of its call.

    Raises:
        TypeError: on a keyword that is not one of them (`alpah=...`), naming it.
    """
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise TypeError(f"{function}() got an unexpected keyword argument {unknown[0]!r}")
    full: Statistics = {**DEFAULTS, **given}
    return full
