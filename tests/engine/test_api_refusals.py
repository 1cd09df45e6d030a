"""The API refuses what it documents as refused, and accepts what it documents as accepted:
a temperature so small that logits / T overflows, a token outside a toy LM's vocabulary
anywhere in the sequence, probabilities that require grad. Hypothesis over temperatures and
logits: either a ValueError naming the temperature, or rows that are finite and sum to 1."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from specproof.engine.probs import logits_to_probs  # noqa: E402
from specproof.engine.sd import verify_sd  # noqa: E402
from specproof.reference import Dist  # noqa: E402
from specproof.reference.toylm import ToyLM  # noqa: E402


def test_a_tiny_temperature_is_refused_naming_it():
    with pytest.raises(ValueError, match="temperature 1e-40 is too small"):
        logits_to_probs(torch.tensor([1.0, 2.0, 3.0]), temperature=1e-40)


@settings(max_examples=200, deadline=None)
@given(
    temperature=st.floats(min_value=1e-320, max_value=1e6, allow_subnormal=True),
    logits=st.lists(st.floats(-1e30, 1e30), min_size=1, max_size=6),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_logits_to_probs_never_returns_nan_silently(temperature, logits, dtype):
    try:
        probs = logits_to_probs(torch.tensor(logits, dtype=dtype), temperature=temperature)
    except ValueError as exc:
        assert "temperature" in str(exc)
        return
    assert bool(torch.isfinite(probs).all())
    assert math.isclose(float(probs.sum()), 1.0, rel_tol=1e-5)


def test_next_dist_refuses_a_token_outside_the_vocabulary_anywhere():
    uniform = Dist.uniform(["a", "b"])
    lm = ToyLM(["a", "b"], 1, {(): uniform, ("a",): uniform, ("b",): uniform})
    with pytest.raises(ValueError, match="outside the vocabulary"):
        lm.next_dist(["zzz", "a"])  # the bigram context ("a",) alone is in the table


def test_verify_sd_reads_probabilities_that_require_grad():
    target = torch.full((1, 3, 3), 1 / 3, dtype=torch.float64, requires_grad=True)
    draft = torch.full((1, 2, 3), 1 / 3, dtype=torch.float64)
    tokens = torch.zeros(1, 2, dtype=torch.long)
    verdict = verify_sd(
        target,
        draft,
        tokens,
        torch.zeros(1, 2, dtype=torch.float64),
        torch.zeros(1, dtype=torch.float64),
    )
    plain = verify_sd(
        target.detach(),
        draft,
        tokens,
        torch.zeros(1, 2, dtype=torch.float64),
        torch.zeros(1, dtype=torch.float64),
    )
    assert verdict.n_accepted.tolist() == plain.n_accepted.tolist()
