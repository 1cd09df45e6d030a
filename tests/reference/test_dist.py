from fractions import Fraction as F

import pytest

from specproof.reference import Dist


def test_dist_keeps_token_order_and_exact_values():
    d = Dist({"b": F(1, 3), "a": F(2, 3)})
    assert d.tokens == ("b", "a")
    assert d["a"] == F(2, 3)
    assert d.support == ("b", "a")
    assert Dist.over([0, 1, 2], [0, F(1, 2), F(1, 2)]).support == (1, 2)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({}, "empty vocabulary"),
        ({"a": 0.5, "b": 0.5}, "exact rational"),
        ({"a": "1/2", "b": F(1, 2)}, "exact rational"),
        ({"a": None}, "exact rational"),
        ({"a": True}, "exact rational"),
        ({"a": F(-1, 2), "b": F(3, 2)}, "negative"),
        ({"a": F(1, 2), "b": F(1, 3)}, "sum to exactly 1, got 5/6"),
        ({"a": F(2, 3), "b": F(2, 3)}, "sum to exactly 1, got 4/3"),
    ],
)
def test_invalid_distributions_are_refused_with_the_reason(mapping, message):
    with pytest.raises(ValueError, match=message):
        Dist(mapping)


def test_not_a_mapping_is_refused():
    with pytest.raises(ValueError, match="mapping"):
        Dist([F(1)])  # type: ignore[arg-type]


def test_over_checks_lengths_and_distinct_tokens():
    with pytest.raises(ValueError, match="same length"):
        Dist.over([0, 1], [1])
    with pytest.raises(ValueError, match="distinct"):
        Dist.over([0, 0], [F(1, 2), F(1, 2)])


def test_reordered_is_the_same_law_in_another_order():
    d = Dist({"a": F(1, 4), "b": F(3, 4)})
    r = d.reordered(["b", "a"])
    assert r.tokens == ("b", "a") and dict(r) == dict(d)
    with pytest.raises(ValueError, match="not a reordering"):
        d.reordered(["a", "c"])


def test_point_and_uniform():
    assert Dist.point([0, 1, 2], 1).probs == (0, 1, 0)
    assert Dist.uniform("abc").probs == (F(1, 3),) * 3
    with pytest.raises(ValueError, match="not in tokens"):
        Dist.point([0, 1], 2)


def test_unknown_token_lookup_names_the_token():
    with pytest.raises(KeyError, match="'z'"):
        Dist({"a": 1})["z"]
