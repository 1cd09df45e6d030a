"""Many calls per round trip (`IsolatedFunction.call_many`) give what calls one by one give.

The sampler level's `collect` batches calls to a function behind the process boundary. These
tests compare it, on the same case and seed, with the function called in process: the same
outputs, the same error at the same sample, the same final generator state (so later cases are
unchanged), arrays copied per call, and the per-call time limit still applied inside a batch.
Nothing here is statistical: both sides consume the same generator stream.
"""

from __future__ import annotations

import importlib
import sys
import time

import numpy as np
import pytest

from specproof.audit.boundary import IsolatedFunction
from specproof.audit.sampler import collect, default_cases

SOURCE = """
import time
import numpy as np
from specproof.audit.controls import standard_sd


def mutates(target_probs, draft_probs, draft_tokens, rng):
    out = standard_sd(target_probs, draft_probs, draft_tokens, rng)
    target_probs[:] = 0.0  # a later call must still see the case's rows
    draft_probs[:] = 0.0
    return out


def rarely_raises(target_probs, draft_probs, draft_tokens, rng):
    if rng.random() < 0.05:
        raise ValueError("rare failure")
    return standard_sd(target_probs, draft_probs, draft_tokens, rng)


def rarely_malformed(target_probs, draft_probs, draft_tokens, rng):
    if rng.random() < 0.05:
        return [target_probs.shape[1]]
    return standard_sd(target_probs, draft_probs, draft_tokens, rng)


_BUFFER = []


def reuses_its_output(target_probs, draft_probs, draft_tokens, rng):
    # Returns the same list object every call, refilled: each result must be what the call
    # returned when it returned, not what the list holds when the batch is reported.
    _BUFFER[:] = standard_sd(target_probs, draft_probs, draft_tokens, rng)
    return _BUFFER


def appends(ids):
    ids.append(0)  # mutates its argument: no other call may see it
    return [len(ids)]


def rarely_slow(target_probs, draft_probs, draft_tokens, rng):
    if rng.random() < 0.05:
        time.sleep(30)
    return standard_sd(target_probs, draft_probs, draft_tokens, rng)
"""


@pytest.fixture
def module(tmp_path, monkeypatch):
    (tmp_path / "batch_subjects.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("batch_subjects", None)
    return tmp_path, importlib.import_module("batch_subjects")


def _run(fn, case, n, seed, **kwargs):
    rng = np.random.default_rng(seed)
    samples = collect(fn, case, n, rng, **kwargs)
    return samples, rng.bit_generator.state


@pytest.mark.parametrize(
    "name", ["mutates", "rarely_raises", "rarely_malformed", "reuses_its_output"]
)
@pytest.mark.parametrize("batch_calls", [1, 7, 256])
def test_batched_calls_equal_calls_in_process(module, name, batch_calls):
    folder, local = module
    case = default_cases(0)[3]
    expected, expected_state = _run(getattr(local, name), case, 300, 4)
    with IsolatedFunction(f"batch_subjects:{name}", import_dir=str(folder)) as isolated:
        got, state = _run(isolated, case, 300, 4, batch_calls=batch_calls)
    assert got.outputs == expected.outputs and got.mismatched_flags == expected.mismatched_flags
    # The boundary adds where the exception was raised.
    assert (got.error is None) == (expected.error is None)
    assert expected.error is None or got.error.startswith(expected.error)
    assert state == expected_state
    if name in ("rarely_raises", "rarely_malformed"):  # the rare failure happens at this seed
        assert expected.error is not None and len(expected.outputs) < 300


def test_a_call_over_the_time_limit_inside_a_batch_is_crashed_at_its_sample(module):
    folder, local = module
    case = default_cases(0)[3]
    reference, _ = _run(local.rarely_raises, case, 300, 4)  # same draws decide which call
    start = time.monotonic()
    with IsolatedFunction(
        "batch_subjects:rarely_slow", import_dir=str(folder), call_timeout=1.0
    ) as isolated:
        got, _ = _run(isolated, case, 300, 4)
    assert time.monotonic() - start < 20  # 1 s limit + reporting interval + start-up
    assert got.error is not None and "time limit" in got.error
    assert got.error.startswith(f"sample {len(reference.outputs)}:")
    assert got.outputs == reference.outputs


def test_negative_control_the_comparison_sees_a_different_stream(module):
    folder, local = module
    case = default_cases(0)[3]
    expected, expected_state = _run(local.mutates, case, 50, 4)
    with IsolatedFunction("batch_subjects:mutates", import_dir=str(folder)) as isolated:
        got, state = _run(isolated, case, 50, 5, batch_calls=7)
    assert got.outputs != expected.outputs and state != expected_state


def test_batch_calls_must_be_positive():
    with pytest.raises(ValueError, match="batch_calls"):
        collect(lambda *a: [0], default_cases(0)[0], 1, np.random.default_rng(0), batch_calls=0)


def test_a_list_passed_to_several_calls_reaches_each_call_unchanged(module):
    """The same list object in three calls of one batch (sent once): each call gets its own
    copy, so an argument mutated by one call is unchanged in the next, as arrays are."""
    folder, _ = module
    ids = [5, 6, 7]
    with IsolatedFunction("batch_subjects:appends", import_dir=str(folder)) as isolated:
        batch = isolated.call_many([(ids,), (ids,), (ids,)])
    assert batch.error is None and batch.results == [[4], [4], [4]]
    assert ids == [5, 6, 7]
