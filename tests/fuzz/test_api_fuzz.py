"""Hypothesis over the public Python API: a bad argument is a clear error naming it.

For each entry point (reference laws and verifiers, the exact DSI costs, the engine's verify
functions and `generate`, the DSI simulator and runtime, the audit's entry points), one valid
call is taken and one argument at a time is replaced by a value outside its documented domain
(wrong type, NaN, infinities, negative, zero where positive is required, huge, out of range,
rows that do not sum to one, ...). The call must raise `ValueError` or `TypeError` whose message
names the argument (or a documented alias), within a time bound: never another exception, a
hang, or a result (a silently renormalised, clipped or dropped input). Negative control: the
unchanged valid call succeeds, so the harness can tell a refusal from a broken call.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

#: Seconds a refusal may take (they are argument checks; the slowest valid call is far below).
BOUND_SECONDS = 5.0

NAN, INF = float("nan"), float("inf")
NOT_NUMBERS = [None, "x", [], object()]
NON_FINITE = [NAN, INF, -INF]
#: Values that are no count >= 0.
NOT_SIZES = [*NOT_NUMBERS, *NON_FINITE, -1, -(10**30), 1.5, True]
#: Values that are no count >= 1.
NOT_COUNTS = [*NOT_SIZES, 0]


class Entry:
    """One entry point: a valid call, and per argument the invalid values and accepted names."""

    def __init__(
        self,
        name: str,
        call: Callable[..., Any],
        valid: dict[str, Any],
        bad: dict[str, list[Any]],
        names: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.name = name
        self.call = call
        self.valid = valid
        self.bad = bad
        self.names = names or {}

    def __repr__(self) -> str:
        return self.name


def _reference_entries() -> list[Entry]:
    from specproof import reference
    from specproof.reference import dsi as ref_dsi

    half = Fraction(1, 2)
    p = reference.Dist.over(["a", "b"], [half, half])
    q = reference.Dist.over(["a", "b"], [Fraction(1, 4), Fraction(3, 4)])
    lm = reference.ToyLM(["a", "b"], 0, {(): p})
    draft = reference.ToyLM(["a", "b"], 0, {(): q})
    dists = [None, "x", 1, [], object()]
    unit = [*NOT_NUMBERS, *NON_FINITE, -0.5, 1.5]
    return [
        Entry(
            "Dist.over",
            lambda tokens, probs: reference.Dist.over(tokens, probs),
            {"tokens": ["a", "b"], "probs": [half, half]},
            {
                "probs": [
                    [half],
                    [half, Fraction(1, 3)],
                    [Fraction(3, 2), -half],
                    [NAN, NAN],
                    ["x", "y"],
                    None,
                ],
                "tokens": [["a"], None, ["a", "a"]],
            },
            {"probs": ("prob", "sum", "length", "tokens"), "tokens": ("token", "length", "prob")},
        ),
        Entry(
            "acceptance_rate",
            reference.acceptance_rate,
            {"target_dist": p, "draft_dist": q, "algorithm": "sd"},
            {"target_dist": dists, "draft_dist": dists, "algorithm": ["nope", None, 3]},
            {"algorithm": ("algorithm", "verifier")},
        ),
        Entry(
            "expected_tokens_per_round",
            reference.expected_tokens_per_round,
            {"target_dist": p, "draft_dist": q, "k": 2, "algorithm": "sd"},
            {"k": NOT_SIZES, "target_dist": dists, "algorithm": ["nope", None]},
            {"algorithm": ("algorithm", "verifier")},
        ),
        Entry(
            "speculative_law",
            reference.speculative_law,
            {"target": lm, "draft": draft, "prefix": [], "n": 2, "k": 2},
            {
                "n": NOT_SIZES,
                "k": NOT_SIZES,
                "prefix": [None, 3, ["zzz"]],
                "target": [None, "x", 3],
                "draft": [None, "x", 3],
                "algorithm": ["nope", None, 3],
            },
            {"algorithm": ("algorithm", "verifier"), "prefix": ("prefix", "vocabulary")},
        ),
        Entry(
            "autoregressive_law",
            reference.autoregressive_law,
            {"lm": lm, "prefix": [], "n": 2},
            {"n": NOT_SIZES, "prefix": [None, 3, ["zzz"]], "lm": [None, "x", 3]},
            {"prefix": ("prefix", "vocabulary")},
        ),
        Entry(
            "reference.dsi.si_expected_cost",
            ref_dsi.si_expected_cost,
            {"c": half, "a": half, "k": 2, "tokens": 5},
            {
                "c": [*unit, 0],
                "a": unit,
                "k": NOT_COUNTS,
                "tokens": NOT_COUNTS,
            },
        ),
        Entry(
            "reference.dsi.dsi_expected_cost",
            ref_dsi.dsi_expected_cost,
            {"c": half, "a": half, "k": 2, "tokens": 5},
            {"c": [*unit, 0], "a": unit, "k": NOT_COUNTS, "tokens": NOT_COUNTS},
        ),
        Entry(
            "reference.dsi.dsi_latency_per_token",
            ref_dsi.dsi_latency_per_token,
            {"c": half, "a": half, "k": 2},
            {"c": [*unit, 0], "a": unit, "k": NOT_COUNTS},
        ),
    ]


def _dsi_entries() -> list[Entry]:
    from specproof.dsi.online import run_online_simulation
    from specproof.dsi.simulator import simulate

    unit = [*NOT_NUMBERS, *NON_FINITE, -0.5, 1.5]
    milliseconds = [*NOT_NUMBERS, NAN, INF, -1.0]
    return [
        Entry(
            "dsi.online.run_online_simulation",
            run_online_simulation,
            {"c": 0.5, "a": 0.5, "k": 2, "tokens": 3, "target_ms": 1.0},
            {
                "c": [*unit, 0],
                "a": unit,
                "k": NOT_COUNTS,
                "tokens": NOT_COUNTS,
                "target_ms": [*milliseconds, 0.0],
                "target_first_ms": milliseconds[1:],  # None: the default
                "drafter_first_ms": milliseconds[1:],
                "servers": [0, -1, 1.5, "x"],
                "seed": [-1, None, "x", 1.5, NAN],
            },
        ),
        Entry(
            "dsi.simulator.simulate",
            simulate,
            {"c": 0.5, "a": 0.5, "k": 2, "tokens": 20, "repeats": 2, "seed": 0},
            {
                "c": [*unit, 0],
                "a": unit,
                "k": NOT_COUNTS,
                "tokens": NOT_COUNTS,
                "repeats": NOT_COUNTS,
                "seed": [-1, None, "x", 1.5, NAN],
            },
        ),
    ]


def _audit_entries() -> list[Entry]:
    import numpy as np

    from specproof.audit.controls import standard_sd
    from specproof.audit.sampler import audit_sampler, default_cases, make_case
    from specproof.audit.stats import goodness_of_fit, power, required_samples

    probability = [*NOT_NUMBERS, *NON_FINITE, 0, -0.1, 1, 1.5]
    cases = default_cases(0)[:1]
    return [
        Entry(
            "audit.sampler.audit_sampler",
            audit_sampler,
            {"fn": standard_sd, "cases": cases, "n_samples": 50, "tv": 0.5},
            {
                "fn": [None, 3, "x"],
                "cases": [3, "x", [None], [3]],
                "n_samples": NOT_COUNTS[1:],  # None: planned (documented)
                "algorithm": ["nope", None],
                "alpha": probability,
                "tv": [*probability[:-2], 1.5],
                "power": probability,
                "test": ["nope", None],
                "seed": [-1, None, "x", 1.5, NAN],
                "max_samples": NOT_COUNTS,
            },
            {"fn": ("fn", "callable"), "cases": ("case",)},
        ),
        Entry(
            "audit.sampler.make_case",
            make_case,
            {"rng": np.random.default_rng(0), "v": 4, "k": 2, "family": "random"},
            {
                "rng": [None, 3, "x"],
                "v": [*NOT_COUNTS, 1],
                "k": NOT_COUNTS,
                "family": ["nope", None],
            },
        ),
        Entry(
            "audit.stats.goodness_of_fit",
            goodness_of_fit,
            {"observed": [10, 20, 30], "probs": [0.2, 0.3, 0.5]},
            {
                "observed": [[10, 20], [-1, 2, 3], [1.5, 2, 3], [NAN, 1, 1], None, "x"],
                "probs": [[0.5, 0.5], [0.2, 0.3, 0.6], [-0.2, 0.7, 0.5], [NAN, 0.5, 0.5], None],
                "test": ["nope", None],
                "min_expected": [*NOT_NUMBERS, *NON_FINITE, -1.0],
                "delta": probability,
            },
            {"observed": ("observed", "probs", "count"), "probs": ("probs", "observed")},
        ),
        Entry(
            "audit.stats.required_samples",
            required_samples,
            {"tv": 0.1, "alpha": 0.01, "target_power": 0.9, "dof": 3},
            {
                "tv": [*probability[:-2], 1.5],
                "alpha": probability,
                "target_power": probability,
                "dof": NOT_COUNTS,
            },
            {"target_power": ("power",)},
        ),
        Entry(
            "audit.stats.power",
            power,
            {"n": 100, "tv": 0.1, "alpha": 0.01, "dof": 3},
            {
                "n": NOT_SIZES,
                "tv": [*probability[:-2], 1.5],
                "alpha": probability,
                "dof": NOT_SIZES,
            },
        ),
    ]


def _engine_entries() -> list[Entry]:
    torch = pytest.importorskip("torch")
    from specproof.engine.exact_match import verify_exact_match
    from specproof.engine.generate import generate
    from specproof.engine.models import tiny_model
    from specproof.engine.sd import verify_sd

    f64 = torch.float64
    target = torch.tensor([[[0.5, 0.5, 0.0], [0.2, 0.3, 0.5], [1.0, 0.0, 0.0]]], dtype=f64)
    draft = torch.tensor([[[0.25, 0.75, 0.0], [0.3, 0.3, 0.4]]], dtype=f64)
    tokens = torch.tensor([[1, 2]])
    accept = torch.tensor([[0.3, 0.9]], dtype=f64)
    final = torch.tensor([0.5], dtype=f64)
    valid = {
        "target_probs": target,
        "draft_probs": draft,
        "draft_tokens": tokens,
        "accept_u": accept,
        "final_u": final,
    }
    probs_bad = [
        None,
        "x",
        target[0],  # a missing batch dimension
        target - 0.25,  # negative entries
        torch.full_like(target, NAN),
        target.to(torch.int64),
        target[:, :2],  # K rows instead of K+1
    ]
    bad = {
        "target_probs": probs_bad,
        "draft_probs": [
            None,
            draft - 0.5,
            torch.full_like(draft, NAN),
            draft[:, :1],
            draft[..., :2],
        ],
        "draft_tokens": [
            None,
            tokens.to(f64),
            torch.tensor([[1, 3]]),
            torch.tensor([[-1, 0]]),
            torch.tensor([1, 2]),
            torch.tensor([[2, 0]]),  # a token its draft row gives probability 0
        ],
        "accept_u": [None, accept + 1, accept - 1, torch.full_like(accept, NAN), accept[:, :1]],
        "final_u": [None, final + 1, final - 1, torch.full_like(final, NAN), final[None]],
    }
    names = {
        "draft_tokens": ("draft_tokens", "draft token", "draft_probs"),
        "target_probs": ("target_probs", "shape", "rows"),
        "draft_probs": ("draft_probs", "shape", "rows"),
    }
    models = tiny_model("llama", vocab=6, layers=1, seed=1)
    draft_model = tiny_model("gpt2", vocab=6, layers=1, seed=2)
    return [
        Entry("engine.sd.verify_sd", verify_sd, valid, bad, names),
        Entry("engine.exact_match.verify_exact_match", verify_exact_match, valid, bad, names),
        Entry(
            "engine.generate.generate",
            generate,
            {
                "target": models.model,
                "draft": draft_model.model,
                "prompts": [[1, 2]],
                "k": 2,
                "max_new_tokens": 3,
                "seed": 0,
            },
            {
                "prompts": [None, [], [[]], [[1, 99]], [[-1]], [["a"]], 3, [[1.5]]],
                "k": NOT_SIZES,
                "max_new_tokens": NOT_SIZES,
                "seed": [-1, "x", 1.5, NAN],
                "algorithm": ["nope", None, 3],
                "eos_token_id": [-1, 99, "x", 1.5],
                "target": [None, "x", 3],
                "draft": ["x", 3],
            },
            {
                "prompts": ("prompt",),
                "eos_token_id": ("eos_token_id",),
                "target": ("target", "model"),
                "draft": ("draft", "model"),
            },
        ),
    ]


def _entries(group: str) -> list[Entry]:
    return {
        "reference": _reference_entries,
        "dsi": _dsi_entries,
        "audit": _audit_entries,
        "engine": _engine_entries,
    }[group]()


def _check_refusal(entry: Entry, argument: str, value: Any) -> None:
    kwargs = {**entry.valid, argument: value}
    start = time.monotonic()
    try:
        result = entry.call(**kwargs)
    except (ValueError, TypeError) as exc:
        message = str(exc).lower()
        names = (argument, *entry.names.get(argument, ()))
        assert any(n.lower() in message for n in names), (
            f"{entry.name}({argument}={value!r}): message names none of {names}: {exc}"
        )
    except Exception as exc:  # noqa: BLE001 - any other exception is the failure under test
        pytest.fail(f"{entry.name}({argument}={value!r}) raised {type(exc).__name__}: {exc}")
    else:
        pytest.fail(f"{entry.name}({argument}={value!r}) accepted it and returned {result!r:.200}")
    seconds = time.monotonic() - start
    assert seconds < BOUND_SECONDS, f"{entry.name}({argument}={value!r}) took {seconds:.1f} s"


@pytest.mark.parametrize("group", ["reference", "dsi", "audit", "engine"])
def test_the_valid_calls_succeed(group: str) -> None:
    """Negative control: the unchanged call returns, so each refusal below is the bad value's."""
    for entry in _entries(group):
        entry.call(**entry.valid)


@pytest.mark.parametrize("group", ["reference", "dsi", "audit", "engine"])
def test_every_bad_argument_is_refused_naming_it(group: str) -> None:
    """Every listed bad value of every argument, one at a time (exhaustive, not sampled)."""
    failures = []
    for entry in _entries(group):
        for argument, values in entry.bad.items():
            for value in values:
                try:
                    _check_refusal(entry, argument, value)
                except (AssertionError, pytest.fail.Exception) as exc:
                    failures.append(str(exc).splitlines()[0])
    assert not failures, "\n".join(failures)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True).filter(lambda x: not 0 < x < 1),
        st.integers(max_value=0),
        st.integers(min_value=2**40),
        st.text(max_size=3),
        st.none(),
    ),
    data=st.data(),
)
def test_hypothesis_scalar_counts_and_probabilities_outside_their_domain(value, data) -> None:
    """Generated scalars outside (0, 1) for probabilities, and counts <= 0 or huge, refused."""
    from specproof.audit.stats import required_samples
    from specproof.dsi.simulator import simulate

    argument = data.draw(st.sampled_from(["c", "a_bad", "tv", "alpha", "target_power"]))
    if argument in ("c", "a_bad"):
        if argument == "a_bad" and value in (0, 1):
            return  # a = 0 and a = 1 are legal acceptance rates
        if argument == "c" and value == 1:
            return  # c = 1 is legal
        name = "c" if argument == "c" else "a"
        entry = Entry(
            "simulate", simulate, {"c": 0.5, "a": 0.5, "k": 2, "tokens": 10, "repeats": 1}, {}
        )
        if isinstance(value, int) and not isinstance(value, bool) and value > 1:
            _check_refusal(entry, name, value)
        elif not isinstance(value, int) or isinstance(value, bool) or value <= 0:
            _check_refusal(entry, name, value)
        return
    entry = Entry(
        "required_samples",
        required_samples,
        {"tv": 0.1, "alpha": 0.01, "target_power": 0.9, "dof": 3},
        {},
        {"target_power": ("power",)},
    )
    if argument == "target_power" and value == 1:
        return
    if isinstance(value, float) and not math.isnan(value) and value == 1.0 and argument == "tv":
        return  # tv = 1 is the largest distance, legal
    _check_refusal(entry, argument, value)
