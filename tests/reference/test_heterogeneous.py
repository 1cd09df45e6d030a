"""Union baseline and TLI, reference: proposals, exact acceptance, exact laws, bad input."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

from specproof.reference import ALGORITHMS, Dist, ToyLM, autoregressive_law
from specproof.reference.heterogeneous import read_as_drafter, shared_tokens
from specproof.reference.rounds import VerifierRound, round_kernel_law
from specproof.reference.tli import TLI, TliRound, tli_acceptance_rate, tli_proposal
from specproof.reference.tokenizers import ToyTokenizer, vocabulary_relation
from specproof.reference.union import UNION, union_acceptance_rate, union_rows

from ..support.broken import RecoverFromTarget


def lm(vocab, order, rows):
    """A toy LM whose row for a context is `rows(context)` (weights, normalised here)."""
    import itertools

    table = {}
    for length in range(order + 1):
        for context in itertools.product(vocab, repeat=length):
            weights = rows(context)
            mass = sum(weights)
            table[context] = {t: F(w, mass) for t, w in zip(vocab, weights, strict=True)}
    return ToyLM(vocab, order, table)


# (target tokens, drafter tokens, target normaliser, relation)
PAIRS = [
    (["a", "b", "ab"], ["a", "b", "ab"], {}, "equal"),
    (["a", "b"], ["a", "b", "ab", "ba"], {}, "subset"),
    (["a", "b", "ab", "bb"], ["a", "b", "ab"], {}, "superset"),
    (["a", "b", "ab", "aab"], ["a", "b", "ab", "ba"], {}, "overlapping"),
    (["a", "b", "ab"], ["a", "b", "ba", "x", "ax"], {"x": "b"}, "singles_only"),
    (["a", "b", "ab"], ["a", "b", "ba", "x", "ax"], {"x": ""}, "singles_only"),
]


def models(target_tokens, drafter_tokens):
    # Rows that differ by context and put zeros in places, with small integer weights.
    target = lm(
        target_tokens,
        1,
        lambda c: [(i + len(c) + 2 * (c == (t,))) % 4 for i, t in enumerate(target_tokens)],
    )
    drafter = lm(
        drafter_tokens, 1, lambda c: [1 + (i * 3 + len(c)) % 5 for i in range(len(drafter_tokens))]
    )
    return target, drafter


@pytest.mark.parametrize("algorithm", [UNION, TLI], ids=lambda a: a.name)
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: f"{p[3]}-{bool(p[2])}")
@pytest.mark.parametrize("k", [0, 1, 3])
def test_law_equals_the_targets(algorithm, pair, k):
    target_tokens, drafter_tokens, normalise, relation = pair
    target_tok, drafter_tok = ToyTokenizer(target_tokens, normalise), ToyTokenizer(drafter_tokens)
    assert vocabulary_relation(target_tok, drafter_tok) == relation
    target, drafter = models(target_tokens, drafter_tokens)
    for prefix in [(), (target_tokens[-1],)]:
        law = algorithm.law(target, drafter, target_tok, drafter_tok, prefix, 3, k)
        assert law == autoregressive_law(target, prefix, 3)


def test_a_broken_verifier_is_caught_through_the_tli_kernel():
    # Negative control: the same drafter view, verified with the recovered token drawn from
    # the target instead of the residual, must change the law.
    target_tok, drafter_tok = ToyTokenizer(["a", "b", "ab"]), ToyTokenizer(["a", "b", "ba"])
    target, drafter = models(target_tok.tokens, drafter_tok.tokens)
    good = TliRound(target, drafter, target_tok, drafter_tok, 2)
    broken = VerifierRound(target, good.draft, 2, RecoverFromTarget())
    assert round_kernel_law(broken, (), 3) != autoregressive_law(target, (), 3)


def test_tli_proposal_restricts_and_renormalises():
    q = Dist({"ba": F(1, 2), "a": F(1, 8), "b": F(3, 8)})
    assert tli_proposal(q, ["a", "ab", "b"]) == Dist({"a": F(1, 4), "ab": F(0), "b": F(3, 4)})


@pytest.mark.parametrize(
    ("draft", "target_vocab", "message"),
    [
        (Dist({"x": F(1)}), ["a", "b"], "share no token"),
        (Dist({"a": F(0), "x": F(1)}), ["a", "b"], "no probability on the shared tokens"),
    ],
)
def test_tli_proposal_refuses_bad_input(draft, target_vocab, message):
    with pytest.raises(ValueError, match=message):
        tli_proposal(draft, target_vocab)
    with pytest.raises(ValueError, match="draft_dist must be a Dist"):
        tli_proposal({"a": 1}, target_vocab)


def test_acceptance_rates_by_hand():
    # p over T = {a, b, ab}, q over D = {a, b, ba}; I = {a, b}, q(I) = 1/2.
    p = Dist({"a": F(1, 2), "b": F(1, 4), "ab": F(1, 4)})
    q = Dist({"a": F(1, 8), "b": F(3, 8), "ba": F(1, 2)})
    # union: min(1/2, 1/8) + min(1/4, 3/8) = 3/8; TLI: min(1/2, 1/4) + min(1/4, 3/4) = 1/2.
    assert union_acceptance_rate(p, q) == F(3, 8)
    assert tli_acceptance_rate(p, q) == F(1, 2)
    # Equality case: p <= q on I's support.
    p2 = Dist({"a": F(1, 8), "b": F(1, 8), "ab": F(3, 4)})
    assert union_acceptance_rate(p2, q) == tli_acceptance_rate(p2, q) == F(1, 4)


def test_union_rows_put_zeros_off_each_vocabulary():
    p = Dist({"a": F(1, 2), "ab": F(1, 2)})
    q = Dist({"ba": F(1, 2), "a": F(1, 2)})
    target, draft = union_rows(p, q)
    assert target.tokens == draft.tokens == ("a", "ab", "ba")
    assert (target["ba"], draft["ab"]) == (0, 0)


def test_bad_tokenizer_pairs_are_refused():
    target_tok = ToyTokenizer(["a", "b", "ab"])
    target, _ = models(target_tok.tokens, ["a"])
    disjoint = ToyTokenizer(["c", "d"])
    drafter = lm(disjoint.tokens, 0, lambda c: [1, 1])
    for algorithm in (UNION, TLI):
        with pytest.raises(ValueError, match="cannot express the target tokens"):
            algorithm.round(target, drafter, target_tok, disjoint, 1)
    # The drafter reads everything but shares no token: e.g. a drafter that normalises 'a', 'b'.
    reader = ToyTokenizer(["c"], normalise={"a": "c", "b": "c"})
    reader_lm = lm(reader.tokens, 0, lambda c: [1])
    for algorithm in (UNION, TLI):
        with pytest.raises(ValueError, match="share no token"):
            algorithm.round(target, reader_lm, target_tok, reader, 1)
    with pytest.raises(ValueError, match="target_tokenizer must be a ToyTokenizer"):
        TLI.round(target, drafter, None, disjoint, 1)


@pytest.mark.parametrize("name", ["union", "tli", "slem", "slrs"])
def test_every_cross_vocabulary_round_names_a_bad_model_or_tokenizer(name):
    algorithm = ALGORITHMS.get(name).reference
    target_tok, drafter_tok = ToyTokenizer(["a", "b", "ab"]), ToyTokenizer(["a", "b", "ba"])
    target, drafter = models(target_tok.tokens, drafter_tok.tokens)
    algorithm.round(target, drafter, target_tok, drafter_tok, 2)  # positive control
    for args, message in [
        ((None, drafter, target_tok, drafter_tok), "target must be a LanguageModel"),
        ((target, "nope", target_tok, drafter_tok), "drafter must be a LanguageModel"),
        ((target, drafter, target_tok, "nope"), "drafter_tokenizer must be a ToyTokenizer"),
        ((target, drafter, target_tok, target_tok), "drafter model and drafter_tokenizer"),
    ]:
        with pytest.raises(ValueError, match=message):
            algorithm.round(*args, 2)


def test_a_special_token_only_the_target_has():
    # '#' plays an end-of-text token only the target has; the drafter's normaliser drops it.
    target_tok = ToyTokenizer(["a", "b", "#"])
    drafter_tok = ToyTokenizer(["a", "b", "ab"], normalise={"#": ""})
    assert "#" not in shared_tokens(target_tok.tokens, drafter_tok.tokens)
    assert read_as_drafter(("a", "#", "b"), drafter_tok) == ("a", "b")
    target = lm(target_tok.tokens, 1, lambda c: [1, 2, 1])
    drafter = lm(drafter_tok.tokens, 1, lambda c: [1, 1, 2])
    for algorithm in (UNION, TLI):
        law = algorithm.law(target, drafter, target_tok, drafter_tok, ("#",), 3, 2)
        assert law == autoregressive_law(target, ("#",), 3)
    # Without the normaliser the drafter cannot read it: a clear error.
    with pytest.raises(ValueError, match=r"cannot express the target tokens \['#'\]"):
        TLI.round(target, drafter, target_tok, ToyTokenizer(["a", "b", "ab"]), 1)


def test_tli_refuses_a_drafter_row_without_shared_mass_when_reached():
    target_tok, drafter_tok = ToyTokenizer(["a", "b"]), ToyTokenizer(["a", "b", "ab"])
    target = lm(target_tok.tokens, 0, lambda c: [1, 1])
    drafter = lm(drafter_tok.tokens, 0, lambda c: [0, 0, 1])
    with pytest.raises(ValueError, match="no probability on the shared tokens"):
        TLI.law(target, drafter, target_tok, drafter_tok, (), 1, 1)
    # The union baseline is defined there: every draft is rejected, the law is the target's.
    assert UNION.law(target, drafter, target_tok, drafter_tok, (), 2, 2) == autoregressive_law(
        target, (), 2
    )


def test_registered():
    assert ALGORITHMS.get("tli").reference is TLI
    assert ALGORITHMS.get("union").reference is UNION
    for name in ("tli", "union"):
        assert ALGORITHMS.get(name).generate and ALGORITHMS.get(name).drafter is not None
