"""The replay harness of the round-by-round differential tests (see `test_rounds_differential`).

Runs the engine loop on tiny float64 models with recorded uniforms (`run`) and replays every
round of every row on the exact reference and on the reference loop (`check_run`).
"""

from __future__ import annotations

from fractions import Fraction

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine.drafters import ModelDrafter  # noqa: E402
from specproof.engine.generate import GeneratorUniforms, generate  # noqa: E402
from specproof.engine.lookahead import (  # noqa: E402
    ConfidenceStop,
    DraftStepState,
    HeuristicK,
    PerRowK,
    RowState,
    StaticK,
)
from specproof.engine.models import tiny_model  # noqa: E402
from specproof.engine.ngram import NgramDrafter  # noqa: E402
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
