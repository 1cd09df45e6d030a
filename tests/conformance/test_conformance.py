"""Conformance: one test body (`check_conforms`) over the reference and the engine, draw by draw.

- On dyadic rounds every comparison is exact in float64, so float64 must agree *exactly*
  (epsilon 0), exact ties included.
- On the reference's own rational rounds (`rounds()`, exact ties at 1/3, 1/5, ... that no float
  represents) and on near-boundary dyadic rounds, float64 and float32 may differ only at a
  decision within `epsilon_for(dtype, V)` of its boundary (margin computed exactly).
- The reference run through the same body conforms to itself with epsilon 0.
- Batches (B > 1) equal row-by-row verification.
- Negative controls: broken engine verifiers are reported by the same body.
"""

from __future__ import annotations

from fractions import Fraction as F

import pytest
import torch
from hypothesis import Phase, example, find, given, settings
from hypothesis import strategies as st

from specproof.engine.adapters import EngineVerifier, to_verdict
from specproof.engine.verify import verify_batch
from specproof.reference import ALGORITHMS as REGISTRY
from specproof.reference import Draws
from specproof.reference.strategies import rounds

from ..support.broken import dist
from .broken_engine import BROKEN_ENGINES
from .harness import check_conforms, epsilon_for, find_mismatch
from .strategies import batches, dyadic_rounds

torch.set_num_threads(1)

# Every registered per-position algorithm with an engine form runs through the same body.
REFERENCES = {
    a.name: a.verifier for a in REGISTRY if a.verifier is not None and a.engine is not None
}
ALGORITHMS = list(REFERENCES)
DTYPES = [torch.float64, torch.float32]


def _engine_conforms(algorithm, dtype, rnd):
    """The engine in `dtype` conforms to the reference, within `epsilon_for(dtype, V)`."""
    epsilon = epsilon_for(dtype, len(rnd[0][0]))
    check_conforms(algorithm, REFERENCES[algorithm], EngineVerifier(algorithm, dtype), rnd, epsilon)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(
    rnd=st.one_of(
        dyadic_rounds(),
        st.sampled_from(ALGORITHMS).flatmap(lambda a: dyadic_rounds(a, near_boundary=True)),
    )
)
def test_float64_is_exact_on_dyadic_rounds(algorithm, rnd):
    check_conforms(
        algorithm, REFERENCES[algorithm], EngineVerifier(algorithm, torch.float64), rnd, 0
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@given(rnd=rounds())
def test_engine_conforms_on_rational_rounds(algorithm, dtype, rnd):
    _engine_conforms(algorithm, dtype, rnd)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@settings(max_examples=300)
@given(data=st.data())
def test_engine_conforms_near_boundaries(algorithm, dtype, data):
    _engine_conforms(algorithm, dtype, rnd=data.draw(dyadic_rounds(algorithm, near_boundary=True)))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@given(rnd=rounds())
def test_the_reference_conforms_to_itself(algorithm, rnd):
    check_conforms(algorithm, REFERENCES[algorithm], REFERENCES[algorithm], rnd, 0)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@given(data=st.data())
def test_batches_equal_row_by_row(algorithm, dtype, data):
    rnds = data.draw(batches(algorithm))
    engine = EngineVerifier(algorithm, dtype)
    parts = [engine.tensors(*rnd) for rnd in rnds]
    stacked = [torch.cat([part[j] for part in parts]) for j in range(5)]
    verdict = verify_batch(algorithm, *stacked)
    k = len(rnds[0][2])
    for b, rnd in enumerate(rnds):
        assert to_verdict(verdict, b, k) == engine.verify(*rnd)
        assert (verdict.tokens[b, int(verdict.n_accepted[b]) + 1 :] == -1).all()


NO_SHRINK = [Phase.explicit, Phase.generate]  # a negative control only needs one failure

# Negative controls: each broken engine must be reported by the very same body.
P0, P1, Q0 = dist(F(1, 4), F(3, 4)), dist(F(1, 2), F(1, 2)), dist(F(1, 2), F(1, 2))
TIE_ROUND = ([P0, P1], [Q0], [0], Draws((P0[0] / Q0[0],), P1[0]))  # u * q(x) == p(x) exactly


@pytest.mark.parametrize("broken", BROKEN_ENGINES, ids=lambda b: b.name)
def test_the_harness_catches_broken_engines(broken):
    @settings(max_examples=300, database=None, derandomize=True, phases=NO_SHRINK)
    @given(rnd=dyadic_rounds(broken.algorithm, near_boundary=True))
    @example(rnd=TIE_ROUND)
    def body(rnd):
        check_conforms(broken.algorithm, REFERENCES[broken.algorithm], broken, rnd, 0)

    with pytest.raises(AssertionError, match="mismatch at position"):
        body()


@pytest.mark.parametrize("broken", [b for b in BROKEN_ENGINES if b.gross], ids=lambda b: b.name)
def test_float32_tolerance_does_not_hide_gross_bugs(broken):
    """A wrong rule is caught even under the float32 tolerance (only tie-level bugs hide in it)."""

    @settings(max_examples=300, database=None, derandomize=True, phases=NO_SHRINK)
    @given(rnd=rounds())
    def body(rnd):
        eps = epsilon_for(torch.float32, len(rnd[0][0]))
        check_conforms(broken.algorithm, REFERENCES[broken.algorithm], broken, rnd, eps)

    with pytest.raises(AssertionError, match="mismatch at position"):
        body()


@pytest.mark.parametrize("algorithm", ["sd", "exact_match"])
def test_float32_really_differs_near_boundaries(algorithm):
    """The float32 allowance is not vacuous: some near-boundary round does come out differently
    in float32 (and the harness tolerates it because its exact margin is below epsilon)."""
    engine = EngineVerifier(algorithm, torch.float32)
    reference = REFERENCES[algorithm]

    def differs(rnd):
        return (
            find_mismatch(algorithm, reference.verify(*rnd), engine.verify(*rnd), rnd) is not None
        )

    rnd = find(
        dyadic_rounds(algorithm, near_boundary=True),
        differs,
        settings=settings(max_examples=2000, database=None, derandomize=True),
    )
    mismatch = find_mismatch(algorithm, reference.verify(*rnd), engine.verify(*rnd), rnd)
    assert mismatch is not None
    assert mismatch.margin < epsilon_for(torch.float32, len(rnd[0][0]))
