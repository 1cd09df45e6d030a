"""Real models for slow tests, loaded once per test process (conversion happens once per machine)."""

from __future__ import annotations

import functools

from specproof.engine.models import LoadedModel, load_model


@functools.cache
def load_real(name: str) -> LoadedModel:
    """`load_model(name)` once per process: several test files share the same real model."""
    return load_model(name)
