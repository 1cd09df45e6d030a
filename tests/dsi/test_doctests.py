"""The docstring examples of the DSI engine modules (numpy only) run as tests."""

from __future__ import annotations

import doctest
import importlib

import pytest

from ..support.no_torch import run_without_torch


@pytest.mark.parametrize(
    "module_name",
    ["specproof.dsi.simulator", "specproof.dsi.queueing", "specproof.reference.dsi"],
)
def test_docstring_examples_run(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0 and result.attempted > 0 or module_name.endswith("queueing")


def test_the_simulator_imports_without_torch():
    code = (
        "import specproof.dsi.simulator, specproof.dsi.queueing, specproof.dsi.heatmap\n"
        "import specproof.dsi.runtime, specproof.dsi.online, specproof.dsi.workers\n"
        "from specproof.dsi.simulator import simulate\n"
        "print(simulate(0.1, 0.9, 5, tokens=50, repeats=2).summary()['dsi']['mean_cost'] > 0)\n"
    )
    result = run_without_torch(code)
    assert result.returncode == 0 and result.stdout.strip() == "True", result.stderr
