"""Drafters, lookahead policies and the trace hook: behaviour and bad input."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine import drafters, ngram  # noqa: E402
from specproof.engine.generate import generate  # noqa: E402
from specproof.engine.lookahead import PerRowK, RowState, StaticK  # noqa: E402
from specproof.engine.models import drop_layers, tiny_model  # noqa: E402

from .tiny_pair import PROMPTS, tiny_pair  # noqa: E402

F64 = torch.float64


@pytest.fixture(scope="module")
def models():
    return tiny_pair(0.3)


def greedy_reference(model, prompts, n):
    out = []
    for prompt in prompts:
        sequence = list(prompt)
        with torch.no_grad():
            for _ in range(n):
                sequence.append(int(model(torch.tensor([sequence])).logits[0, -1].argmax()))
        out.append(sequence[len(prompt) :])
    return out


@pytest.mark.parametrize(
    ("sequence", "k", "expected"),
    [
        ([1, 2, 3, 9, 1, 2, 3, 7, 1, 2, 3], 2, ([7, 1], 3, 4)),  # latest match of the longest tail
        ([1, 2, 3, 9, 1, 2, 3, 7, 1, 2, 3], 9, ([7, 1, 2, 3], 3, 4)),  # runs into the tail
        ([5, 1, 8, 2, 1], 3, ([8, 2, 1], 1, 3)),  # falls back to a 1-gram
        ([1, 2, 3, 4], 3, ([], 0, 0)),  # no earlier occurrence
        ([4, 4], 3, ([4], 1, 1)),
        ([7], 3, ([], 0, 0)),
    ],
)
def test_ngram_lookup(sequence, k, expected) -> None:
    assert ngram.NgramDrafter(n=3).lookup(sequence, k) == expected


def test_ngram_min_n_refuses_short_matches() -> None:
    assert ngram.NgramDrafter(n=3, min_n=2).lookup([5, 1, 8, 2, 1], 3) == ([], 0, 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"n": 0}, "n must be"), ({"n": 2, "min_n": 3}, "min_n"), ({"min_n": True}, "min_n")],
)
def test_ngram_bad_arguments(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        ngram.NgramDrafter(**kwargs)


def test_parse_drafter() -> None:
    assert ngram.parse_drafter("smollm2:layers=8") is None
    default = ngram.parse_drafter("ngram")
    assert isinstance(default, ngram.NgramDrafter) and (default.n, default.min_n) == (3, 1)
    custom = ngram.parse_drafter("ngram:n=5,min_n=2")
    assert isinstance(custom, ngram.NgramDrafter) and (custom.n, custom.min_n) == (5, 2)
    for bad, message in [
        ("ngram:k=2", "must be n=N"),
        ("ngram:n=x", "integer"),
        ("ngram:n=0", r"^draft: 'ngram:n=0': n must be an int >= 1"),
        ("ngram:n=2,min_n=3", r"^draft: 'ngram:n=2,min_n=3': min_n \(3\) must be <= n \(2\)"),
    ]:
        with pytest.raises(ValueError, match=message):
            ngram.parse_drafter(bad)


@pytest.mark.parametrize("algorithm", ["greedy", "sd"])
def test_ngram_drafter_in_the_loop(models, algorithm: str) -> None:
    target, _ = models
    result = generate(
        target.model, ngram.NgramDrafter(), PROMPTS, algorithm=algorithm, k=4, max_new_tokens=20
    )
    assert result.stats.draft_calls == 0
    assert result.stats.drafted > 0  # the prompts repeat, so lookups find drafts
    if algorithm == "greedy":
        assert result.tokens == greedy_reference(target.model, PROMPTS, 20)


def test_rows_with_different_k_reproduce_greedy_decoding(models) -> None:
    target, draft = models
    traces = []
    result = generate(
        target.model,
        draft.model,
        PROMPTS,
        algorithm="greedy",
        lookahead=PerRowK((0, 3, 1)),
        max_new_tokens=15,
        on_round=traces.append,
    )
    assert result.tokens == greedy_reference(target.model, PROMPTS, 15)
    assert result.stats.k == 3
    asked = {(r.row, r.k) for t in traces for r in t.rows}
    assert asked == {(0, 0), (1, 3), (2, 1)}
    assert all(len(r.drafts) == r.k for t in traces for r in t.rows)
    assert [t.round for t in traces] == list(range(len(traces)))


def test_trace_records_the_verified_probabilities(models) -> None:
    target, draft = models
    traces = []
    generate(
        target.model, draft.model, PROMPTS, k=2, max_new_tokens=8, seed=4, on_round=traces.append
    )
    for trace in traces:
        assert min(trace.draft_s, trace.target_s, trace.verify_s, trace.commit_s) >= 0
        for r in trace.rows:
            positions = range(len(r.drafts))
            assert r.draft_token_probs == tuple(
                float(r.draft_probs[i, x]) for i, x in zip(positions, r.drafts, strict=True)
            )
            assert r.target_token_probs == tuple(
                float(r.target_probs[i, x]) for i, x in zip(positions, r.drafts, strict=True)
            )
            assert r.target_probs.shape == (len(r.drafts) + 1, 8)
            assert 0 <= r.accepted <= len(r.drafts)


def test_layer_dropped_drafter_is_the_dropped_model(models) -> None:
    target, _ = models
    kwargs = {"k": 3, "max_new_tokens": 10, "seed": 2}
    via_drafter = generate(
        target.model, drafters.layer_dropped_drafter(target.model, 1), PROMPTS, **kwargs
    )
    via_model = generate(target.model, drop_layers(target.model, 1), PROMPTS, **kwargs)
    assert via_drafter.tokens == via_model.tokens


@pytest.mark.parametrize("n", [8, 12])
def test_model_drafter_with_a_vocabulary_map(models, n: int) -> None:
    """A 6-token draft drafts for the 8-token target through a map; greedy stays exact."""
    target, _ = models
    small = tiny_model("gpt2", vocab=6, layers=1, seed=33, init_std=0.3, dtype=F64).model
    mapping = [0, 1, 2, 3, 4, 5]
    prompts = [[1, 2, 3, 1, 2]]
    expected = greedy_reference(target.model, prompts, n)
    unreadable = {6, 7} & set(expected[0][:-1])

    def run():
        return generate(
            target.model,
            drafters.ModelDrafter(small, vocab_map=mapping),
            prompts,
            algorithm="greedy",
            k=3,
            max_new_tokens=n,
        )

    # With these seeds the greedy text reads [0]*7 + [1, 1, 6, 6, 6]: n=12 commits a 6 first.
    assert bool(unreadable) == (n == 12)
    if unreadable:
        # The target commits a token the draft cannot read: the documented error.
        with pytest.raises(ValueError, match="no counterpart in vocab_map"):
            run()
    else:
        assert run().tokens == expected
    sampled = []
    generate(
        target.model,
        drafters.ModelDrafter(small, vocab_map=[7, 1, 2, 3, 4, 5]),
        [[1, 2]],
        k=2,
        max_new_tokens=3,  # a fixed K drafts at most the tokens left minus one
        prob_dtype=F64,
        on_round=sampled.append,
    )
    q = sampled[0].rows[0].draft_probs
    assert q.shape == (2, 8)
    assert bool((q[:, [0, 6]] == 0).all()) and bool((q.sum(-1) - 1).abs().max() < 1e-12)


@pytest.mark.parametrize(
    ("vocab_map", "message"),
    [
        ([0, 1, 2], "one target id per draft token"),
        ([0, 1, 2, 3, 4, 9], "outside"),
        ([0, 1, 2, 3, 4, 4], "distinct"),
    ],
)
def test_model_drafter_bad_vocabulary_maps(models, vocab_map, message) -> None:
    target, _ = models
    small = tiny_model("gpt2", vocab=6, layers=1, seed=33, dtype=F64).model
    with pytest.raises(ValueError, match=message):
        generate(target.model, drafters.ModelDrafter(small, vocab_map=vocab_map), [[1]], k=2)


def test_model_drafter_vocabulary_mismatch_without_a_map(models) -> None:
    target, _ = models
    small = tiny_model("gpt2", vocab=6, layers=1, seed=33, dtype=F64).model
    with pytest.raises(ValueError, match="vocab_map"):
        generate(target.model, small, [[1]], k=2)


class _Answers:
    def __init__(self, answer):
        self.answer = answer

    def lookahead(self, rows):
        return self.answer(rows)


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (_Answers(lambda rows: [1]), "returned 1 values for 3 rows"),
        (_Answers(lambda rows: [1, -1, 1]), "lookahead K of row 1"),
        (PerRowK((1, 2)), "fewer than the batch's rows"),
        ("static", "must be a LookaheadPolicy"),
    ],
)
def test_bad_policies(models, policy, message) -> None:
    target, draft = models
    with pytest.raises(ValueError, match=message):
        generate(target.model, draft.model, PROMPTS, lookahead=policy, max_new_tokens=3)


def test_policy_values_are_checked() -> None:
    with pytest.raises(ValueError, match="k must be"):
        StaticK(-1)
    with pytest.raises(ValueError, match="ks\\[1\\]"):
        PerRowK((1, True))
    states = [RowState(0, 0, 5), RowState(2, 1, 4)]
    assert StaticK(3).lookahead(states) == [3, 3]
    assert PerRowK((1, 2, 0)).lookahead(states) == [1, 0]


class _GreedyDrafter(ngram.NgramDrafter):
    """Proposes one more token than it was asked for."""

    def propose(self, requests, sample):
        out = []
        for request in requests:
            q = torch.zeros((request.k + 1, 8), dtype=F64)
            q[:, 1] = 1
            out.append(drafters.Proposal((1,) * (request.k + 1), q))
        return out


def test_a_drafter_proposing_too_much_is_refused(models) -> None:
    target, _ = models
    with pytest.raises(ValueError, match="more than the K=2 asked"):
        generate(target.model, _GreedyDrafter(), [[1]], k=2, prob_dtype=F64)


def test_ngram_names_are_still_importable_from_drafters() -> None:
    """`specproof.engine.drafters.NgramDrafter` (and `parse_drafter`) predate `engine.ngram`."""
    assert drafters.NgramDrafter is ngram.NgramDrafter
    assert drafters.parse_drafter is ngram.parse_drafter
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        drafters.nothing  # noqa: B018
