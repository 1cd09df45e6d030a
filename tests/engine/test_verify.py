"""Engine verify functions: edge tables, validation errors, uniforms, the padded verdict."""

from __future__ import annotations

import math

import pytest
import torch

from specproof.engine.exact_match import verify_exact_match
from specproof.engine.greedy import verify_greedy
from specproof.engine.sd import verify_sd
from specproof.engine.verify import (
    PLACEHOLDER_TOKEN,
    BatchVerdict,
    draw_uniforms,
    inverse_cdf_rows,
    sample_verify,
    verify_batch,
)
from specproof.reference import ALGORITHMS as REGISTRY

torch.set_num_threads(1)

# Every registered per-position algorithm with an engine form.
ALGORITHMS = [a.name for a in REGISTRY if a.verifier is not None and a.engine is not None]
DTYPES = [torch.float64, torch.float32]


def normalised(weights: torch.Tensor) -> torch.Tensor:
    return weights / weights.sum(-1, keepdim=True)


def random_batch(batch: int, k: int, vocab: int, dtype=torch.float64, seed: int = 0):
    """Random rows, drafts sampled from the draft rows, random uniforms."""
    gen = torch.Generator().manual_seed(seed)
    target = normalised(torch.rand(batch, k + 1, vocab, generator=gen, dtype=torch.float64))
    draft = normalised(torch.rand(batch, k, vocab, generator=gen, dtype=torch.float64))
    tokens = torch.multinomial(draft.reshape(-1, vocab), 1, generator=gen).reshape(batch, k)
    accept_u, final_u = draw_uniforms(gen, batch, k, torch.float64)
    return (
        [t.to(dtype) for t in (target, draft)] + [tokens] + [accept_u.to(dtype), final_u.to(dtype)]
    )


def valid_output(verdict: BatchVerdict, vocab: int, k: int) -> None:
    """Every row: n_accepted in [0, K], n+1 tokens in [0, V), then placeholders."""
    assert verdict.tokens.dtype == torch.int64 and verdict.n_accepted.dtype == torch.int64
    for b in range(verdict.tokens.shape[0]):
        n = int(verdict.n_accepted[b])
        assert 0 <= n <= k
        row = verdict.tokens[b]
        assert ((row[: n + 1] >= 0) & (row[: n + 1] < vocab)).all()
        assert (row[n + 1 :] == PLACEHOLDER_TOKEN).all()


# ---------------------------------------------------------------- edge tables (standard SD)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sd_identical_rows_accept_everything(dtype):
    target, _, tokens, accept_u, final_u = random_batch(8, 5, 7, dtype)
    draft = target[:, :5].clone()
    accept_u = torch.full_like(accept_u, 1 - torch.finfo(dtype).eps / 2)  # the largest u < 1
    verdict = verify_sd(target, draft, tokens, accept_u, final_u)
    assert (verdict.n_accepted == 5).all()
    assert (verdict.tokens[:, :5] == tokens).all()
    bonus = inverse_cdf_rows(target[:, 5], final_u)
    assert (verdict.tokens[:, 5] == bonus).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sd_disjoint_supports_reject_and_recover_from_the_target(dtype):
    vocab = 6
    target = torch.zeros(4, 3, vocab, dtype=dtype)
    target[..., :3] = torch.tensor([0.2, 0.3, 0.5], dtype=dtype)
    draft = torch.zeros(4, 2, vocab, dtype=dtype)
    draft[..., 3:] = torch.tensor([0.5, 0.25, 0.25], dtype=dtype)
    tokens = torch.tensor([[3, 4], [4, 5], [5, 3], [3, 3]])
    accept_u = torch.zeros(4, 2, dtype=dtype)  # even u = 0 rejects: 0 * q < p(x) = 0 fails
    final_u = torch.tensor([0.0, 0.19, 0.2, 0.99], dtype=dtype)
    verdict = verify_sd(target, draft, tokens, accept_u, final_u)
    assert verdict.n_accepted.tolist() == [0, 0, 0, 0]
    assert verdict.tokens[:, 0].tolist() == [0, 0, 1, 2]
    assert (verdict.tokens[:, 1:] == PLACEHOLDER_TOKEN).all()


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sd_draft_without_mass_on_the_target_mode(dtype):
    # p = (0.1, 0.6, 0.3), q = (0.5, 0, 0.5): residual (0, 0.6, 0) -> always recover 1.
    target = torch.tensor([[[0.1, 0.6, 0.3], [0.1, 0.6, 0.3]]], dtype=dtype).repeat(5, 1, 1)
    draft = torch.tensor([[[0.5, 0.0, 0.5]]], dtype=dtype).repeat(5, 1, 1)
    tokens = torch.tensor([[0], [0], [2], [2], [2]])
    accept_u = torch.tensor([[0.19], [0.2], [0.59], [0.6], [0.9]], dtype=dtype)
    final_u = torch.tensor([0.0, 0.5, 0.999, 0.3, 0.0], dtype=dtype)
    verdict = verify_sd(target, draft, tokens, accept_u, final_u)
    # accept iff u * q(x) < p(x): 0.095 < 0.1 yes; 0.1 < 0.1 no; 0.295 < 0.3 yes; 0.3 < 0.3 no.
    assert verdict.n_accepted.tolist() == [1, 0, 1, 0, 0]
    assert [verdict.row(b)[-1] for b in (1, 3, 4)] == [1, 1, 1]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_one_hot_rows(algorithm, dtype):
    eye = torch.eye(4, dtype=dtype)
    target = torch.stack([eye[[1, 2, 3]], eye[[1, 0, 3]]])  # [2, 3, 4]
    draft = torch.stack([eye[[1, 2]], eye[[1, 2]]])
    tokens = torch.tensor([[1, 2], [1, 2]])
    accept_u = torch.full((2, 2), 0.7, dtype=dtype)
    final_u = torch.full((2,), 0.7, dtype=dtype)
    verdict = verify_batch(algorithm, target, draft, tokens, accept_u, final_u)
    assert verdict.row(0) == [1, 2, 3]
    assert verdict.row(1) == [1, 0]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_sd_zero_residual_never_gives_nan(dtype):
    """Rows that do not sum alike (by rounding, within the row-sum tolerance): p(x) < q(x) but
    p <= q everywhere, so r = (p - q)+ = 0.

    Unreachable in exact arithmetic; the engine draws from the target row instead.
    """
    target = torch.tensor([[[0.5, 0.25, 0.25], [0.25, 0.5, 0.25]]], dtype=dtype)
    draft = torch.tensor([[[0.5, 0.25 + 5e-5, 0.25]]], dtype=dtype)
    tokens = torch.tensor([[1]])
    accept_u = torch.tensor([[0.99995]], dtype=dtype)  # u q(x) > 0.25 = p(x): reject
    for u, expected in [(0.0, 0), (0.6, 1), (0.99, 2)]:
        verdict = verify_sd(target, draft, tokens, accept_u, torch.tensor([u], dtype=dtype))
        assert verdict.n_accepted.tolist() == [0]
        assert verdict.row(0) == [expected]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_the_largest_uniform_times_q_stays_below_q(dtype):
    """Why p >= q always accepts in floats too: fl(u * q) < q for every float u < 1."""
    u_max = torch.tensor(1 - torch.finfo(dtype).eps / 2, dtype=dtype)
    q = torch.cat(
        [torch.rand(100_000, dtype=dtype), torch.tensor([1.0, 0.5, 2.0**-20], dtype=dtype)]
    )
    q = q[q > 0]
    assert bool((u_max * q < q).all())


def test_inverse_cdf_rows_skips_zero_weights_and_is_strict():
    weights = torch.tensor([[0.0, 0.5, 0.0, 0.5, 0.0]] * 4, dtype=torch.float64)
    u = torch.tensor([0.0, 0.5, 0.49, 1 - 2**-53], dtype=torch.float64)
    assert inverse_cdf_rows(weights, u).tolist() == [1, 3, 1, 3]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_random_batches_are_valid_and_deterministic(algorithm, dtype):
    inputs = random_batch(64, 6, 50, dtype, seed=3)
    first = verify_batch(algorithm, *inputs)
    valid_output(first, 50, 6)
    second = verify_batch(algorithm, *inputs)
    assert torch.equal(first.tokens, second.tokens)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_k_zero_gives_the_bonus_token_only(algorithm):
    target = torch.tensor([[[0.25, 0.75]], [[0.75, 0.25]]], dtype=torch.float64)
    verdict = verify_batch(
        algorithm,
        target,
        torch.zeros(2, 0, 2, dtype=torch.float64),
        torch.zeros(2, 0, dtype=torch.int64),
        torch.zeros(2, 0, dtype=torch.float64),
        torch.tensor([0.5, 0.5], dtype=torch.float64),
    )
    assert verdict.tokens.tolist() == [[1], [0]]
    assert verdict.n_accepted.tolist() == [0, 0]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("k", [0, 3])
def test_an_empty_batch_gives_an_empty_verdict(algorithm, k):
    verdict = verify_batch(
        algorithm,
        torch.zeros(0, k + 1, 5),
        torch.zeros(0, k, 5),
        torch.zeros(0, k, dtype=torch.int64),
        torch.zeros(0, k),
        torch.zeros(0),
    )
    assert verdict.tokens.shape == (0, k + 1) and verdict.n_accepted.shape == (0,)


def test_greedy_lowest_index_wins_ties_and_ignores_uniforms():
    target = torch.tensor([[[0.4, 0.2, 0.4], [0.1, 0.45, 0.45]]], dtype=torch.float32)
    draft = torch.full((1, 1, 3), 1 / 3, dtype=torch.float32)
    for u in (0.0, 0.99):
        args = (torch.tensor([[u]]), torch.tensor([u]))
        assert verify_greedy(target, draft, torch.tensor([[0]]), *args).row(0) == [0, 1]
        assert verify_greedy(target, draft, torch.tensor([[2]]), *args).row(0) == [0]


def test_exact_match_recovers_the_target_sample():
    target = torch.tensor([[[0.25, 0.75], [0.5, 0.5]]], dtype=torch.float64)
    draft = torch.tensor([[[0.5, 0.5]]], dtype=torch.float64)
    run = lambda u, f: verify_exact_match(  # noqa: E731
        target,
        draft,
        torch.tensor([[0]]),
        torch.tensor([[u]], dtype=torch.float64),
        torch.tensor([f], dtype=torch.float64),
    ).row(0)
    assert run(0.2, 0.75) == [0, 1]
    assert run(0.25, 0.0) == [1]


# ---------------------------------------------------------------- uniforms


def test_draw_uniforms_is_seeded_and_in_range():
    a = draw_uniforms(torch.Generator().manual_seed(7), 5, 3, torch.float64)
    b = draw_uniforms(torch.Generator().manual_seed(7), 5, 3, torch.float64)
    c = draw_uniforms(torch.Generator().manual_seed(8), 5, 3, torch.float64)
    assert a[0].shape == (5, 3) and a[1].shape == (5,)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert ((a[0] >= 0) & (a[0] < 1)).all() and ((a[1] >= 0) & (a[1] < 1)).all()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_sample_verify_equals_verify_with_the_same_draws(algorithm):
    target, draft, tokens, _, _ = random_batch(16, 4, 9, torch.float32, seed=1)
    verdict = sample_verify(algorithm, target, draft, tokens, torch.Generator().manual_seed(5))
    accept_u, final_u = draw_uniforms(torch.Generator().manual_seed(5), 16, 4, torch.float32)
    expected = verify_batch(algorithm, target, draft, tokens, accept_u, final_u)
    assert torch.equal(verdict.tokens, expected.tokens)


@pytest.mark.parametrize(
    ("batch", "k", "dtype", "match"),
    [(-1, 2, torch.float32, "batch"), (2, -1, torch.float32, "k"), (2, 2, torch.int64, "dtype")],
)
def test_draw_uniforms_rejects_bad_arguments(batch, k, dtype, match):
    with pytest.raises(ValueError, match=match):
        draw_uniforms(torch.Generator(), batch, k, dtype)


# ---------------------------------------------------------------- validation


def replaced(inputs, index, value):
    out = list(inputs)
    out[index] = value
    return out


def nan_at(t: torch.Tensor, value=math.nan) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[-1] = value
    return t


BAD_INPUTS = [
    # (argument index, transform, message)
    (0, lambda t: t[:, :, :-1], "draft_probs must have shape"),
    (1, lambda t: t[:, :-1], "draft_probs must have shape"),
    (2, lambda t: t[:-1], "draft_tokens must have shape"),
    (3, lambda t: t[:, :-1], "accept_u must have shape"),
    (4, lambda t: t[:-1], "final_u must have shape"),
    (0, lambda t: t[:, :0], r"K\+1 >= 1 rows.*K = -1"),
    (0, lambda t: t[0], r"target_probs must have shape \[B, K\+1, V\]"),
    (0, nan_at, "target_probs contains NaN"),
    (1, nan_at, "draft_probs contains NaN"),
    (0, lambda t: nan_at(t, math.inf), "target_probs contains inf"),
    (1, lambda t: nan_at(t, -math.inf), "draft_probs contains a negative"),
    (0, lambda t: nan_at(t, -0.1), "target_probs contains a negative"),
    (2, lambda t: nan_at(t, 9), r"draft_tokens must lie in \[0, V=9\), got 9"),
    (2, lambda t: nan_at(t, -1), r"draft_tokens must lie in \[0, V=9\), got -1"),
    (2, lambda t: t.to(torch.float64), "draft_tokens must be an integer tensor"),
    (2, lambda t: t > 0, "draft_tokens must be an integer tensor"),
    (3, lambda t: nan_at(t, 1.0), r"accept_u must lie in \[0, 1\)"),
    (3, lambda t: nan_at(t, math.nan), r"accept_u must lie in \[0, 1\)"),
    (4, lambda t: nan_at(t, -0.25), r"final_u must lie in \[0, 1\)"),
    (1, lambda t: t.to(torch.float32), "draft_probs must have target_probs's dtype"),
    (3, lambda t: t.to(torch.float32), "accept_u must have target_probs's dtype"),
    (0, lambda t: t.tolist(), "target_probs must be a torch.Tensor"),
    # Rows that are not distributions are refused, never read as if normalised.
    (0, lambda t: t * 2, r"target_probs: every row must sum to 1 .*off by 1"),
    (1, lambda t: t * 0.5, r"draft_probs: every row must sum to 1 .*off by 0.5"),
    (0, lambda t: nan_at(t, float(t.view(-1)[-1]) + 1e-3), "target_probs: every row must sum to 1"),
]


@pytest.mark.parametrize(
    ("algorithm", "index", "transform", "message"),
    [
        (algorithm, *case)
        for algorithm in ALGORITHMS
        for case in BAD_INPUTS
        # greedy reads no draft probability; the shape and dtype of draft_probs are still checked
        if not (algorithm == "greedy" and case[0] == 1 and "must have" not in case[2])
    ],
)
def test_bad_inputs_raise_clear_errors(algorithm, index, transform, message):
    inputs = random_batch(3, 4, 9, seed=2)
    bad = replaced(inputs, index, transform(inputs[index]))
    with pytest.raises(ValueError, match=message):
        verify_batch(algorithm, *bad)


def test_the_valid_inputs_of_the_bad_input_table_pass():
    """Control for the table above: the untransformed inputs verify without error."""
    for algorithm in ALGORITHMS:
        valid_output(verify_batch(algorithm, *random_batch(3, 4, 9, seed=2)), 9, 4)


@pytest.mark.parametrize("algorithm", ["sd", "exact_match"])
def test_a_draft_token_with_zero_draft_probability_is_refused(algorithm):
    target, draft, tokens, accept_u, final_u = random_batch(2, 3, 5, seed=4)
    token = int(tokens[1, 2])
    draft[1, 2, (token + 1) % 5] += draft[1, 2, token]  # the row still sums to 1
    draft[1, 2, token] = 0.0
    with pytest.raises(ValueError, match=r"draft_tokens\[1, 2\] = .* zero draft probability"):
        verify_batch(algorithm, target, draft, tokens, accept_u, final_u)


def test_unknown_algorithm():
    with pytest.raises(ValueError, match="algorithm must be one of"):
        verify_batch("typical", *random_batch(1, 1, 2))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_without_the_full_scan_bad_values_that_the_rule_reads_still_raise(algorithm):
    target, draft, tokens, accept_u, final_u = random_batch(2, 3, 5, seed=6)
    target[0, 0, tokens[0, 0]] = math.nan  # read by every rule (gathered, or in the row drawn from)
    with pytest.raises(ValueError, match="target_probs"):
        verify_batch(algorithm, target, draft, tokens, accept_u, final_u, check_values=False)


def test_without_the_full_scan_an_unread_nan_is_not_looked_at():
    """Documented trade-off of `check_values=False`: rows after the first rejection are unread."""
    target, draft, tokens, accept_u, final_u = random_batch(1, 3, 5, seed=6)
    draft[0, 0] = target[0, 0] * 0  # disjoint: position 0 always rejects...
    draft[0, 0, 0], target[0, 0, 0] = 1.0, 0.0
    tokens[0, 0] = 0
    # ...so row 2 is never read beyond p(x_2) (every gathered p(x), q(x) is checked).
    target[0, 2, torch.arange(5) != tokens[0, 2]] = math.nan
    verdict = verify_batch("sd", target, draft, tokens, accept_u, final_u, check_values=False)
    assert verdict.n_accepted.tolist() == [0]
    with pytest.raises(ValueError, match="target_probs contains NaN"):
        verify_batch("sd", target, draft, tokens, accept_u, final_u)


@pytest.mark.parametrize(
    ("where", "value"),
    [("target", math.nan), ("target", math.inf), ("draft", math.inf), ("draft", math.nan)],
)
def test_without_the_full_scan_bad_values_in_the_drawn_row_still_raise(where, value):
    target, draft, tokens, accept_u, final_u = random_batch(2, 3, 5, seed=6)
    draft[1, 0] = target[1, 0] * 0  # disjoint supports at row 1, position 0: always rejects
    draft[1, 0, 0], target[1, 0, 0] = 1.0, 0.0
    tokens[1, 0] = 0
    (target if where == "target" else draft)[1, 0, 3] = value  # in the row the residual uses
    with pytest.raises(ValueError, match=f"{where}_probs"):
        verify_batch("sd", target, draft, tokens, accept_u, final_u, check_values=False)


SAMPLER_MODULES = ["verify", "sd", "exact_match", "greedy", "probs", "adapters"]


@pytest.mark.parametrize("name", SAMPLER_MODULES)
def test_docstring_examples_run(name):
    import doctest
    import importlib

    module = importlib.import_module(f"specproof.engine.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"


def test_docstring_examples_are_found():
    import doctest

    import specproof.engine.probs
    import specproof.engine.verify

    finder = doctest.DocTestFinder()
    found = sum(
        len(t.examples)
        for module in (specproof.engine.verify, specproof.engine.probs)
        for t in finder.find(module)
    )
    assert found >= 3


def test_float32_softmax_rows_at_a_large_vocabulary_pass_the_row_sum_check():
    """The tolerance admits rounding: float32 softmax rows over V = 262,144 verify with the checks on."""
    generator = torch.Generator().manual_seed(11)
    logits = torch.randn(1, 3, 262_144, generator=generator) * 4
    target = torch.softmax(logits, -1)
    draft = torch.softmax(logits[:, :2] * 0.5, -1)
    tokens = draft[0].argmax(-1).unsqueeze(0)
    verdict = verify_batch(
        "sd", target, draft, tokens, *draw_uniforms(generator, 1, 2, torch.float32)
    )
    valid_output(verdict, 262_144, 2)
