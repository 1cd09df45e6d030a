"""The audit modules' docstring examples run (the torch-free ones)."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize(
    "name",
    [
        "specproof.audit.stats",
        "specproof.audit.core",
        "specproof.audit.sampler",
        "specproof.audit.token_law",
        "specproof.audit.positions",
    ],
)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_examples_are_found():
    finder = doctest.DocTestFinder()
    module = importlib.import_module("specproof.audit.stats")
    assert sum(len(t.examples) for t in finder.find(module)) >= 5
