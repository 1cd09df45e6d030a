"""Teacher-forced acceptance of the cross-vocabulary algorithms, against the reference.

Tiny models with character tokenizers (target `<eos>` + 'abcde', drafter `<eos>` + 'abcdefgh').
At every position, the engine's closed forms for the union baseline and TLI must equal the
reference's acceptance (standard SD's rule integrated exactly over `Fraction` rows) to 1e-12
(float64 rows converted exactly; the residual is the rows' rounding); SLRS >= SLEM and
TLI >= union everywhere; greedy SLEM's acceptance is 0 or 1.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

torch = pytest.importorskip("torch")

from specproof.engine.cross_acceptance import ALGORITHMS, teacher_forced  # noqa: E402
from specproof.engine.generate import Sampling  # noqa: E402
from specproof.engine.models import tiny_model  # noqa: E402
from specproof.engine.vocab_map import token_strings  # noqa: E402
from specproof.reference import Dist  # noqa: E402
from specproof.reference.tli import tli_acceptance_rate  # noqa: E402
from specproof.reference.union import union_acceptance_rate  # noqa: E402

torch.set_num_threads(1)
F64 = torch.float64
TEXT = [1, 2, 3, 1, 5, 4, 4, 2, 1, 3, 3, 5]


def to_dist(row: torch.Tensor, names: list[str]) -> Dist:
    exact = [Fraction(v) for v in row.tolist()]
    exact[-1] = 1 - sum(exact[:-1])
    return Dist.over(names, exact)


def test_teacher_forced_acceptance_matches_the_reference():
    target = tiny_model(vocab=6, seed=1, dtype=F64)
    drafter = tiny_model(vocab=9, seed=2, dtype=F64)
    probs = Sampling().probs
    got = teacher_forced(target, drafter, TEXT, lambda x: probs(x, F64))
    assert set(got) == set(ALGORITHMS) and all(len(v) == len(TEXT) - 1 for v in got.values())
    names_t, names_d = token_strings(target.tokenizer), token_strings(drafter.tokenizer)
    with torch.no_grad():
        p_rows = torch.softmax(target.model(torch.tensor([TEXT])).logits[0].to(F64), -1)
        q_rows = torch.softmax(drafter.model(torch.tensor([TEXT])).logits[0].to(F64), -1)
    for i in range(1, len(TEXT)):
        p, q = to_dist(p_rows[i - 1], names_t), to_dist(q_rows[i - 1], names_d)
        assert abs(got["union"][i - 1] - float(union_acceptance_rate(p, q))) < 1e-12
        assert abs(got["tli"][i - 1] - float(tli_acceptance_rate(p, q))) < 1e-12
    for i in range(len(TEXT) - 1):
        assert got["tli"][i] >= got["union"][i] - 1e-12
        assert got["slrs"][i] >= got["slem"][i] - 1e-12
        assert got["slem_greedy"][i] in (0.0, 1.0)
    assert any(t > u + 1e-6 for t, u in zip(got["tli"], got["union"], strict=True))


def test_refusals():
    target = tiny_model(vocab=6, seed=1, dtype=F64)
    drafter = tiny_model(vocab=9, seed=2, dtype=F64)
    probs = Sampling().probs
    with pytest.raises(ValueError, match="target_ids must hold more than start=1"):
        teacher_forced(target, drafter, [1], lambda x: probs(x, F64))
    with pytest.raises(ValueError, match="more than max_support=3: use top-k"):
        teacher_forced(target, drafter, TEXT, lambda x: probs(x, F64), max_support=3)
