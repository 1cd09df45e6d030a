"""Generation level: the float64 processing and exact law, and audits of generate functions.

False-failure rates: a correct implementation is asserted not to be flagged at alpha = 1e-6
(false-failure probability <= 1e-6 per assertion); broken ones are asserted flagged where the
computed power exceeds 1 - 1e-6 (the TV of each fault is large, see each test).
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from scipy import stats

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from specproof.audit.generation import (  # noqa: E402
    Processing,
    TargetLaw,
    audit_generate,
    greedy_configuration,
    two_sample_configuration,
)

torch.set_num_threads(1)


def _plain(model, temperature=1.0):
    def generate(prompt_ids, max_new_tokens, seed):
        torch.manual_seed(seed)
        ids = torch.tensor([prompt_ids])
        out = model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            do_sample=True,
            temperature=temperature,
            top_k=0,
            max_new_tokens=max_new_tokens,
            pad_token_id=0,
            eos_token_id=0,
        )
        return out[0, len(prompt_ids) :].tolist()

    return generate


@pytest.mark.statistical
def test_plain_sampling_is_not_flagged_and_a_wrong_temperature_is(tiny):
    """Null: plain transformers sampling, 400 samples, not flagged (false failure <= 1e-6).
    Negative control: sampling at temperature 2 against the T = 1 law is flagged (the first
    token's chi-square noncentrality at 400 samples is computed below; power > 1 - 1e-6)."""
    transformers.logging.set_verbosity_error()
    law = TargetLaw(tiny.model, Processing(), tiny.eos_token_id)
    prompt = [1, 2, 3]
    audit = audit_generate(_plain(tiny.model), law, prompt, 2, 400)
    assert audit.verdict in ("consistent", "inconclusive")
    hot = Processing(temperature=2.0).probs(law.logits([prompt])[0], prompt)
    p = law.next_probs(prompt)
    lam = 400 * float(((hot - p) ** 2 / p).sum())
    assert stats.ncx2.sf(stats.chi2.isf(1e-6 / 2, 5), 5, lam) > 1 - 1e-6
    assert audit_generate(_plain(tiny.model, 2.0), law, prompt, 2, 400).verdict == "not-lossless"


def test_a_raising_generate_function_is_crashed(tiny):
    law = TargetLaw(tiny.model, Processing(), tiny.eos_token_id)

    def broken(prompt_ids, max_new_tokens, seed):
        raise RuntimeError("no cache")

    audit = audit_generate(broken, law, [1], 2, 10)
    assert audit.verdict == "crashed"
    assert "RuntimeError: no cache" in audit.configurations[0].error


def test_greedy_comparison(tiny):
    law = TargetLaw(tiny.model, Processing(), tiny.eos_token_id)
    prompts = [[1], [2, 3], [4, 4, 1], [5, 1]]

    def greedy(prompt_ids, max_new_tokens, seed):
        return list(law.greedy_path(prompt_ids, max_new_tokens)[0])

    def off_by_one(prompt_ids, max_new_tokens, seed):
        out = greedy(prompt_ids, max_new_tokens, seed)
        return [(t % 5) + 1 if t else t for t in out]

    ok = greedy_configuration("greedy", greedy, law, prompts, 3)
    assert ok.tests["greedy"].p_value == 1.0 and ok.n_samples + ok.details["skipped_near_ties"] == 4
    bad = greedy_configuration("bad", off_by_one, law, prompts, 3)
    assert bad.tests["greedy"].p_value == 0.0 and bad.details["mismatches"] >= 1


@pytest.mark.slow
@pytest.mark.statistical
def test_two_sample_mode(tiny):
    """Null: two seeds-disjoint arms of the same sampler (300 each) are not rejected at 1e-6.
    Negative control: temperature 2 vs 1 (first-token TV 0.25) is rejected at 1e-6."""
    transformers.logging.set_verbosity_error()
    same = two_sample_configuration(
        "same", _plain(tiny.model), _plain(tiny.model), [1, 2, 3], 2, 300, 6, 0
    )
    assert min(t.p_value for t in same.tests.values()) > 1e-6 / 2
    different = two_sample_configuration(
        "diff", _plain(tiny.model, 2.0), _plain(tiny.model), [1, 2, 3], 2, 300, 6, 0
    )
    assert min(t.p_value for t in different.tests.values()) <= 1e-6 / 2


def _numpy_sampler(law, hot_from=None):
    """Samples the exact law with numpy; from output position `hot_from` on, at temperature 2."""
    hot = Processing(temperature=2.0)

    def generate(prompt_ids, max_new_tokens, seed):
        rng = np.random.default_rng(seed)
        out = []
        for t in range(max_new_tokens):
            seq = [*prompt_ids, *out]
            probs = law.next_probs(seq)
            if hot_from is not None and t >= hot_from:
                probs = hot.probs(law.logits([seq])[0], seq)
            out.append(int(rng.choice(probs.size, p=probs)))
            if out[-1] == law.eos_token_id:
                break
        return out

    return generate


@pytest.mark.statistical
def test_every_output_position_is_tested_given_its_prefix(tiny):
    """Null: an exact sampler over 4 tokens is not flagged (false failure <= 1e-6) and every
    output position is a covered path. Negative control: a bug that first shows at the fourth
    token (temperature 2 there) is flagged, by the fourth position's test; the first three
    positions' tests do not fire (each is a true null, false failure <= 1e-6)."""
    law = TargetLaw(tiny.model, Processing(), tiny.eos_token_id)
    prompt = [1, 2, 3]
    audit = audit_generate(_numpy_sampler(law), law, prompt, 4, 3000, tv=0.2)
    (config,) = audit.configurations
    assert audit.verdict == "consistent", config.to_json()
    paths = config.to_json()["paths"]
    # V ** 4 = 1296 cells: the joint law is tested, and it covers every position.
    assert [paths[f"output position {t}"]["test"] for t in range(4)] == ["joint"] * 4
    assert paths["output position 0"]["n"] == 3000 and not config.uncovered
    assert {f"position@{t}" for t in range(4)} <= set(config.tests)
    bad = audit_generate(_numpy_sampler(law, hot_from=3), law, prompt, 4, 3000, tv=0.2)
    (c,) = bad.configurations
    assert bad.verdict == "not-lossless"
    assert c.tests["position@3"].p_value <= 1e-6 / len(c.tests)
    assert all(c.tests[f"position@{t}"].p_value > 1e-6 for t in range(3))


def test_a_position_reached_too_rarely_is_named(tiny):
    law = TargetLaw(tiny.model, Processing(), tiny.eos_token_id)
    audit = audit_generate(_numpy_sampler(law), law, [1, 2, 3], 3, 60, tv=0.2)
    (c,) = audit.configurations
    assert c.verdict == "inconclusive"
    assert any(m.startswith("output position") for m in c.uncovered)


def _sd_loop(law, bonus_bug=False):
    """A factory: an SD generate loop (K = 1) around a draft given as `seq -> logits`.

    With `bonus_bug`, the bonus token is drawn from the unprocessed target row (temperature and
    top-p ignored there only)."""
    processing = law.processing

    def factory(draft_logits):
        def generate(prompt_ids, max_new_tokens, seed):
            rng = np.random.default_rng(seed)
            out = []
            while len(out) < max_new_tokens:
                seq = [*prompt_ids, *out]
                q = processing.probs(draft_logits(seq), seq)
                x = int(rng.choice(q.size, p=q))
                p = law.next_probs(seq)
                if rng.random() * q[x] < p[x]:
                    out.append(x)
                    nxt = [*seq, x]
                    row = law.logits([nxt])[0]
                    bonus = Processing().probs(row, nxt) if bonus_bug else law.next_probs(nxt)
                    out.append(int(rng.choice(bonus.size, p=bonus)))
                else:
                    residual = np.maximum(p - q, 0.0)
                    out.append(int(rng.choice(p.size, p=residual / residual.sum())))
            return out[:max_new_tokens]

        return generate

    return factory


@pytest.mark.statistical
def test_a_bonus_row_bug_is_caught_by_the_draft_equals_target_regime(tiny):
    """The loop's own draft (the target's logits negated) rarely reaches full acceptance; its
    bonus row ignores the temperature. At the defaults (2000 samples, two full rounds) the
    draft=target regime flags it (bonus at T = 1 against T = 0.7: the second position's TV is
    large, power > 1 - 1e-6 at 2000 samples). Null: the same loop without the bug is not
    flagged in any regime (false failure <= 1e-6)."""
    from specproof.audit.regimes import audit_regimes

    law = TargetLaw(tiny.model, Processing(temperature=0.7), tiny.eos_token_id)
    drafts = {
        "own": lambda seq: -law.logits([seq])[0],
        "draft=target": lambda seq: law.logits([seq])[0],
    }
    prompt = [1, 2, 3]
    bad = audit_regimes(_sd_loop(law, bonus_bug=True), law, prompt, drafts, tokens_per_round=2)
    verdicts = {c.details["regime"]: c.verdict for c in bad.configurations}
    assert verdicts["draft=target"] == "not-lossless" and bad.verdict == "not-lossless"
    assert bad.configurations[0].details["max_new_tokens"] == 4  # two full rounds
    good = audit_regimes(_sd_loop(law), law, prompt, drafts, tokens_per_round=2)
    assert all(c.verdict != "not-lossless" for c in good.configurations)


def test_regimes_refuse_unknown_names(tiny):
    from specproof.audit.regimes import audit_regimes, regime_draft

    law = TargetLaw(tiny.model, Processing(), tiny.eos_token_id)
    with pytest.raises(ValueError, match="unknown regimes"):
        audit_regimes(lambda d: None, law, [1], {"close": None}, tokens_per_round=2)
    with pytest.raises(ValueError, match="regime must be one of"):
        regime_draft(tiny.model, "own")
    far = regime_draft(tiny.model, "far-draft")
    ids = torch.tensor([[1, 2]])
    with torch.no_grad():
        near_logits = tiny.model(ids).logits[0, -1]
        far_logits = far(ids).logits[0, -1]
    # Negated output weights: the far draft's likeliest token is the target's least likely.
    assert int(far_logits.argmax()) == int(near_logits.argmin())


def test_greedy_audit_draws_enough_distinct_prompts_to_reach_a_verdict(tiny):
    """The default plan (90 prompts at TV 0.05, power 0.99) is reached from a 4-token prompt:
    its prefixes and then distinct random prompts; `n` sets how many are checked. Negative
    control: a decoder that is wrong on about every other prompt is flagged (a mismatch is
    certain evidence)."""
    import itertools

    from specproof.audit.core import decide, deterministic_required
    from specproof.audit.greedy import greedy_prompts

    law = TargetLaw(tiny.model, Processing(), tiny.eos_token_id)

    def greedy(prompt_ids, max_new_tokens, seed):
        return list(law.greedy_path(prompt_ids, max_new_tokens)[0])

    given = [[1, 2, 3, 4], [1], [1, 2], [1, 2, 3]]
    wanted = deterministic_required(0.05, 0.99)
    assert wanted == 90
    prompts = greedy_prompts(given, law.vocab_size, 0, law.eos_token_id)
    config = greedy_configuration("greedy", greedy, law, prompts, 3, wanted)
    audit = decide([config], 1e-6, 0.05, 0.99)
    assert audit.verdict == "consistent" and config.n_samples == wanted
    more = greedy_configuration(
        "greedy", greedy, law, greedy_prompts(given, law.vocab_size, 0, 0), 3, 120
    )
    assert more.n_samples == 120
    drawn = list(itertools.islice(greedy_prompts(given, law.vocab_size, 0, 0), 200))
    assert drawn[:4] == given and len({tuple(p) for p in drawn}) == 200
    assert all(0 not in p for p in drawn[4:])

    def wrong_on_odd_lengths(prompt_ids, max_new_tokens, seed):
        out = greedy(prompt_ids, max_new_tokens, seed)
        if len(prompt_ids) % 2 and out[0] != 0:
            out[0] = out[0] % 5 + 1
        return out

    bad = greedy_configuration(
        "bad", wrong_on_odd_lengths, law, greedy_prompts(given, 6, 0, 0), 3, wanted
    )
    assert decide([bad], 1e-6, 0.05, 0.99).verdict == "not-lossless"


def _request_generate(request):
    """The request convention: model, tokenizer and settings all come from the request."""
    torch.manual_seed(request.seed)
    ids = torch.tensor(request.row_prompts())
    out = request.model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        pad_token_id=0,
        eos_token_id=request.eos_token_id,
        **request.generate_kwargs(),
    )
    return out[:, ids.shape[1] :].tolist()


def test_the_calling_convention_is_read_from_the_signature():
    from specproof.audit.request import convention

    def tagged(a, b, c):
        return []

    tagged.specproof_convention = "request"
    assert convention(_request_generate) == "request"
    assert convention(_plain(None)) == "ids"
    assert convention(lambda request, extra=1: []) == "request"
    assert convention(tagged) == "request"
    tagged.specproof_convention = "neither"
    with pytest.raises(ValueError, match="specproof_convention"):
        convention(tagged)


@pytest.mark.statistical
def test_a_request_function_gets_the_model_and_settings_and_batches_are_audited_by_row(tiny):
    """The law at T = 0.7, top-k 4: a function that takes everything from the request (the
    model in-process, the settings, 8 rows per call) is not flagged (false failure <= 1e-6),
    with every row counted as a sample. Negative control: the same function with the
    temperature and top-k hard-coded (what adapters did before) is flagged: its first token
    falls outside the top 4, an impossible outcome, in 800 samples with probability
    > 1 - 1e-6 (computed below)."""
    from specproof.audit.request import GenerationRequest

    transformers.logging.set_verbosity_error()
    processing = Processing(temperature=0.7, top_k=4)
    law = TargetLaw(tiny.model, processing, tiny.eos_token_id)
    prompt = [1, 2, 3]
    template = GenerationRequest([], 1, 0, batch_size=8, objects={"model": tiny.model})
    audit = audit_generate(_request_generate, law, prompt, 2, 800, request=template)
    (config,) = audit.configurations
    assert audit.verdict != "not-lossless" and config.error is None, config.to_json()
    assert config.n_samples == 800 and config.details["timing"]["calls"] == 100

    def hard_coded(request):
        return _request_generate(request.replace(temperature=1.0, top_k=None))

    p = law.next_probs(prompt)
    wrong = Processing().probs(law.logits([prompt])[0], prompt)
    assert (1 - wrong[p == 0].sum()) ** 800 < 1e-6
    bad = audit_generate(hard_coded, law, prompt, 2, 800, request=template)
    assert bad.verdict == "not-lossless"


def test_batched_outputs_are_validated_row_by_row(tiny):
    from specproof.audit.request import GenerationRequest

    law = TargetLaw(tiny.model, Processing(), tiny.eos_token_id)
    template = GenerationRequest([], 1, 0, batch_size=4)

    def short_batch(request):
        return [[1, 1]] * (request.batch_size - 1)

    def bad_row(request):
        return [[1, 1]] * (request.batch_size - 1) + [[1, 99]]

    def ids_style(prompt_ids, max_new_tokens, seed):
        return [1, 1]

    for fn, message in [
        (short_batch, "expected a batch of 4 rows, got 3"),
        (bad_row, r"row 3: output ids must lie in \[0, V\)"),
        (ids_style, "batch_size > 1 needs a function that takes a GenerationRequest"),
    ]:
        (config,) = audit_generate(fn, law, [1], 2, 10, request=template).configurations
        assert config.verdict == "crashed" and re.search(message, config.error), config.error


def _reporting(law, drafted, accepted_max):
    """An exact sampler that reports one round per sample: drafted depth `drafted`, accepted
    depth drawn uniformly in [0, accepted_max]."""
    exact = _numpy_sampler(law)

    def generate(prompt_ids, max_new_tokens, seed):
        accepted = int(np.random.default_rng(seed + 10**6).integers(0, accepted_max + 1))
        tokens = exact(prompt_ids, max_new_tokens, seed)
        return {"tokens": tokens, "rounds": [{"drafted": drafted, "accepted": accepted}]}

    return generate


@pytest.mark.statistical
def test_reported_tree_depths_are_covered_and_a_generation_that_never_drafts_is_not_consistent(
    tiny,
):
    """Tokens from an exact sampler (not flagged; false failure <= 1e-6), reporting a depth-3
    draft per round accepted at most to depth 1: the report counts every depth and names
    depths 2 and 3 as never accepted. Negative control: the same tokens reported with no draft
    at all are not `consistent`, whatever the tests say."""
    law = TargetLaw(tiny.model, Processing(), tiny.eos_token_id)
    prompt = [1, 2, 3]
    audit = audit_generate(_reporting(law, 3, 1), law, prompt, 2, 1500, tv=0.2)
    (config,) = audit.configurations
    coverage = config.details["coverage"]
    assert coverage["rounds"] == 1500 and coverage["drafted_tokens"] == 4500
    assert [coverage["depths"][d]["drafted"] for d in "123"] == [1500] * 3
    assert 0 < coverage["depths"]["1"]["accepted"] < 1500
    assert coverage["never_accepted"] == [2, 3]
    assert audit.verdict == "consistent", config.to_json()
    none = audit_generate(_reporting(law, 0, 0), law, prompt, 2, 1500, tv=0.2)
    (c,) = none.configurations
    assert none.verdict == "inconclusive" and "no drafted token" in c.not_consistent_because


def test_a_malformed_rounds_report_is_crashed(tiny):
    law = TargetLaw(tiny.model, Processing(), tiny.eos_token_id)
    (config,) = audit_generate(_reporting(law, 1, 0), law, [1], 2, 5).configurations
    assert config.error is None

    def deeper(prompt_ids, max_new_tokens, seed):
        return {"tokens": [1, 1], "rounds": [{"drafted": 1, "accepted": 2}]}

    (config,) = audit_generate(deeper, law, [1], 2, 5).configurations
    assert config.verdict == "crashed" and "accepted <= drafted" in config.error


def test_timing_separates_the_implementation_from_the_auditor(tiny):
    """A function that sleeps 20 ms per call: at least 30 * 20 ms are counted inside it, and
    the auditor's share is what is left of the wall time. Negative control: the same without
    the sleep is counted far below that."""
    import time as time_module

    law = TargetLaw(tiny.model, Processing(), tiny.eos_token_id)
    exact = _numpy_sampler(law)

    def slow(prompt_ids, max_new_tokens, seed):
        time_module.sleep(0.02)
        return exact(prompt_ids, max_new_tokens, seed)

    (config,) = audit_generate(slow, law, [1, 2], 2, 30).configurations
    timing = config.details["timing"]
    assert timing["implementation_seconds"] >= 30 * 0.02
    assert timing["auditor_seconds"] == pytest.approx(
        timing["seconds"] - timing["implementation_seconds"]
    )
    assert timing["implementation_s_per_sample"] >= 0.02
    (fast,) = audit_generate(exact, law, [1, 2], 2, 30).configurations
    assert fast.details["timing"]["implementation_seconds"] < 30 * 0.02 / 2


def test_loading_the_model_of_a_request_leaves_torch_random_state_alone(monkeypatch):
    """A function that seeds torch and then touches `request.model` for the first time must
    sample as on later calls (the boundary's replay check would call it nondeterministic).
    Negative control: loading without the guard changes the state (initialisation draws)."""
    import specproof.audit.request as request_module
    from specproof.audit.request import GenerationRequest

    monkeypatch.setattr(request_module, "_LOADED", {})
    torch.manual_seed(0)
    before = torch.get_rng_state()
    assert GenerationRequest(target="tiny-llama:layers=1").model is not None
    assert torch.equal(torch.get_rng_state(), before)
    request_module._load_unseeded("model", None, "tiny-llama:layers=1")
    assert not torch.equal(torch.get_rng_state(), before)
