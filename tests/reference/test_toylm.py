from fractions import Fraction as F

import pytest

from specproof.reference import Dist, ToyLM

HALF = {"a": F(1, 2), "b": F(1, 2)}


def order1_table():
    return {(): HALF, ("a",): {"a": 1, "b": 0}, ("b",): HALF}


def test_order1_model_uses_the_last_token_and_the_empty_context_at_the_start():
    lm = ToyLM(["a", "b"], 1, order1_table())
    assert lm.next_dist(())["a"] == F(1, 2)
    assert lm.next_dist(("b", "a"))["a"] == 1
    assert lm.next_dist(("a", "b"))["a"] == F(1, 2)


def test_order2_model_uses_shorter_contexts_at_the_start():
    table = {(): HALF}
    for c in ["a", "b"]:
        table[(c,)] = {"a": 1, "b": 0} if c == "a" else {"a": 0, "b": 1}
        for d in ["a", "b"]:
            table[(c, d)] = HALF
    lm = ToyLM(["a", "b"], 2, table)
    assert lm.next_dist(("a",))["a"] == 1
    assert lm.next_dist(("b", "a"))["a"] == F(1, 2)


def test_distributions_are_reindexed_to_vocabulary_order():
    lm = ToyLM(["a", "b"], 0, {(): {"b": F(1, 3), "a": F(2, 3)}})
    assert lm.table[()].tokens == ("a", "b")


@pytest.mark.parametrize(
    ("vocab", "order", "table", "message"),
    [
        ([], 0, {(): HALF}, "vocab must not be empty"),
        (["a", "a"], 0, {(): HALF}, "distinct"),
        (["a", "b"], -1, {(): HALF}, "order must be an int >= 0"),
        (["a", "b"], 1, {(): HALF, ("a",): HALF}, r"missing context \('b',\)"),
        (["a", "b"], 0, {(): HALF, ("a",): HALF}, "longer than order"),
        (
            ["a", "b"],
            1,
            {(): HALF, ("a",): HALF, ("b",): HALF, ("c",): HALF},
            "outside the vocabulary",
        ),
        (["a", "b"], 0, {(): {"a": F(1, 2), "c": F(1, 2)}}, r"outside the vocabulary: \['c'\]"),
        (["a", "b", "c"], 0, {(): HALF}, r"missing: \['c'\]"),
        (
            ["a", "b"],
            0,
            {(): {"a": F(1, 2), "b": F(1, 3)}},
            r"table\[\(\)\]: probabilities must sum",
        ),
        (["a", "b"], 0, {"": HALF}, "must be a tuple"),
    ],
)
def test_invalid_models_are_refused_with_the_reason(vocab, order, table, message):
    with pytest.raises(ValueError, match=message):
        ToyLM(vocab, order, table)


def test_prefix_outside_the_vocabulary_is_refused():
    lm = ToyLM(["a", "b"], 1, order1_table())
    with pytest.raises(ValueError, match=r"outside the vocabulary: \['z'\]"):
        lm.check_prefix(["a", "z"])
    with pytest.raises(ValueError, match="outside the vocabulary"):
        lm.next_dist(("z",))


def test_table_accepts_dists():
    lm = ToyLM([0, 1], 0, {(): Dist.over([0, 1], [F(1, 4), F(3, 4)])})
    assert lm.next_dist(())[1] == F(3, 4)
