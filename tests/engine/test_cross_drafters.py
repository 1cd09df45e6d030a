"""`generate` with a drafter of another tokenizer: TLI, SLEM, SLRS on the main loop.

Tiny models with in-memory character tokenizers of different sizes (target `<eos>` + 'abcde',
drafter `<eos>` + 'abcdefgh'). The main loop with a cross-vocabulary drafter must give the
same tokens as the standalone, cache-free loops of `engine/hetero_loop.py` on the same seed
(they draw the same uniforms in the same order), with and without KV caches; greedy SLEM must
be the target's greedy decoding; SLRS's bound must refuse with a clear error.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from specproof.engine import hetero_loop  # noqa: E402
from specproof.engine.cross_drafters import (  # noqa: E402
    DrafterReader,
    SlemDrafter,
    TliDrafter,
    vocab_map_for,
)
from specproof.engine.generate import generate  # noqa: E402
from specproof.engine.models import LoadedModel, tiny_model  # noqa: E402
from specproof.engine.slrs import SlrsDrafter  # noqa: E402
from specproof.engine.union import UnionDrafter  # noqa: E402

torch.set_num_threads(1)
F64 = torch.float64
DRAFTERS = {"tli": TliDrafter, "union": UnionDrafter, "slem": SlemDrafter, "slrs": SlrsDrafter}


@pytest.fixture(scope="module")
def pair():
    return tiny_model(vocab=6, seed=1, dtype=F64), tiny_model(vocab=9, seed=2, dtype=F64)


PROMPTS = [[1, 2], [3], [2, 2, 4]]


def run(pair, algorithm, drafter_class, **kwargs):
    target, drafter = pair
    options = {"k": 3, "max_new_tokens": 12, "seed": 5, "prob_dtype": F64} | kwargs
    cross = drafter_class(target, drafter)
    return generate(
        cross.target_model,
        cross,
        PROMPTS,
        algorithm=algorithm,
        eos_token_id=target.eos_token_id,
        **options,
    )


def assert_greedy_decoding(target, outputs):
    """Every output token is the target's argmax after `PROMPTS`' row and the tokens before it."""
    for prompt, tokens in zip(PROMPTS, outputs, strict=True):
        ids = list(prompt)
        with torch.no_grad():
            for token in tokens:
                assert token == int(target.model(torch.tensor([ids])).logits[0, -1].argmax())
                ids.append(token)


@pytest.mark.parametrize("algorithm", ["tli", "union", "slem", "slrs"])
def test_cache_and_batched_forwards_do_not_change_the_tokens(pair, algorithm):
    k = 2 if algorithm == "slrs" else 3  # SLRS enumerates 9^K drafts per round
    cached = run(pair, algorithm, DRAFTERS[algorithm], k=k)
    uncached = run(pair, algorithm, DRAFTERS[algorithm], k=k, use_cache=False)
    batched = run(pair, algorithm, DRAFTERS[algorithm], k=k, batch_forwards=True)
    assert cached.tokens == uncached.tokens == batched.tokens
    assert cached.stats.drafted > 0 and cached.stats.draft_calls > 0
    assert all(0 <= t < 6 for row in cached.tokens for t in row)


@pytest.mark.parametrize(
    ("algorithm", "mode"), [("tli", "sample"), ("union", "sample"), ("slem", "sample")]
)
def test_main_loop_equals_the_standalone_loop_draw_for_draw(pair, algorithm, mode):
    target, drafter = pair
    drafter_only = 0
    for seed in range(6):
        cross = DRAFTERS[algorithm](target, drafter)
        drafts: list[int] = []
        main = generate(
            cross.target_model,
            cross,
            [[1, 2]],
            algorithm=algorithm,
            k=3,
            max_new_tokens=12,
            seed=seed,
            prob_dtype=F64,
            eos_token_id=target.eos_token_id,
            on_round=lambda trace, drafts=drafts: drafts.extend(trace.rows[0].drafts),
        )
        drafter_only += sum(d >= 6 for d in drafts)
        generator = torch.Generator().manual_seed(seed)
        standalone = hetero_loop.generate(
            algorithm, target, drafter, [1, 2], 12, 3, generator, mode=mode
        )
        assert main.tokens[0] == standalone.tokens
        assert main.stats.accepted == standalone.accepted
    if algorithm == "union":
        assert drafter_only > 0  # drafter-only drafts ('f', 'g', 'h') were met and rejected


def test_greedy_slem_is_the_targets_greedy_decoding(pair):
    target, drafter = pair
    result = run(pair, "greedy", SlemDrafter, k=2)
    plain = run(pair, "greedy", SlemDrafter, k=0)
    assert result.tokens == plain.tokens
    assert_greedy_decoding(target, result.tokens)


def test_slrs_refuses_past_its_bound(pair):
    target, drafter = pair
    with pytest.raises(ValueError, match=r"81 drafts of 2 drafter tokens .* max_drafts=50"):
        run(pair, "slrs", lambda t, d: SlrsDrafter(t, d, max_drafts=50), k=2)
    with pytest.raises(ValueError, match="max_drafts must be an int >= 1"):
        SlrsDrafter(*pair, max_drafts=0)
    with pytest.raises(ValueError, match="drafter_tokens must be None or an int >= 1"):
        SlemDrafter(*pair, drafter_tokens=0)


def test_drafter_reads_target_tokens_token_by_token(pair):
    target, drafter = pair
    reader = DrafterReader(target, drafter, vocab_map_for(target, drafter))
    assert reader.read([0, 1, 5]) == [0, 1, 5]
    with pytest.raises(ValueError, match="draft: vocabulary size 9 differs"):
        generate(target.model, drafter.model, [[1]], algorithm="sd", k=2, max_new_tokens=2)


class TruncatingTli(TliDrafter):
    """TLI without the stepwise hook: the loop truncates its finished proposals instead."""

    stops_early = False


@pytest.mark.parametrize("batched", [False, True], ids=["rows", "batched"])
def test_tli_stops_early_as_the_loop_truncates_with_fewer_forwards(pair, batched):
    """A stepwise policy stopping TLI as it drafts gives the rounds that truncating gives."""
    from specproof.engine.lookahead import ConfidenceStop

    runs = {}
    for name, drafter_class in (("hook", TliDrafter), ("truncate", TruncatingTli)):
        traces = []
        result = run(
            pair,
            "greedy",
            drafter_class,
            lookahead=ConfidenceStop(0.7, 4),
            batch_forwards=batched,
            on_round=traces.append,
        )
        runs[name] = (result, [r for trace in traces for r in trace.rows])
    (hook, hook_rows), (cut, cut_rows) = runs["hook"], runs["truncate"]
    assert hook.tokens == cut.tokens
    assert [(r.drafts, r.accepted) for r in hook_rows] == [(r.drafts, r.accepted) for r in cut_rows]
    # The hook saw the q_I rows' probabilities of the drafts, as truncation does.
    # (Batched forwards over other sets of rows pad differently: a few ulps apart.)
    for a, b in zip(hook_rows, cut_rows, strict=True):
        assert [s.position for s in a.draft_steps] == [s.position for s in b.draft_steps]
        for x, y in zip(a.draft_steps, b.draft_steps, strict=True):
            assert x.token_prob == pytest.approx(y.token_prob, abs=1e-12)
            assert x.top_probs == pytest.approx(y.top_probs, abs=1e-12)
        assert [s.token_prob for s in a.draft_steps] == list(a.draft_token_probs)
    # Not vacuous: some rounds stopped early, and those cost fewer drafter forwards.
    assert any(0 < len(r.drafts) < r.k for r in hook_rows)
    assert hook.stats.draft_calls < cut.stats.draft_calls


@pytest.mark.parametrize("drafter_class", [SlemDrafter, TliDrafter])
def test_a_drafter_that_cannot_express_some_target_tokens(pair, drafter_class):
    """Documented behaviour (module `cross_drafters`): target 'abcdefgh', drafter 'abcde'.

    The drafter reads a target token whose text it cannot express as its own tokenizer encodes
    that text (here the in-memory tokenizer's unknown token, `<eos>`): it only conditions the
    drafter, so the output is still the target's (greedy: its greedy decoding token for token).
    """
    drafter, target = pair  # reversed: the target has 'f', 'g', 'h', the drafter does not
    reader = DrafterReader(target, drafter, vocab_map_for(target, drafter))
    assert reader.read([1, 6, 8]) == [1, 0, 0]
    result = run((target, drafter), "greedy", drafter_class, k=2, max_new_tokens=10)
    assert_greedy_decoding(target, result.tokens)
    assert any(t in (6, 7, 8) for row in result.tokens for t in row)  # such tokens were met


def test_vocabularies_that_share_no_token_are_refused(pair):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    target, drafter = pair
    vocab = {t: i for i, t in enumerate(["<end>", "s", "t", "u", "v", "w", "x", "y", "z"])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<end>"))
    other = LoadedModel(
        "other", drafter.model, PreTrainedTokenizerFast(tokenizer_object=backend), None
    )
    for drafter_class in DRAFTERS.values():
        with pytest.raises(ValueError, match="share no token string"):
            drafter_class(target, other)
