r"""The loop with per-row K and the n-gram drafter, round by round against the exact reference.

Every round of every row is replayed on the reference: the engine's float64 target and draft
rows become `Dist`s of `Fraction`s, its uniforms become `Draws`, and
`STANDARD_SD.verify` (or `EXACT_MATCH` / `GREEDY`) must give the engine's verdict. Three more
checks make this a test of the *loop* and not only of `verify_batch`:

- each row's target rows equal an uncached forward of the target over that row's committed
  sequence and its drafts (so per-row K, grouping and rollback feed every row its own context);
- model drafts are the reference's inverse-CDF draw from the row's $q$ at the recorded uniform,
  and n-gram drafts are `NgramDrafter.lookup` of the row's sequence with one-hot $q$;
- the committed tokens are the verdict's, truncated only in a row's last round.

Under lookahead policies (static, transformers' heuristic, the confidence stop, a
table-driven stepwise test policy that reads the position, the row's rounds and its past
acceptance, and DISCO's learned policy loaded from a policy file by `disco:PATH`), each row's round is also replayed on the *reference loop*:
[`LookaheadRound.play_round`][specproof.reference.lookahead.LookaheadRound.play_round] with
the reference twin of the policy, the row's past rounds, models that answer with the engine's
rows and the engine's uniforms must make the same number of drafts and output the same tokens.

Tolerance: each float64 row is converted with `Fraction(float)` and its last entry set to
`1 - sum(others)` (it moves by at most $V \cdot 2^{-52}$); a verdict may then differ from the
engine's only at a decision whose exact margin is below the conformance harness's
`epsilon_for(float64, V)` (`tests/conformance/harness.py`); target rows must agree with the
uncached forward to 1e-12 (a few hundred float64 ulps: the cached and uncached forwards add in
different orders, and batched forwards pad and mask). Every case runs with one forward per row,
with one padded forward for all rows (`batch_forwards=True`), and with batched forwards whose
cache is compacted before every forward that follows a rollback. The negative controls (each
group's uniforms wired to the wrong rows; a batched rollback that does not mask rejected
columns) must be caught.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine import generate as generate_module  # noqa: E402

from .round_replay import (  # noqa: E402
    KS,
    POLICIES,
    PROMPTS,
    STOP_TABLE,
    TABLE_KS,
    TableStop,
    TableStopReference,
    check_run,
    run,
)


@pytest.mark.parametrize("algorithm", ["sd", "exact_match", "greedy"])
@pytest.mark.parametrize("ngram", [True, False], ids=["ngram", "model"])
@pytest.mark.parametrize(
    "batched", ["rows", "batched", "compacting"], ids=["row-forwards", "batched", "compacting"]
)
def test_rounds_with_per_row_k_equal_the_reference(
    algorithm: str, ngram: bool, batched: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if batched == "compacting":
        # Compact the batched cache before every forward that follows a hole.
        from specproof.engine.streams import BatchedStreams

        monkeypatch.setattr(BatchedStreams, "COMPACT_RATIO", 1)
        monkeypatch.setattr(BatchedStreams, "COMPACT_SLACK", 0)
    target, result, traces, source = run(algorithm, ngram, batched=batched != "rows")
    problems, counts = check_run(target, PROMPTS, traces, source, algorithm, ngram)
    assert problems == []
    # The run must exercise what it claims to: rounds mixing K, acceptances and rejections.
    assert counts["mixed_rounds"] > 0 and counts["accepts"] > 0
    assert counts["rejects"] > 0 or algorithm == "greedy"
    assert [len(t) for t in result.tokens] == [14] * len(PROMPTS)
    # Rows with K = 0 never draft; the trace's rows tokens are the result's.
    for trace in traces:
        for r in trace.rows:
            assert len(r.drafts) <= KS[r.row]
    for b in range(len(PROMPTS)):
        assert [
            t for tr in traces for r in tr.rows if r.row == b for t in r.output
        ] == result.tokens[b]


def test_negative_control_uniforms_of_the_wrong_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop that hands a group's uniforms to the wrong rows (reversed) is caught."""
    real = generate_module.verify_batch

    def reversed_rows(algorithm, p, q, tokens, accept_u, final_u, **kwargs):
        return real(algorithm, p, q, tokens, accept_u.flip(0), final_u.flip(0), **kwargs)

    monkeypatch.setattr(generate_module, "verify_batch", reversed_rows)
    target, _, traces, source = run("sd", ngram=True)
    problems, _ = check_run(target, PROMPTS, traces, source, "sd", ngram=True)
    assert problems


def test_negative_control_batched_rollback_that_does_not_mask(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batched forwards whose rollback forgets to mask rejected columns feed stale context."""
    from specproof.engine import streams

    def keep_without_masking(self, row: int, length: int) -> None:
        self.cached[row] = min(self.cached[row], length)

    monkeypatch.setattr(streams.BatchedStreams, "keep", keep_without_masking)
    target, _, traces, source = run("sd", ngram=False, batched=True)
    problems, _ = check_run(target, PROMPTS, traces, source, "sd", ngram=False)
    assert any("target rows of another context" in p for p in problems)


@pytest.mark.parametrize("name", list(POLICIES))
@pytest.mark.parametrize(
    ("algorithm", "ngram", "batched"),
    [("sd", False, False), ("sd", False, True), ("greedy", False, False), ("sd", True, False)],
    ids=["sd-model", "sd-model-batched", "greedy-model", "sd-ngram"],
)
def test_rounds_under_lookahead_policies_equal_the_reference_loop(
    name: str, algorithm: str, ngram: bool, batched: bool
) -> None:
    make, reference_policy, stepwise = POLICIES[name]
    target, result, traces, source = run(algorithm, ngram, batched=batched, policy=make())
    problems, counts = check_run(
        target, PROMPTS, traces, source, algorithm, ngram, reference_policy
    )
    assert problems == []
    assert [len(t) for t in result.tokens] == [14] * len(PROMPTS)
    rows = [r for trace in traces for r in trace.rows]
    # Step states: one per draft, positions in order, the drafter's probability of the draft.
    for r in rows:
        assert [s.position for s in r.draft_steps] == list(range(len(r.drafts)))
        for s, prob in zip(r.draft_steps, r.draft_token_probs, strict=True):
            assert s.token_prob == (1.0 if ngram else prob)
            assert (s.top_probs == ()) == ngram
    if ngram:
        return
    assert counts["accepts"] > 0
    # Not vacuous: the policy makes K vary (heuristic), or stops some rounds early and lets
    # others run to their maximum (stepwise policies).
    if name == "heuristic":
        assert len({r.k for r in rows}) > 1
    if stepwise:
        assert any(0 < len(r.drafts) < r.k for r in rows)
        assert any(len(r.drafts) == r.k > 1 for r in rows)


def test_negative_control_a_stepwise_policy_the_reference_reads_differently() -> None:
    """The replay catches an engine that asks the policy one position late."""

    class Late(TableStop):
        def keep_drafting(self, steps):
            shifted = [replace(s, position=s.position + 1) for s in steps]
            return [
                STOP_TABLE.get((s.position, s.rounds % 3), True)
                and (s.past_acceptance is None or s.past_acceptance >= 0.25)
                for s in shifted
            ]

    target, _, traces, source = run("sd", ngram=False, policy=Late())
    problems, _ = check_run(
        target, PROMPTS, traces, source, "sd", False, lambda row: TableStopReference(TABLE_KS[row])
    )
    assert any("the reference loop drafts" in p or "past the engine" in p for p in problems)
