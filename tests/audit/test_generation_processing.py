"""Generation level, the target's side: the float64 processing (temperature, top-k, top-p,
repetition penalty) against transformers' own processors, its exact joint law, and the
checks on a generated sequence. Deterministic (no statistics).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from specproof.audit.generation import (  # noqa: E402
    Processing,
    TargetLaw,
    check_generated,
)

torch.set_num_threads(1)


def _hf_processors(p: Processing):
    from transformers.generation.logits_process import (
        LogitsProcessorList,
        RepetitionPenaltyLogitsProcessor,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
        TopPLogitsWarper,
    )

    out = LogitsProcessorList()
    if p.repetition_penalty is not None:
        out.append(RepetitionPenaltyLogitsProcessor(p.repetition_penalty))
    if p.temperature != 1.0:
        out.append(TemperatureLogitsWarper(p.temperature))
    if p.top_k is not None:
        out.append(TopKLogitsWarper(p.top_k))
    if p.top_p is not None:
        out.append(TopPLogitsWarper(p.top_p))
    return out


@pytest.mark.parametrize(
    "processing",
    [
        Processing(),
        Processing(temperature=0.7),
        Processing(top_k=3),
        Processing(top_p=0.8),
        Processing(repetition_penalty=1.5),
        Processing(temperature=1.3, top_k=5, top_p=0.9, repetition_penalty=1.2),
    ],
    ids=lambda p: p.label(),
)
def test_processing_matches_transformers_processors_in_float64(processing):
    """Our numpy float64 semantics equal transformers' own processors run in float64."""
    rng = np.random.default_rng(0)
    hf = _hf_processors(processing)
    for _ in range(50):
        logits = rng.normal(size=12) * 3
        sequence = list(rng.integers(0, 12, size=5))
        ours = processing.probs(logits, sequence)
        scores = hf(torch.tensor([sequence]), torch.tensor(logits[None], dtype=torch.float64))
        theirs = torch.softmax(scores, -1)[0].numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_processing_refuses_bad_settings():
    for kwargs, name in [
        ({"temperature": 0.0}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_p": 1.5}, "top_p"),
        ({"repetition_penalty": -1.0}, "repetition_penalty"),
    ]:
        with pytest.raises(ValueError, match=name):
            Processing(**kwargs)


def test_joint_law_is_the_chain_rule(tiny):
    law = TargetLaw(tiny.model, Processing(top_k=4), tiny.eos_token_id)
    prompt = [1, 2]
    joint = law.joint_law(prompt, 3)
    assert sum(joint.values()) == pytest.approx(1.0, abs=1e-12)
    for seq, prob in list(joint.items())[:30]:
        expected = 1.0
        for i, token in enumerate(seq):
            expected *= law.next_probs([*prompt, *seq[:i]])[token]
        assert prob == pytest.approx(expected, rel=1e-12)
        assert len(seq) == 3 or seq[-1] == tiny.eos_token_id


def test_check_generated_names_the_problem():
    assert check_generated([1, 2, 3], 3, 6, 0) == (1, 2, 3)
    assert check_generated([1, 0, 0], 3, 6, 0) == (1, 0)  # cut after end-of-sequence
    with pytest.raises(ValueError, match="more than max_new_tokens"):
        check_generated([1, 2, 3, 4], 3, 6, 0)
    with pytest.raises(ValueError, match="fewer than max_new_tokens"):
        check_generated([1], 3, 6, 0)
    with pytest.raises(ValueError, match=r"\[0, V\)"):
        check_generated([1, 9, 2], 3, 6, 0)
    with pytest.raises(ValueError, match="integers"):
        check_generated([1.5, 2.0, 1.0], 3, 6, 0)
