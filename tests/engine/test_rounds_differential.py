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

import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine import generate as generate_module  # noqa: E402
from specproof.engine.disco import (  # noqa: E402
    AcceptanceClassifier,
    LearnedPolicy,
    features_matrix,
    save_policy,
)
from specproof.engine.disco.features import FEATURES  # noqa: E402
from specproof.engine.drafters import ModelDrafter, NgramDrafter  # noqa: E402
from specproof.engine.generate import GeneratorUniforms, generate  # noqa: E402
from specproof.engine.lookahead import (  # noqa: E402
    TOP_PROBS,
    ConfidenceStop,
    DraftStepState,
    HeuristicK,
    PerRowK,
    RowState,
    StaticK,
    parse_lookahead,
)
from specproof.engine.models import tiny_model  # noqa: E402
from specproof.engine.trace import RoundTrace  # noqa: E402
from specproof.reference import EXACT_MATCH, GREEDY, STANDARD_SD, Dist, Draws, Verdict  # noqa: E402
from specproof.reference.lookahead import (  # noqa: E402
    ConfidenceThreshold,
    FixedLookahead,
    LookaheadRound,
)
from specproof.reference.lookahead_cost import HeuristicLookahead  # noqa: E402
from specproof.reference.rounds import DraftState, RoundRecord  # noqa: E402
from specproof.reference.verifier import inverse_cdf  # noqa: E402

from ..conformance.harness import epsilon_for, find_mismatch  # noqa: E402

F64 = torch.float64
REFERENCES = {"sd": STANDARD_SD, "exact_match": EXACT_MATCH, "greedy": GREEDY}
ROW_TOLERANCE = 1e-12
VOCAB = 5
# Repeats so that prompt lookup finds matches; rows of different lengths.
PROMPTS = [[1, 2, 3, 1, 2, 3, 1, 2], [4, 4, 4, 4], [2, 1, 3, 2, 1], [3], [1, 4, 1, 4, 1, 4, 1]]
KS = (3, 0, 1, 4, 2)
MAX_K = 4
# The stepwise test policy: after draft j in a row's round r, keep drafting iff
# STOP_TABLE[(j, r % 3)] and the row's past acceptance is unknown or at least 1/4.
STOP_TABLE = {
    (0, 0): True,
    (1, 0): False,
    (2, 0): True,
    (0, 1): False,
    (1, 1): True,
    (2, 1): True,
    (0, 2): True,
    (1, 2): True,
    (2, 2): False,
}
TABLE_KS = (4, 0, 2, 3, 4)


class TableStop:
    """Engine side: maximum K per row (`TABLE_KS`), stops per `STOP_TABLE` and past acceptance."""

    def lookahead(self, rows: list[RowState]) -> list[int]:
        return [TABLE_KS[state.row] for state in rows]

    def keep_drafting(self, steps: list[DraftStepState]) -> list[bool]:
        return [
            STOP_TABLE[s.position, s.rounds % 3]
            and (s.past_acceptance is None or s.past_acceptance >= 0.25)
            for s in steps
        ]


class TableStopReference:
    """Reference side of `TableStop` for one row: asked before draft `position`."""

    def __init__(self, k: int) -> None:
        self.k = k

    def continue_probability(self, state: DraftState) -> Fraction:
        if state.position >= self.k:
            return Fraction(0)
        if state.position == 0:
            return Fraction(1)
        rate = state.past_acceptance
        keep = STOP_TABLE[state.position - 1, state.rounds % 3]
        return Fraction(int(keep and (rate is None or rate >= Fraction(1, 4))))


# (engine policy factory, reference policy per row, stepwise)
POLICIES = {
    "static": (lambda: StaticK(3), lambda row: FixedLookahead(3), False),
    "heuristic": (
        lambda: HeuristicK(1, max_k=MAX_K),
        lambda row: HeuristicLookahead(1, MAX_K),
        False,
    ),
    "confidence": (
        lambda: ConfidenceStop(0.4, MAX_K),
        lambda row: ConfidenceThreshold(Fraction(0.4)),
        True,
    ),
    "table": (TableStop, lambda row: TableStopReference(TABLE_KS[row]), True),
}


class RecordingUniforms:
    """The default generator's uniforms, with every draw recorded as the loop asked for it."""

    def __init__(self, seed: int) -> None:
        self.inner = GeneratorUniforms(torch.Generator().manual_seed(seed))
        self.draft_calls: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.verify_calls: list[tuple[torch.Tensor, ...]] = []

    def draft_uniforms(self, draft_probs: torch.Tensor) -> torch.Tensor:
        u = self.inner.draft_uniforms(draft_probs)
        self.draft_calls.append((draft_probs.clone(), u.clone()))
        return u

    def verify_uniforms(self, algorithm, target_probs, draft_probs, draft_tokens):
        accept_u, final_u = self.inner.verify_uniforms(
            algorithm, target_probs, draft_probs, draft_tokens
        )
        self.verify_calls.append(
            (target_probs.clone(), draft_probs.clone(), draft_tokens.clone(), accept_u, final_u)
        )
        return accept_u, final_u


def to_dist(row: torch.Tensor) -> Dist:
    exact = [Fraction(v) for v in row.tolist()]
    fixed = 1 - sum(exact[:-1])
    assert abs(fixed - exact[-1]) <= Fraction(len(exact), 2**52), "row sum off by > V ulps"
    exact[-1] = fixed
    return Dist.over(list(range(len(exact))), exact)


class RecordedLM:
    """A reference language model answering with the rows the engine computed (by context).

    The reference loop computes the row of the next draft before its policy decides whether to
    draft it; past the engine's drafts the draft model answers `fallback` (a uniform row, which
    none of the twin policies reads): drafting from it shows up as a different draft count.
    """

    def __init__(self, rows: dict[tuple[int, ...], Dist], fallback: Dist | None = None) -> None:
        self.rows = rows
        self.fallback = fallback
        self.vocab = tuple(range(VOCAB))
        self.order = 10**6

    def next_dist(self, sequence):
        key = tuple(sequence)
        if key not in self.rows:
            if self.fallback is not None:
                return self.fallback
            raise LookupError(f"no engine row after {key}")
        return self.rows[key]

    def check_prefix(self, prefix, what="prefix"):
        return tuple(prefix)


def replay_on_reference_loop(
    policy, verifier, sequence, r, p_rows, q_rows, draft_u, draws, history
):
    """The reference loop's round for one engine row: `(verdict, drafts made)` or a problem."""
    context = tuple(sequence)
    drafts = list(r.drafts)
    target = RecordedLM({(*context, *drafts[:i]): to_dist(p_rows[i]) for i in range(len(p_rows))})
    draft = RecordedLM(
        {(*context, *drafts[:i]): to_dist(q_rows[i]) for i in range(len(q_rows))},
        Dist.uniform(range(VOCAB)),
    )
    pad = [Fraction(0)] * (MAX_K - len(draft_u))
    accept_u = list(draws.accept_u) + [Fraction(0)] * (MAX_K - len(draws.accept_u))
    kernel = LookaheadRound(target, draft, policy, MAX_K, verifier)
    try:
        return kernel.play_round(
            context,
            [*draft_u, *pad],
            [Fraction(0)] * MAX_K,
            Draws(tuple(accept_u), draws.final_u),
            tuple(history),
        )
    except LookupError as exc:
        return f"the reference drafts past the engine's {len(drafts)} drafts ({exc})"


def check_run(
    target,
    prompts,
    traces: list[RoundTrace],
    source: RecordingUniforms,
    algorithm: str,
    ngram,
    reference_policy=None,
):
    """Replay every round on the reference; return the problems found (empty: conforms).

    Args:
        target: the engine's target model.
        prompts: the run's prompts.
        traces: the run's round traces.
        source: the run's recorded uniforms.
        algorithm: the verification algorithm.
        ngram: whether the drafter was prompt lookup.
        reference_policy: `row -> reference lookahead policy` to replay each round on the
            reference loop too (model drafters); None for per-row K runs.
    """
    problems: list[str] = []
    histories: dict[int, list[RoundRecord]] = {b: [] for b in range(len(prompts))}
    draft_us: dict[tuple[int, int], list[Fraction]] = {}
    reference = REFERENCES[algorithm]
    epsilon = epsilon_for(F64, VOCAB)
    sequences = [list(p) for p in prompts]
    verify_calls = iter(source.verify_calls)
    draft_calls = iter(source.draft_calls)
    counts = {"accepts": 0, "rejects": 0, "mixed_rounds": 0}
    for trace in traces:
        lengths = sorted({len(r.drafts) for r in trace.rows})
        counts["mixed_rounds"] += len(lengths) > 1
        # Model drafts: one sampling call per draft position over the rows still drafting.
        if not ngram and algorithm != "greedy":
            for step in range(max(len(r.drafts) for r in trace.rows)):
                q_rows, u = next(draft_calls)
                drafting = [r for r in trace.rows if len(r.drafts) > step]
                for j, r in enumerate(drafting):
                    draft_us.setdefault((trace.round, r.row), []).append(Fraction(float(u[j])))
                    token = inverse_cdf(
                        to_dist(q_rows[j]).probs, list(range(VOCAB)), Fraction(float(u[j]))
                    )
                    if token != r.drafts[step]:
                        problems.append(f"round {trace.round} row {r.row}: draft {step} not drawn")
        for kb in lengths:
            p, q, tokens, accept_u, final_u = next(verify_calls)
            group = [r for r in trace.rows if len(r.drafts) == kb]
            for j, r in enumerate(group):
                sequence = sequences[r.row]
                ids = torch.tensor([sequence + list(r.drafts)])
                with torch.no_grad():
                    logits = target(ids, use_cache=False).logits[0, -(kb + 1) :]
                expected_p = torch.softmax(logits.to(F64), -1)
                if (p[j] - expected_p).abs().max() > ROW_TOLERANCE:
                    problems.append(
                        f"round {trace.round} row {r.row}: target rows of another context"
                    )
                if ngram:
                    drafts, _, _ = NgramDrafter().lookup(sequence, r.k)
                    # A stepwise policy may stop the lookup's drafts early: a prefix of them.
                    if reference_policy is None and tuple(drafts) != r.drafts:
                        problems.append(f"round {trace.round} row {r.row}: not the n-gram drafts")
                    if tuple(drafts[: len(r.drafts)]) != r.drafts:
                        problems.append(f"round {trace.round} row {r.row}: not the n-gram drafts")
                    if not bool((q[j].sum(-1) == 1).all()):
                        problems.append(f"round {trace.round} row {r.row}: q not one-hot")
                rnd = (
                    [to_dist(row) for row in p[j]],
                    [to_dist(row) for row in q[j]],
                    [int(t) for t in tokens[j]],
                    Draws(
                        tuple(Fraction(float(u)) for u in accept_u[j]), Fraction(float(final_u[j]))
                    ),
                )
                expected = reference.verify(*rnd)
                if reference_policy is not None and not ngram:
                    replay = replay_on_reference_loop(
                        reference_policy(r.row),
                        reference,
                        sequence,
                        r,
                        p[j],
                        q[j],
                        draft_us.get((trace.round, r.row), []),
                        rnd[3],
                        histories[r.row],
                    )
                    if isinstance(replay, str):
                        problems.append(f"round {trace.round} row {r.row}: {replay}")
                    elif replay[1] != kb:
                        problems.append(
                            f"round {trace.round} row {r.row}: the reference loop drafts "
                            f"{replay[1]}, the engine {kb}"
                        )
                    elif list(replay[0].tokens[: len(r.output)]) != list(r.output):
                        problems.append(f"round {trace.round} row {r.row}: loop outputs differ")
                histories[r.row].append(RoundRecord(kb, r.accepted))
                output = list(r.output)
                complete = len(output) == r.accepted + 1
                if complete:
                    got = Verdict(
                        tuple(output), r.accepted, "bonus" if r.accepted == kb else "recovered"
                    )
                    mismatch = find_mismatch(algorithm, expected, got, rnd)
                    if mismatch is not None and not mismatch.margin < epsilon:
                        problems.append(f"round {trace.round} row {r.row}: {mismatch}")
                elif list(expected.tokens[: len(output)]) != output:
                    problems.append(f"round {trace.round} row {r.row}: truncated output differs")
                counts["accepts"] += r.accepted
                counts["rejects"] += r.accepted < kb
                sequence.extend(output)
    return problems, counts


def run(algorithm: str, ngram: bool, seed: int = 0, batched: bool = False, policy=None):
    target = tiny_model("llama", vocab=VOCAB, layers=2, seed=21, init_std=0.5, dtype=F64).model
    draft = tiny_model("gpt2", vocab=VOCAB, layers=1, seed=22, init_std=0.5, dtype=F64).model
    drafter = NgramDrafter() if ngram else ModelDrafter(draft)
    source = RecordingUniforms(seed)
    traces: list[RoundTrace] = []
    result = generate(
        target,
        drafter,
        PROMPTS,
        algorithm=algorithm,
        lookahead=PerRowK(KS) if policy is None else policy,
        max_new_tokens=14,
        uniforms=source,
        prob_dtype=F64,
        on_round=traces.append,
        batch_forwards=batched,
    )
    return target, result, traces, source


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


# DISCO's learned policy: a logistic classifier with seeded random weights, saved to a policy
# file and loaded the way a user's `--lookahead disco:PATH` is. Its threshold is put in the
# widest gap between the scores of a first run's steps near their median, so that some rounds
# stop early, others run to the cap, and no decision sits within float noise of the threshold.
LEARNED_MAX_K = 3


def learned_classifier(seed: int = 5) -> AcceptanceClassifier:
    generator = torch.Generator().manual_seed(seed)
    weight = torch.randn((1, len(FEATURES)), generator=generator, dtype=F64) * 2
    return AcceptanceClassifier(
        torch.zeros(len(FEATURES), dtype=F64),
        torch.ones(len(FEATURES), dtype=F64),
        ((weight, torch.zeros(1, dtype=F64)),),
    )


def gap_threshold(scores: list[float], quantile: float) -> float:
    """The midpoint of the widest gap between sorted scores in the middle half around `quantile`."""
    ordered = sorted(set(scores))
    centre = int(quantile * (len(ordered) - 1))
    lo, hi = max(0, centre - len(ordered) // 4), min(len(ordered) - 1, centre + len(ordered) // 4)
    i = max(range(lo, hi), key=lambda j: ordered[j + 1] - ordered[j])
    return (ordered[i] + ordered[i + 1]) / 2


class LearnedReference:
    """Reference side of a `LearnedPolicy` for one row, its features computed here from exact rows.

    Before draft `position` >= 1 it scores the last draft from the `Dist` it was drawn from:
    its probability, the top probabilities and the entropy (in floats, by `math`), the round's
    position of that draft, the rounds so far and their exact past acceptance.
    """

    def __init__(self, policy: LearnedPolicy) -> None:
        self.policy = policy

    def continue_probability(self, state: DraftState) -> Fraction:
        if state.position >= self.policy.max_k:
            return Fraction(0)
        if state.position == 0:
            return Fraction(1)
        row = state.draft_rows[-1]
        probs = [float(p) for p in row.probs]
        past = state.past_acceptance
        step = DraftStepState(
            0,
            state.position - 1,
            float(row[state.drafts[-1]]),
            tuple(sorted(probs, reverse=True)[:TOP_PROBS]),
            -sum(p * math.log(p) for p in probs if p > 0),
            state.rounds,
            None if past is None else float(past),
        )
        score = float(self.policy.classifier.scores(features_matrix([step]))[0])
        return Fraction(int(score >= self.policy.threshold))


def learned_policy_file(tmp_path: Path, algorithm: str, quantile: float = 0.5) -> Path:
    """A policy file whose threshold splits the steps of a never-stopping run (see above)."""
    never = LearnedPolicy(learned_classifier(), 0.0, LEARNED_MAX_K)
    _, _, traces, _ = run(algorithm, ngram=False, policy=never)
    steps = [s for trace in traces for r in trace.rows for s in r.draft_steps]
    threshold = gap_threshold(never.scores(steps), quantile)
    return save_policy(
        LearnedPolicy(learned_classifier(), threshold, LEARNED_MAX_K), tmp_path / "policy.json"
    )


@pytest.mark.parametrize(
    ("algorithm", "batched"),
    [("sd", False), ("sd", True), ("greedy", False)],
    ids=["sd-model", "sd-model-batched", "greedy-model"],
)
def test_rounds_under_the_learned_policy_equal_the_reference_loop(
    algorithm: str, batched: bool, tmp_path: Path
) -> None:
    policy = parse_lookahead(f"disco:{learned_policy_file(tmp_path, algorithm)}")
    assert isinstance(policy, LearnedPolicy)
    target, result, traces, source = run(algorithm, False, batched=batched, policy=policy)
    problems, counts = check_run(
        target, PROMPTS, traces, source, algorithm, False, lambda row: LearnedReference(policy)
    )
    assert problems == []
    assert [len(t) for t in result.tokens] == [14] * len(PROMPTS)
    rows = [r for trace in traces for r in trace.rows]
    assert counts["accepts"] > 0
    # Not vacuous: the classifier stops some rounds early and lets others reach the cap.
    assert all(r.k == LEARNED_MAX_K for r in rows)
    assert any(0 < len(r.drafts) < r.k for r in rows)
    assert any(len(r.drafts) == r.k for r in rows)


def test_negative_control_a_learned_policy_with_another_threshold(tmp_path: Path) -> None:
    """Replayed with a reference twin whose threshold sits in another gap, the rounds differ."""
    policy = parse_lookahead(f"disco:{learned_policy_file(tmp_path, 'sd')}")
    assert isinstance(policy, LearnedPolicy)
    target, _, traces, source = run("sd", False, policy=policy)
    steps = [s for trace in traces for r in trace.rows for s in r.draft_steps]
    other = replace(policy, threshold=gap_threshold(policy.scores(steps), 0.15))
    assert other.threshold != policy.threshold
    problems, _ = check_run(
        target, PROMPTS, traces, source, "sd", False, lambda row: LearnedReference(other)
    )
    assert any("the reference loop drafts" in p or "past the engine" in p for p in problems)
