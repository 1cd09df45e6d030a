r"""The engine's generation loop has exactly the reference's output law, on tiny random models.

How the engine's law is computed: `generate` takes its uniforms from a
[`UniformSource`][specproof.engine.generate.UniformSource]. `EnumeratingUniforms` below answers
every request by choosing one *branch*:

- a draft draw over a row $q$ has one branch per token $j$ with $q_j > 0$, of weight $q_j$; the
  uniform handed to the engine is the midpoint of $j$'s inverse-CDF interval, so the engine's own
  sampling rule picks $j$;
- a verification over $(p, q, x)$: $[0, 1)^{K+1}$ is cut into boxes by every point where the
  pinned rules can change their answer ($p_i(x_i)/q_i(x_i)$, the cumulative sums of every target
  row and every residual row, normalised); the engine's `verify_batch` runs on the midpoint of
  every box (one batched call), boxes are grouped by the engine's output, and each distinct
  output is one branch whose weight is the total volume of its boxes.

Each complete run of `generate` (with its KV caches, rollback and bonus handling) follows one
path of branches; the runs are enumerated depth first (an odometer over the branch choices), and
the engine's law is the sum over paths of the product of branch weights, in float64.

The reference side: the same float64 models are evaluated without a cache over every continuation
of the prompt and converted to a [`ToyLM`][specproof.reference.ToyLM] whose context is the whole
sequence. Each row is converted exactly with `Fraction(float)`; the row's float64 sum differs
from 1 by rounding, so the last entry is set to `1 - sum(others)` (not renormalised); the test
checks that this moves it by at most `V * 2**-52`. Then `speculative_law` gives the exact law.

Tolerance: every probability of either law is a sum of products of at most $n(K+2)$ float64
factors in $[0, 1]$ computed from model rows that agree to ~1e-15 (cached vs uncached forward,
float64 rounding), so each law entry is off by at most a few hundred ulps of 1; we allow 1e-12.
The negative control (a KV cache that is not rolled back after a rejection, the classic bug)
moves the law by more than 1e-3, so the tolerance is far too tight to hide a real error.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)

from specproof.engine import streams as streams_module  # noqa: E402
from specproof.engine.generate import generate  # noqa: E402
from specproof.engine.models import tiny_model  # noqa: E402
from specproof.engine.verify import verify_batch  # noqa: E402
from specproof.reference import Dist, ToyLM  # noqa: E402
from specproof.reference.laws import autoregressive_law, speculative_law  # noqa: E402

TOLERANCE = 1e-12
F64 = torch.float64
INIT_STD = 0.2


class EnumeratingUniforms:
    """A uniform source that takes scripted branches and records every branch point it meets."""

    def __init__(self, script: list[int]) -> None:
        self.script = script
        self.choices: list[int] = []
        self.counts: list[int] = []
        self.weight = 1.0

    def _choose(self, options: list[tuple[float, object]]) -> object:
        position = len(self.choices)
        index = self.script[position] if position < len(self.script) else 0
        self.choices.append(index)
        self.counts.append(len(options))
        weight, payload = options[index]
        self.weight *= weight
        return payload

    def draft_uniforms(self, draft_probs: torch.Tensor) -> torch.Tensor:
        assert draft_probs.shape[0] == 1, "the law test runs one row"
        row = draft_probs[0]
        cum = row.cumsum(0)
        total = cum[-1]
        options = []
        for j in range(row.shape[0]):
            if row[j] > 0:
                low = cum[j - 1] if j else torch.zeros((), dtype=row.dtype)
                u = ((low + cum[j]) / 2 / total).reshape(1)
                options.append((float(row[j] / total), u))
        return self._choose(options)

    def verify_uniforms(self, algorithm, target_probs, draft_probs, draft_tokens):
        assert target_probs.shape[0] == 1
        k = draft_tokens.shape[1]
        p, q, x = target_probs[0], draft_probs[0], draft_tokens[0]

        def normalised_cumsum(row: torch.Tensor) -> list[float]:
            total = float(row.sum())
            return [float(c) / total for c in row.cumsum(0)] if total > 0 else []

        shared: set[float] = set()
        for i in range(k + 1):
            shared.update(normalised_cumsum(p[i]))
            if i < k:
                shared.update(normalised_cumsum(torch.clamp(p[i] - q[i], min=0)))
        axes = []
        for i in range(k):
            points = set(shared)
            if q[i, x[i]] > 0:
                points.add(float(p[i, x[i]] / q[i, x[i]]))
            axes.append(_cells(points))
        axes.append(_cells(shared))
        boxes = list(itertools.product(*axes))
        mids = torch.tensor([[m for m, _ in box] for box in boxes], dtype=p.dtype)
        widths = [float(torch.tensor([w for _, w in box], dtype=F64).prod()) for box in boxes]
        batch = len(boxes)
        verdict = verify_batch(
            algorithm,
            p.expand(batch, -1, -1).contiguous(),
            q.expand(batch, -1, -1).contiguous(),
            x.expand(batch, -1).contiguous(),
            mids[:, :k].contiguous(),
            mids[:, k].contiguous(),
        )
        grouped: dict[tuple[int, ...], list] = {}
        for b in range(batch):
            outcome = tuple(verdict.row(b))
            entry = grouped.setdefault(outcome, [0.0, b])
            entry[0] += widths[b]
        options = [
            (weight, (mids[b : b + 1, :k].contiguous(), mids[b, k].reshape(1)))
            for _, (weight, b) in sorted(grouped.items())
            if weight > 0
        ]
        return self._choose(options)


def _cells(points: set[float]) -> list[tuple[float, float]]:
    """`(midpoint, width)` of the intervals [0, 1) is cut into at `points`."""
    edges = sorted({0.0, 1.0} | {t for t in points if 0.0 < t < 1.0})
    return [((a + b) / 2, b - a) for a, b in itertools.pairwise(edges) if b > a]


def engine_law(target, draft, prompt, n, k, algorithm) -> dict[tuple[int, ...], float]:
    """The exact law of `generate`'s first n tokens, by enumerating every branch path."""
    law: dict[tuple[int, ...], float] = {}
    script: list[int] = []
    runs = 0
    while True:
        source = EnumeratingUniforms(script)
        result = generate(
            target,
            draft,
            [prompt],
            algorithm=algorithm,
            k=k,
            max_new_tokens=n,
            uniforms=source,
            prob_dtype=F64,
        )
        runs += 1
        assert runs < 20000, "enumeration too large for a unit test"
        tokens = tuple(result.tokens[0])
        assert len(tokens) == n
        law[tokens] = law.get(tokens, 0.0) + source.weight
        # Odometer: advance the last choice that has a sibling left, drop what follows it.
        choices, counts = source.choices, source.counts
        position = len(choices) - 1
        while position >= 0 and choices[position] + 1 >= counts[position]:
            position -= 1
        if position < 0:
            return law
        script = choices[:position] + [choices[position] + 1]


def to_toylm(model, vocab: int, prompt: list[int], depth: int) -> ToyLM:
    """The model as a ToyLM whose context is the whole sequence (order = len(prompt) + depth)."""
    order = len(prompt) + depth
    tokens = list(range(vocab))
    uniform = Dist.uniform(tokens)
    table: dict[tuple[int, ...], Dist] = {}
    for length in range(order + 1):
        for context in itertools.product(tokens, repeat=length):
            table[context] = uniform
    bound = Fraction(vocab, 2**52)
    for extra in range(depth + 1):
        continuations = list(itertools.product(tokens, repeat=extra))
        ids = torch.tensor([prompt + list(c) for c in continuations], dtype=torch.long)
        with torch.no_grad():
            probs = torch.softmax(model(ids, use_cache=False).logits[:, -1].to(F64), -1)
        for c, row in zip(continuations, probs.tolist(), strict=True):
            exact = [Fraction(v) for v in row]
            fixed = 1 - sum(exact[:-1])
            assert abs(fixed - exact[-1]) <= bound, "float64 row sum off by more than V ulps"
            exact[-1] = fixed
            table[tuple(prompt) + c] = Dist.over(tokens, exact)
    return ToyLM(tokens, order, table)


def reference_law(target, draft, vocab, prompt, n, k, algorithm):
    depth = n + k
    target_lm = to_toylm(target, vocab, prompt, depth)
    if k == 0:
        return autoregressive_law(target_lm, prompt, n, greedy=algorithm == "greedy")
    draft_lm = to_toylm(draft, vocab, prompt, depth)
    return speculative_law(target_lm, draft_lm, prompt, n, k, algorithm)


def max_difference(engine: dict, reference) -> float:
    keys = set(engine) | set(reference)
    return max(abs(engine.get(key, 0.0) - float(reference.get(key, 0))) for key in keys)


def pair(vocab: int, seed: int):
    # A small init_std: rows neither uniform nor one-hot, so every branch carries weight.
    target = tiny_model("llama", vocab=vocab, layers=2, seed=seed, init_std=INIT_STD, dtype=F64)
    draft = tiny_model("gpt2", vocab=vocab, layers=1, seed=seed + 100, init_std=INIT_STD, dtype=F64)
    return target.model, draft.model


CASES = [
    # (algorithm, vocab, n, k)
    ("sd", 3, 2, 2),
    ("sd", 3, 3, 1),
    pytest.param("exact_match", 3, 2, 2, marks=pytest.mark.slow),
    ("exact_match", 3, 3, 1),
    ("greedy", 4, 3, 2),
    ("sd", 3, 3, 0),
]


@pytest.mark.parametrize(("algorithm", "vocab", "n", "k"), CASES)
def test_engine_law_equals_reference_law(algorithm: str, vocab: int, n: int, k: int) -> None:
    target, draft = pair(vocab, seed=7)
    prompt = [1]
    engine = engine_law(target, draft, prompt, n, k, algorithm)
    reference = reference_law(target, draft, vocab, prompt, n, k, algorithm)
    assert abs(sum(engine.values()) - 1) < TOLERANCE
    assert max_difference(engine, reference) < TOLERANCE


def test_negative_control_cache_not_rolled_back(monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop that forgets to crop its KV caches after a rejection has a different law."""

    def keep_without_cropping(self, length: int) -> None:
        # The stream believes it holds `length` tokens but the stale entries stay in the cache.
        self.cached = min(self.cached, length)

    target, draft = pair(3, seed=7)
    prompt = [1]
    reference = reference_law(target, draft, 3, prompt, 2, 2, "sd")
    monkeypatch.setattr(streams_module._ModelStream, "keep", keep_without_cropping)
    broken = engine_law(target, draft, prompt, 2, 2, "sd")
    assert max_difference(broken, reference) > 1e-3
