"""Fixtures shared by the audit tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="module")
def tiny() -> Any:
    """A tiny random Llama over 6 tokens (`<eos>` and five letters), seed 0 (needs torch)."""
    pytest.importorskip("torch")
    from specproof.engine.models import tiny_model

    return tiny_model("llama", vocab=6, seed=0, init_std=0.6)
