"""Every `Examples` section in the packages' docstrings runs as a test."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import specproof.proofs
import specproof.reference

# Packages whose modules need no torch; engine modules are added by the engine's own tests.
PACKAGES = [specproof.reference, specproof.proofs]


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        names.append(package.__name__)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            names.append(info.name)
    return names


@pytest.mark.parametrize("module_name", _modules())
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"


def test_the_examples_are_found() -> None:
    """Guard against collecting nothing: the reference has examples to run."""
    finder = doctest.DocTestFinder()
    module = importlib.import_module("specproof.reference.laws")
    assert sum(len(t.examples) for t in finder.find(module)) >= 3
