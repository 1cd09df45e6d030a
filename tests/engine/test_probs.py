"""`logits_to_probs` against an independent float64 numpy implementation of the documented semantics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st

from specproof.engine.probs import logits_to_probs

torch.set_num_threads(1)


def np_softmax(row: np.ndarray) -> np.ndarray:
    finite = np.isfinite(row)
    out = np.zeros_like(row)
    shifted = np.exp(row[finite] - row[finite].max())
    out[finite] = shifted / shifted.sum()
    return out


def np_row(row: np.ndarray, temperature: float, top_k, top_p) -> tuple[np.ndarray, float]:
    """One row, written from the docstring; also returns how close top-p came to a tie."""
    z = row.astype(np.float64) / temperature
    vocab = z.shape[0]
    if top_k is not None and top_k < vocab:
        kth = sorted(z.tolist(), reverse=True)[top_k - 1]
        z = np.where(z < kth, -np.inf, z)
    p = np_softmax(z)
    closest = math.inf
    if top_p is not None and top_p < 1:
        order = sorted(range(vocab), key=lambda i: (-p[i], i))
        positive = [i for i in order if p[i] > 0]
        boundary = p[positive[-1]]
        mass = 0.0
        for i in order:
            mass += p[i]
            closest = min(closest, abs(mass - top_p))
            if mass >= top_p:
                boundary = p[i]
                break
        z = np.where(p < boundary, -np.inf, z)
        p = np_softmax(z)
    return p, closest


def np_logits_to_probs(logits: np.ndarray, temperature=1.0, top_k=None, top_p=None):
    """Float64 numpy version of the documented semantics, row by row."""
    out = np.empty(logits.shape, dtype=np.float64)
    closest = math.inf
    for index in np.ndindex(logits.shape[:-1]):
        out[index], gap = np_row(logits[index], temperature, top_k, top_p)
        closest = min(closest, gap)
    return out, closest


# Logits on a grid of 1/8 (exact in float32 too), with ties and -inf masks; temperatures that
# are powers of two, so z = logits / T is exact in both dtypes and top-k decisions coincide.
GRID_LOGITS = st.integers(-40, 40).map(lambda n: n / 8) | st.just(-math.inf)


@st.composite
def logit_arrays(draw):
    rows = draw(st.integers(1, 3))
    vocab = draw(st.integers(1, 12))
    values = draw(
        st.lists(
            st.lists(GRID_LOGITS, min_size=vocab, max_size=vocab), min_size=rows, max_size=rows
        )
    )
    for row in values:
        if all(v == -math.inf for v in row):
            row[draw(st.integers(0, vocab - 1))] = 0.0
    return np.array(values, dtype=np.float64)


SETTINGS = st.tuples(
    st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0]),
    st.none() | st.integers(1, 14),
    st.none() | st.sampled_from([1.0]) | st.floats(0.001, 0.999),
)


@given(logits=logit_arrays(), options=SETTINGS)
def test_float64_matches_numpy(logits, options):
    temperature, top_k, top_p = options
    expected, closest = np_logits_to_probs(logits, temperature, top_k, top_p)
    assume(closest > 1e-9)  # a cumulative mass within rounding of top_p: either answer is right
    got = logits_to_probs(torch.from_numpy(logits), temperature, top_k, top_p).numpy()
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got == 0, expected == 0)  # the same tokens kept
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


@given(logits=logit_arrays(), options=SETTINGS)
def test_float32_matches_numpy_within_float32_rounding(logits, options):
    temperature, top_k, top_p = options
    expected, closest = np_logits_to_probs(logits, temperature, top_k, top_p)
    assume(closest > 1e-5)  # float32 cumulative sums are exact to ~12 * 2**-24 here
    got = logits_to_probs(torch.from_numpy(logits).float(), temperature, top_k, top_p).numpy()
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got == 0, expected == 0)
    # softmax of V <= 12 terms in float32: a few units of 2**-24 relative per entry.
    np.testing.assert_allclose(got, expected, rtol=2e-6, atol=1e-7)


def test_the_numpy_comparison_can_fail():
    """Negative control: the comparison tells the documented order from top-p before top-k."""
    logits = np.array([[0.0, 1.0, 2.0, 3.0]])
    ours = logits_to_probs(torch.from_numpy(logits), top_k=3, top_p=0.9).numpy()
    expected, _ = np_logits_to_probs(logits, top_k=3, top_p=0.9)
    nucleus_first, _ = np_logits_to_probs(logits, top_p=0.9)
    with np.errstate(divide="ignore"):  # log(0) = -inf masks the tokens top-p removed
        wrong_order, _ = np_logits_to_probs(np.log(nucleus_first), top_k=3)
    np.testing.assert_allclose(ours, expected, rtol=1e-12)
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(ours, wrong_order, rtol=1e-6)


def test_top_k_keeps_ties_at_the_boundary():
    probs = logits_to_probs(torch.tensor([1.0, 3.0, 2.0, 3.0, 2.0]), top_k=2)
    assert (probs > 0).tolist() == [False, True, False, True, False]
    probs = logits_to_probs(torch.tensor([1.0, 3.0, 2.0, 3.0, 2.0]), top_k=3)
    assert (probs > 0).tolist() == [False, True, True, True, True]


def test_top_p_keeps_ties_at_the_boundary_and_at_least_one_token():
    logits = torch.log(torch.tensor([0.3, 0.4, 0.3], dtype=torch.float64))
    # 0.4 < 0.5 <= 0.4 + 0.3: the boundary probability 0.3 is shared by two tokens: both kept.
    assert (logits_to_probs(logits, top_p=0.5) > 0).tolist() == [True, True, True]
    # 0.35 <= 0.4: only the mode is kept.
    assert logits_to_probs(logits, top_p=0.35).tolist() == [0.0, 1.0, 0.0]
    assert logits_to_probs(logits, top_p=1e-9).tolist() == [0.0, 1.0, 0.0]


def test_order_is_temperature_then_top_k_then_top_p():
    logits = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    # top-k 3 drops token 0; at T = 1 the kept probs are softmax(1, 2, 3) = (.09, .24, .67):
    # top-p 0.9 then keeps tokens 2 and 3 (0.67 < 0.9 <= 0.91).
    probs = logits_to_probs(logits, temperature=1.0, top_k=3, top_p=0.9)
    assert (probs > 0).tolist() == [False, False, True, True]
    # At T = 4 the same top-k/top-p keep all three: softmax(.25, .5, .75) = (.28, .33, .39).
    probs = logits_to_probs(logits, temperature=4.0, top_k=3, top_p=0.9)
    assert (probs > 0).tolist() == [False, True, True, True]


def test_minus_inf_is_a_mask_and_off_switches_are_no_ops():
    logits = torch.tensor([[0.5, -math.inf, 1.5, 0.0]], dtype=torch.float64)
    plain = torch.softmax(logits, -1)
    assert torch.equal(logits_to_probs(logits), plain)
    assert torch.equal(logits_to_probs(logits, top_k=4, top_p=1.0), plain)
    assert torch.equal(logits_to_probs(logits, top_k=10), plain)
    assert logits_to_probs(logits, top_k=3)[0, 1] == 0


def test_low_precision_logits_compute_in_float32():
    probs = logits_to_probs(torch.tensor([1.0, 2.0], dtype=torch.bfloat16))
    assert probs.dtype == torch.float32
    assert logits_to_probs(torch.tensor([1.0, 2.0]), dtype=torch.float64).dtype == torch.float64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"logits": torch.tensor([0.0, math.nan])}, "logits contains NaN"),
        ({"logits": torch.tensor([0.0, math.inf])}, r"logits contains \+inf"),
        (
            {"logits": torch.tensor([[0.0, 1.0], [-math.inf, -math.inf]])},
            "logits has a row .* all -inf",
        ),
        ({"logits": torch.tensor([1, 2])}, "logits must be a floating-point"),
        ({"logits": torch.zeros(0)}, "logits must have shape"),
        ({"temperature": 0.0}, "temperature must be finite and > 0"),
        ({"temperature": -1.0}, "temperature must be finite and > 0"),
        ({"temperature": math.nan}, "temperature must be finite and > 0"),
        ({"temperature": math.inf}, "temperature must be finite and > 0"),
        ({"top_k": 0}, "top_k must be an int >= 1"),
        ({"top_k": 2.0}, "top_k must be an int >= 1"),
        ({"top_k": True}, "top_k must be an int >= 1"),
        ({"top_p": 0.0}, r"top_p must be a number in \(0, 1\]"),
        ({"top_p": 1.5}, r"top_p must be a number in \(0, 1\]"),
        ({"top_p": math.nan}, r"top_p must be a number in \(0, 1\]"),
        ({"dtype": torch.int32}, "dtype must be a floating-point"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, message):
    arguments = {"logits": torch.tensor([0.0, 1.0])} | kwargs
    with pytest.raises(ValueError, match=message):
        logits_to_probs(**arguments)
