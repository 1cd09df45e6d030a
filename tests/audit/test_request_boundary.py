"""The request convention and the rounds report cross the process boundary as data."""

from __future__ import annotations

import sys
import textwrap

import pytest

from specproof.audit.boundary import IsolatedFunction
from specproof.audit.collect import collect_generations
from specproof.audit.request import GenerationRequest

MODULE = textwrap.dedent(
    """
    def by_request(request):
        rows = []
        for i, prompt in enumerate(request.row_prompts()):
            rows.append({
                "tokens": [len(prompt) % 5 + 1, int(request.temperature * 10) % 5 + 1],
                "rounds": [{"drafted": 2, "accepted": (request.seed + i) % 3}],
            })
        return rows

    def by_ids(prompt_ids, max_new_tokens, seed):
        return [1] * max_new_tokens

    def returns_a_set(request):
        return {1, 2}
    """
)


@pytest.fixture
def module(tmp_path, monkeypatch):
    (tmp_path / "my_request_fn.py").write_text(MODULE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delitem(sys.modules, "my_request_fn", raising=False)
    return "my_request_fn"


def test_the_child_reads_the_convention_and_rebuilds_the_request(module):
    template = GenerationRequest([], 2, 0, temperature=0.7, batch_size=3)
    with IsolatedFunction(f"{module}:by_request") as fn:
        samples = collect_generations(fn, [1, 2, 3], 2, 7, 6, None, 0, request=template)
        assert fn.info["convention"] == "request"
    assert samples.error is None and samples.calls == 3  # rows 3 + 3 + 1
    # The row's first token is computed from the prompt the child received, the second from
    # the temperature: the request crossed whole.
    assert samples.outputs == [(4, 3)] * 7
    assert samples.coverage.rounds == 7 and samples.coverage.drafted[2] == 7
    with IsolatedFunction(f"{module}:by_ids") as fn:
        plain = collect_generations(fn, [1], 2, 3, 6, None)
        assert fn.info["convention"] == "ids"
    assert plain.outputs == [(1, 1)] * 3 and not plain.coverage.reported


def test_a_result_that_is_not_data_is_still_refused(module):
    with IsolatedFunction(f"{module}:returns_a_set") as fn:
        samples = collect_generations(fn, [1], 2, 3, 6, None)
    assert samples.error is not None and "set" in samples.error
