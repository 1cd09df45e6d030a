"""The generation loop: KV rollback, greedy equivalence, batches, stopping, statistics, bad input."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine.generate import Sampling, generate  # noqa: E402
from specproof.engine.lookahead import StaticK  # noqa: E402
from specproof.engine.models import tiny_model  # noqa: E402
from specproof.engine.trace import RoundTrace  # noqa: E402

F64 = torch.float64


@pytest.fixture(scope="module")
def models():
    target = tiny_model("llama", vocab=12, layers=2, seed=11, init_std=0.3, dtype=F64)
    draft = tiny_model("gpt2", vocab=12, layers=1, seed=12, init_std=0.3, dtype=F64)
    return target, draft


PROMPTS = [[1, 2, 3], [4], [5, 6, 7, 8, 9]]


@pytest.mark.parametrize("algorithm", ["sd", "exact_match", "greedy"])
@pytest.mark.parametrize("k", [1, 3])
def test_kv_rollback_matches_recomputation_without_cache(models, algorithm: str, k: int) -> None:
    target, draft = models
    kwargs = {"algorithm": algorithm, "k": k, "max_new_tokens": 24, "seed": 3, "prob_dtype": F64}
    cached = generate(target.model, draft.model, PROMPTS, **kwargs)
    recomputed = generate(target.model, draft.model, PROMPTS, use_cache=False, **kwargs)
    assert cached.tokens == recomputed.tokens
    # The run must exercise rollback: some round rejected a draft after accepting at least one
    # (k=3) or rejected at all (k=1), otherwise this test would prove nothing about crop().
    assert cached.stats.accepted_histogram[0] > 0 or algorithm == "greedy"
    assert sum(cached.stats.accepted_histogram[:k]) > 0


@pytest.mark.parametrize("k", [1, 2, 5])
def test_greedy_speculation_reproduces_greedy_decoding(models, k: int) -> None:
    target, draft = models
    plain = generate(target.model, None, PROMPTS, algorithm="greedy", k=0, max_new_tokens=30)
    speculative = generate(
        target.model, draft.model, PROMPTS, algorithm="greedy", k=k, max_new_tokens=30
    )
    assert speculative.tokens == plain.tokens
    expected = []
    for prompt in PROMPTS:
        sequence = list(prompt)
        with torch.no_grad():
            for _ in range(30):
                logits = target.model(torch.tensor([sequence])).logits[0, -1]
                sequence.append(int(logits.argmax()))
        expected.append(sequence[len(prompt) :])
    assert plain.tokens == expected


def test_batch_rows_are_the_single_row_runs_for_greedy(models) -> None:
    target, draft = models
    batch = generate(target.model, draft.model, PROMPTS, algorithm="greedy", k=3, max_new_tokens=9)
    for b, prompt in enumerate(PROMPTS):
        alone = generate(
            target.model, draft.model, [prompt], algorithm="greedy", k=3, max_new_tokens=9
        )
        assert alone.tokens[0] == batch.tokens[b]


def test_seed_reproducibility_and_sensitivity(models) -> None:
    target, draft = models
    runs = [
        generate(target.model, draft.model, PROMPTS, k=3, max_new_tokens=20, seed=seed).tokens
        for seed in (5, 5, 6)
    ]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_ar_is_k0_sd(models) -> None:
    target, draft = models
    ar = generate(target.model, None, PROMPTS, algorithm="ar", max_new_tokens=15, seed=9)
    sd0 = generate(
        target.model, draft.model, PROMPTS, algorithm="sd", k=0, max_new_tokens=15, seed=9
    )
    assert ar.tokens == sd0.tokens
    assert ar.stats.k == 0 and ar.stats.draft_calls == 0
    assert ar.stats.tokens_per_target_call == 1.0


def test_statistics_are_consistent(models) -> None:
    target, draft = models
    k = 4
    traces: list[RoundTrace] = []
    result = generate(
        target.model, draft.model, PROMPTS, k=k, max_new_tokens=25, seed=1, on_round=traces.append
    )
    stats = result.stats
    assert stats.new_tokens == sum(len(t) for t in result.tokens) == 75
    assert sum(stats.accepted_histogram) == stats.rounds == stats.target_calls
    assert stats.accepted == sum(j * c for j, c in enumerate(stats.accepted_histogram))
    # A round drafts k, or fewer only where fewer tokens than k + 1 remain to be output.
    seen = [0] * len(PROMPTS)
    for trace in traces:
        for row in trace.rows:
            assert len(row.drafts) == row.k == min(k, 25 - seen[row.row] - 1)
            seen[row.row] += len(row.output)
    assert stats.drafted == sum(len(r.drafts) for t in traces for r in t.rows) == stats.draft_calls
    assert k * stats.rounds - stats.drafted <= len(PROMPTS) * k * (k + 1) // 2
    assert stats.acceptance_rate == stats.accepted / stats.drafted
    # Each round outputs accepted + 1 tokens, minus what truncation cut at the end of each row.
    produced = stats.accepted + stats.rounds
    assert stats.new_tokens <= produced <= stats.new_tokens + k * len(PROMPTS)
    assert stats.tokens_per_s > 0
    assert set(stats.to_dict()) >= {"accepted_histogram", "acceptance_rate", "tokens_per_s"}


def test_stops_at_eos_and_at_max_tokens(models) -> None:
    target, draft = models
    free = generate(target.model, draft.model, [[1, 2]], algorithm="greedy", k=3, max_new_tokens=12)
    tokens = free.tokens[0]
    eos = tokens[4]
    first = tokens.index(eos)
    stopped = generate(
        target.model,
        draft.model,
        [[1, 2]],
        algorithm="greedy",
        k=3,
        max_new_tokens=12,
        eos_token_id=eos,
    )
    assert stopped.tokens[0] == tokens[: first + 1]
    short = generate(target.model, draft.model, [[1, 2]], algorithm="greedy", k=5, max_new_tokens=3)
    assert short.tokens[0] == tokens[:3]
    none = generate(target.model, draft.model, [[1, 2]], k=5, max_new_tokens=0)
    assert none.tokens == [[]] and none.stats.rounds == 0


def test_streaming_callback_sees_every_token(models) -> None:
    target, draft = models
    seen: dict[int, list[int]] = {}
    result = generate(
        target.model,
        draft.model,
        PROMPTS,
        k=3,
        max_new_tokens=10,
        on_tokens=lambda row, tokens: seen.setdefault(row, []).extend(tokens),
    )
    assert [seen[b] for b in range(len(PROMPTS))] == result.tokens


def test_top_k_one_makes_sampling_greedy(models) -> None:
    target, draft = models
    greedy = generate(target.model, None, PROMPTS, algorithm="greedy", k=0, max_new_tokens=12)
    sampled = generate(
        target.model,
        draft.model,
        PROMPTS,
        algorithm="sd",
        k=3,
        max_new_tokens=12,
        sampling=Sampling(temperature=0.7, top_k=1),
    )
    assert sampled.tokens == greedy.tokens


def test_float32_and_float64_probabilities(models) -> None:
    target, draft = models
    for dtype in (torch.float32, torch.float64):
        result = generate(
            target.model, draft.model, PROMPTS, k=2, max_new_tokens=5, prob_dtype=dtype
        )
        assert all(len(t) == 5 for t in result.tokens)
    with pytest.raises(ValueError, match="prob_dtype"):
        generate(target.model, draft.model, PROMPTS, prob_dtype=torch.float16)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"k": -1}, "k must be"),
        ({"algorithm": "beam"}, "algorithm must be"),
        ({"max_new_tokens": -2}, "max_new_tokens"),
        ({"prompts": [[]]}, "prompts\\[0\\] is empty"),
        ({"prompts": []}, "at least one prompt"),
        ({"prompts": [[1, 99]]}, "outside"),
        ({"draft": None}, "needs a draft model"),
        ({"sampling": Sampling(temperature=0.0)}, "temperature"),
        ({"sampling": Sampling(top_p=1.5)}, "top_p"),
    ],
)
def test_bad_arguments(models, kwargs, message: str) -> None:
    target, draft = models
    args = {"prompts": PROMPTS, "draft": draft.model, **kwargs}
    with pytest.raises(ValueError, match=message):
        generate(target.model, args.pop("draft"), args.pop("prompts"), **args)


def test_draft_vocabulary_mismatch(models) -> None:
    target, _ = models
    other = tiny_model("llama", vocab=7, dtype=F64)
    with pytest.raises(ValueError, match="vocabulary size"):
        generate(target.model, other.model, PROMPTS, k=2)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
@pytest.mark.parametrize("which", ["target", "draft"])
def test_nan_or_inf_logits_are_refused(bad: float, which: str) -> None:
    target = tiny_model("llama", vocab=6, seed=1, dtype=F64)
    draft = tiny_model("llama", vocab=6, seed=2, dtype=F64)
    broken = target if which == "target" else draft
    with torch.no_grad():
        broken.model.lm_head.weight[3] = bad
    with pytest.raises(ValueError, match="logits"):
        generate(target.model, draft.model, [[1, 2]], k=2, max_new_tokens=4)


def test_negative_control_stale_cache_changes_the_output(models, monkeypatch) -> None:
    """If rollback forgot to crop, the cached run would differ from recomputation."""
    from specproof.engine import streams as streams_module

    def keep_without_cropping(self, length: int) -> None:
        self.cached = min(self.cached, length)

    target, draft = models
    kwargs = {"algorithm": "sd", "k": 3, "max_new_tokens": 24, "seed": 3, "prob_dtype": F64}
    recomputed = generate(target.model, draft.model, PROMPTS, use_cache=False, **kwargs)
    monkeypatch.setattr(streams_module._ModelStream, "keep", keep_without_cropping)
    broken = generate(target.model, draft.model, PROMPTS, **kwargs)
    assert broken.tokens != recomputed.tokens


def test_prompts_as_a_tensor(models) -> None:
    target, draft = models
    as_lists = generate(target.model, draft.model, [[1, 2, 3], [4, 5, 6]], k=2, max_new_tokens=6)
    as_tensor = generate(
        target.model, draft.model, torch.tensor([[1, 2, 3], [4, 5, 6]]), k=2, max_new_tokens=6
    )
    assert as_lists.tokens == as_tensor.tokens
    with pytest.raises(ValueError, match="prompts must be a \\[B, T\\] tensor"):
        generate(target.model, draft.model, torch.tensor([1, 2, 3]), k=2)


@pytest.mark.parametrize("arch", ["llama", "gpt2", "starcoder"])
@pytest.mark.parametrize("algorithm", ["sd", "exact_match", "greedy"])
def test_batched_forwards_give_the_row_forwards_tokens(arch: str, algorithm: str) -> None:
    """One padded forward per step for all rows gives the same tokens as one forward per row.

    The probabilities agree to float64 rounding (padding and masking change only the order of
    additions), so a token could differ only where a uniform falls within ~1e-15 of a decision
    boundary; with these seeds none does, and equality is the check.
    """
    target = tiny_model(arch, vocab=12, layers=2, seed=11, init_std=0.3, dtype=F64)
    draft = tiny_model("gpt2", vocab=12, layers=1, seed=12, init_std=0.3, dtype=F64)
    kwargs = {"algorithm": algorithm, "k": 3, "max_new_tokens": 20, "seed": 3, "prob_dtype": F64}
    rows = generate(target.model, draft.model, PROMPTS, **kwargs)
    batched = generate(target.model, draft.model, PROMPTS, batch_forwards=True, **kwargs)
    assert batched.tokens == rows.tokens
    assert batched.stats.to_dict().keys() == rows.stats.to_dict().keys()
    assert sum(rows.stats.accepted_histogram[:3]) > 0  # rollbacks happened


def test_batched_forwards_need_a_cache(models) -> None:
    target, draft = models
    with pytest.raises(ValueError, match="use_cache"):
        generate(target.model, draft.model, PROMPTS, use_cache=False, batch_forwards=True)


def test_fixed_k_drafts_nothing_past_the_last_token(models) -> None:
    """Capping a fixed K at the tokens left changes no greedy token, and drafts fewer."""
    target, draft = models
    capped = generate(target.model, draft.model, PROMPTS, algorithm="greedy", k=4, max_new_tokens=9)
    asked = generate(
        target.model,
        draft.model,
        PROMPTS,
        algorithm="greedy",
        k=4,
        lookahead=StaticK(4),
        max_new_tokens=9,
    )
    assert capped.tokens == asked.tokens
    assert capped.stats.drafted < asked.stats.drafted
    assert capped.stats.draft_calls < asked.stats.draft_calls
