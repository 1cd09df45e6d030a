"""The torch adapter: a torch verify step audited at the sampler level (docs/how-to/audit-torch.md)."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from specproof.audit.sampler import audit_sampler, make_case
from specproof.audit.torch_adapter import torch_verify

ROOT = Path(__file__).resolve().parents[2]
HOWTO = ROOT / "docs" / "how-to"


@pytest.fixture(scope="module")
def example():
    sys.path.insert(0, str(HOWTO))
    try:
        yield importlib.import_module("my_torch_sd")
    finally:
        sys.path.remove(str(HOWTO))


def _case():
    return make_case(np.random.default_rng(3), 6, 2, "random")


def test_the_page_shows_the_file_its_commands_run():
    page = (HOWTO / "audit-torch.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert (HOWTO / "my_torch_sd.py").read_text() in blocks
    assert "specproof audit sampler my_torch_sd:verify --tv" in page


def test_a_correct_torch_step_is_consistent_and_a_broken_one_is_not(example):
    """False-failure rate: alpha = 1e-6 for the correct step; the broken one (observed TV about
    0.11 on this case) must be flagged."""
    torch.set_num_threads(1)
    assert audit_sampler(example.verify, cases=[_case()], tv=0.2).verdict == "consistent"
    broken = audit_sampler(example.verify_with_a_bug, cases=[_case()], tv=0.2)
    assert broken.verdict == "not-lossless"


def test_the_generator_is_seeded_from_rng_so_replays_agree_and_the_stream_advances(example):
    case = _case()
    drafts = np.array([0, 1])
    rng = np.random.default_rng(5)
    state = rng.bit_generator.state
    first = example.verify(case.target_probs, case.draft_probs, drafts, rng)
    assert rng.bit_generator.state != state  # the auditor's stream advanced
    rng.bit_generator.state = state
    assert example.verify(case.target_probs, case.draft_probs, drafts, rng) == first
    assert all(type(t) is int for t in first)


def test_a_step_using_the_global_generator_differs_on_replay():
    """Negative control: what the boundary's replay check catches (as `crashed`)."""

    def global_coins(target_probs, draft_probs, draft_tokens, generator):
        return torch.multinomial(target_probs[0], 1)  # ignores `generator`

    verify = torch_verify(global_coins)
    case = _case()
    outputs = set()
    for _ in range(20):
        rng = np.random.default_rng(0)
        outputs.add(tuple(verify(case.target_probs, case.draft_probs, np.array([0, 1]), rng)))
    assert len(outputs) > 1


def test_deterministic_mode_is_on_during_the_call_and_restored_after():
    seen = []

    def step(target_probs, draft_probs, draft_tokens, generator):
        seen.append(torch.are_deterministic_algorithms_enabled())
        return draft_tokens[:1]

    before = torch.are_deterministic_algorithms_enabled()
    case = _case()
    torch_verify(step)(
        case.target_probs, case.draft_probs, np.array([0, 1]), np.random.default_rng(0)
    )
    assert seen == [True]
    assert torch.are_deterministic_algorithms_enabled() == before


def test_bad_dtype_and_non_integer_outputs_are_refused_by_name():
    case = _case()
    args = (case.target_probs, case.draft_probs, np.array([0, 1]), np.random.default_rng(0))
    with pytest.raises(ValueError, match="dtype"):
        torch_verify(lambda *a: a[2], dtype="int64")(*args)
    with pytest.raises(ValueError, match="integer tensor"):
        torch_verify(lambda t, q, d, g: t[0])(*args)
